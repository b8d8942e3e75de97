import Foundation
import TestSupport

/// The standard world for API tests, built through the API itself: an msp tenant `coke` and an
/// enterprise tenant `pepsi`, each with an admin and a project `marketing` (admin, member,
/// viewer) plus a second project `sales` with its own admin.
struct Fixture: Sendable {
    static let password = "password-123"

    let server: TestServer
    /// Tokens by role name: provider, plus `<tenant>-admin|pa|pm|pv|sales-pa`.
    let tokens: [String: String]

    static func build(_ server: TestServer) async throws -> Fixture {
        var tokens: [String: String] = [:]
        tokens["provider"] = try await server.login("admin", TestServer.adminPassword)
        for (tenant, mode) in [("coke", "msp"), ("pepsi", "enterprise")] {
            try await expect(server.request(.POST, "/api/v1/tenants", token: tokens["provider"], json: [
                "name": tenant, "mode": mode, "admin": ["username": "boss", "password": password],
            ]), 201)
            let admin = try await server.login(tenant: tenant, "boss", password)
            tokens["\(tenant)-admin"] = admin
            for project in ["marketing", "sales"] {
                try await expect(server.request(.POST, "/api/v1/tenants/\(tenant)/projects", token: admin, json: ["name": project]), 201)
            }
            for (user, project, role) in [("pa", "marketing", "admin"), ("pm", "marketing", "member"), ("pv", "marketing", "viewer"), ("sales-pa", "sales", "admin")] {
                try await expect(server.request(.POST, "/api/v1/tenants/\(tenant)/users", token: admin, json: ["username": user, "password": password]), 201)
                try await expect(server.request(.POST, "/api/v1/tenants/\(tenant)/projects/\(project)/members", token: admin, json: ["user": user, "role": role]), 201)
                tokens["\(tenant)-\(user)"] = try await server.login(tenant: tenant, user, password)
            }
        }
        return Fixture(server: server, tokens: tokens)
    }

    @discardableResult
    static func expect(_ response: TestResponse, _ status: Int) throws -> TestResponse {
        guard response.status == status else {
            throw TestFailure("expected \(status), got \(response.status): \(response.text)")
        }
        return response
    }
}
