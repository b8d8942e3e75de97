import Testing
import TestSupport
@testable import CanopyServer

/// The users page's tenant-admin forms: naming a user or a directory group an admin, and taking
/// the role away, through the API's own `AdminRoutes.add` and `remove`.
@Suite struct ConsoleAdminFormsTests {
    static func admins(_ server: TestServer, _ token: String) async throws -> [String: String] {
        let items = try await server.request(.GET, "/api/v1/tenants/coke/admins", token: token).items
        return Dictionary(uniqueKeysWithValues: items.compactMap { item -> (String, String)? in
            guard let id = item["id"] as? String else { return nil }
            return ((item["user"] as? String) ?? "group \(item["group"] as? String ?? "")", id)
        })
    }

    @Test func tenantAdminsNameAndRemoveAdminsOnTheUsersPage() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/users", form = "/ui/tenants/coke/admins"
            let first = try await browser.send(.GET, page, cookie: admin)
            #expect(first.text.contains("id=\"add-admin\"") && first.text.contains("<td>boss</td>"), "\(first.text)")
            #expect(!first.text.contains("class=\"remove-admin\""), "the only admin has no remove button")

            for fields in [["who": "pm", "kind": "user"], ["who": " coke-ops ", "kind": "group"]] {
                let added = try await browser.send(.POST, form, cookie: admin, form: fields)
                #expect(added.status == 303 && added.headers.first(name: "location") == page, "\(fields): \(added.status) \(added.text)")
            }
            var admins = try await Self.admins(server, admin)
            #expect(admins.keys.sorted() == ["boss", "group coke-ops", "pm"])
            let listed = try await browser.send(.GET, page, cookie: admin).text
            #expect(listed.contains("<td>pm</td>") && listed.contains("<td>group coke-ops</td>"))
            #expect(listed.components(separatedBy: "class=\"remove-admin\"").count - 1 == 3)
            #expect(try await browser.send(.GET, page, cookie: fixture.tokens["coke-pm"]).status == 200, "pm administers the tenant now")
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>admin.create</td>"))

            // Refusals: the page again with the API's message and what was typed; nothing named.
            for (fields, status, message) in [
                (["who": "nobody", "kind": "user"], 422, "no user named &#39;nobody&#39; in this tenant"),
                (["who": "pm", "kind": "user"], 409, "already an admin of this tenant"),
                (["who": "  ", "kind": "group"], 422, "must not be empty"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: admin, form: fields)
                #expect(refused.status == status, "\(fields): \(refused.status)")
                #expect(refused.text.contains("id=\"admin-error\"") && refused.text.contains(message), "\(fields): \(refused.text)")
                #expect(refused.text.contains("value=\"\(fields["who"]!.trimmingCharacters(in: .whitespaces))\""))
            }
            #expect(try await browser.send(.POST, form, cookie: admin, body: "who=pv").status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: ["who": "pv", "kind": "robot"]).status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: ["who": "pv", "kind": "user"], origin: "http://evil.example").status == 403)

            // Everyone else gets what the API answers them, for both forms, and nothing changes.
            let groupID = try #require(admins["group coke-ops"])
            for (caller, status) in [("coke-pa", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let token = fixture.tokens[caller]
                let console = try await browser.send(.POST, form, cookie: token, form: ["who": "sales-pa", "kind": "user"])
                let api = try await server.request(.POST, "/api/v1/tenants/coke/admins", token: token, json: ["user": "sales-pa"])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
                let consoleRemoval = try await browser.send(.POST, "\(form)/\(groupID)/remove", cookie: token)
                let apiRemoval = try await server.request(.DELETE, "/api/v1/tenants/coke/admins/\(groupID)", token: token)
                #expect(consoleRemoval.status == status && apiRemoval.status == status, "\(caller): console \(consoleRemoval.status), API \(apiRemoval.status)")
            }
            #expect(try await Self.admins(server, admin).keys.sorted() == ["boss", "group coke-ops", "pm"])
            #expect(try await browser.send(.POST, "\(form)/\(groupID)/remove", cookie: admin, origin: "http://evil.example").status == 403)
            let unknown = try await browser.send(.POST, "\(form)/no-such-admin/remove", cookie: admin)
            #expect(unknown.status == 404 && unknown.text.contains("id=\"admin-error\""), "\(unknown.status) \(unknown.text)")

            // Removing: the group, then pm; the last admin stays, with why on the page.
            for who in ["group coke-ops", "pm"] {
                let removed = try await browser.send(.POST, "\(form)/\(try #require(admins[who]))/remove", cookie: admin)
                #expect(removed.status == 303 && removed.headers.first(name: "location") == page, "\(who): \(removed.status) \(removed.text)")
            }
            admins = try await Self.admins(server, admin)
            #expect(admins.keys.sorted() == ["boss"])
            let last = try await browser.send(.POST, "\(form)/\(try #require(admins["boss"]))/remove", cookie: admin)
            #expect(last.status == 409 && last.text.contains("id=\"admin-error\"") && last.text.contains("a tenant keeps at least one admin"), "\(last.status) \(last.text)")
            #expect(try await Self.admins(server, admin).keys.sorted() == ["boss"])
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>admin.delete</td>"))
        }
    }
}
