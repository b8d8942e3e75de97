import Foundation
import Testing
import TestSupport

/// The console in a real headless Chromium: a person signs in through the form, finds their
/// project, cannot reach another tenant's, and signs out.
@Suite struct ConsoleBrowserTests {
    @Test func aViewerSignsInSeesTheirProjectOnlyAndSignsOut() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            _ = try Fixture.expect(
                await server.request(.PATCH, "/api/v1/tenants/coke/projects/marketing", token: fixture.tokens["coke-admin"], json: ["displayName": "Marketing <EU>"]), 200
            )
            try await HeadlessBrowser.with { browser in
                // Not signed in: the console sends the browser to its sign-in form.
                try await browser.open(server.baseURL + "/ui/tenants/coke")
                #expect(try await browser.path == "/ui/login")

                try await browser.submit("#login", fields: ["#tenant": "coke", "#username": "pv", "#password": "not-the-password"])
                #expect(try await browser.path == "/ui/login")
                let refused = try await browser.visibleText
                #expect(try await browser.text("document.querySelector('#message')?.innerText") == "invalid user name or password", "\(refused)")
                #expect(try await browser.text("document.querySelector('#username').value") == "pv")

                try await browser.submit("#login", fields: ["#tenant": "coke", "#username": "pv", "#password": Fixture.password])
                #expect(try await browser.path == "/ui")
                #expect(try await browser.text("document.querySelector('#who')?.innerText") == "pv (coke)")
                #expect(try await browser.text("document.cookie") == "", "the session cookie is out of scripts' reach (HttpOnly)")
                let home = try await browser.visibleText
                #expect(home.contains("Marketing <EU>"), "the display name shows as text: \(home)")
                #expect(!home.contains("pepsi"))

                try await browser.click("a[href='/ui/tenants/coke/projects/marketing']")
                #expect(try await browser.path == "/ui/tenants/coke/projects/marketing")
                let project = try await browser.visibleText
                #expect(project.contains("Your role: viewer"))
                #expect(try await browser.has("#members"))

                try await browser.click("a[href='/ui']")
                try await browser.click("a[href='/ui/tenants/coke']")
                #expect(try await browser.has("a[href='/ui/tenants/coke/projects/marketing']"))
                #expect(try await !browser.has("a[href='/ui/tenants/coke/projects/sales']"))

                for hidden in ["/ui/tenants/pepsi", "/ui/tenants/coke/projects/sales"] {
                    try await browser.open(server.baseURL + hidden)
                    #expect(try await browser.text("document.querySelector('#status')?.innerText") == "404 Not Found", "\(hidden)")
                }

                try await browser.open(server.baseURL + "/ui")
                try await browser.submit("form[action='/ui/logout']")
                #expect(try await browser.path == "/ui/login")
                try await browser.open(server.baseURL + "/ui")
                #expect(try await browser.path == "/ui/login", "signed out: the old session is gone")
            }
        }
    }

    @Test func aProjectAdminAddsAndRemovesAMemberWithTheForm() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            try await HeadlessBrowser.with { browser in
                try await browser.open(server.baseURL + "/ui/login")
                try await browser.submit("#login", fields: ["#tenant": "coke", "#username": "pa", "#password": Fixture.password])
                try await browser.click("a[href='/ui/tenants/coke/projects/marketing']")
                #expect(try await browser.has("#add-member"))

                try await browser.submit("#add-member", fields: ["#member-who": "nobody", "#member-role": "viewer"])
                #expect(try await browser.text("document.querySelector('#form-error')?.innerText") == "no user named 'nobody' in this tenant")

                try await browser.submit("#add-member", fields: ["#member-who": "sales-pa", "#member-role": "viewer"])
                #expect(try await browser.path == "/ui/tenants/coke/projects/marketing")
                let page = try await browser.visibleText
                #expect(page.contains("sales-pa\tviewer"), "\(page)")
                let members = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/members", token: fixture.tokens["coke-admin"])
                let grant = try #require(members.items.first { $0["user"] as? String == "sales-pa" })
                #expect(grant["role"] as? String == "viewer")

                try await browser.submit("form[action$='/members/\(grant["id"] as? String ?? "")/remove']")
                #expect(try await !browser.visibleText.contains("sales-pa"))
                let after = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/members", token: fixture.tokens["coke-admin"])
                #expect(!after.items.contains { $0["user"] as? String == "sales-pa" })
            }
        }
    }
}
