import CanopyAuth
import Foundation
import Testing
import TestSupport

/// `POST /api/v1/password`: a local account, a tenant's or the domain's, changes its own password
/// giving the current one, checked and throttled as a sign-in; and `canopy password`.
@Suite struct PasswordTests {
    static func change(_ server: TestServer, _ token: String?, current: String, to password: String) async throws -> TestResponse {
        try await server.request(.POST, "/api/v1/password", token: token, json: ["current": current, "password": password])
    }

    @Test func localAccountsChangeTheirOwnPasswordGivingTheCurrentOne() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let member = try #require(fixture.tokens["coke-pm"])
            let fresh = "fresh-password-123"

            // Refusals: nothing changes.
            let wrong = try await Self.change(server, member, current: "not-the-password", to: fresh)
            #expect(wrong.status == 422 && wrong.text.contains("\"field\":\"current\""), "\(wrong.text)")
            let short = try await Self.change(server, member, current: Fixture.password, to: "short")
            #expect(short.status == 422 && short.text.contains("\"field\":\"password\""), "\(short.text)")
            #expect(try await Self.change(server, nil, current: Fixture.password, to: fresh).status == 401)
            #expect(try await server.request(.POST, "/api/v1/password", token: member, rawBody: "{\"current\": ").status == 400)
            #expect(try await server.request(.POST, "/api/v1/password", token: member, json: ["current": Fixture.password, "password": fresh, "user": "boss"]).status == 400)
            #expect(try await server.request(.POST, "/api/v1/password", token: member, json: ["current": Fixture.password, "password": 7]).status == 400)
            _ = try await server.login(tenant: "coke", "pm", Fixture.password)

            #expect(try await Self.change(server, member, current: Fixture.password, to: fresh).status == 204)
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": Fixture.password]).status == 401)
            _ = try await server.login(tenant: "coke", "pm", fresh)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 200, "the caller's sessions and tokens are kept")
            let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: fixture.tokens["coke-admin"]).items
            #expect(audit.contains { $0["action"] as? String == "user.password" && $0["target"] as? String == "tenants/coke/users/pm" })

            // The domain's administrator, whose password was set once at the first start.
            let provider = try #require(fixture.tokens["provider"])
            #expect(try await Self.change(server, provider, current: TestServer.adminPassword, to: fresh).status == 204)
            _ = try await server.login("admin", fresh)
            #expect(try await server.request(.POST, "/api/v1/login", json: ["username": "admin", "password": TestServer.adminPassword]).status == 401)
        }
    }

    @Test func wrongCurrentPasswordsAreThrottledAsSignIns() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let member = try #require(fixture.tokens["coke-pv"])
            for attempt in 1...LoginThrottle().limit {
                #expect(try await Self.change(server, member, current: "guess-\(attempt)", to: "fresh-password-123").status == 422)
            }
            let throttled = try await Self.change(server, member, current: Fixture.password, to: "fresh-password-123")
            #expect(throttled.status == 429 && throttled.headers.first(name: "retry-after") != nil, "\(throttled.status) \(throttled.text)")
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pv", "password": Fixture.password]).status == 429)
        }
    }

    @Test func theCLIChangesThePasswordAndManagesOnesTokens() async throws {
        let directory = try TemporaryDirectory()
        let home = try TemporaryDirectory()
        defer { directory.remove(); home.remove() }
        try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            let cli = CLI(configHome: home.path)
            let login = try await cli.run(["login", "--server", server.baseURL, "--username", "admin", "--password", TestServer.adminPassword,
                                           "--certificate-authority", directory.path + "/tls.crt"])
            #expect(login.status == 0, "\(login.output)")
            let wrong = try await cli.run(["password"], input: "not-it\nrotated-password-1\n")
            #expect(wrong.status != 0 && wrong.output.contains("the current password is not right"), "\(wrong.output)")
            let changed = try await cli.run(["password"], input: "\(TestServer.adminPassword)\nrotated-password-1\n")
            #expect(changed.status == 0 && changed.output.contains("password changed"), "\(changed.output)")
            _ = try await server.login("admin", "rotated-password-1")
            let missing = try await cli.run(["password", "--current", "rotated-password-1"], input: "")
            #expect(missing.status != 0 && missing.output.contains("standard input"), "\(missing.output)")

            // `canopy tokens`: one's own tokens created for automation, listed and revoked.
            let created = try await cli.run(["tokens", "create", "--description", "nightly job", "--ttl-seconds", "3600", "-o", "json"])
            let issued = try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any]
            let secret = try #require(issued?["token"] as? String, "\(created.output)"), id = try #require(issued?["id"] as? String)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: secret).status == 200)
            let listed = try await cli.run(["tokens", "list"])
            #expect(listed.status == 0 && listed.output.contains(id) && listed.output.contains("nightly job"), "\(listed.output)")
            let revoked = try await cli.run(["tokens", "revoke", id])
            #expect(revoked.status == 0, "\(revoked.output)")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: secret).status == 401)
            let unknown = try await cli.run(["tokens", "revoke", "no-such-token"])
            #expect(unknown.status != 0 && unknown.output.contains("404"), "\(unknown.output)")
            let tooShort = try await cli.run(["tokens", "create", "--ttl-seconds", "5"])
            #expect(tooShort.status != 0 && tooShort.output.contains("must be at least 60"), "\(tooShort.output)")
        }
    }
}
