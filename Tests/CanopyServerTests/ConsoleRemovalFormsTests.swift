import Foundation
import Testing
import TestSupport

/// The console's removals — a namespace on the project page, a cluster on its page: offered to
/// those who may, done only once the name is typed again, refused with the API's own status to
/// everyone else.
@Suite struct ConsoleRemovalFormsTests {
    @Test func projectAdminsRemoveANamespaceByTypingItsName() async throws {
        try await ConsoleClient.withConsole { sim, server, fixture, browser in
            let admin = try #require(fixture.tokens["coke-pa"])
            for name in ["mkt-a", "mkt-b"] {
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: admin, json: [
                    "cluster": "onprem", "name": name,
                ]), 201)
            }
            let onprem = try PlacementTests.client(sim, "onprem")
            try await eventually(within: 10, "mkt-a in the cluster") { try await PlacementTests.exists(onprem, "mkt-a") }
            let page = "/ui/tenants/coke/projects/marketing", form = "/ui/tenants/coke/projects/marketing/namespaces/onprem/mkt-a/remove"
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains("action=\"\(form)\""))
            for caller in ["coke-pm", "coke-pv"] {
                #expect(!(try await browser.send(.GET, page, cookie: fixture.tokens[caller])).text.contains("class=\"remove-namespace\""), "\(caller)")
            }

            // The wrong name: the page again with why, and nothing removed.
            let refused = try await browser.send(.POST, form, cookie: admin, form: ["confirm": "mkt-b"])
            #expect(refused.status == 422 && refused.text.contains("id=\"removal-error\"") && refused.text.contains("type its name"), "\(refused.status) \(refused.text)")
            #expect(try await browser.send(.POST, form, cookie: admin, body: "other=x").status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: ["confirm": "mkt-a"], origin: "http://evil.example").status == 403)
            #expect(try await Self.names(server, admin) == ["mkt-a", "mkt-b"])

            // Everyone else: what the API's DELETE answers them, and nothing is removed.
            for (caller, status) in [("coke-pm", 403), ("coke-pv", 403), ("coke-sales-pa", 404), ("pepsi-admin", 404), ("provider", 404)] {
                let console = try await browser.send(.POST, form, cookie: fixture.tokens[caller], form: ["confirm": "mkt-a"])
                let api = try await server.request(.DELETE, "/api/v1/tenants/coke/projects/marketing/namespaces/onprem/mkt-a", token: fixture.tokens[caller])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
            }
            #expect(try await browser.send(.POST, "/ui/tenants/coke/projects/marketing/namespaces/onprem/nowhere/remove", cookie: admin, form: ["confirm": "nowhere"]).status == 404)

            let removed = try await browser.send(.POST, form, cookie: admin, form: ["confirm": " mkt-a "])
            #expect(removed.status == 303 && removed.headers.first(name: "location") == page, "\(removed.status) \(removed.text)")
            #expect(try await Self.names(server, admin) == ["mkt-b"])
            try await eventually(within: 10, "mkt-a deleted from the cluster") { try await !PlacementTests.exists(onprem, "mkt-a") }
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: fixture.tokens["coke-admin"]).text.contains("<td>namespace.delete</td>"))
        }
    }

    @Test func tenantAdminsRemoveAClusterByTypingItsName() async throws {
        try await ConsoleClient.withConsole { sim, server, fixture, browser in
            let admin = try #require(fixture.tokens["coke-admin"])
            try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: admin, json: [
                "cluster": "cloud", "name": "mkt-c",
            ]), 201)
            let cloud = try PlacementTests.client(sim, "cloud")
            try await eventually(within: 10, "mkt-c in the cluster") { try await PlacementTests.exists(cloud, "mkt-c") }
            let page = "/ui/tenants/coke/clusters/cloud", form = "/ui/tenants/coke/clusters/cloud/remove"
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains("id=\"remove-cluster\""))

            // The wrong name, then no cascade while a project namespace is there: the page
            // again with why (the API's 409 for the second), and nothing removed.
            for (fields, status, message) in [
                (["confirm": "onprem", "cascade": "true"], 422, "type its name"),
                (["confirm": "cloud"], 409, "still holds 1 project namespace(s) (marketing/mkt-c)"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: admin, form: fields)
                #expect(refused.status == status && refused.text.contains("id=\"removal-error\"") && refused.text.contains(message), "\(fields): \(refused.status) \(refused.text)")
            }
            #expect(try await browser.send(.POST, form, cookie: admin, body: "cascade=true").status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: ["confirm": "cloud", "cascade": "true"], origin: "http://evil.example").status == 403)
            #expect(try await Self.clusters(server, admin) == ["cloud", "onprem"])

            // Everyone else: what the API's DELETE answers them, and nothing is removed.
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let console = try await browser.send(.POST, form, cookie: fixture.tokens[caller], form: ["confirm": "cloud", "cascade": "true"])
                let api = try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/cloud?cascade=true", token: fixture.tokens[caller])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
            }
            #expect(try await Self.clusters(server, admin) == ["cloud", "onprem"])

            let removed = try await browser.send(.POST, form, cookie: admin, form: ["confirm": "cloud", "cascade": "true"])
            #expect(removed.status == 303 && removed.headers.first(name: "location") == "/ui/tenants/coke", "\(removed.status) \(removed.text)")
            #expect(try await Self.clusters(server, admin) == ["onprem"])
            let gone = try await !PlacementTests.exists(cloud, "mkt-c")
            #expect(gone, "the cascade deleted the project namespace before the cluster was forgotten")
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>cluster.delete</td>"))

            // A cluster that does not answer is removed all the same; the tenant's page says what stays in it.
            try #require(sim.sim.clusters["onprem"]).makeUnreachable(for: 60)
            let left = try await browser.send(.POST, "/ui/tenants/coke/clusters/onprem/remove", cookie: admin, form: ["confirm": "onprem"])
            #expect(left.status == 200 && left.text.contains("id=\"tenant-notice\""), "\(left.status) \(left.text)")
            #expect(left.text.contains("could not be removed from cluster &#39;onprem&#39;") && left.text.contains("kubectl delete clusterroles,clusterrolebindings"), "\(left.text)")
            #expect(try await Self.clusters(server, admin).isEmpty)
        }
    }

    static func clusters(_ server: TestServer, _ token: String) async throws -> [String] {
        try await server.request(.GET, "/api/v1/tenants/coke/clusters", token: token).items.compactMap { $0["name"] as? String }.sorted()
    }

    static func names(_ server: TestServer, _ token: String) async throws -> [String] {
        try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/namespaces", token: token).items.compactMap { $0["name"] as? String }.sorted()
    }
}
