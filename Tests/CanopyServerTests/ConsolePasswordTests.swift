import Foundation
import Testing
import TestSupport
@testable import CanopyServer

/// The tokens page's password form: a local account (a tenant's or the domain's) changes its own
/// password once the current one is given again.
@Suite struct ConsolePasswordTests {
    @Test func localUsersChangeTheirPasswordGivingTheCurrentOne() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let member = try #require(fixture.tokens["coke-pm"])
            let page = "/ui/tokens", form = "/ui/password"
            #expect(try await browser.send(.GET, page, cookie: member).text.contains("id=\"change-password\""))
            let fresh = "fresh-password-123"

            for (fields, status, message) in [
                (["current": "not-the-password", "password": fresh, "again": fresh], 422, "the current password is not right"),
                (["current": Fixture.password, "password": fresh, "again": fresh + "x"], 422, "the new password and its repetition differ"),
                (["current": Fixture.password, "password": "short", "again": "short"], 422, "must be at least"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: member, form: fields)
                #expect(refused.status == status && refused.text.contains("id=\"password-error\"") && refused.text.contains(message), "\(fields): \(refused.status) \(refused.text)")
                #expect(!refused.text.contains(fields["current"]!) && !refused.text.contains(fields["password"]!), "no password is sent back")
            }
            #expect(try await browser.send(.POST, form, cookie: member, body: "current=x").status == 400)
            #expect(try await browser.send(.POST, form, cookie: member, form: ["current": Fixture.password, "password": fresh, "again": fresh], origin: "http://evil.example").status == 403)
            _ = try await server.login(tenant: "coke", "pm", Fixture.password)

            let changed = try await browser.send(.POST, form, cookie: member, form: ["current": Fixture.password, "password": fresh, "again": fresh])
            #expect(changed.status == 303 && changed.headers.first(name: "location") == "/ui/tokens?password=changed", "\(changed.status) \(changed.text)")
            #expect(try await browser.send(.GET, "/ui/tokens?password=changed", cookie: member).text.contains("id=\"password-changed\""))
            _ = try await server.login(tenant: "coke", "pm", fresh)
            let old = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": Fixture.password])
            #expect(old.status == 401)
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: fixture.tokens["coke-admin"]).text.contains("users/pm</code>"))

            // The domain's administrators change theirs here too (they have no other way).
            let provider = fixture.tokens["provider"]
            #expect(try await browser.send(.GET, page, cookie: provider).text.contains("id=\"change-password\""))
            let domain = try await browser.send(.POST, form, cookie: provider, form: ["current": TestServer.adminPassword, "password": fresh, "again": fresh])
            #expect(domain.status == 303, "\(domain.status) \(domain.text)")
            _ = try await server.login("admin", fresh)
        }
    }
}

/// The tokens page's form for a token for automation: its secret shown once, the token working
/// until revoked on the same page.
@Suite struct ConsoleTokenFormTests {
    @Test func everyoneCreatesATokenForAutomationAndSeesItsSecretOnce() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            for caller in ["coke-pv", "provider"] {
                let cookie = try #require(fixture.tokens[caller])
                #expect(try await browser.send(.GET, "/ui/tokens", cookie: cookie).text.contains("id=\"new-token-form\""))
                let created = try await browser.send(.POST, "/ui/tokens", cookie: cookie, form: ["description": "nightly deploy", "days": "7"])
                #expect(created.status == 201 && created.text.contains("id=\"new-token-secret\""), "\(caller): \(created.status) \(created.text)")
                let start = try #require(created.text.range(of: "id=\"new-token-secret\">")).upperBound
                let secret = String(created.text[start...].prefix { $0 != "<" })
                #expect(secret.hasPrefix("cnp_"), "\(secret)")
                #expect(try await server.request(.GET, "/api/v1/whoami", token: secret).status == 200)
                let listed = try await server.request(.GET, "/api/v1/tokens", token: cookie).items.first { $0["description"] as? String == "nightly deploy" }
                let id = try #require(listed?["id"] as? String)
                let expires = try #require((listed?["expiresAt"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
                #expect(abs(expires.timeIntervalSinceNow - 7 * 24 * 3600) < 120, "seven days")
                let again = try await browser.send(.GET, "/ui/tokens", cookie: cookie).text
                #expect(again.contains("nightly deploy") && !again.contains(secret), "\(caller): the secret is shown once")
                #expect(try await browser.send(.POST, "/ui/tokens/\(id)/revoke", cookie: cookie).status == 303)
                #expect(try await server.request(.GET, "/api/v1/whoami", token: secret).status == 401)
            }
            let cookie = try #require(fixture.tokens["coke-pm"])
            for days in ["0", "366", "soon"] {
                let refused = try await browser.send(.POST, "/ui/tokens", cookie: cookie, form: ["description": "x", "days": days])
                #expect(refused.status == 422 && refused.text.contains("id=\"token-error\"") && refused.text.contains("value=\"\(days)\""), "\(days): \(refused.status)")
            }
            #expect(try await browser.send(.POST, "/ui/tokens", cookie: cookie, body: "days=3").status == 400)
            #expect(try await browser.send(.POST, "/ui/tokens", cookie: cookie, form: ["description": "x", "days": "3"], origin: "http://evil.example").status == 403)
            #expect(try await browser.send(.POST, "/ui/tokens", form: ["description": "x", "days": "3"]).status == 303, "signed out: to the sign-in page")
        }
    }
}
