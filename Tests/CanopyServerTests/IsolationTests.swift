import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// Every endpoint against every kind of caller, over HTTP: the exact 404/403 of DESIGN.md.
///
/// Callers: the provider (`provider`), the tenant's own admin (`admin`), the project admin,
/// member and viewer of `marketing` (`pa`, `pm`, `pv`), the admin of the other project `sales`
/// (`sales-pa`), and the other tenant's admin (`other`). Each row gives the expected status per
/// caller for the msp tenant `coke` and the enterprise tenant `pepsi`.
@Suite(.serialized) struct IsolationTests {
    struct Row: Sendable, CustomStringConvertible {
        let method: HTTPMethod
        let path: String
        let body: [String: any Sendable]?
        /// Expected status per caller, in the msp tenant.
        let msp: [String: Int]
        /// Differences in the enterprise tenant (the provider may act there).
        let enterpriseProvider: Int
        var description: String { "\(method) \(path)" }
    }

    static let callers = ["provider", "admin", "pa", "pm", "pv", "sales-pa", "other"]

    /// Reading rows are safe to repeat; writing rows use bodies that fail validation *after* the
    /// authorization check (or create distinct objects), so one world serves every caller.
    static let rows: [Row] = [
        Row(method: .GET, path: "/tenants/T", body: nil,
            msp: ["provider": 200, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 200, "other": 404], enterpriseProvider: 200),
        Row(method: .PATCH, path: "/tenants/T", body: ["displayName": "x"],
            msp: ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .GET, path: "/tenants/T/users", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .POST, path: "/tenants/T/users", body: ["username": "Bad Name", "password": "password-123"],
            msp: ["provider": 403, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 422),
        Row(method: .GET, path: "/tenants/T/users/pm", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 200, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .PATCH, path: "/tenants/T/users/pv", body: ["displayName": "Vee"],
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 200, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .DELETE, path: "/tenants/T/users/nobody", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .GET, path: "/tenants/T/users/pv/tokens", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 200, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .DELETE, path: "/tenants/T/users/pv/tokens/no-such-id", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 404, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .GET, path: "/tenants/T/admins", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .POST, path: "/tenants/T/admins", body: ["user": "nobody"],
            msp: ["provider": 403, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 422),
        Row(method: .DELETE, path: "/tenants/T/admins/no-such-id", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .GET, path: "/tenants/T/projects", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 200, "other": 404], enterpriseProvider: 200),
        Row(method: .POST, path: "/tenants/T/projects", body: ["name": "Bad Name"],
            msp: ["provider": 403, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 422),
        Row(method: .GET, path: "/tenants/T/projects/marketing", body: nil,
            msp: ["provider": 404, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 404, "other": 404], enterpriseProvider: 200),
        Row(method: .PATCH, path: "/tenants/T/projects/marketing", body: ["caps": ["cpu": "not a quantity"]],
            msp: ["provider": 404, "admin": 400, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 404, "other": 404], enterpriseProvider: 400),
        Row(method: .PATCH, path: "/tenants/T/projects/marketing", body: ["placements": [["cluster": "nowhere", "reservation": ["cpuPercent": 10] as [String: any Sendable]] as [String: any Sendable]]],
            msp: ["provider": 404, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 404, "other": 404], enterpriseProvider: 422),
        Row(method: .DELETE, path: "/tenants/T/projects/no-such-project", body: nil,
            msp: ["provider": 404, "admin": 404, "pa": 404, "pm": 404, "pv": 404, "sales-pa": 404, "other": 404], enterpriseProvider: 404),
        Row(method: .GET, path: "/tenants/T/projects/marketing/members", body: nil,
            msp: ["provider": 404, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 404, "other": 404], enterpriseProvider: 200),
        Row(method: .POST, path: "/tenants/T/projects/marketing/members", body: ["user": "nobody", "role": "viewer"],
            msp: ["provider": 404, "admin": 422, "pa": 422, "pm": 403, "pv": 403, "sales-pa": 404, "other": 404], enterpriseProvider: 422),
        Row(method: .POST, path: "/tenants/T/projects/marketing/members", body: ["user": "nobody", "role": "admin"],
            msp: ["provider": 404, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 404, "other": 404], enterpriseProvider: 422),
        Row(method: .DELETE, path: "/tenants/T/projects/marketing/members/no-such-id", body: nil,
            msp: ["provider": 404, "admin": 404, "pa": 404, "pm": 403, "pv": 403, "sales-pa": 404, "other": 404], enterpriseProvider: 404),
        Row(method: .GET, path: "/audit?tenant=T", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 200, "other": 404], enterpriseProvider: 200),
        Row(method: .GET, path: "/audit?tenant=T&project=marketing", body: nil,
            msp: ["provider": 404, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 404, "other": 404], enterpriseProvider: 200),
        Row(method: .GET, path: "/tenants/T/clusters", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .POST, path: "/tenants/T/clusters", body: ["name": "Bad Name", "kubeconfig": "x"],
            msp: ["provider": 403, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 422),
        Row(method: .GET, path: "/tenants/T/clusters/nowhere", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .DELETE, path: "/tenants/T/clusters/nowhere", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .GET, path: "/tenants/T/identity-providers", body: nil,
            msp: ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 200),
        Row(method: .POST, path: "/tenants/T/identity-providers", body: ["name": "Bad Name", "urls": ["ldap://x"], "userBaseDN": "dc=x", "groupBaseDN": "dc=x"],
            msp: ["provider": 403, "admin": 422, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 422),
        Row(method: .GET, path: "/tenants/T/identity-providers/nowhere", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .PATCH, path: "/tenants/T/identity-providers/nowhere", body: ["nestedGroupDepth": 1],
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .DELETE, path: "/tenants/T/identity-providers/nowhere", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .POST, path: "/tenants/T/identity-providers/nowhere/test", body: ["username": "a", "password": "b"],
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        // One's own password: a new one too short is refused before the current one is checked.
        Row(method: .POST, path: "/password", body: ["current": "x", "password": "short"],
            msp: ["provider": 422, "admin": 422, "pa": 422, "pm": 422, "pv": 422, "sales-pa": 422, "other": 422], enterpriseProvider: 422),
        Row(method: .GET, path: "/identity-providers", body: nil,
            msp: ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 200),
        // The domain's own users and administrators: the provider's alone; the domain is seen by all (403).
        Row(method: .GET, path: "/users", body: nil,
            msp: ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 200),
        Row(method: .POST, path: "/users", body: ["username": "Bad Name", "password": "password-123"],
            msp: ["provider": 422, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 422),
        Row(method: .GET, path: "/users/admin", body: nil,
            msp: ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 200),
        Row(method: .PATCH, path: "/users/nobody", body: ["displayName": "x"],
            msp: ["provider": 404, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 404),
        Row(method: .DELETE, path: "/users/nobody", body: nil,
            msp: ["provider": 404, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 404),
        Row(method: .GET, path: "/users/admin/tokens", body: nil,
            msp: ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 200),
        Row(method: .DELETE, path: "/users/admin/tokens/no-such-id", body: nil,
            msp: ["provider": 404, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 404),
        Row(method: .GET, path: "/admins", body: nil,
            msp: ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 200),
        Row(method: .POST, path: "/admins", body: ["user": "nobody"],
            msp: ["provider": 422, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 422),
        Row(method: .DELETE, path: "/admins/no-such-id", body: nil,
            msp: ["provider": 404, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], enterpriseProvider: 404),
        Row(method: .GET, path: "/tenants/T/projects/marketing/usage", body: nil,
            msp: ["provider": 404, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 404, "other": 404], enterpriseProvider: 200),
        Row(method: .GET, path: "/tenants/T/clusters/nowhere/allocation", body: nil,
            msp: ["provider": 403, "admin": 404, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 404),
        Row(method: .PATCH, path: "/tenants/T", body: ["caps": ["cpu": "-1"]],
            msp: ["provider": 400, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 400),
        // Deleting the tenant: everyone but the provider first (all refused), the provider last.
        Row(method: .DELETE, path: "/tenants/T", body: nil,
            msp: ["provider": 204, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], enterpriseProvider: 204),
    ]

    /// Every caller in order, the provider last so that its deletions come after everyone's checks.
    static let callerOrder = ["admin", "pa", "pm", "pv", "sales-pa", "other", "provider"]

    @Test func everyEndpointAnswersEachCallerAsDesigned() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            var failures: [String] = []
            let isTenantDeletion = { (row: Row) in row.method == .DELETE && row.path == "/tenants/T" }
            let tenants = ["coke", "pepsi"]
            // Tenant deletions go last, the provider's after everyone else's, so that no caller's
            // token dies with its tenant before its own checks ran.
            let cases = tenants.flatMap { tenant in Self.rows.filter { !isTenantDeletion($0) }.map { (tenant, $0, Self.callerOrder) } }
                + tenants.flatMap { tenant in Self.rows.filter(isTenantDeletion).map { (tenant, $0, Self.callerOrder.filter { $0 != "provider" }) } }
                + tenants.flatMap { tenant in Self.rows.filter(isTenantDeletion).map { (tenant, $0, ["provider"]) } }
            for (tenant, row, callers) in cases {
                let other = tenant == "coke" ? "pepsi" : "coke"
                do {
                    for caller in callers {
                        let token = switch caller {
                        case "provider": fixture.tokens["provider"]!
                        case "other": fixture.tokens["\(other)-admin"]!
                        default: fixture.tokens["\(tenant)-\(caller)"]!
                        }
                        var expected = row.msp[caller]!
                        if tenant == "pepsi" && caller == "provider" { expected = row.enterpriseProvider }
                        let path = "/api/v1" + row.path.replacingOccurrences(of: "T", with: tenant)
                        let response = try await server.request(row.method, path, token: token, json: row.body)
                        if response.status != expected {
                            failures.append("\(tenant) \(caller) \(row): expected \(expected), got \(response.status) \(response.text)")
                        }
                        if response.status == 404 {
                            // Invisible and absent must look the same: the same code and no names.
                            #expect(response.errorCode == "not_found")
                            #expect(!response.text.contains(other))
                        }
                    }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    @Test func listsShowOnlyWhatTheCallerMaySee() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let tenantsForCoke = try await server.request(.GET, "/api/v1/tenants", token: fixture.tokens["coke-pm"])
            #expect(tenantsForCoke.items.map { $0["name"] as? String } == ["coke"])
            let tenantsForProvider = try await server.request(.GET, "/api/v1/tenants", token: fixture.tokens["provider"])
            #expect(tenantsForProvider.items.compactMap { $0["name"] as? String } == ["coke", "pepsi"])
            let projectsForMember = try await server.request(.GET, "/api/v1/tenants/coke/projects", token: fixture.tokens["coke-pm"])
            #expect(projectsForMember.items.compactMap { $0["name"] as? String } == ["marketing"])
            let projectsForAdmin = try await server.request(.GET, "/api/v1/tenants/coke/projects", token: fixture.tokens["coke-admin"])
            #expect(projectsForAdmin.items.compactMap { $0["name"] as? String } == ["marketing", "sales"])
            // The provider's domain audit shows the enterprise tenant's inside, never the msp one's.
            let audit = try await server.request(.GET, "/api/v1/audit", token: fixture.tokens["provider"])
            let tenants = Set(audit.items.compactMap { $0["tenant"] as? String })
            #expect(tenants.contains("pepsi") && !tenants.contains("coke"))
            let memberAudit = try await server.request(.GET, "/api/v1/audit", token: fixture.tokens["coke-pm"])
            #expect(!memberAudit.items.isEmpty)
            #expect(memberAudit.items.allSatisfy { $0["project"] as? String == "marketing" })
        }
    }

    /// DESIGN.md: of an msp tenant the provider sees name, mode, state and cluster count (and its
    /// caps), not how many users and projects it has; of an enterprise tenant, everything.
    @Test func theProviderSeesASealedTenantsSummaryOnly() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let provider = try #require(fixture.tokens["provider"])
            let list = try await server.request(.GET, "/api/v1/tenants", token: provider).items
            let coke = try #require(list.first { $0["name"] as? String == "coke" }), pepsi = try #require(list.first { $0["name"] as? String == "pepsi" })
            #expect(coke["userCount"] == nil && coke["projectCount"] == nil)
            #expect(coke["clusterCount"] as? Int == 0 && coke["state"] as? String == "active")
            #expect(pepsi["userCount"] as? Int == 5 && pepsi["projectCount"] as? Int == 2)
            for (method, path, body) in [(HTTPMethod.GET, "/api/v1/tenants/coke", nil), (.PATCH, "/api/v1/tenants/coke", ["displayName": "Coke"] as [String: Any]?)] {
                let answer = try await server.request(method, path, token: provider, json: body)
                #expect(answer.status == 200 && answer.object["userCount"] == nil && answer.object["projectCount"] == nil, "\(method) \(path)")
            }
            let own = try await server.request(.GET, "/api/v1/tenants/coke", token: fixture.tokens["coke-pv"])
            #expect(own.object["userCount"] as? Int == 5 && own.object["projectCount"] as? Int == 2)
            for (name, mode, sealed) in [("fanta", "msp", true), ("sprite", "enterprise", false)] {
                let created = try await server.request(.POST, "/api/v1/tenants", token: provider, json: [
                    "name": name, "mode": mode, "admin": ["username": "boss", "password": Fixture.password],
                ])
                #expect(created.status == 201)
                #expect((created.object["userCount"] == nil) == sealed, "\(mode): \(created.text)")
            }
        }
    }

    @Test func projectAdminsAddMembersAndViewersButNotAdmins() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let admin = fixture.tokens["coke-admin"]!
            for name in ["newbie", "watcher", "boss2"] {
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/users", token: admin, json: ["username": name, "password": Fixture.password]), 201)
            }
            let pa = fixture.tokens["coke-pa"]!, pm = fixture.tokens["coke-pm"]!, pv = fixture.tokens["coke-pv"]!
            let members = "/api/v1/tenants/coke/projects/marketing/members"
            #expect(try await server.request(.POST, members, token: pa, json: ["user": "newbie", "role": "member"]).status == 201)
            let viewer = try await server.request(.POST, members, token: pa, json: ["user": "watcher", "role": "viewer"])
            #expect(viewer.status == 201)
            #expect(try await server.request(.POST, members, token: pa, json: ["user": "boss2", "role": "admin"]).status == 403)
            #expect(try await server.request(.POST, members, token: pm, json: ["user": "boss2", "role": "viewer"]).status == 403)
            #expect(try await server.request(.POST, members, token: pv, json: ["user": "boss2", "role": "viewer"]).status == 403)
            let viewerID = try #require(viewer.object["id"] as? String)
            #expect(try await server.request(.DELETE, "\(members)/\(viewerID)", token: pv).status == 403)
            #expect(try await server.request(.DELETE, "\(members)/\(viewerID)", token: pa).status == 204)
            // The project admin's own grant can only be removed by a tenant admin.
            let list = try await server.request(.GET, members, token: pa)
            let paGrant = try #require(list.items.first { $0["user"] as? String == "pa" }?["id"] as? String)
            #expect(try await server.request(.DELETE, "\(members)/\(paGrant)", token: pa).status == 403)
            #expect(try await server.request(.PATCH, "/api/v1/tenants/coke/projects/marketing", token: pv, json: ["displayName": "x"]).status == 403)
        }
    }

    @Test func anonymousAndBadTokensGet401() async throws {
        try await TestServer.with { server in
            for path in ["/api/v1/tenants", "/api/v1/whoami", "/api/v1/tenants/coke/projects", "/api/v1/audit"] {
                let anonymous = try await server.request(.GET, path)
                #expect(anonymous.status == 401)
                #expect(anonymous.errorCode == "unauthenticated")
                #expect(try await server.request(.GET, path, token: "cnp_forged").status == 401)
            }
        }
    }
}
