import CanopyAuth
import Foundation
import Testing
import TestSupport
@testable import CanopyServer

/// The directories page: a tenant's (and the domain's) LDAP identity providers listed, added,
/// tested and deleted through the API's own `IdentityProviderRoutes`, against a real slapd.
@Suite struct ConsoleDirectoriesTests {
    static func fields(_ directory: TestDirectory, name: String = "corp") -> [String: String] {
        [
            "name": name, "urls": directory.url, "bindDN": TestDirectory.bindDN, "bindPassword": TestDirectory.bindPassword,
            "userBaseDN": TestDirectory.cokePeople, "userFilter": "", "groupBaseDN": TestDirectory.cokeGroups, "groupFilter": "",
            "groupNameAttribute": "", "nestedGroupDepth": "1", "caPEM": "",
        ]
    }

    static func withDirectoryConsole(_ body: @Sendable (TestDirectory, TestServer, Fixture, ConsoleClient) async throws -> Void) async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: DirectorySignInTests.configure) { server in
                let fixture = try await Fixture.build(server)
                let browser = try ConsoleClient(server)
                defer { browser.close() }
                try await body(directory, server, fixture, browser)
            }
        }
    }

    @Test func tenantAdminsAddTestAndDeleteADirectory() async throws {
        try await Self.withDirectoryConsole { directory, server, fixture, browser in
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/directories", api = "/api/v1/tenants/coke/identity-providers"
            #expect(try await browser.send(.GET, "/ui/tenants/coke/users", cookie: admin).text.contains("id=\"directories-link\""))
            #expect(try await browser.send(.GET, page, cookie: admin).text.contains("id=\"no-directories\""))

            let added = try await browser.send(.POST, page, cookie: admin, form: Self.fields(directory))
            #expect(added.status == 303 && added.headers.first(name: "location") == page, "\(added.status) \(added.text)")
            let listed = try await server.request(.GET, api, token: admin).items
            #expect(listed.map { $0["name"] as? String } == ["corp"])
            #expect(listed.first?["bindPasswordSet"] as? Bool == true && listed.first?["nestedGroupDepth"] as? Int == 1)
            #expect(listed.first?["userFilter"] as? String == "(uid={username})", "an empty filter takes the API's default")
            let shown = try await browser.send(.GET, page, cookie: admin).text
            #expect(shown.contains(">corp</a></td>") && shown.contains(directory.url) && shown.contains("nested 1 deep"), "\(shown)")
            #expect(!shown.contains(TestDirectory.bindPassword))
            #expect(try await server.login(tenant: "coke", "alice", "alice-pw").isEmpty == false, "its people sign in")

            // The test: each step on the page, never the password typed.
            let works = try await browser.send(.POST, "\(page)/corp/test", cookie: admin, form: ["username": "alice", "password": "alice-pw"])
            #expect(works.status == 200 && works.text.contains("it works") && works.text.contains("uid=alice,\(TestDirectory.cokePeople)"), "\(works.text)")
            #expect(works.text.contains("id=\"test-groups\">developers, marketing-team<"), "\(works.text)")
            #expect(!works.text.contains("alice-pw"))
            let fails = try await browser.send(.POST, "\(page)/corp/test", cookie: admin, form: ["username": "alice", "password": "wrong-pw"])
            #expect(fails.status == 200 && fails.text.contains("it failed") && fails.text.contains("userBind: failed"), "\(fails.text)")
            #expect(try await browser.send(.POST, "\(page)/nothing/test", cookie: admin, form: ["username": "alice", "password": "x"]).status == 404)

            // Refusals: the page again with the API's message and what was typed, never the bind password.
            for (changed, status, message) in [
                (["name": "corp"], 409, "the name is already taken"),
                (["name": "Not A Label"], 422, "name"),
                (["urls": "http://ldap.example"], 422, "urls"),
                (["bindPassword": ""], 422, "bindPassword is required with a bindDN"),
                (["nestedGroupDepth": "two"], 422, "nestedGroupDepth must be a whole number"),
            ] {
                let typed = Self.fields(directory, name: "other").merging(changed) { $1 }
                let refused = try await browser.send(.POST, page, cookie: admin, form: typed)
                #expect(refused.status == status && refused.text.contains("id=\"directory-error\"") && refused.text.contains(message), "\(changed): \(refused.status) \(refused.text)")
                #expect(refused.text.contains("value=\"\(ConsoleClient.escaped(typed["name"] ?? ""))\"") && refused.text.contains("value=\"\(typed["urls"] ?? "")\""), "\(changed)")
                #expect(!refused.text.contains(TestDirectory.bindPassword), "\(changed)")
            }
            #expect(try await browser.send(.POST, page, cookie: admin, body: "name=x").status == 400)
            #expect(try await browser.send(.POST, page, cookie: admin, form: Self.fields(directory, name: "evil"), origin: "http://evil.example").status == 403)
            #expect(try await server.request(.GET, api, token: admin).items.count == 1)

            // Everyone else gets what the API answers them, for every form, and nothing changes.
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let token = fixture.tokens[caller]
                let answers = [
                    try await browser.send(.GET, page, cookie: token).status, try await server.request(.GET, api, token: token).status,
                    try await browser.send(.POST, page, cookie: token, form: Self.fields(directory, name: "mine")).status,
                    try await server.request(.POST, api, token: token, json: DirectorySignInTests.provider(directory, name: "mine")).status,
                    try await browser.send(.POST, "\(page)/corp/test", cookie: token, form: ["username": "alice", "password": "alice-pw"]).status,
                    try await server.request(.POST, "\(api)/corp/test", token: token, json: ["username": "alice", "password": "alice-pw"]).status,
                    try await browser.send(.POST, "\(page)/corp/remove", cookie: token, form: ["confirm": "corp"]).status,
                ]
                #expect(answers.allSatisfy { $0 == status }, "\(caller): \(answers)")
            }
            #expect(try await server.request(.GET, api, token: admin).items.map { $0["name"] as? String } == ["corp"])

            // Deletion only with the name typed again.
            let wrong = try await browser.send(.POST, "\(page)/corp/remove", cookie: admin, form: ["confirm": "crop"])
            #expect(wrong.status == 422 && wrong.text.contains("id=\"directory-action-error\"") && wrong.text.contains("type its name"), "\(wrong.text)")
            let removed = try await browser.send(.POST, "\(page)/corp/remove", cookie: admin, form: ["confirm": "corp"])
            #expect(removed.status == 303 && removed.headers.first(name: "location") == page)
            #expect(try await server.request(.GET, api, token: admin).items.isEmpty)
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>identity-provider.delete</td>"))
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "alice", "password": "alice-pw"]).status == 401)
        }
    }

    @Test func theDomainsAdministratorsKeepTheDomainsDirectories() async throws {
        try await Self.withDirectoryConsole { directory, server, fixture, browser in
            let provider = try #require(fixture.tokens["provider"])
            #expect(try await browser.send(.GET, "/ui", cookie: provider).text.contains("id=\"domain-directories-link\""))
            #expect(!(try await browser.send(.GET, "/ui", cookie: fixture.tokens["coke-admin"])).text.contains("id=\"domain-directories-link\""))
            let added = try await browser.send(.POST, "/ui/directories", cookie: provider, form: Self.fields(directory, name: "staff"))
            #expect(added.status == 303 && added.headers.first(name: "location") == "/ui/directories", "\(added.status) \(added.text)")
            #expect(try await server.request(.GET, "/api/v1/identity-providers", token: provider).items.map { $0["name"] as? String } == ["staff"])
            #expect(try await server.request(.GET, "/api/v1/tenants/coke/identity-providers", token: fixture.tokens["coke-admin"]).items.isEmpty, "not a tenant's")
            #expect(try await browser.send(.GET, "/ui/directories", cookie: provider).text.contains(">staff</a></td>"))
            // In an enterprise tenant the domain's administrators keep the tenant's directories too.
            #expect(try await browser.send(.GET, "/ui/tenants/pepsi/directories", cookie: provider).status == 200)
            #expect(try await browser.send(.GET, "/ui/tenants/coke/directories", cookie: provider).status == 403, "not inside an msp tenant")
            for caller in ["coke-admin", "coke-pm", "pepsi-admin"] {
                let token = fixture.tokens[caller]
                let console = try await browser.send(.GET, "/ui/directories", cookie: token).status
                let api = try await server.request(.GET, "/api/v1/identity-providers", token: token).status
                let remove = try await browser.send(.POST, "/ui/directories/staff/remove", cookie: token, form: ["confirm": "staff"]).status
                #expect(console == 403 && api == 403 && remove == 403, "\(caller): \(console) \(api) \(remove)")
            }
            #expect(try await browser.send(.POST, "/ui/directories/staff/remove", cookie: provider, form: ["confirm": "staff"]).status == 303)
            #expect(try await server.request(.GET, "/api/v1/identity-providers", token: provider).items.isEmpty)
        }
    }

    /// A directory's test tries a password: it is throttled as a sign-in of that name, so a
    /// tenant admin cannot use it to guess a directory password faster than signing in would.
    @Test func testingPasswordsIsThrottledAsSigningIn() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let browser = try ConsoleClient(server)
                defer { browser.close() }
                let admin = try #require(fixture.tokens["coke-admin"])
                let api = "/api/v1/tenants/coke/identity-providers"
                try Fixture.expect(await server.request(.POST, api, token: admin, json: DirectorySignInTests.provider(directory)), 201)
                let limit = LoginThrottle().limit
                for attempt in 1...limit {
                    let tried = try await server.request(.POST, "\(api)/corp/test", token: admin, json: ["username": "alice", "password": "guess-\(attempt)"])
                    #expect(tried.status == 200 && tried.text.contains("the directory refused the password"), "\(attempt): \(tried.status) \(tried.text)")
                }
                let throttled = try await server.request(.POST, "\(api)/corp/test", token: admin, json: ["username": "alice", "password": "alice-pw"])
                #expect(throttled.status == 429 && throttled.headers.first(name: "retry-after") != nil, "\(throttled.status) \(throttled.text)")
                let page = try await browser.send(.POST, "/ui/tenants/coke/directories/corp/test", cookie: admin, form: ["username": "alice", "password": "alice-pw"])
                #expect(page.status == 429 && page.text.contains("id=\"directory-action-error\"") && page.text.contains("too many failed sign-ins"), "\(page.status) \(page.text)")
                #expect(!page.text.contains("alice-pw"))
                // The guesses counted as failed sign-ins (of alice's name, from this address): signing in waits too.
                #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "alice", "password": "alice-pw"]).status == 429)
            }
        }
    }

    @Test func tenantAdminsChangeADirectorysSettingsOnItsPage() async throws {
        try await Self.withDirectoryConsole { directory, server, fixture, browser in
            let admin = try #require(fixture.tokens["coke-admin"])
            let api = "/api/v1/tenants/coke/identity-providers/corp", page = "/ui/tenants/coke/directories/corp"
            try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: admin, json: DirectorySignInTests.provider(directory)), 201)
            #expect(try await browser.send(.GET, "/ui/tenants/coke/directories", cookie: admin).text.contains("<a href=\"\(page)\">corp</a>"))
            let shown = try await browser.send(.GET, page, cookie: admin)
            #expect(shown.status == 200 && shown.text.contains("id=\"directory-settings\"") && shown.text.contains("value=\"\(directory.url)\""), "\(shown.text)")
            #expect(shown.text.contains("id=\"directory-nesting\" value=\"1\"") && !shown.text.contains(TestDirectory.bindPassword))
            let drawn = try ConsoleProjectSettingsTests.version(in: shown.text)

            // A second server first (it refuses connections: sign-in fails over), direct groups only,
            // the bind password left empty (kept).
            var fields = Self.fields(directory).merging(["urls": "ldap://127.0.0.1:1 \(directory.url)", "nestedGroupDepth": "0", "bindPassword": "", "version": drawn]) { $1 }
            fields["name"] = nil
            let saved = try await browser.send(.POST, page, cookie: admin, form: fields)
            #expect(saved.status == 303 && saved.headers.first(name: "location") == "/ui/tenants/coke/directories", "\(saved.status) \(saved.text)")
            let provider = try await server.request(.GET, api, token: admin).object
            #expect(provider["urls"] as? [String] == ["ldap://127.0.0.1:1", directory.url] && provider["nestedGroupDepth"] as? Int == 0, "\(provider)")
            #expect(provider["bindPasswordSet"] as? Bool == true && provider["userFilter"] as? String == "(uid={username})")
            let alice = try await server.login(tenant: "coke", "alice", "alice-pw")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: alice).object["groups"] as? [String] == ["developers"], "direct groups only now (marketing-team holds developers)")

            // Refusals: the page again with the API's message and what was typed, nothing saved.
            let current = try ConsoleProjectSettingsTests.version(in: try await browser.send(.GET, page, cookie: admin).text)
            for (changed, status, message) in [
                (["urls": "http://ldap.example", "version": current], 422, "urls"),
                (["nestedGroupDepth": "deep", "version": current], 422, "nestedGroupDepth must be a whole number"),
                (["nestedGroupDepth": "3", "version": drawn, "bindPassword": "typed-secret"], 409, "someone else changed this directory"),
            ] {
                let typed = fields.merging(changed) { $1 }
                let refused = try await browser.send(.POST, page, cookie: admin, form: typed)
                #expect(refused.status == status && refused.text.contains("id=\"directory-error\"") && refused.text.contains(message), "\(changed): \(refused.status) \(refused.text)")
                #expect(refused.text.contains("value=\"\(typed["urls"] ?? "")\"") && !refused.text.contains("typed-secret"), "\(changed)")
            }
            #expect(try await server.request(.GET, api, token: admin).object["nestedGroupDepth"] as? Int == 0)
            #expect(try await browser.send(.POST, page, cookie: admin, form: fields, origin: "http://evil.example").status == 403)
            #expect(try await browser.send(.GET, "/ui/tenants/coke/directories/nowhere", cookie: admin).status == 404)
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("pepsi-admin", 404), ("provider", 403)] {
                let token = fixture.tokens[caller]
                let answers = [
                    try await browser.send(.GET, page, cookie: token).status, try await browser.send(.POST, page, cookie: token, form: fields).status,
                    try await server.request(.PATCH, api, token: token, json: ["nestedGroupDepth": 2]).status,
                ]
                #expect(answers.allSatisfy { $0 == status }, "\(caller): \(answers)")
            }
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>identity-provider.update</td>"))
        }
    }
}
