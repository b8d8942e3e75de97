import CanopyAuth
import CanopyServer
import Foundation
import Testing
import TestSupport

/// Identity providers and directory sign-in against a real slapd, through the API (and kubectl).
@Suite struct DirectorySignInTests {
    /// Many failed sign-ins from 127.0.0.1 are part of these tests; the throttle has its own tests.
    static let configure: @Sendable (inout ServerConfiguration) -> Void = { $0.loginThrottle = LoginThrottle(limit: 1000) }

    static func provider(_ directory: TestDirectory, company: String = "coke", name: String = "corp", extra: [String: Any] = [:]) -> [String: Any] {
        [
            "name": name, "type": "ldap", "urls": [directory.url], "bindDN": TestDirectory.bindDN, "bindPassword": TestDirectory.bindPassword,
            "userBaseDN": "ou=people,ou=\(company),dc=test", "groupBaseDN": "ou=groups,ou=\(company),dc=test", "nestedGroupDepth": 1,
        ].merging(extra) { _, new in new }
    }

    @Test func directoryUserSignsInAndTheirGroupsRoleWorks() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: Self.configure) { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]
                let created = try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: admin, json: Self.provider(directory)), 201)
                #expect(created.object["bindPasswordSet"] as? Bool == true)
                #expect(!created.text.contains(TestDirectory.bindPassword))
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/members", token: admin, json: ["group": "marketing-team", "role": "member"]), 201)

                let token = try await server.login(tenant: "coke", "alice", "alice-pw")
                let whoami = try await server.request(.GET, "/api/v1/whoami", token: token).object
                #expect(whoami["groups"] as? [String] == ["developers", "marketing-team"])
                #expect((whoami["projects"] as? [[String: Any]])?.map { $0["role"] as? String } == ["member"])
                #expect((whoami["user"] as? [String: Any])?["source"] as? String == "ldap")
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing", token: token).status == 200)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/projects/sales", token: token).status == 404)

                // The same person again, in another spelling: one user, not two.
                _ = try await server.login(tenant: "coke", "ALICE", "alice-pw")
                let users = try await server.request(.GET, "/api/v1/tenants/coke/users", token: admin).items
                #expect(users.filter { $0["source"] as? String == "ldap" }.compactMap { $0["username"] as? String } == ["alice"])
                // A directory group as tenant admins: bob is in `admins`.
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/admins", token: admin, json: ["group": "admins"]), 201)
                let bob = try await server.login(tenant: "coke", "bob", "bob-pw")
                #expect(try await server.request(.GET, "/api/v1/whoami", token: bob).object["tenantAdmin"] as? Bool == true)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/identity-providers", token: bob).status == 200)
                // A directory user has no Canopy password to change.
                let alice = try await server.request(.PATCH, "/api/v1/tenants/coke/users/alice", token: token, json: ["password": "new-password-1"])
                #expect(alice.status == 422)
                let own = try await server.request(.POST, "/api/v1/password", token: token, json: ["current": "alice-pw", "password": "new-password-1"])
                #expect(own.status == 422 && own.text.contains("changes their password in the directory"), "\(own.text)")
            }
        }
    }

    @Test func directoryGroupRoleReachesTheClusterThroughKubectl() async throws {
        try await TestDirectory.with { directory in
            try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
                try await TestServer.with(tls: true, configure: Self.configure) { server in
                    let fixture = try await ProxyTests.setUp(server, sim)
                    let admin = fixture.tokens["coke-admin"]
                    try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: admin, json: Self.provider(directory)), 201)
                    try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/members", token: admin, json: ["group": "developers", "role": "member"]), 201)
                    let token = try await server.login(tenant: "coke", "alice", "alice-pw")
                    let kubectl = try await ProxyTests.kubectl(server, token: token, query: "style=token&project=marketing")
                    defer { kubectl.remove() }
                    _ = try await kubectl.run("config", "use-context", "marketing@onprem")
                    let canCreate = try await kubectl.run("auth", "can-i", "create", "deployments")
                    #expect(canCreate.output.hasPrefix("yes"), "\(canCreate.output)")
                    let namespaces = try await kubectl.run("get", "namespaces", "-o", "name")
                    #expect(namespaces.output.split(separator: "\n") == ["namespace/mkt-dev"], "\(namespaces.output)")
                    // bob is in the directory but in no group with a role: the cluster is not his.
                    let bob = try await server.login(tenant: "coke", "bob", "bob-pw")
                    let refused = try await server.request(.GET, "/api/v1/kubeconfig?style=token&project=marketing", token: bob)
                    #expect(refused.status == 404, "\(refused.text)")
                }
            }
        }
    }

    @Test func everyWrongSignInIsTheSame401AfterTheSameWork() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: { $0.loginThrottle = LoginThrottle(limit: 1000); $0.bcryptCost = 10 }) { server in
                let admin = try await server.login("admin", TestServer.adminPassword)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants", token: admin, json: [
                    "name": "coke", "mode": "enterprise", "admin": ["username": "boss", "password": Fixture.password],
                ]), 201)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: admin, json: Self.provider(directory)), 201)
                // Every failed sign-in must run exactly one bcrypt verification (a decoy when the
                // user does not exist) and so take at least that long. The reference is the
                // fastest of verifications run right before each attempt, in the same conditions.
                let hasher = PasswordHasher(cost: 10)
                let hash = try await hasher.hash("x")
                var bcrypt = Duration.seconds(3600)
                let attempts = [("alice", "wrong"), ("alice", ""), ("nobody", "x"), ("*", "alice-pw"), ("*)(uid=*", "alice-pw"), ("alice)(|(uid=*", "x"), ("boss", "wrong")]
                var timings: [(String, Duration)] = []
                for (username, password) in attempts {
                    let reference = ContinuousClock.now
                    _ = try await hasher.verify("y", against: hash)
                    bcrypt = min(bcrypt, ContinuousClock.now - reference)
                    let before = server.services.hasher.verifications
                    let start = ContinuousClock.now
                    let response = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": username, "password": password])
                    timings.append((username, ContinuousClock.now - start))
                    #expect(response.status == 401, "\(username): \(response.text)")
                    #expect(response.errorMessage == "invalid user name or password", "\(username)")
                    #expect(server.services.hasher.verifications - before == 1, "\(username): one bcrypt verification per failed sign-in")
                }
                for (username, elapsed) in timings {
                    #expect(elapsed > bcrypt * 0.8, "\(username) answered in \(elapsed), faster than the bcrypt work (\(bcrypt)) every failure costs")
                }
                // The directory entry whose uid really is `*)(uid=*` cannot become a Canopy user
                // (not a DNS label), so it is refused too, with the same answer.
                let odd = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "*)(uid=*", "password": "injector-pw"])
                #expect(odd.status == 401 && odd.errorMessage == "invalid user name or password")
                // Unknown tenant: the same.
                let unknown = try await server.request(.POST, "/api/v1/login", json: ["tenant": "nope", "username": "alice", "password": "alice-pw"])
                #expect(unknown.status == 401 && unknown.errorMessage == "invalid user name or password")
            }
        }
    }

    @Test func tenantsNeverSeeEachOthersDirectories() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: Self.configure) { server in
                let fixture = try await Fixture.build(server)
                let coke = fixture.tokens["coke-admin"]
                let pepsi = fixture.tokens["pepsi-admin"]
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: coke, json: Self.provider(directory)), 201)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/pepsi/identity-providers", token: pepsi, json: Self.provider(directory, company: "pepsi")), 201)

                // Same user name, other company: Coke's alice cannot sign in to Pepsi.
                let crossed = try await server.request(.POST, "/api/v1/login", json: ["tenant": "pepsi", "username": "alice", "password": "alice-pw"])
                #expect(crossed.status == 401)
                let pepsiAlice = try await server.login(tenant: "pepsi", "alice", "pepsi-alice-pw")
                #expect(try await server.request(.GET, "/api/v1/whoami", token: pepsiAlice).object["groups"] as? [String] == ["pepsi-devs"])
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/identity-providers", token: pepsiAlice).status == 404)

                // Who may see Coke's providers: its admin only. Coke is an msp tenant: its provider
                // knows the tenant exists (403), Pepsi's people do not (404).
                let paths = ["/api/v1/tenants/coke/identity-providers", "/api/v1/tenants/coke/identity-providers/corp"]
                for path in paths {
                    #expect(try await server.request(.GET, path, token: coke).status == 200, "\(path)")
                    for (role, status) in [("pepsi-admin", 404), ("provider", 403), ("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("pepsi-pa", 404)] {
                        #expect(try await server.request(.GET, path, token: fixture.tokens[role]).status == status, "\(role) \(path)")
                    }
                    #expect(try await server.request(.GET, path).status == 401)
                }
                for (role, status) in [("pepsi-admin", 404), ("provider", 403), ("coke-pa", 403)] {
                    let token = fixture.tokens[role]
                    #expect(try await server.request(.POST, "/api/v1/tenants/coke/identity-providers/corp/test", token: token, json: ["username": "alice", "password": "alice-pw"]).status == status, "\(role)")
                    #expect(try await server.request(.PATCH, "/api/v1/tenants/coke/identity-providers/corp", token: token, json: ["nestedGroupDepth": 0]).status == status, "\(role)")
                    #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/identity-providers/corp", token: token).status == status, "\(role)")
                    #expect(try await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: token, json: Self.provider(directory, name: "other")).status == status, "\(role)")
                }
                // Pepsi is an enterprise tenant: the provider manages its directories.
                #expect(try await server.request(.GET, "/api/v1/tenants/pepsi/identity-providers", token: fixture.tokens["provider"]).items.count == 1)
                // The domain's own providers are the service provider's.
                #expect(try await server.request(.GET, "/api/v1/identity-providers", token: fixture.tokens["provider"]).status == 200)
                #expect(try await server.request(.GET, "/api/v1/identity-providers", token: coke).status == 403)
                // Nothing ever returns the bind password.
                let listed = try await server.request(.GET, "/api/v1/tenants/coke/identity-providers", token: coke)
                #expect(!listed.text.contains(TestDirectory.bindPassword))
            }
        }
    }

    @Test func theCLIManagesProvidersAndSignsDirectoryUsersIn() async throws {
        try await TestDirectory.with { directory in
            let home = try TemporaryDirectory()
            defer { home.remove() }
            try await TestServer.with(configure: Self.configure) { server in
                _ = try await Fixture.build(server)
                let cli = CLI(configHome: home.path)
                let login = try await cli.run(["login", "--server", server.baseURL, "--tenant", "coke", "--username", "boss", "--password", Fixture.password])
                #expect(login.status == 0, "\(login.output)")
                let created = try await cli.run([
                    "identity-provider", "create", "--tenant", "coke", "corp", "--url", "ldap://127.0.0.1:1", "--url", directory.url,
                    "--bind-dn", TestDirectory.bindDN, "--bind-password", TestDirectory.bindPassword,
                    "--user-base-dn", TestDirectory.cokePeople, "--group-base-dn", TestDirectory.cokeGroups, "--nested-group-depth", "1",
                ])
                #expect(created.status == 0, "\(created.output)")
                let listed = try await cli.run(["idp", "list", "--tenant", "coke"])
                #expect(listed.output.contains("corp") && !listed.output.contains(TestDirectory.bindPassword), "\(listed.output)")
                let tested = try await cli.run(["idp", "test", "--tenant", "coke", "corp", "--username", "alice", "--password", "alice-pw"])
                #expect(tested.status == 0 && tested.output.contains("ok   userBind") && tested.output.contains("groups: developers, marketing-team"), "\(tested.output)")
                let wrong = try await cli.run(["idp", "test", "--tenant", "coke", "corp", "--username", "alice", "--password", "nope"])
                #expect(wrong.output.contains("FAIL userBind"), "\(wrong.output)")

                let alice = try await cli.run(["login", "--server", server.baseURL, "--tenant", "coke", "--username", "alice", "--password", "alice-pw"])
                #expect(alice.status == 0, "\(alice.output)")
                let whoami = try await cli.run(["whoami"])
                #expect(whoami.output.contains("groups:    developers, marketing-team"), "\(whoami.output)")
                let refused = try await cli.run(["idp", "list", "--tenant", "coke"])
                #expect(refused.status != 0 && refused.output.contains("403"), "\(refused.output)")
            }
        }
    }

    @Test func domainDirectoryUsersSignInWithoutATenant() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: Self.configure) { server in
                let provider = try await server.login("admin", TestServer.adminPassword)
                try Fixture.expect(await server.request(.POST, "/api/v1/identity-providers", token: provider, json: Self.provider(directory, company: "pepsi")), 201)
                let token = try await server.login("alice", "pepsi-alice-pw")
                let whoami = try await server.request(.GET, "/api/v1/whoami", token: token).object
                #expect(whoami["tenant"] == nil)
                #expect(whoami["groups"] as? [String] == ["pepsi-devs"])
                // Signed in, but no grant: a directory account alone is not the service provider.
                #expect(whoami["serviceProvider"] as? Bool == false)
                #expect(try await server.request(.GET, "/api/v1/tenants", token: token).items.isEmpty)
                // Her directory group named the domain's administrators: she is one at once, and
                // stops being one when the grant goes.
                let grant = try Fixture.expect(await server.request(.POST, "/api/v1/admins", token: provider, json: ["group": "pepsi-devs"]), 201)
                #expect(try await server.request(.GET, "/api/v1/whoami", token: token).object["serviceProvider"] as? Bool == true)
                #expect(try await server.request(.GET, "/api/v1/admins", token: token).items.compactMap { $0["group"] as? String } == ["pepsi-devs"])
                // She may not leave the domain to her group alone: `admin` is its one user administrator.
                let adminGrant = try #require(try await server.request(.GET, "/api/v1/admins", token: token).items.first { $0["user"] as? String == "admin" }?["id"] as? String)
                for (method, path, body) in [("PATCH", "/api/v1/users/admin", ["disabled": true] as [String: Any]?),
                                             ("DELETE", "/api/v1/users/admin", nil), ("DELETE", "/api/v1/admins/\(adminGrant)", nil)] {
                    let refused = try await server.request(.init(rawValue: method), path, token: token, json: body)
                    #expect(refused.status == 409, "\(method) \(path): \(refused.status) \(refused.text)")
                }
                #expect(try await server.request(.GET, "/api/v1/whoami", token: provider).object["serviceProvider"] as? Bool == true)
                let grantID = try #require(grant.object["id"] as? String)
                #expect(try await server.request(.DELETE, "/api/v1/admins/\(grantID)", token: token).status == 204)
                #expect(try await server.request(.GET, "/api/v1/whoami", token: token).object["serviceProvider"] as? Bool == false)
                #expect(try await server.request(.GET, "/api/v1/admins", token: token).status == 403)
                // The domain's directory is not a tenant's.
                let tenantLogin = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "alice", "password": "pepsi-alice-pw"])
                #expect(tenantLogin.status == 401)
            }
        }
    }

    @Test func badProviderSettingsAreRefusedAndNothingIsLost() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: Self.configure) { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]
                let path = "/api/v1/tenants/coke/identity-providers"
                let cases: [([String: Any], Int, String?)] = [
                    (["urls": ["http://x"]], 422, "urls"),
                    (["urls": []], 422, "urls"),
                    (["userFilter": "(uid=alice)"], 422, "userFilter"),
                    (["groupFilter": "(member=x"], 422, "groupFilter"),
                    (["userBaseDN": "not a dn"], 422, "userBaseDN"),
                    (["bindPassword": ""], 422, "bindPassword"),
                    (["name": "Not A Label"], 422, "name"),
                    (["nestedGroupDepth": 11], 400, nil),
                    (["nestedGroupDepth": "2"], 400, nil),
                    (["type": "saml"], 400, nil),
                    (["colour": "blue"], 400, nil),
                    (["caPEM": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"], 422, "caPEM"),
                    (["startTLS": true, "urls": [directory.ldapsURL]], 422, "startTLS"),
                ]
                for (change, status, field) in cases {
                    let response = try await server.request(.POST, path, token: admin, json: Self.provider(directory).merging(change) { _, new in new })
                    #expect(response.status == status, "\(change): \(response.text)")
                    if let field { #expect(response.errorField == field, "\(change): \(response.text)") }
                }
                #expect(try await server.request(.POST, path, token: admin, rawBody: "{\"name\": ").status == 400)
                #expect(try await server.request(.GET, path, token: admin).items.isEmpty)

                let created = try Fixture.expect(await server.request(.POST, path, token: admin, json: Self.provider(directory)), 201)
                #expect(try await server.request(.POST, path, token: admin, json: Self.provider(directory)).status == 409)
                let version = created.object["version"] as? Int ?? 0
                let updated = try Fixture.expect(await server.request(.PATCH, path + "/corp", token: admin, json: ["nestedGroupDepth": 0, "version": version]), 200)
                #expect(updated.object["nestedGroupDepth"] as? Int == 0)
                #expect(try await server.request(.PATCH, path + "/corp", token: admin, json: ["nestedGroupDepth": 2, "version": version]).status == 409)
                #expect(try await server.request(.PATCH, path + "/corp", token: admin, json: ["userFilter": "(cn=x)"]).status == 422)
                // The bind password kept its value through the update: sign-in still works.
                _ = try await server.login(tenant: "coke", "alice", "alice-pw")
                #expect(try await server.request(.DELETE, path + "/corp", token: admin).status == 204)
                #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "alice", "password": "alice-pw"]).status == 401)
            }
        }
    }

    @Test func theTestEndpointSaysWhatFailed() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: Self.configure) { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]
                let path = "/api/v1/tenants/coke/identity-providers"
                try Fixture.expect(await server.request(.POST, path, token: admin, json: Self.provider(directory)), 201)
                let passed = try Fixture.expect(await server.request(.POST, path + "/corp/test", token: admin, json: ["username": "alice", "password": "alice-pw"]), 200).object
                #expect(passed["groups"] as? [String] == ["developers", "marketing-team"])
                #expect(passed["userDN"] as? String == "uid=alice,ou=people,ou=coke,dc=test")
                let wrong = try await server.request(.POST, path + "/corp/test", token: admin, json: ["username": "alice", "password": "nope"]).object
                let last = (wrong["steps"] as? [[String: Any]])?.last
                #expect(last?["step"] as? String == "userBind")
                #expect((last?["detail"] as? String)?.contains("invalidCredentials (49)") == true)

                try Fixture.expect(await server.request(.POST, path, token: admin, json: Self.provider(directory, name: "broken", extra: ["bindPassword": "wrong"])), 201)
                let broken = try await server.request(.POST, path + "/broken/test", token: admin, json: ["username": "alice", "password": "alice-pw"]).object
                let failed = (broken["steps"] as? [[String: Any]])?.last
                #expect(failed?["step"] as? String == "serviceBind")
                #expect((failed?["detail"] as? String)?.contains("check bindDN and bindPassword") == true)
            }
        }
    }

    @Test func anOutageIsA503ThatLocalUsersNeverNotice() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: Self.configure) { server in
                let fixture = try await Fixture.build(server)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: fixture.tokens["coke-admin"], json: Self.provider(directory)), 201)
                _ = try await server.login(tenant: "coke", "alice", "alice-pw")

                try await directory.stop()
                let start = ContinuousClock.now
                let down = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "alice", "password": "alice-pw"])
                #expect(down.status == 503, "\(down.text)")
                #expect(down.errorCode == "directory_unavailable")
                #expect(ContinuousClock.now - start < .seconds(3))
                _ = try await server.login(tenant: "coke", "pm", Fixture.password)

                try await directory.start()
                _ = try await server.login(tenant: "coke", "alice", "alice-pw")
            }
        }
    }

    @Test func deletedDirectoryAccountsLoseAccessWithinTheBound() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with(configure: { $0.loginThrottle = LoginThrottle(limit: 1000); $0.directoryGroupLifetime = 1 }) { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/identity-providers", token: admin, json: Self.provider(directory)), 201)
                let alice = try await server.login(tenant: "coke", "alice", "alice-pw")
                let dave = try await server.login(tenant: "coke", "dave", "dave-pw")
                #expect(try await server.request(.GET, "/api/v1/whoami", token: alice).status == 200)

                _ = try await directory.run("ldapdelete", ["uid=alice,\(TestDirectory.cokePeople)"])
                // dave leaves developers: his groups change without any Canopy write.
                _ = try await directory.run("ldapmodify", [], input: """
                    dn: cn=developers,\(TestDirectory.cokeGroups)
                    changetype: modify
                    delete: member
                    member: uid=dave,\(TestDirectory.cokePeople)

                    """)
                let elapsed = try await eventually(within: 5, "alice's token is refused") {
                    try await server.request(.GET, "/api/v1/whoami", token: alice).status == 401
                }
                #expect(elapsed < 3)
                try await eventually(within: 5, "dave's groups follow the directory") {
                    try await server.request(.GET, "/api/v1/whoami", token: dave).object["groups"] as? [String] == []
                }
            }
        }
    }
}
