import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// The web console over HTTP, as a browser uses it: forms, redirects and the session cookie
/// (nothing followed or stored by the client, so every step is checked).
@Suite struct ConsoleTests {
    @Test func signingInSetsAStrictSessionCookieThatThePagesAndTheAPIAccept() async throws {
        try await TestServer.with { server in
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let anonymous = try await browser.send(.GET, "/ui")
            #expect(anonymous.status == 303)
            #expect(anonymous.headers.first(name: "location") == "/ui/login")
            let form = try await browser.send(.GET, "/ui/login")
            #expect(form.status == 200)
            #expect(form.text.contains("<form method=\"post\" action=\"/ui/login\""))

            let signedIn = try await browser.send(.POST, "/ui/login", form: ["tenant": "", "username": "admin", "password": TestServer.adminPassword])
            #expect(signedIn.status == 303)
            #expect(signedIn.headers.first(name: "location") == "/ui")
            let setCookie = try #require(signedIn.headers.first(name: "set-cookie"))
            let attributes = Set(setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            #expect(attributes.isSuperset(of: ["httponly", "samesite=strict", "path=/", "max-age=43200"]))
            #expect(!attributes.contains("secure"), "plain HTTP: a Secure cookie would never come back")
            let cookie = try #require(ConsoleClient.sessionCookie(in: signedIn))
            #expect(cookie.hasPrefix("cnp_"))

            let home = try await browser.send(.GET, "/ui", cookie: cookie)
            #expect(home.status == 200)
            #expect(home.text.contains("admin (domain)"))
            #expect(home.headers.first(name: "content-security-policy")?.contains("frame-ancestors 'none'") == true)
            #expect(home.headers.first(name: "x-frame-options") == "DENY")
            #expect(home.headers.first(name: "cache-control") == "no-store")
            // The cookie is a token of its own, listed (and revocable) with the user's tokens.
            let whoami = try await browser.send(.GET, "/api/v1/whoami", cookie: cookie)
            #expect(whoami.status == 200)
            let tokens = try await browser.send(.GET, "/api/v1/tokens", cookie: cookie)
            #expect(tokens.items.contains { $0["description"] as? String == "console" })
        }
    }

    @Test func aRefusedSignInShowsTheFormAgainWithOneMessageAndNoCookie() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(fixture.server)
            defer { browser.close() }
            for (tenant, username, password) in [("coke", "boss", "wrong-password"), ("coke", "nobody", "password-123"), ("nowhere", "boss", Fixture.password)] {
                let refused = try await browser.send(.POST, "/ui/login", form: ["tenant": tenant, "username": username, "password": password])
                #expect(refused.status == 401)
                #expect(refused.text.contains("invalid user name or password"))
                #expect(refused.text.contains("value=\"\(username)\""), "the user name is kept in the form")
                #expect(!refused.text.contains(password), "the password is never sent back")
                #expect(refused.headers.first(name: "set-cookie") == nil)
            }
            let malformed = try await browser.send(.POST, "/ui/login", body: "username=%zz")
            #expect(malformed.status == 400)
            #expect(malformed.headers.first(name: "set-cookie") == nil)
            let huge = try await browser.send(.POST, "/ui/login", body: "username=boss&password=" + String(repeating: "x", count: 64 * 1024))
            #expect(huge.status == 413)
            #expect(huge.text.contains("the form is larger than 16 KiB"))
            let tenantUser = try await browser.send(.POST, "/ui/login", form: ["tenant": " coke ", "username": "pm", "password": Fixture.password])
            #expect(tenantUser.status == 303)
            let cookie = try #require(ConsoleClient.sessionCookie(in: tenantUser))
            #expect(try await browser.send(.GET, "/ui", cookie: cookie).text.contains("pm (coke)"))
        }
    }

    @Test func formsAndCookieChangesFromOtherSitesAreRefused() async throws {
        try await TestServer.with { server in
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let token = try await server.login("admin", TestServer.adminPassword)
            let credentials = ["username": "admin", "password": TestServer.adminPassword]
            for origin in ["http://evil.example", "http://127.0.0.1:1", "null"] {
                let crossSite = try await browser.send(.POST, "/ui/login", form: credentials, origin: origin)
                #expect(crossSite.status == 403, "Origin \(origin)")
                #expect(crossSite.headers.first(name: "set-cookie") == nil)
                let logout = try await browser.send(.POST, "/ui/logout", cookie: token, origin: origin)
                #expect(logout.status == 403)
                let apiChange = try await browser.send(.POST, "/api/v1/tokens", cookie: token, json: ["description": "x"], origin: origin)
                #expect(apiChange.status == 403)
                #expect(apiChange.errorCode == "forbidden")
            }
            // Neither Origin nor Sec-Fetch-Site: not a browser's form, refused with the cookie.
            #expect(try await browser.send(.POST, "/ui/login", form: credentials, origin: nil).status == 403)
            #expect(try await browser.send(.POST, "/api/v1/tokens", cookie: token, json: ["description": "x"], origin: nil).status == 403)
            #expect(try await browser.send(.POST, "/api/v1/tokens", cookie: token, json: ["description": "x"], origin: nil, headers: [("Sec-Fetch-Site", "same-origin")]).status == 201)
            // The same change from the console's origin, and with a bearer token from anywhere.
            #expect(try await browser.send(.POST, "/api/v1/tokens", cookie: token, json: ["description": "x"]).status == 201)
            #expect(try await server.request(.POST, "/api/v1/tokens", token: token, json: ["description": "x"], headers: [("Origin", "http://evil.example")]).status == 201)
            // Reading with the cookie needs no Origin.
            #expect(try await browser.send(.GET, "/api/v1/whoami", cookie: token, origin: nil).status == 200)
        }
    }

    @Test func signingOutRevokesTheSession() async throws {
        try await TestServer.with { server in
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let signedIn = try await browser.send(.POST, "/ui/login", form: ["username": "admin", "password": TestServer.adminPassword])
            let cookie = try #require(ConsoleClient.sessionCookie(in: signedIn))
            let out = try await browser.send(.POST, "/ui/logout", cookie: cookie)
            #expect(out.status == 303)
            #expect(out.headers.first(name: "location") == "/ui/login")
            #expect(out.headers.first(name: "set-cookie")?.lowercased().contains("max-age=0") == true)
            let after = try await browser.send(.GET, "/ui", cookie: cookie)
            #expect(after.status == 303)
            #expect(after.headers.first(name: "location") == "/ui/login")
            #expect(after.headers.first(name: "set-cookie")?.lowercased().contains("max-age=0") == true, "the stale cookie is cleared")
            #expect(try await browser.send(.GET, "/api/v1/whoami", cookie: cookie).status == 401)
        }
    }

    /// Each page against each kind of caller (as `IsolationTests` does for the API): the same
    /// 404 page for what a caller may not see as for what does not exist, and nothing of another
    /// tenant, an msp tenant's inside, or another project in what they may see.
    @Test func pagesShowEachCallerOnlyWhatTheyMaySee() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"])
            _ = try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke/projects/sales", token: admin, json: ["displayName": "<script>alert(1)</script> & Co"]), 200)

            // Expected status per caller in the msp tenant `coke`; the provider sees inside `pepsi`.
            let pages: [(path: String, msp: [String: Int], enterpriseProvider: Int)] = [
                ("/ui", ["provider": 200, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 200, "other": 200], 200),
                ("/ui/tenants/T", ["provider": 200, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 200, "other": 404], 200),
                ("/ui/tenants/T/projects/marketing", ["provider": 404, "admin": 200, "pa": 200, "pm": 200, "pv": 200, "sales-pa": 404, "other": 404], 200),
                ("/ui/tenants/T/projects/sales", ["provider": 404, "admin": 200, "pa": 404, "pm": 404, "pv": 404, "sales-pa": 200, "other": 404], 200),
                ("/ui/tenants/T/projects/no-such-project", ["provider": 404, "admin": 404, "pa": 404, "pm": 404, "pv": 404, "sales-pa": 404, "other": 404], 404),
                ("/ui/tenants/T/users", ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], 200),
                ("/ui/tenants/T/directories", ["provider": 403, "admin": 200, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 404], 200),
                ("/ui/directories", ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], 200),
                ("/ui/users", ["provider": 200, "admin": 403, "pa": 403, "pm": 403, "pv": 403, "sales-pa": 403, "other": 403], 200),
            ]
            for (tenant, other) in [("coke", "pepsi"), ("pepsi", "coke")] {
                for (path, expected, enterpriseProvider) in pages {
                    for caller in ["provider", "admin", "pa", "pm", "pv", "sales-pa", "other"] {
                        let token = try #require(caller == "provider" ? fixture.tokens["provider"] : fixture.tokens[caller == "other" ? "\(other)-admin" : "\(tenant)-\(caller)"])
                        let page = try await browser.send(.GET, path.replacingOccurrences(of: "/T", with: "/\(tenant)"), cookie: token)
                        let want = tenant == "pepsi" && caller == "provider" ? enterpriseProvider : expected[caller]!
                        #expect(page.status == want, "\(caller) GET \(path) in \(tenant)")
                        if want == 404 {
                            // Word for word the page of something that does not exist.
                            let absent = path.contains("/projects/") && caller != "other" ? "/ui/tenants/\(tenant)/projects/no-such-project" : "/ui/tenants/no-such-tenant"
                            let missing = try await browser.send(.GET, absent, cookie: token)
                            #expect(missing.status == 404)
                            #expect(Self.skeleton(page.text) == Self.skeleton(missing.text), "\(caller) GET \(path) in \(tenant)")
                            #expect(page.text.contains("id=\"logout\""), "a signed-in caller's error page keeps the navigation")
                            let who = caller == "provider" ? "admin (domain)" : caller == "other" ? "boss (\(other))" : "\(caller == "admin" ? "boss" : caller) (\(tenant))"
                            #expect(page.text.contains("id=\"who\">\(who)<"), "\(caller): the error page names who is signed in")
                        }
                        // No page links to a tenant its caller may not see.
                        let foreign = caller == "other" ? tenant : (caller == "provider" ? nil : other)
                        if let foreign { #expect(!page.text.contains("/ui/tenants/\(foreign)"), "\(caller) GET \(path) in \(tenant)") }
                    }
                }
            }

            // What the pages show, beyond their status.
            let sealed = try await browser.send(.GET, "/ui/tenants/coke", cookie: fixture.tokens["provider"])
            #expect(sealed.text.contains("id=\"sealed\""))
            #expect(!sealed.text.contains("marketing") && !sealed.text.contains("alert"), "an msp tenant's projects are its own")
            #expect(!sealed.text.contains("id=\"audit-link\"") && !sealed.text.contains("id=\"users-link\""))
            let enterprise = try await browser.send(.GET, "/ui/tenants/pepsi", cookie: fixture.tokens["provider"])
            #expect(enterprise.text.contains("/ui/tenants/pepsi/projects/marketing") && !enterprise.text.contains("id=\"sealed\""))
            let viewer = try await browser.send(.GET, "/ui/tenants/coke", cookie: fixture.tokens["coke-pv"])
            #expect(viewer.text.contains("/ui/tenants/coke/projects/marketing"))
            #expect(!viewer.text.contains("/projects/sales") && !viewer.text.contains("id=\"clusters\""), "a viewer sees their own project, not the tenant's others or its clusters")
            let viewerProject = try await browser.send(.GET, "/ui/tenants/coke/projects/marketing", cookie: fixture.tokens["coke-pv"])
            #expect(viewerProject.text.contains("Your role: viewer"))
            #expect(viewerProject.text.contains("<td>pa</td><td>admin</td>"), "members of their own project")
            let users = try await browser.send(.GET, "/ui/tenants/coke/users", cookie: admin)
            #expect(users.text.contains("<td><a href=\"/ui/tenants/coke/users/sales-pa\">sales-pa</a></td>") && users.text.contains("<td>boss</td>"))
            #expect(!(try await browser.send(.GET, "/ui/tenants/coke", cookie: fixture.tokens["coke-pv"])).text.contains("id=\"users-link\""))
            let tenantAdmin = try await browser.send(.GET, "/ui/tenants/coke", cookie: admin)
            #expect(tenantAdmin.text.contains("id=\"users-link\""))
            #expect(tenantAdmin.text.contains("id=\"clusters\"") || tenantAdmin.text.contains("id=\"no-clusters\""))
            #expect(tenantAdmin.text.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"))
            #expect(!tenantAdmin.text.contains("<script>"), "display names are escaped")
        }
    }

    @Test func theTokensPageListsTheCallersTokensAndRevokesThem() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let signedIn = try await browser.send(.POST, "/ui/login", form: ["tenant": "coke", "username": "pm", "password": Fixture.password])
            let session = try #require(ConsoleClient.sessionCookie(in: signedIn))
            let issued = try Fixture.expect(await server.request(.POST, "/api/v1/tokens", token: session, json: ["description": "ci <deploy>"]), 201)
            let ciID = try #require(issued.object["id"] as? String), ciToken = try #require(issued.object["token"] as? String)

            let page = try await browser.send(.GET, "/ui/tokens", cookie: session)
            #expect(page.status == 200)
            #expect(page.text.contains("ci &lt;deploy&gt;"))
            #expect(page.text.contains("console <strong>(this session)</strong>"))
            #expect(page.text.contains("action=\"/ui/tokens/\(ciID)/revoke\""))
            #expect(!page.text.contains(ciToken), "a token's secret is shown once, at its creation")
            // Someone else's token is not the caller's to revoke, nor to learn of.
            let others = try await server.request(.GET, "/api/v1/tokens", token: fixture.tokens["coke-pv"])
            let othersID = try #require(others.items.first?["id"] as? String)
            #expect(!page.text.contains(othersID))
            #expect(try await browser.send(.POST, "/ui/tokens/\(othersID)/revoke", cookie: session).status == 404)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: fixture.tokens["coke-pv"]).status == 200)
            #expect(try await browser.send(.POST, "/ui/tokens/\(ciID)/revoke", cookie: session, origin: "http://evil.example").status == 403)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ciToken).status == 200)

            let revoked = try await browser.send(.POST, "/ui/tokens/\(ciID)/revoke", cookie: session)
            #expect(revoked.status == 303)
            #expect(revoked.headers.first(name: "location") == "/ui/tokens")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ciToken).status == 401)
            let after = try await browser.send(.GET, "/ui/tokens", cookie: session)
            #expect(!after.text.contains("action=\"/ui/tokens/\(ciID)/revoke\"") && after.text.contains("<td>revoked</td>"))

            // Revoking the session's own token signs out.
            let sessionID = try #require(try await server.request(.GET, "/api/v1/tokens", token: session).items.first { $0["description"] as? String == "console" }?["id"] as? String)
            let out = try await browser.send(.POST, "/ui/tokens/\(sessionID)/revoke", cookie: session)
            #expect(out.status == 303 && out.headers.first(name: "location") == "/ui/login")
            #expect(try await browser.send(.GET, "/ui/tokens", cookie: session).status == 303)
        }
    }

    @Test func theAuditPageShowsTheCallersScopeOnly() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            // Expected status per caller for the msp tenant `coke`'s log, its `marketing` project's, and `sales`'.
            let cases: [(query: String, status: [String: Int])] = [
                ("?tenant=coke", ["provider": 403, "coke-admin": 200, "coke-pv": 200, "pepsi-admin": 404]),
                ("?tenant=coke&project=marketing", ["provider": 404, "coke-admin": 200, "coke-pv": 200, "coke-sales-pa": 404, "pepsi-admin": 404]),
                ("?tenant=coke&project=sales", ["coke-pv": 404, "coke-sales-pa": 200]),
                ("?tenant=pepsi", ["provider": 200, "coke-admin": 404]),
                ("", ["provider": 200, "coke-admin": 200, "coke-pv": 200]),
            ]
            for (query, statuses) in cases {
                for (caller, status) in statuses {
                    let page = try await browser.send(.GET, "/ui/audit" + query, cookie: fixture.tokens[caller])
                    #expect(page.status == status, "\(caller) /ui/audit\(query)")
                }
            }
            let admin = try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: fixture.tokens["coke-admin"])
            #expect(admin.text.contains("<td>project.create</td>") && admin.text.contains("<td>coke/sales</td>"))
            #expect(!admin.text.contains("pepsi"))
            // A viewer reads their project's entries, never a sibling project's.
            let viewer = try await browser.send(.GET, "/ui/audit", cookie: fixture.tokens["coke-pv"])
            #expect(viewer.text.contains("<td>coke/marketing</td>"))
            #expect(!viewer.text.contains("coke/sales") && !viewer.text.contains("pepsi"))
            let provider = try await browser.send(.GET, "/ui/audit", cookie: fixture.tokens["provider"])
            #expect(provider.text.contains("<td>tenant.create</td>") && provider.text.contains("<td>pepsi/marketing</td>"))
            #expect(!provider.text.contains("coke/"), "an msp tenant's inside stays out of the provider's log")
        }
    }

    @Test func clusterAndUsagePagesShowThePlannersFigures() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = try #require(fixture.tokens["coke-admin"])
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects", token: admin, json: [
                    "name": "web", "caps": ["cpu": "8"],
                    "placements": [["cluster": "onprem", "namespaces": ["web-dev"], "reservation": ["cpuPercent": 25]]],
                ]), 201)
                let browser = try ConsoleClient(server)
                defer { browser.close() }
                try await eventually(within: 30, "the project page shows the planned quota") {
                    let page = try await browser.send(.GET, "/ui/tenants/coke/projects/web", cookie: admin)
                    return page.text.contains("<tr><td>onprem</td><td>requests.cpu</td><td>—</td><td>6</td>") && !page.text.contains("id=\"not-planned\"")
                }
                let tenant = try await browser.send(.GET, "/ui/tenants/coke", cookie: admin)
                #expect(tenant.text.contains("<a href=\"/ui/tenants/coke/clusters/onprem\">onprem</a>"))
                let cluster = try await browser.send(.GET, "/ui/tenants/coke/clusters/onprem", cookie: admin)
                #expect(cluster.status == 200)
                #expect(cluster.text.contains("<tr><td>requests.cpu</td><td>24</td><td>6</td><td>18</td>"), "\(cluster.text)")
                #expect(cluster.text.contains("<a href=\"/ui/tenants/coke/projects/web\">web</a>"))
                // Who may read a cluster's page: those who manage the tenant's clusters.
                let expected: [(String, String, Int)] = [
                    ("coke-pm", "/ui/tenants/coke/clusters/onprem", 403), ("coke-pm", "/ui/tenants/coke/clusters/nowhere", 403),
                    ("provider", "/ui/tenants/coke/clusters/onprem", 403), ("pepsi-admin", "/ui/tenants/coke/clusters/onprem", 404),
                    ("provider", "/ui/tenants/pepsi/clusters/west", 200), ("coke-admin", "/ui/tenants/coke/clusters/nowhere", 404),
                    ("coke-admin", "/ui/tenants/pepsi/clusters/west", 404),
                ]
                for (caller, path, status) in expected {
                    #expect(try await browser.send(.GET, path, cookie: fixture.tokens[caller]).status == status, "\(caller) \(path)")
                }
                let member = try await browser.send(.GET, "/ui/tenants/coke", cookie: fixture.tokens["coke-pm"])
                #expect(!member.text.contains("/clusters/"), "a member sees no cluster pages to go to")

                // The tenant's totals: its two clusters' capacity and what its namespaces use,
                // which the provider sees of a sealed tenant too.
                try await eventually(within: 30, "the namespace is Ready") {
                    try await browser.send(.GET, "/ui/tenants/coke/projects/web", cookie: admin).text.contains("<td>onprem</td><td>web-dev</td><td>Ready</td>")
                }
                let pod = try await QuotaTests.create(server, admin, "onprem", "web-dev", "one", cpu: "1")
                #expect(pod.status == 201, "\(pod.text)")
                try await eventually(within: 30, "the tenant's totals count the pod") {
                    let coke = try await server.request(.GET, "/api/v1/tenants/coke", token: fixture.tokens["provider"]).object
                    return (coke["capacity"] as? [String: Any])?["requests.cpu"] as? String == "48" && (coke["used"] as? [String: Any])?["requests.cpu"] as? String == "1"
                }
                #expect(try await browser.send(.GET, "/ui/tenants/coke", cookie: admin).text.contains("requests.cpu 1 of 48"))
                let home = try await browser.send(.GET, "/ui", cookie: fixture.tokens["provider"])
                #expect(home.text.contains("requests.cpu 1 of 48") && home.text.contains("requests.cpu 0 of 24"), "coke's and pepsi's totals")
            }
        }
    }

    @Test func overHTTPSTheCookieIsSecure() async throws {
        try await TestServer.with(tls: true) { server in
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let signedIn = try await browser.send(.POST, "/ui/login", form: ["username": "admin", "password": TestServer.adminPassword])
            #expect(signedIn.status == 303)
            let setCookie = try #require(signedIn.headers.first(name: "set-cookie")).lowercased()
            #expect(setCookie.contains("; secure"))
            let cookie = try #require(ConsoleClient.sessionCookie(in: signedIn))
            #expect(try await browser.send(.GET, "/ui", cookie: cookie).status == 200)
        }
    }

    /// A page with its quoted names (which differ between two 404s, `&#39;`-escaped) taken out.
    static func skeleton(_ html: String) -> String {
        html.replacingOccurrences(of: "&#39;[^&]*&#39;", with: "'…'", options: .regularExpression)
    }
}
