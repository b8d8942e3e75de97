import Testing
import TestSupport
@testable import CanopyServer

/// The users page's forms that change a user: disabling and enabling them, and deleting them
/// once their name is typed again, through the API's own `UserRoutes.update` and `delete`.
@Suite struct ConsoleUserChangesTests {
    static func user(_ server: TestServer, _ name: String, _ token: String) async throws -> TestResponse {
        try await server.request(.GET, "/api/v1/tenants/coke/users/\(name)", token: token)
    }

    @Test func tenantAdminsDisableEnableAndDeleteUsersOnTheUsersPage() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"]), member = try #require(fixture.tokens["coke-pm"])
            let page = "/ui/tenants/coke/users"
            let listed = try await browser.send(.GET, page, cookie: admin).text
            #expect(listed.contains("action=\"/ui/tenants/coke/users/pm/state\"") && listed.contains("action=\"/ui/tenants/coke/users/pm/remove\""))
            #expect(!listed.contains("/ui/tenants/coke/users/boss/state"), "no buttons on one's own account")

            // Disabled: the user's tokens stop working at once; enabled: they work again.
            let disabled = try await browser.send(.POST, "\(page)/pm/state", cookie: admin, form: ["disabled": "true"])
            #expect(disabled.status == 303 && disabled.headers.first(name: "location") == page, "\(disabled.status) \(disabled.text)")
            #expect(try await Self.user(server, "pm", admin).object["disabled"] as? Bool == true)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 401)
            let shown = try await browser.send(.GET, page, cookie: admin).text
            #expect(shown.contains(">pm</a></td>") && shown.contains("<td>disabled</td>") && shown.contains(">Enable</button>"))
            #expect(try await browser.send(.POST, "\(page)/pm/state", cookie: admin, form: ["disabled": "false"]).status == 303)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 200)
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>user.update</td>"))

            // Refusals: bad forms, another site, one's own account, a name not typed again.
            #expect(try await browser.send(.POST, "\(page)/pm/state", cookie: admin, form: ["disabled": "maybe"]).status == 400)
            #expect(try await browser.send(.POST, "\(page)/pm/state", cookie: admin, body: "other=x").status == 400)
            #expect(try await browser.send(.POST, "\(page)/pm/remove", cookie: admin, body: "other=x").status == 400)
            #expect(try await browser.send(.POST, "\(page)/pm/state", cookie: admin, form: ["disabled": "true"], origin: "http://evil.example").status == 403)
            #expect(try await browser.send(.POST, "\(page)/pm/remove", cookie: admin, form: ["confirm": "pm"], origin: "http://evil.example").status == 403)
            for (path, fields, status, message) in [
                ("\(page)/boss/state", ["disabled": "true"], 403, "you cannot disable your own account"),
                ("\(page)/boss/remove", ["confirm": "boss"], 409, "you cannot delete your own account"),
                ("\(page)/pm/remove", ["confirm": "pv"], 422, "to delete user &#39;pm&#39;, type their name"),
            ] {
                let refused = try await browser.send(.POST, path, cookie: admin, form: fields)
                #expect(refused.status == status && refused.text.contains("id=\"user-action-error\"") && refused.text.contains(message), "\(path): \(refused.status) \(refused.text)")
            }
            #expect(try await browser.send(.POST, "\(page)/nobody/state", cookie: admin, form: ["disabled": "true"]).status == 404)

            // Everyone else gets what the API answers them for another user, and nothing changes.
            for (caller, status) in [("coke-pa", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let token = fixture.tokens[caller]
                let console = try await browser.send(.POST, "\(page)/sales-pa/state", cookie: token, form: ["disabled": "true"])
                let api = try await server.request(.PATCH, "/api/v1/tenants/coke/users/sales-pa", token: token, json: ["disabled": true])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
                let consoleRemoval = try await browser.send(.POST, "\(page)/sales-pa/remove", cookie: token, form: ["confirm": "sales-pa"])
                let apiRemoval = try await server.request(.DELETE, "/api/v1/tenants/coke/users/sales-pa", token: token)
                #expect(consoleRemoval.status == status && apiRemoval.status == status, "\(caller): console \(consoleRemoval.status), API \(apiRemoval.status)")
            }
            // A user changing their own account is the API's (PATCH …/users/{self}); these forms are
            // for those who manage users: 403.
            #expect(try await browser.send(.POST, "\(page)/pv/remove", cookie: fixture.tokens["coke-pv"], form: ["confirm": "pv"]).status == 403)
            let salesPA = try await Self.user(server, "sales-pa", admin)
            #expect(salesPA.status == 200 && salesPA.object["disabled"] as? Bool == false)

            // Deleted once the name is typed (spaces around it do not matter): gone, and so are
            // the user's sessions.
            let removed = try await browser.send(.POST, "\(page)/pm/remove", cookie: admin, form: ["confirm": " pm "])
            #expect(removed.status == 303 && removed.headers.first(name: "location") == page, "\(removed.status) \(removed.text)")
            #expect(try await Self.user(server, "pm", admin).status == 404)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 401)
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>user.delete</td>"))
        }
    }
}
