import Foundation
import Testing
import TestSupport

/// The console's tenant-level forms (a new project, a new local user): shown to those who may
/// use them, refused with the API's own status to everyone else, their refusals shown on the
/// page with what was typed (never the password), and what they create is the API's.
@Suite struct ConsoleTenantFormsTests {
    @Test func tenantAdminsCreateProjectsThroughTheTenantPage() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke", form = "/ui/tenants/coke/projects"
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains("id=\"new-project\""))
            for caller in ["coke-pa", "coke-pm", "coke-pv"] {
                #expect(!(try await browser.send(.GET, page, cookie: fixture.tokens[caller])).text.contains("id=\"new-project\""), "\(caller)")
            }
            #expect(try await browser.send(.GET, "/ui/tenants/pepsi", cookie: fixture.tokens["provider"]).text.contains("id=\"new-project\""),
                    "the provider acts as an enterprise tenant's admin")

            let created = try await browser.send(.POST, form, cookie: admin, form: ["name": " web ", "displayName": "Web shop", "cpu": "8", "memory": "16Gi"])
            #expect(created.status == 303 && created.headers.first(name: "location") == "/ui/tenants/coke/projects/web", "\(created.status) \(created.text)")
            let project = try Fixture.expect(await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: admin), 200)
            #expect(project.object["displayName"] as? String == "Web shop")
            #expect((project.object["caps"] as? [String: Any])?["cpu"] as? String == "8" && (project.object["caps"] as? [String: Any])?["memory"] as? String == "16Gi")
            let bare = try await browser.send(.POST, form, cookie: admin, form: ["name": "bare", "displayName": "", "cpu": "", "memory": ""])
            #expect(bare.status == 303)
            #expect(try await server.request(.GET, "/api/v1/tenants/coke/projects/bare", token: admin).object["caps"] == nil, "empty fields set no caps")
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>project.create</td>"))

            // Refused: the page again, with the API's message, its status, and what was typed.
            for (fields, status, message) in [
                (["name": "Not_A_Label"], 422, "must be a DNS label"),
                (["name": "web"], 409, "a project named &#39;web&#39; already exists"),
                (["name": "big", "cpu": "lots"], 400, "caps.cpu must be a non-negative Kubernetes quantity"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: admin, form: fields)
                #expect(refused.status == status, "\(fields)")
                #expect(refused.text.contains("id=\"project-error\"") && refused.text.contains(message), "\(fields): \(refused.text)")
                #expect(refused.text.contains("value=\"\(fields["name"]!)\"") && refused.text.contains("value=\"\(fields["cpu"] ?? "")\""))
            }
            #expect(try await browser.send(.POST, form, cookie: admin, body: "displayName=only").status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: ["name": "cross-site"], origin: "http://evil.example").status == 403)

            // Everyone else gets what the API answers them (the provider sees the msp tenant, so 403), and nothing is created.
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403), ("pepsi-pa", 404)] {
                let name = "by-\(caller)"
                let console = try await browser.send(.POST, form, cookie: fixture.tokens[caller], form: ["name": name])
                let api = try await server.request(.POST, "/api/v1/tenants/coke/projects", token: fixture.tokens[caller], json: ["name": name])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
            }
            let names = try await server.request(.GET, "/api/v1/tenants/coke/projects", token: admin).items.compactMap { $0["name"] as? String }
            #expect(names.sorted() == ["bare", "marketing", "sales", "web"])
        }
    }

    @Test func tenantAdminsCreateUsersThroughTheUsersPage() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/users", form = "/ui/tenants/coke/users"
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains("id=\"new-user\""))

            let created = try await browser.send(.POST, form, cookie: admin, form: [
                "username": "carol", "password": "carol-password-1", "displayName": "Carol", "email": "carol@coke.example",
            ])
            #expect(created.status == 303 && created.headers.first(name: "location") == page, "\(created.status) \(created.text)")
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains(">carol</a></td><td>Carol</td><td>carol@coke.example</td>"))
            _ = try await server.login(tenant: "coke", "carol", "carol-password-1")
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>user.create</td>"))

            for (fields, status, message) in [
                (["username": "dave", "password": "short"], 422, "must be at least"),
                (["username": "carol", "password": "another-password"], 409, "a user named &#39;carol&#39; already exists"),
                (["username": "Dave!", "password": "dave-password-1"], 422, "must be a DNS label"),
                (["username": "dave", "password": "dave-password-1", "email": "not-an-address"], 422, "email"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: admin, form: fields)
                #expect(refused.status == status, "\(fields)")
                #expect(refused.text.contains("id=\"user-error\"") && refused.text.contains(message), "\(fields): \(refused.text)")
                #expect(refused.text.contains("value=\"\(fields["username"]!)\""))
                #expect(!refused.text.contains(fields["password"]!), "the password is never sent back")
            }
            #expect(try await browser.send(.POST, form, cookie: admin, body: "username=nopassword").status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: ["username": "eve", "password": "eve-password-1"], origin: "http://evil.example").status == 403)

            // The provider sees an msp tenant (its summary) but may not change inside it: 403, as DESIGN.md's "visible but not allowed".
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let name = "by-\(caller)"
                let console = try await browser.send(.POST, form, cookie: fixture.tokens[caller], form: ["username": name, "password": "password-123"])
                let api = try await server.request(.POST, "/api/v1/tenants/coke/users", token: fixture.tokens[caller], json: ["username": name, "password": "password-123"])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
            }
            let users = try await server.request(.GET, "/api/v1/tenants/coke/users", token: admin).items.compactMap { $0["username"] as? String }
            #expect(users.sorted() == ["boss", "carol", "pa", "pm", "pv", "sales-pa"])
        }
    }

    @Test func providersCreateTenantsOnTheOverview() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let provider = try #require(fixture.tokens["provider"])
            #expect(try await browser.send(.GET, "/ui", cookie: provider).text.contains("id=\"new-tenant\""))
            for caller in ["coke-admin", "coke-pm", "pepsi-admin"] {
                #expect(!(try await browser.send(.GET, "/ui", cookie: fixture.tokens[caller])).text.contains("id=\"new-tenant\""), "\(caller)")
            }
            let created = try await browser.send(.POST, "/ui/tenants", cookie: provider, form: [
                "name": " fanta ", "displayName": "Fanta", "mode": "enterprise", "adminUsername": "chief", "adminPassword": "chief-password-1",
            ])
            #expect(created.status == 303 && created.headers.first(name: "location") == "/ui/tenants/fanta", "\(created.status) \(created.text)")
            let tenant = try Fixture.expect(await server.request(.GET, "/api/v1/tenants/fanta", token: provider), 200)
            #expect(tenant.object["mode"] as? String == "enterprise" && tenant.object["displayName"] as? String == "Fanta")
            let chief = try await server.login(tenant: "fanta", "chief", "chief-password-1")
            #expect(try await server.request(.GET, "/api/v1/tenants/fanta/admins", token: chief).status == 200, "the first admin administers it")
            #expect(try await browser.send(.GET, "/ui/audit", cookie: provider).text.contains("<td>tenant.create</td>"))

            // Refused: the overview again, with the API's message, its status, and what was typed (never the password).
            for (fields, status, message) in [
                (["name": "coke", "adminUsername": "boss", "adminPassword": "secret-password-9"], 409, "a tenant named &#39;coke&#39; already exists"),
                (["name": "Not_A_Label", "adminUsername": "boss", "adminPassword": "secret-password-9"], 422, "must be a DNS label"),
                (["name": "sprite", "adminUsername": "boss", "adminPassword": "short"], 422, "must be at least"),
            ] {
                let refused = try await browser.send(.POST, "/ui/tenants", cookie: provider, form: fields.merging(["mode": "msp"]) { old, _ in old })
                #expect(refused.status == status, "\(fields)")
                #expect(refused.text.contains("id=\"tenant-error\"") && refused.text.contains(message), "\(fields): \(refused.text)")
                #expect(refused.text.contains("value=\"\(fields["name"]!)\"") && refused.text.contains("value=\"boss\""))
                #expect(!refused.text.contains(fields["adminPassword"]!), "the password is never sent back")
            }
            let badMode = try await browser.send(.POST, "/ui/tenants", cookie: provider, form: [
                "name": "sprite", "mode": "shared", "adminUsername": "boss", "adminPassword": "secret-password-9",
            ])
            #expect(badMode.status == 400)
            #expect(try await browser.send(.POST, "/ui/tenants", cookie: provider, form: [
                "name": "sprite", "mode": "msp", "adminUsername": "boss", "adminPassword": "secret-password-9",
            ], origin: "http://evil.example").status == 403)

            // No one else may: what the API answers them, and nothing is created.
            for caller in ["coke-admin", "coke-pa", "coke-pm", "coke-pv", "pepsi-admin"] {
                let name = "by-\(caller)"
                let console = try await browser.send(.POST, "/ui/tenants", cookie: fixture.tokens[caller], form: [
                    "name": name, "mode": "msp", "adminUsername": "boss", "adminPassword": "secret-password-9",
                ])
                let api = try await server.request(.POST, "/api/v1/tenants", token: fixture.tokens[caller], json: [
                    "name": name, "mode": "msp", "admin": ["username": "boss", "password": "secret-password-9"],
                ])
                #expect(console.status == 403 && api.status == 403, "\(caller): console \(console.status), API \(api.status)")
            }
            let names = try await server.request(.GET, "/api/v1/tenants", token: provider).items.compactMap { $0["name"] as? String }
            #expect(names.sorted() == ["coke", "fanta", "pepsi"])
        }
    }

    @Test func tenantAdminsImportClustersOnTheTenantPage() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let browser = try ConsoleClient(server)
                defer { browser.close() }
                let admin = try #require(fixture.tokens["coke-admin"])
                let page = "/ui/tenants/coke", form = "/ui/tenants/coke/clusters"
                #expect(try await browser.send(.GET, page, cookie: admin).text.contains("id=\"import-cluster\""))
                for caller in ["coke-pa", "coke-pm", "coke-pv", "provider"] {
                    #expect(!(try await browser.send(.GET, page, cookie: fixture.tokens[caller])).text.contains("id=\"import-cluster\""), "\(caller)")
                }
                #expect(try await browser.send(.GET, "/ui/tenants/pepsi", cookie: fixture.tokens["provider"]).text.contains("id=\"import-cluster\""),
                        "the provider acts as an enterprise tenant's admin")

                let kubeconfig = sim.kubeconfig("onprem")
                let imported = try await browser.send(.POST, form, cookie: admin, form: ["name": " onprem ", "kubeconfig": kubeconfig])
                #expect(imported.status == 303 && imported.headers.first(name: "location") == "/ui/tenants/coke/clusters/onprem", "\(imported.status) \(imported.text)")
                let cluster = try Fixture.expect(await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem", token: admin), 200)
                #expect((cluster.object["nodeCount"] as? Int ?? 0) > 0, "\(cluster.text)")
                #expect(try await browser.send(.GET, imported.headers.first(name: "location")!, cookie: admin).status == 200)
                #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>cluster.import</td>"))

                // Refused as the API refuses, the name kept and the kubeconfig (credentials) never sent back.
                for (name, config) in [("onprem", sim.kubeconfig("cloud")), ("Bad_Name", sim.kubeconfig("cloud")), ("broken", "not: [a kubeconfig")] {
                    let refused = try await browser.send(.POST, form, cookie: admin, form: ["name": name, "kubeconfig": config])
                    let api = try await server.request(.POST, "/api/v1/tenants/coke/clusters", token: admin, json: ["name": name, "kubeconfig": config])
                    let message = try #require((api.object["error"] as? [String: Any])?["message"] as? String)
                    #expect(refused.status == api.status && (400..<500).contains(refused.status), "\(name): console \(refused.status), API \(api.status)")
                    #expect(refused.text.contains("id=\"cluster-error\"") && refused.text.contains(ConsoleClient.escaped(message)), "\(name): \(refused.text)")
                    #expect(refused.text.contains("value=\"\(name)\"") && refused.text.contains("id=\"cluster-kubeconfig\" rows=\"8\" required spellcheck=\"false\" placeholder="))
                    #expect(!refused.text.contains(ConsoleClient.escaped(config)), "\(name): the kubeconfig is never sent back")
                }
                #expect(try await browser.send(.POST, form, cookie: admin, body: "name=nokubeconfig").status == 400)
                let huge = try await browser.send(.POST, form, cookie: admin, form: ["name": "huge", "kubeconfig": String(repeating: "x", count: 300 * 1024)])
                #expect(huge.status == 413 && huge.text.contains("the form is larger than 256 KiB"))
                #expect(try await browser.send(.POST, form, cookie: admin, form: ["name": "cloud", "kubeconfig": sim.kubeconfig("cloud")], origin: "http://evil.example").status == 403)

                // Everyone else gets what the API answers them, and nothing is imported.
                for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                    let fields = ["name": "by-\(caller)", "kubeconfig": sim.kubeconfig("cloud")]
                    let console = try await browser.send(.POST, form, cookie: fixture.tokens[caller], form: fields)
                    let api = try await server.request(.POST, "/api/v1/tenants/coke/clusters", token: fixture.tokens[caller], json: fields)
                    #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
                }
                let names = try await server.request(.GET, "/api/v1/tenants/coke/clusters", token: admin).items.compactMap { $0["name"] as? String }
                #expect(names == ["onprem"])
            }
        }
    }
}
