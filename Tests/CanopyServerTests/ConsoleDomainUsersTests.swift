import Testing
import TestSupport
@testable import CanopyServer

/// The console's page of the domain's own users and administrators (`/ui/users`): the same forms
/// as a tenant's users page, through the API's code over the domain's `UserScope`.
@Suite struct ConsoleDomainUsersTests {
    @Test func aProviderAddsAUserNamesThemAnAdministratorAndKeepsOneUser() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let provider = try #require(fixture.tokens["provider"])
            let overview = try await browser.send(.GET, "/ui", cookie: provider)
            #expect(overview.text.contains("id=\"domain-users-link\""))
            #expect(!(try await browser.send(.GET, "/ui", cookie: fixture.tokens["coke-admin"])).text.contains("id=\"domain-users-link\""))

            let page = "/ui/users"
            let first = try await browser.send(.GET, page, cookie: provider)
            #expect(first.status == 200 && first.text.contains("Administrators (service providers)") && first.text.contains("<td>admin</td>"), "\(first.text)")
            #expect(!first.text.contains("class=\"remove-admin\""), "the only administrator has no remove button")
            #expect(first.text.contains("href=\"/ui/directories\""))

            let created = try await browser.send(.POST, page, cookie: provider, form: ["username": "ops", "password": "ops-password-1", "displayName": "Ops"])
            #expect(created.status == 303 && created.headers.first(name: "location") == page, "\(created.status) \(created.text)")
            let named = try await browser.send(.POST, "/ui/admins", cookie: provider, form: ["who": "ops", "kind": "user"])
            #expect(named.status == 303, "\(named.status) \(named.text)")
            let ops = try await server.login("ops", "ops-password-1")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ops).object["serviceProvider"] as? Bool == true)
            #expect(try await browser.send(.POST, "/ui/admins", cookie: provider, form: ["who": "platform", "kind": "group"]).status == 303)

            // Refusals show on the page with what was typed.
            let taken = try await browser.send(.POST, page, cookie: provider, form: ["username": "ops", "password": "ops-password-2"])
            #expect(taken.status == 409 && taken.text.contains("already exists in this domain") && taken.text.contains("value=\"ops\""), "\(taken.text)")
            let nobody = try await browser.send(.POST, "/ui/admins", cookie: provider, form: ["who": "nobody", "kind": "user"])
            #expect(nobody.status == 422 && nobody.text.contains("no user named &#39;nobody&#39; in this domain"), "\(nobody.text)")

            // The administrators: admin and ops removable; the group too. Take admin's and ops's
            // away in turn: the last user grant stays, with why.
            let admins = try await server.request(.GET, "/api/v1/admins", token: provider).items
            let byName = Dictionary(uniqueKeysWithValues: admins.compactMap { item -> (String, String)? in
                guard let id = item["id"] as? String else { return nil }
                return ((item["user"] as? String) ?? "group \(item["group"] as? String ?? "")", id)
            })
            #expect(byName.keys.sorted() == ["admin", "group platform", "ops"])
            let listed = try await browser.send(.GET, page, cookie: provider).text
            #expect(listed.components(separatedBy: "class=\"remove-admin\"").count - 1 == 3)
            #expect(listed.contains("<td><a href=\"/ui/users/ops\">ops</a></td>") && listed.contains("<td>admin</td>"), "others' names open their page; one's own not")
            // ops's page: another administrator replaces a forgotten password there.
            let opsPage = try await browser.send(.GET, "/ui/users/ops", cookie: provider)
            #expect(opsPage.status == 200 && opsPage.text.contains("href=\"/ui/users\">the domain</a>") && opsPage.text.contains("action=\"/ui/users/ops\""), "\(opsPage.text)")
            let version = try #require(try await server.request(.GET, "/api/v1/users/ops", token: provider).object["version"] as? Int)
            let saved = try await browser.send(.POST, "/ui/users/ops", cookie: provider, form: [
                "displayName": "Operations", "email": "ops@example.com", "password": "ops-password-2", "version": "\(version)",
            ])
            #expect(saved.status == 303 && saved.headers.first(name: "location") == page, "\(saved.status) \(saved.text)")
            #expect(try await server.request(.POST, "/api/v1/login", json: ["username": "ops", "password": "ops-password-2"]).status == 200)
            #expect(try await browser.send(.GET, "/ui/users/admin", cookie: provider).status == 409, "one's own account is on the tokens page")
            #expect(try await browser.send(.GET, "/ui/users/nobody", cookie: provider).status == 404)
            // ops's sessions on their page; a second one ended there, the first kept.
            let before = Set(try await server.request(.GET, "/api/v1/users/ops/tokens", token: provider).items.compactMap { $0["id"] as? String })
            let opsAgain = try await server.login("ops", "ops-password-2")
            let after = Set(try await server.request(.GET, "/api/v1/users/ops/tokens", token: provider).items.compactMap { $0["id"] as? String })
            let opsSession = try #require(after.subtracting(before).first)
            #expect(try await browser.send(.GET, "/ui/users/ops", cookie: provider).text.contains("action=\"/ui/users/ops/tokens/\(opsSession)/revoke\""))
            for caller in ["coke-admin", "pepsi-admin"] {
                #expect(try await browser.send(.GET, "/ui/users/ops", cookie: fixture.tokens[caller]).status == 403, "\(caller)")
                #expect(try await browser.send(.POST, "/ui/users/ops", cookie: fixture.tokens[caller], form: ["displayName": "x", "email": ""]).status == 403, "\(caller)")
                #expect(try await browser.send(.POST, "/ui/users/ops/tokens/\(opsSession)/revoke", cookie: fixture.tokens[caller], form: [:]).status == 403, "\(caller)")
            }
            let ended = try await browser.send(.POST, "/ui/users/ops/tokens/\(opsSession)/revoke", cookie: provider, form: [:])
            #expect(ended.status == 303 && ended.headers.first(name: "location") == "/ui/users/ops", "\(ended.status) \(ended.text)")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: opsAgain).status == 401)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ops).status == 200)
            let removed = try await browser.send(.POST, "/ui/admins/\(try #require(byName["admin"]))/remove", cookie: provider)
            #expect(removed.status == 303, "\(removed.status) \(removed.text)")
            #expect(try await browser.send(.GET, page, cookie: provider).status == 403, "admin is no longer a service provider")
            let last = try await browser.send(.POST, "/ui/admins/\(try #require(byName["ops"]))/remove", cookie: ops)
            #expect(last.status == 409 && last.text.contains("id=\"admin-error\"") && last.text.contains("who is a user"), "\(last.status) \(last.text)")
            let opsView = try await browser.send(.GET, page, cookie: ops).text
            #expect(opsView.components(separatedBy: "class=\"remove-admin\"").count - 1 == 1, "only the group can go now")

            // Disabling and deleting the first administrator, now without a role.
            #expect(try await browser.send(.POST, "/ui/users/admin/state", cookie: ops, form: ["disabled": "true"]).status == 303)
            #expect(try await server.request(.GET, "/api/v1/users/admin", token: ops).object["disabled"] as? Bool == true)
            let mistyped = try await browser.send(.POST, "/ui/users/admin/remove", cookie: ops, form: ["confirm": "admn"])
            #expect(mistyped.status == 422 && mistyped.text.contains("type their name"))
            #expect(try await browser.send(.POST, "/ui/users/admin/remove", cookie: ops, form: ["confirm": "admin"]).status == 303)
            #expect(try await server.request(.GET, "/api/v1/users", token: ops).items.compactMap { $0["username"] as? String } == ["ops"])

            // Everyone else gets what the API answers them, and nothing changes.
            for caller in ["coke-admin", "coke-pm", "pepsi-admin"] {
                let token = fixture.tokens[caller]
                for (path, form) in [(page, ["username": "x", "password": "password-123"]), ("/ui/admins", ["who": "x", "kind": "group"]),
                                     ("/ui/users/ops/state", ["disabled": "true"]), ("/ui/users/ops/remove", ["confirm": "ops"])] {
                    let refused = try await browser.send(.POST, path, cookie: token, form: form)
                    #expect(refused.status == 403, "\(caller) \(path): \(refused.status)")
                }
            }
            #expect(try await server.request(.GET, "/api/v1/admins", token: ops).items.count == 2)
        }
    }
}
