import Testing
import TestSupport
@testable import CanopyServer

/// The tenant page's forms for the domain's administrators: settings (display name, state,
/// caps) and deletion, through the API's own `TenantRoutes.update` and `remove`.
@Suite struct ConsoleTenantSettingsTests {
    @Test func providersChangeSuspendAndDeleteTenantsOnTheTenantPage() async throws {
        try await ConsoleClient.withConsole { _, server, fixture, browser in
            let provider = try #require(fixture.tokens["provider"]), member = try #require(fixture.tokens["coke-pm"])
            let page = "/ui/tenants/coke", form = "/ui/tenants/coke/settings"
            let shown = try await browser.send(.GET, page, cookie: provider).text
            #expect(shown.contains("id=\"tenant-settings\"") && shown.contains("id=\"remove-tenant\""), "\(shown)")
            #expect(!(try await browser.send(.GET, page, cookie: fixture.tokens["coke-admin"])).text.contains("id=\"tenant-settings\""))

            let fields = ["displayName": "Coke EU", "state": "suspended", "cpu": "200", "memory": ""]
            let saved = try await browser.send(.POST, form, cookie: provider, form: fields)
            #expect(saved.status == 303 && saved.headers.first(name: "location") == page, "\(saved.status) \(saved.text)")
            let tenant = try await server.request(.GET, "/api/v1/tenants/coke", token: provider).object
            #expect(tenant["displayName"] as? String == "Coke EU" && tenant["state"] as? String == "suspended", "\(tenant)")
            #expect((tenant["caps"] as? [String: Any])?["cpu"] as? String == "200" && (tenant["caps"] as? [String: Any])?["memory"] == nil)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 401, "nobody in a suspended tenant gets in")
            #expect(try await browser.send(.GET, page, cookie: provider).text.contains("<option value=\"suspended\" selected>"))
            #expect(try await browser.send(.POST, form, cookie: provider, form: fields.merging(["state": "active"]) { $1 }).status == 303)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 200)

            // Refusals: the page again with the API's message and what was typed; nothing saved.
            let refused = try await browser.send(.POST, form, cookie: provider, form: fields.merging(["cpu": "lots", "displayName": "Not Saved"]) { $1 })
            #expect(refused.status == 400 && refused.text.contains("id=\"tenant-settings-error\"") && refused.text.contains("caps.cpu must be"), "\(refused.status) \(refused.text)")
            #expect(refused.text.contains("value=\"lots\"") && refused.text.contains("value=\"Not Saved\""))
            #expect(try await browser.send(.POST, form, cookie: provider, form: fields.merging(["state": "paused"]) { $1 }).status == 400)
            #expect(try await browser.send(.POST, form, cookie: provider, body: "displayName=x").status == 400)
            #expect(try await browser.send(.POST, form, cookie: provider, form: fields, origin: "http://evil.example").status == 403)
            #expect(try await server.request(.GET, "/api/v1/tenants/coke", token: provider).object["displayName"] as? String == "Coke EU")

            // Everyone else gets what the API answers them, for both forms, and nothing changes.
            for (caller, status) in [("coke-admin", 403), ("coke-pm", 403), ("pepsi-admin", 404)] {
                let token = fixture.tokens[caller]
                let console = try await browser.send(.POST, form, cookie: token, form: fields)
                let api = try await server.request(.PATCH, "/api/v1/tenants/coke", token: token, json: ["state": "suspended"])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
                let consoleRemoval = try await browser.send(.POST, "/ui/tenants/coke/remove", cookie: token, form: ["confirm": "coke", "cascade": "true"])
                let apiRemoval = try await server.request(.DELETE, "/api/v1/tenants/coke", token: token)
                #expect(consoleRemoval.status == status && apiRemoval.status == status, "\(caller): console \(consoleRemoval.status), API \(apiRemoval.status)")
            }
            #expect(try await server.request(.GET, "/api/v1/tenants/coke", token: provider).object["state"] as? String == "active")

            // Deleting pepsi (which has a cluster): only with its name typed, and only with the box
            // ticked while it has clusters; then it is gone and the overview follows.
            let removal = "/ui/tenants/pepsi/remove"
            for (fields, status, message) in [
                (["confirm": "coke", "cascade": "true"], 422, "to delete tenant &#39;pepsi&#39;, type its name"),
                (["confirm": "pepsi"], 409, "still manages 1 cluster(s) (west)"),
            ] {
                let refused = try await browser.send(.POST, removal, cookie: provider, form: fields)
                #expect(refused.status == status && refused.text.contains("id=\"tenant-removal-error\"") && refused.text.contains(message), "\(fields): \(refused.status) \(refused.text)")
            }
            #expect(try await browser.send(.POST, removal, cookie: provider, body: "cascade=true").status == 400)
            #expect(try await browser.send(.POST, removal, cookie: provider, form: ["confirm": "pepsi", "cascade": "true"], origin: "http://evil.example").status == 403)
            #expect(try await server.request(.GET, "/api/v1/tenants/pepsi", token: provider).status == 200)
            let removed = try await browser.send(.POST, removal, cookie: provider, form: ["confirm": "pepsi", "cascade": "true"])
            #expect(removed.status == 303 && removed.headers.first(name: "location") == "/ui", "\(removed.status) \(removed.text)")
            #expect(try await server.request(.GET, "/api/v1/tenants/pepsi", token: provider).status == 404)
            #expect(try await browser.send(.GET, "/ui/audit", cookie: provider).text.contains("<td>tenant.delete</td>"))
        }
    }

    @Test func aSaveFromAPageDrawnBeforeSomeoneElsesChangeIsRefusedNotApplied() async throws {
        try await ConsoleClient.withConsole { _, server, fixture, browser in
            let provider = try #require(fixture.tokens["provider"])
            let drawn = try ConsoleProjectSettingsTests.version(in: try await browser.send(.GET, "/ui/tenants/coke", cookie: provider).text)
            try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke", token: provider, json: ["state": "suspended"]), 200)

            let fields = ["displayName": "Coke EU", "state": "active", "cpu": "", "memory": "", "version": drawn]
            let stale = try await browser.send(.POST, "/ui/tenants/coke/settings", cookie: provider, form: fields)
            #expect(stale.status == 409 && stale.text.contains("someone else changed this tenant"), "\(stale.status) \(stale.text)")
            #expect(stale.text.contains("id=\"tenant-display-name\" value=\"Coke EU\""), "what was typed is kept")
            #expect(try await server.request(.GET, "/api/v1/tenants/coke", token: provider).object["state"] as? String == "suspended", "the other change stands")
            let again = try await browser.send(.POST, "/ui/tenants/coke/settings", cookie: provider, form: fields.merging(["version": try ConsoleProjectSettingsTests.version(in: stale.text)]) { $1 })
            #expect(again.status == 303, "\(again.status) \(again.text)")
            #expect(try await server.request(.GET, "/api/v1/tenants/coke", token: provider).object["state"] as? String == "active")
        }
    }
}
