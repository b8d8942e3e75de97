import AsyncHTTPClient
import Foundation
import Testing
import TestSupport

/// HTTPS by default with a self-signed certificate kept in the data folder, and the admin CLI
/// (the real binary) against it.
@Suite struct TLSAndCLITests {
    @Test func servesHTTPSWithAPersistentSelfSignedCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            #expect(server.baseURL.hasPrefix("https://"))
            #expect(try await server.request(.GET, "/healthz").status == 200)
            // A client that does not trust the certificate is refused by TLS.
            await #expect(throws: (any Error).self) {
                _ = try await TestClient(baseURL: server.baseURL, timeout: .seconds(3)).request(.GET, "/healthz")
            }
            return try #require(server.certificatePEM)
        }
        let second = try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            try #require(server.certificatePEM)
        }
        #expect(first == second)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/tls.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    /// `canopy serve` refuses settings out of range before it starts anything.
    @Test func serveRefusesSettingsOutOfRange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let cli = CLI(configHome: directory.path)
        for (flag, value, message) in [
            ("--proxy-deadline", "0", "--proxy-deadline must be between 1 and 604800 seconds"),
            ("--proxy-deadline", "604801", "--proxy-deadline must be between 1 and 604800 seconds"),
            ("--proxy-deadline", "soon", "--proxy-deadline"),
            ("--reconciler-lease", "2", "--reconciler-lease must be between 3 and 300 seconds"),
            ("--bcrypt-cost", "3", "--bcrypt-cost must be between 4 and 31"),
            ("--proxy-gather-mib", "0", "--proxy-gather-mib must be between 1 and 4096"),
            ("--proxy-gather-total-mib", "32", "--proxy-gather-total-mib must be between --proxy-gather-mib (64) and 65536"),
            ("--proxy-gather-total-mib", "65537", "--proxy-gather-total-mib must be between --proxy-gather-mib (64) and 65536"),
        ] {
            let refused = try await cli.run(["serve", "--data-dir", directory.path + "/data", "--listen", "127.0.0.1:0", flag, value])
            #expect(refused.status != 0 && refused.output.contains(message), "\(flag) \(value): \(refused.output)")
            #expect(!refused.output.contains("listening"), "\(refused.output)")
        }
    }

    @Test func theCLISignsInAndManagesTenantsOverHTTPS() async throws {
        let directory = try TemporaryDirectory()
        let home = try TemporaryDirectory()
        defer { directory.remove(); home.remove() }
        try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            let cli = CLI(configHome: home.path)
            let login = try await cli.run(["login", "--server", server.baseURL, "--username", "admin", "--password", TestServer.adminPassword,
                                     "--certificate-authority", directory.path + "/tls.crt"])
            #expect(login.status == 0, "\(login.output)")
            let credentials = home.path + "/canopy/credentials"
            let mode = try FileManager.default.attributesOfItem(atPath: credentials)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let create = try await cli.run(["tenant", "create", "acme", "--mode", "msp", "--admin-username", "boss", "--admin-password", "password-123"])
            #expect(create.status == 0, "\(create.output)")
            let list = try await cli.run(["tenant", "list", "-o", "json"])
            let names = ((try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["acme"])
            let table = try await cli.run(["tenant", "list"])
            #expect(table.output.contains("NAME") && table.output.contains("acme") && table.output.contains("msp"))
            let refused = try await cli.run(["project", "list", "--tenant", "acme"])
            #expect(refused.status != 0 && refused.output.contains("403"))
            let whoami = try await cli.run(["whoami"])
            #expect(whoami.output.contains("service provider"))
            let clusters = try await cli.run(["cluster", "list", "--tenant", "acme"])
            #expect(clusters.status != 0 && clusters.output.contains("403"))
        }
    }
}

extension TLSAndCLITests {
    /// Caps and reservations from the CLI, as a tenant admin sets them: at creation on the
    /// project's placements, then changed by merging with what is there (a concurrent change is
    /// refused, not overwritten); the server's refusals come through; usage and allocation print.
    @Test func theCLISetsCapsAndReservationsAndShowsThePlan() async throws {
        try await Self.withClustersAndTheCLI { _, server, fixture, cli in
            let created = try await cli.run([
                "project", "create", "web", "--tenant", "coke", "--cpu", "4", "--memory", "32Gi", "--placement", "onprem=web-dev",
                "--reserve", "onprem=cpu:10,memory:10", "--cluster-cap", "onprem=cpu:4,memory:16Gi,pods:20",
            ])
            #expect(created.status == 0, "\(created.output)")
            let unplaced = try await cli.run(["project", "create", "web2", "--tenant", "coke", "--placement", "onprem=web2-dev", "--reserve", "cloud=cpu:10"])
            #expect(unplaced.status != 0 && unplaced.output.contains("no --placement"), "\(unplaced.output)")

            let updated = try await cli.run([
                "project", "update", "web", "--tenant", "coke", "--cpu", "6", "--cap", "pods=100", "--reserve", "onprem=cpu:15",
                "--cluster-cap", "onprem=memory:none,pods:30",
            ])
            #expect(updated.status == 0, "\(updated.output)")
            func project() async throws -> [String: Any] {
                try await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: fixture.tokens["coke-admin"]).object
            }
            var web = try await project()
            let caps = web["caps"] as? [String: Any]
            #expect(caps?["cpu"] as? String == "6" && caps?["memory"] as? String == "32Gi" && (caps?["resources"] as? [String: String]) == ["pods": "100"], "\(web)")
            let onprem = (web["placements"] as? [[String: Any]])?.first { $0["cluster"] as? String == "onprem" }
            #expect((onprem?["reservation"] as? [String: Double]) == ["cpuPercent": 15], "\(String(describing: onprem))")
            let clusterCaps = onprem?["caps"] as? [String: Any]
            #expect(clusterCaps?["cpu"] as? String == "4" && clusterCaps?["memory"] == nil && (clusterCaps?["resources"] as? [String: String]) == ["pods": "30"], "\(String(describing: onprem))")

            let usage = try await cli.run(["project", "usage", "web", "--tenant", "coke"])
            #expect(usage.status == 0 && usage.output.contains("RESERVED") && usage.output.contains("onprem") && usage.output.contains("requests.cpu"), "\(usage.output)")
            let allocation = try await cli.run(["cluster", "allocation", "onprem", "--tenant", "coke"])
            #expect(allocation.status == 0 && allocation.output.contains("UNRESERVED") && allocation.output.contains("web"), "\(allocation.output)")

            let tooMuch = try await cli.run(["project", "update", "web", "--tenant", "coke", "--reserve", "onprem=cpu:95"])
            #expect(tooMuch.status != 0 && tooMuch.output.contains("HTTP 422") && tooMuch.output.contains("cap there of 4"), "\(tooMuch.output)")
            let malformed = try await cli.run(["project", "update", "web", "--tenant", "coke", "--reserve", "onprem=gpu:5"])
            #expect(malformed.status != 0 && malformed.output.contains("a reservation is of cpu and memory"), "\(malformed.output)")
            let nothing = try await cli.run(["project", "update", "web", "--tenant", "coke"])
            #expect(nothing.status != 0 && nothing.output.contains("nothing to change"), "\(nothing.output)")
            let cleared = try await cli.run(["project", "update", "web", "--tenant", "coke", "--reserve", "onprem=none", "--cpu", "none"])
            #expect(cleared.status == 0, "\(cleared.output)")
            web = try await project()
            let after = (web["placements"] as? [[String: Any]])?.first { $0["cluster"] as? String == "onprem" }
            #expect(after?["reservation"] == nil && (web["caps"] as? [String: Any])?["cpu"] == nil, "\(web)")
            #expect((web["caps"] as? [String: Any])?["memory"] as? String == "32Gi", "\(web)")
        }
    }
}

/// Runs the real `canopy` binary with its own config folder.
struct CLI {
    let configHome: String

    func run(_ arguments: [String], input: String? = nil) async throws -> (status: Int32, output: String) {
        try await ProcessRunner.run(ProcessRunner.canopyBinary, arguments, environment: ["XDG_CONFIG_HOME": configHome], input: input)
    }
}

extension TLSAndCLITests {
    /// `canopy user update`: details changed and an e-mail cleared, a user disabled and enabled,
    /// and every session and token of theirs revoked (the API's `revokeTokens`), others' kept.
    @Test func theCLIChangesAUserAndRevokesTheirTokens() async throws {
        let directory = try TemporaryDirectory()
        let home = try TemporaryDirectory()
        defer { directory.remove(); home.remove() }
        try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            let fixture = try await Fixture.build(server)
            let admin = try #require(fixture.tokens["coke-admin"]), member = try #require(fixture.tokens["coke-pm"])
            let cli = CLI(configHome: home.path)
            let login = try await cli.run(["login", "--server", server.baseURL, "--tenant", "coke", "--username", "boss", "--password", Fixture.password,
                                           "--certificate-authority", directory.path + "/tls.crt"])
            #expect(login.status == 0, "\(login.output)")
            let second = try await server.login(tenant: "coke", "pm", Fixture.password)
            func user() async throws -> [String: Any] { try await server.request(.GET, "/api/v1/tenants/coke/users/pm", token: admin).object }

            let changed = try await cli.run(["user", "update", "pm", "--tenant", "coke", "--display-name", "Pat Member", "--email", "pat@example.com"])
            #expect(changed.status == 0 && changed.output.contains("Pat Member"), "\(changed.output)")
            #expect(try await user()["email"] as? String == "pat@example.com")
            #expect(try await cli.run(["user", "update", "pm", "--tenant", "coke", "--email", ""]).status == 0)
            #expect(try await user()["email"] == nil)

            #expect(try await cli.run(["user", "update", "pm", "--tenant", "coke", "--disable"]).status == 0)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 401)
            #expect(try await cli.run(["user", "update", "pm", "--tenant", "coke", "--enable"]).status == 0)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: member).status == 200)

            // A password given as `-` is read from standard input (out of the shell's history and the process list).
            let piped = try await cli.run(["user", "update", "pm", "--tenant", "coke", "--password", "-"], input: "piped-password-1\n")
            #expect(piped.status == 0, "\(piped.output)")
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": "piped-password-1"]).status == 200)
            let created = try await cli.run(["user", "create", "newbie", "--tenant", "coke", "--password", "-"], input: "newbie-password-1\n")
            #expect(created.status == 0, "\(created.output)")
            #expect(try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "newbie", "password": "newbie-password-1"]).status == 200)
            let empty = try await cli.run(["user", "update", "pm", "--tenant", "coke", "--password", "-"], input: "")
            #expect(empty.status != 0 && empty.output.contains("standard input"), "\(empty.output)")

            let revoked = try await cli.run(["user", "update", "pm", "--tenant", "coke", "--revoke-tokens"])
            #expect(revoked.status == 0, "\(revoked.output)")
            for token in [member, second] {
                #expect(try await server.request(.GET, "/api/v1/whoami", token: token).status == 401, "every token of theirs")
            }
            #expect(try await server.request(.GET, "/api/v1/whoami", token: fixture.tokens["coke-pv"]).status == 200, "nobody else's")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: admin).status == 200)
            #expect(try await server.request(.GET, "/api/v1/tokens", token: try await server.login(tenant: "coke", "pm", "piped-password-1")).items.filter {
                $0["revokedAt"] == nil
            }.count == 1, "signing in again gives a working token")
            let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: admin).items
            #expect(audit.contains { $0["action"] as? String == "user.revoke-tokens" && $0["target"] as? String == "tenants/coke/users/pm" })

            for (arguments, message) in [
                (["--disable", "--enable"], "contradict"), ([], "nothing to change"), (["--password", "short"], "HTTP 422"),
            ] {
                let refused = try await cli.run(["user", "update", "pm", "--tenant", "coke"] + arguments)
                #expect(refused.status != 0 && refused.output.contains(message), "\(arguments): \(refused.output)")
            }
            let other = try await cli.run(["user", "update", "pm", "--tenant", "pepsi", "--revoke-tokens"])
            #expect(other.status != 0 && other.output.contains("404"), "\(other.output)")
        }
    }

    @Test func theCLINamesTheDomainsAdministrators() async throws {
        let directory = try TemporaryDirectory()
        let home = try TemporaryDirectory()
        defer { directory.remove(); home.remove() }
        try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            let cli = CLI(configHome: home.path)
            let login = try await cli.run(["login", "--server", server.baseURL, "--username", "admin", "--password", TestServer.adminPassword,
                                           "--certificate-authority", directory.path + "/tls.crt"])
            #expect(login.status == 0, "\(login.output)")
            let created = try await cli.run(["user", "create", "ops-anna", "--password", "-"], input: "anna-password-1\n")
            #expect(created.status == 0 && created.output.contains("ops-anna"), "\(created.output)")
            let anna = try await server.login("ops-anna", "anna-password-1")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: anna).object["serviceProvider"] as? Bool == false)
            let added = try await cli.run(["admin", "add", "--user", "ops-anna"])
            #expect(added.status == 0 && added.output.contains("service-provider"), "\(added.output)")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: anna).object["serviceProvider"] as? Bool == true)
            #expect(try await cli.run(["admin", "add", "--group", "platform-team"]).status == 0)
            let listed = try await cli.run(["admin", "list", "-o", "json"])
            let grants = (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]] ?? []
            #expect(grants.compactMap { $0["user"] as? String } == ["admin", "ops-anna"], "\(listed.output)")
            #expect(grants.compactMap { $0["group"] as? String } == ["platform-team"])
            let annaGrant = try #require(grants.first { $0["user"] as? String == "ops-anna" }?["id"] as? String)
            #expect(try await cli.run(["admin", "remove", annaGrant]).status == 0)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: anna).object["serviceProvider"] as? Bool == false)
            let users = try await cli.run(["user", "list"])
            #expect(users.status == 0 && users.output.contains("ops-anna"), "\(users.output)")
            let refused = try await cli.run(["admin", "add", "--user", "nobody"])
            #expect(refused.status != 0 && refused.output.contains("422"), "\(refused.output)")
            // Anna's sessions and tokens, one revoked: that one refused, the others not.
            let second = try await server.login("ops-anna", "anna-password-1")
            let tokens = try await cli.run(["user", "tokens", "ops-anna", "-o", "json"])
            let ids = ((try JSONSerialization.jsonObject(with: Data(tokens.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(tokens.status == 0 && ids.count == 2, "\(tokens.output)")
            let revoked = try await cli.run(["user", "revoke-token", "ops-anna", ids[0]])
            #expect(revoked.status == 0 && revoked.output.contains("revoked"), "\(revoked.output)")
            let left = [try await server.request(.GET, "/api/v1/whoami", token: anna).status, try await server.request(.GET, "/api/v1/whoami", token: second).status]
            #expect(left.sorted() == [200, 401], "\(left)")
            let missing = try await cli.run(["user", "revoke-token", "ops-anna", "no-such-token"])
            #expect(missing.status != 0 && missing.output.contains("404"), "\(missing.output)")
        }
    }
}

extension TLSAndCLITests {
    /// A cluster that does not answer is removed without cascade all the same (it may be gone for
    /// good), and what stays in it is said: a `Warning` header on the API's 204, printed by the CLI.
    @Test func removingAClusterThatDoesNotAnswerSaysWhatStaysInIt() async throws {
        try await Self.withClustersAndTheCLI { sim, server, fixture, cli in
            let admin = fixture.tokens["coke-admin"]
            let onprem = try #require(sim.sim.clusters["onprem"]), cloud = try #require(sim.sim.clusters["cloud"])
            onprem.makeUnreachable(for: 60)
            let removed = try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem", token: admin)
            #expect(removed.status == 204, "\(removed.text)")
            let warning = removed.headers["Warning"].first ?? ""
            #expect(warning.hasPrefix("299 - \"Canopy's cluster-wide objects could not be removed from cluster 'onprem'"), "\(warning)")
            #expect(warning.contains("kubectl delete clusterroles,clusterrolebindings -l canopy.io/managed-by=canopy\""), "\(warning)")
            #expect(try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem", token: admin).status == 404)

            cloud.makeUnreachable(for: 60)
            let deleted = try await cli.run(["cluster", "delete", "cloud", "--tenant", "coke"])
            #expect(deleted.status == 0 && deleted.output.contains("Warning: Canopy's cluster-wide objects could not be removed from cluster 'cloud'"), "\(deleted.output)")
            #expect(deleted.output.contains("-l canopy.io/managed-by=canopy\n"), "the header's quotes taken off: \(deleted.output)")
        }
    }
}

extension TLSAndCLITests {
    /// An HTTPS server with the fixture's clusters (KubeSim), and the CLI signed in there as the
    /// tenant admin of `coke`.
    static func withClustersAndTheCLI(_ body: @Sendable (TestKubeSim, TestServer, Fixture, CLI) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        let home = try TemporaryDirectory()
        defer { directory.remove(); home.remove() }
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let cli = CLI(configHome: home.path)
                let login = try await cli.run(["login", "--server", server.baseURL, "--tenant", "coke", "--username", "boss", "--password", Fixture.password,
                                               "--certificate-authority", directory.path + "/tls.crt"])
                #expect(login.status == 0, "\(login.output)")
                try await body(sim, server, fixture, cli)
            }
        }
    }
}
