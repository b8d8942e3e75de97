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
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains("<td>carol</td><td>Carol</td><td>carol@coke.example</td>"))
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
}
