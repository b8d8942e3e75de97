import Testing
import TestSupport
@testable import CanopyServer

/// A user's page: display name, e-mail and a new password for a local account, through the API's
/// own `UserRoutes.update`, for those who manage the tenant's users (not for their own account).
@Suite struct ConsoleUserSettingsTests {
    @Test func tenantAdminsChangeAUsersDetailsAndReplaceAForgottenPassword() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/users/pm", api = "/api/v1/tenants/coke/users/pm"
            #expect(try await browser.send(.GET, "/ui/tenants/coke/users", cookie: admin).text.contains("<a href=\"\(page)\">pm</a>"))
            let shown = try await browser.send(.GET, page, cookie: admin)
            #expect(shown.status == 200 && shown.text.contains("id=\"user-settings\"") && shown.text.contains("id=\"user-password\""), "\(shown.text)")
            let drawn = try ConsoleProjectSettingsTests.version(in: shown.text)

            let fields = ["displayName": "Pat Member", "email": "pat@example.com", "password": "a-new-password-1", "version": drawn]
            let saved = try await browser.send(.POST, page, cookie: admin, form: fields)
            #expect(saved.status == 303 && saved.headers.first(name: "location") == "/ui/tenants/coke/users", "\(saved.status) \(saved.text)")
            var user = try await server.request(.GET, api, token: admin).object
            #expect(user["displayName"] as? String == "Pat Member" && user["email"] as? String == "pat@example.com", "\(user)")
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": "a-new-password-1"]).status == 200)
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": Fixture.password]).status == 401)

            // An empty e-mail clears it, an empty password leaves it (the API's PATCH takes "" too).
            let current = try ConsoleProjectSettingsTests.version(in: try await browser.send(.GET, page, cookie: admin).text)
            #expect(try await browser.send(.POST, page, cookie: admin, form: ["displayName": "Pat", "email": "", "password": "", "version": current]).status == 303)
            user = try await server.request(.GET, api, token: admin).object
            #expect(user["email"] == nil && user["displayName"] as? String == "Pat", "\(user)")
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": "a-new-password-1"]).status == 200)
            try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke/users/pv", token: admin, json: ["email": "v@example.com"]), 200)
            #expect(try await server.request(.PATCH, "/api/v1/tenants/coke/users/pv", token: admin, json: ["email": ""]).object["email"] == nil)

            // Refusals: the page again with the API's message and what was typed, never the password.
            let latest = try ConsoleProjectSettingsTests.version(in: try await browser.send(.GET, page, cookie: admin).text)
            for (changed, status, message) in [
                (["email": "not-an-email", "password": "a-good-password-2"], 422, "must be an e-mail address"),
                (["email": "p@example.com", "password": "short"], 422, "must be at least"),
                (["version": drawn, "email": "stale@example.com"], 409, "someone else changed this user"),
            ] {
                let typed = fields.merging(["version": latest]) { $1 }.merging(changed) { $1 }
                let refused = try await browser.send(.POST, page, cookie: admin, form: typed)
                #expect(refused.status == status && refused.text.contains("id=\"user-settings-error\"") && refused.text.contains(message), "\(changed): \(refused.status) \(refused.text)")
                #expect(refused.text.contains("value=\"\(typed["email"] ?? "")\""), "\(changed): what was typed is kept")
                #expect(!refused.text.contains(typed["password"] ?? "-"), "\(changed): never the password")
            }
            #expect(try await server.request(.GET, api, token: admin).object["email"] == nil, "nothing of it saved")
            #expect(try await browser.send(.POST, page, cookie: admin, form: fields.merging(["version": "x"]) { $1 }).status == 400)
            #expect(try await browser.send(.POST, page, cookie: admin, body: "email=x").status == 400)
            #expect(try await browser.send(.POST, page, cookie: admin, form: fields, origin: "http://evil.example").status == 403)
            #expect(try await browser.send(.GET, "/ui/tenants/coke/users/nobody", cookie: admin).status == 404)
            // One's own account is changed on the tokens page, with the current password.
            #expect(try await browser.send(.GET, "/ui/tenants/coke/users/boss", cookie: admin).status == 409)
            #expect(try await browser.send(.POST, "/ui/tenants/coke/users/boss", cookie: admin, form: fields).status == 409)

            // Everyone else gets what the API's PATCH answers them, and nothing changes.
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let token = fixture.tokens[caller]
                let target = "/ui/tenants/coke/users/sales-pa"
                let answers = [
                    try await browser.send(.GET, target, cookie: token).status,
                    try await browser.send(.POST, target, cookie: token, form: fields.merging(["version": ""]) { $1 }).status,
                    try await server.request(.PATCH, "/api/v1/tenants/coke/users/sales-pa", token: token, json: ["displayName": "x"]).status,
                ]
                #expect(answers.allSatisfy { $0 == status }, "\(caller): \(answers)")
            }
            #expect(try await server.request(.GET, "/api/v1/tenants/coke/users/sales-pa", token: admin).object["displayName"] as? String != "x")
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("tenants/coke/users/pm"))

            // The box ends the user's sessions and revokes their tokens with the change.
            let member = try await server.login(tenant: "coke", "pm", "a-new-password-1")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 200)
            let fresh = try ConsoleProjectSettingsTests.version(in: try await browser.send(.GET, page, cookie: admin).text)
            let revoking = try await browser.send(.POST, page, cookie: admin, form: ["displayName": "Pat", "email": "", "password": "", "revokeTokens": "true", "version": fresh])
            #expect(revoking.status == 303, "\(revoking.status) \(revoking.text)")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 401)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: fixture.tokens["coke-pv"]).status == 200)
        }
    }

    /// The user's page lists their sessions and tokens and revokes one of them (the API's
    /// `DELETE …/users/{u}/tokens/{id}`); the others keep working.
    @Test func tenantAdminsRevokeOneOfAUsersTokensOnTheirPage() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"]), session = try #require(fixture.tokens["coke-pm"])
            let issued = try Fixture.expect(await server.request(.POST, "/api/v1/tokens", token: session, json: ["description": "nightly deploy"]), 201).object
            let id = try #require(issued["id"] as? String), automation = try #require(issued["token"] as? String)
            let page = "/ui/tenants/coke/users/pm"
            let shown = try await browser.send(.GET, page, cookie: admin)
            #expect(shown.text.contains("id=\"user-tokens\"") && shown.text.contains("nightly deploy"), "\(shown.text)")
            #expect(shown.text.contains("action=\"\(page)/tokens/\(id)/revoke\""))
            #expect(!shown.text.contains(automation))

            let revoked = try await browser.send(.POST, "\(page)/tokens/\(id)/revoke", cookie: admin, form: [:])
            #expect(revoked.status == 303 && revoked.headers.first(name: "location") == page, "\(revoked.status) \(revoked.text)")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: automation).status == 401)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: session).status == 200)
            let after = try await browser.send(.GET, page, cookie: admin).text
            #expect(after.contains("revoked") && !after.contains("action=\"\(page)/tokens/\(id)/revoke\""), "no button for a revoked token")

            // Another user's token under this user's page, or none: 404; a forged origin: 403.
            let bosses = try await server.request(.GET, "/api/v1/tenants/coke/users/boss/tokens", token: admin).items
            let bossToken = try #require(bosses.first?["id"] as? String)
            #expect(try await browser.send(.POST, "\(page)/tokens/\(bossToken)/revoke", cookie: admin, form: [:]).status == 404)
            #expect(try await browser.send(.POST, "\(page)/tokens/no-such/revoke", cookie: admin, form: [:]).status == 404)
            #expect(try await browser.send(.POST, "\(page)/tokens/\(id)/revoke", cookie: admin, form: [:], origin: "http://evil.example").status == 403)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: admin).status == 200)
            // Everyone else gets what the API answers them, and nothing is revoked.
            let sessionID = try #require(try await server.request(.GET, "/api/v1/tokens", token: session).items.first { $0["revokedAt"] == nil }?["id"] as? String)
            for (caller, status) in [("coke-pa", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let answers = [
                    try await browser.send(.POST, "\(page)/tokens/\(sessionID)/revoke", cookie: fixture.tokens[caller], form: [:]).status,
                    try await server.request(.DELETE, "/api/v1/tenants/coke/users/pm/tokens/\(sessionID)", token: fixture.tokens[caller]).status,
                ]
                #expect(answers.allSatisfy { $0 == status }, "\(caller): \(answers)")
            }
            #expect(try await server.request(.GET, "/api/v1/whoami", token: session).status == 200)
            // One's own tokens are revoked on the tokens page.
            #expect(try await browser.send(.POST, "/ui/tenants/coke/users/boss/tokens/\(bossToken)/revoke", cookie: admin, form: [:]).status == 409)
        }
    }
}
