import CanopyServer
import Foundation
import KubeAPI
import Logging
import Testing
import TestSupport

/// Two replicas on one PostgreSQL database see each other's writes, and keep isolation.
@Suite struct ReplicaTests {
    @Test func aReplicaSeesWritesMadeByAnother() async throws {
        try await Self.withReplicas { first, second in
            let provider = try await first.login("admin", TestServer.adminPassword)
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants", token: provider, json: [
                "name": "acme", "mode": "msp", "admin": ["username": "boss", "password": Fixture.password],
            ]), 201)
            // The second replica learns of the tenant and its admin through the change feed.
            let providerOnSecond = try await second.login("admin", TestServer.adminPassword)
            _ = try await retrying { () -> Int in
                let status = try await second.request(.GET, "/api/v1/tenants/acme", token: providerOnSecond).status
                guard status == 200 else { throw TestFailure("not yet: \(status)") }
                return status
            }
            let admin = try await second.login(tenant: "acme", "boss", Fixture.password)
            try Fixture.expect(await second.request(.POST, "/api/v1/tenants/acme/projects", token: admin, json: ["name": "web"]), 201)
            let adminOnFirst = try await first.login(tenant: "acme", "boss", Fixture.password)
            let names = try await retrying { () -> [String] in
                let items = try await first.request(.GET, "/api/v1/tenants/acme/projects", token: adminOnFirst).items.compactMap { $0["name"] as? String }
                guard items == ["web"] else { throw TestFailure("not yet: \(items)") }
                return items
            }
            #expect(names == ["web"])
            // A tenant deleted on one replica disappears on the other, tokens included.
            try Fixture.expect(await first.request(.DELETE, "/api/v1/tenants/acme", token: provider), 204)
            let gone = try await retrying { () -> Int in
                let status = try await second.request(.GET, "/api/v1/whoami", token: admin).status
                guard status == 401 else { throw TestFailure("still \(status)") }
                return status
            }
            #expect(gone == 401)
        }
    }

    /// A token revoked on one replica is refused by the other within the change feed's
    /// interval, although that replica had just cached it (its cache trusts a record for 10 s).
    @Test func aTokenRevokedOnOneReplicaIsRefusedByTheOtherAtOnce() async throws {
        try await Self.withReplicas { first, second in
            let kept = try await first.login("admin", TestServer.adminPassword)
            let issued = try await first.request(.POST, "/api/v1/tokens", token: kept, json: ["description": "automation"])
            try Fixture.expect(issued, 201)
            let id = try #require(issued.object["id"] as? String), token = try #require(issued.object["token"] as? String)
            // The second replica caches the token's record on its first use.
            try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: token), 200)
            let revokedAt = ContinuousClock.now
            try Fixture.expect(await first.request(.DELETE, "/api/v1/tokens/\(id)", token: kept), 204)
            let status = try await retrying(within: .seconds(6)) { () -> Int in
                let status = try await second.request(.GET, "/api/v1/whoami", token: token).status
                guard status == 401 else { throw TestFailure("still \(status) after \(ContinuousClock.now - revokedAt)") }
                return status
            }
            #expect(status == 401)
            // Only that token: the other one still works there.
            try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: kept), 200)
        }
    }

    /// A domain administrator named on one replica is one on the other within the change feed's
    /// interval, and stops being one there when the grant is taken away.
    @Test func aDomainAdministratorNamedOnOneReplicaActsOnTheOther() async throws {
        try await Self.withReplicas { first, second in
            let admin = try await first.login("admin", TestServer.adminPassword)
            try Fixture.expect(await first.request(.POST, "/api/v1/users", token: admin, json: ["username": "ops", "password": "ops-password-1"]), 201)
            // Signing in before the second replica knows the user would count as failed sign-ins.
            _ = try await retrying { () -> Bool in
                let users = try await second.request(.GET, "/api/v1/users", token: admin).items
                guard users.contains(where: { $0["username"] as? String == "ops" }) else { throw TestFailure("ops not seen yet") }
                return true
            }
            let ops = try await second.login("ops", "ops-password-1")
            #expect(try await second.request(.GET, "/api/v1/admins", token: ops).status == 403)
            let grant = try Fixture.expect(await first.request(.POST, "/api/v1/admins", token: admin, json: ["user": "ops"]), 201)
            let id = try #require(grant.object["id"] as? String)
            let listed = try await retrying { () -> Int in
                let status = try await second.request(.GET, "/api/v1/admins", token: ops).status
                guard status == 200 else { throw TestFailure("still \(status)") }
                return status
            }
            #expect(listed == 200)
            try Fixture.expect(await first.request(.DELETE, "/api/v1/admins/\(id)", token: admin), 204)
            let refused = try await retrying { () -> Int in
                let status = try await second.request(.GET, "/api/v1/admins", token: ops).status
                guard status == 403 else { throw TestFailure("still \(status)") }
                return status
            }
            #expect(refused == 403)
        }
    }

    /// Two administrators, each on a replica of their own, taking each other's grant away at the
    /// same moment: the grants' rows are locked in the transaction, so one of them stays.
    @Test func twoAdministratorsRemovingEachOtherOnTwoReplicasLeaveOne() async throws {
        try await Self.withReplicas { first, second in
            let admin = try await first.login("admin", TestServer.adminPassword)
            for round in 0..<3 {
                let name = "ops-\(round)"
                try Fixture.expect(await first.request(.POST, "/api/v1/users", token: admin, json: ["username": name, "password": "ops-password-1"]), 201)
                let granted = try Fixture.expect(await first.request(.POST, "/api/v1/admins", token: admin, json: ["user": name]), 201)
                let otherGrant = try #require(granted.object["id"] as? String)
                let adminGrant = try #require(try await first.request(.GET, "/api/v1/admins", token: admin).items.first { $0["user"] as? String == "admin" }?["id"] as? String)
                // Both replicas know both administrators before they act.
                let other = try await retrying { () -> String in
                    let names = try await second.request(.GET, "/api/v1/admins", token: admin).items.compactMap { $0["user"] as? String }
                    guard names.sorted() == ["admin", name] else { throw TestFailure("the second replica does not know \(name) yet: \(names)") }
                    return try await second.login(name, "ops-password-1")
                }
                async let one = first.request(.DELETE, "/api/v1/admins/\(otherGrant)", token: admin)
                async let two = second.request(.DELETE, "/api/v1/admins/\(adminGrant)", token: other)
                let statuses = try await [one.status, two.status]
                #expect(statuses.filter { $0 == 204 }.count == 1, "round \(round): \(statuses)")
                let survivor = statuses[0] == 204 ? admin : other
                // Both replicas come to show the one administrator left (the store's answer, not
                // a replica's view that has not caught up yet).
                let remaining = try await converged(first, second, token: survivor, to: [statuses[0] == 204 ? "admin" : name])
                if survivor == other {
                    // The next round starts from `admin` again.
                    try Fixture.expect(await first.request(.POST, "/api/v1/admins", token: other, json: ["user": "admin"]), 201)
                    _ = try await converged(first, second, token: other, to: ["admin", name])
                    try Fixture.expect(await first.request(.DELETE, "/api/v1/admins/\(try #require(remaining.first?["id"] as? String))", token: admin), 204)
                    _ = try await converged(first, second, token: admin, to: ["admin"])
                }
            }
        }
    }

    /// The domain's administrators (their grants) once both replicas list `names`.
    private func converged(_ first: TestServer, _ second: TestServer, token: String, to names: [String]) async throws -> [[String: Any]] {
        try await retrying { () -> [[String: Any]] in
            var items: [[String: Any]] = []
            for replica in [first, second] {
                items = try await replica.request(.GET, "/api/v1/admins", token: token).items
                let listed = items.compactMap { $0["user"] as? String }.sorted()
                guard listed == names else { throw TestFailure("a replica lists \(listed), not \(names)") }
            }
            return items
        }
    }

    /// A user's tokens revoked with a change on one replica (`revokeTokens` on the user's PATCH)
    /// are refused by the other within the change feed's interval, not only once its cache of
    /// them (10 s) runs out.
    @Test func aUsersTokensRevokedOnOneReplicaAreRefusedByTheOtherAtOnce() async throws {
        try await Self.withReplicas { first, second in
            let provider = try await first.login("admin", TestServer.adminPassword)
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants", token: provider, json: [
                "name": "acme", "mode": "msp", "admin": ["username": "boss", "password": Fixture.password],
            ]), 201)
            let boss = try await first.login(tenant: "acme", "boss", Fixture.password)
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants/acme/users", token: boss, json: ["username": "dev", "password": Fixture.password]), 201)
            let dev = try await first.login(tenant: "acme", "dev", Fixture.password)
            // The second replica knows the user and caches the token's record on its first use.
            _ = try await retrying { () -> Int in
                let status = try await second.request(.GET, "/api/v1/whoami", token: dev).status
                guard status == 200 else { throw TestFailure("not yet: \(status)") }
                return status
            }
            let revokedAt = ContinuousClock.now
            try Fixture.expect(await first.request(.PATCH, "/api/v1/tenants/acme/users/dev", token: boss, json: ["revokeTokens": true]), 200)
            let status = try await retrying(within: .seconds(6)) { () -> Int in
                let status = try await second.request(.GET, "/api/v1/whoami", token: dev).status
                guard status == 401 else { throw TestFailure("still \(status) after \(ContinuousClock.now - revokedAt)") }
                return status
            }
            #expect(status == 401)
            try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: boss), 200)
        }
    }

    /// Failed sign-ins count together on every replica: five wrong passwords spread over two
    /// replicas block the sixth attempt on either (each replica counted only its own before).
    @Test func failedSignInsAreCountedAcrossReplicas() async throws {
        try await Self.withReplicas { first, second in
            let wrong: [String: Any] = ["username": "admin", "password": "wrong-password"]
            for index in 0..<5 {
                let replica = index % 2 == 0 ? first : second
                try Fixture.expect(await replica.request(.POST, "/api/v1/login", json: wrong), 401)
            }
            for replica in [first, second] {
                let blocked = try await replica.request(.POST, "/api/v1/login", json: ["username": "admin", "password": TestServer.adminPassword])
                #expect(blocked.status == 429, "\(blocked.status) \(blocked.text)")
            }
        }
    }

    /// Two replicas sharing a database (and its secret key) over one cluster: only one writes
    /// to it. A pod refused through the replica that does not write still counts as demand (the
    /// other learns of it from the audit log), so the busy namespace grows to the project's cap;
    /// the two namespaces' limits never pass that cap at any instant, and settle. A namespace
    /// removed stays removed. With both replicas writing, each planning with its own proxy's
    /// refusals, each undid the other's limits (3/3, 6/0, 3/0, …: 6 + 3 CPUs under a cap of 6 for
    /// a while); with both writing and refusals shared, the follower, a second behind, made the
    /// removed namespace again.
    @Test func onlyOneReplicaWritesAndEveryReplicasRefusalsCount() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            // The tenants and clusters are made before the second replica starts (see `withReplicas`).
            try await Self.withReplicas(lease: .seconds(8), prepare: { first in
                let fixture = try await Fixture.build(first)
                try await PlacementTests.importClusters(first, sim, fixture)
                return fixture
            }) { first, second, fixture in
                let (writer, follower) = try await Self.roles(first, second)
                let admin = fixture.tokens["coke-admin"]
                try await QuotaTests.project(writer, admin, ["name": "shop", "caps": ["cpu": "6"], "placements": [["cluster": "onprem", "namespaces": ["idle", "busy"]]]])
                let onprem = try PlacementTests.client(sim, "onprem")
                try await eventually(within: 30, "the share split") { try await QuotaTests.hardCPU(onprem, "idle") > .zero }
                // The follower reports the namespaces as the writer left them.
                let adminOnFollower = try await follower.login(tenant: "coke", "boss", Fixture.password)
                try await eventually(within: 10, "both namespaces Ready on the follower") {
                    let project = try await follower.request(.GET, "/api/v1/tenants/coke/projects/shop", token: adminOnFollower)
                    let states = (project.object["namespaces"] as? [[String: Any]])?.compactMap { ($0["status"] as? [String: Any])?["state"] as? String }
                    return states == ["Ready", "Ready"]
                }
                // A pod larger than the cap, refused through the follower, again and again.
                let sampler = Task {
                    var samples: [(busy: Quantity, idle: Quantity)] = []
                    while !Task.isCancelled {
                        if let busy = try? await QuotaTests.hardCPU(onprem, "busy"), let idle = try? await QuotaTests.hardCPU(onprem, "idle") {
                            samples.append((busy, idle))
                        }
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                    return samples
                }
                for attempt in 0..<15 {
                    let answer = try await QuotaTests.create(follower, adminOnFollower, "onprem", "busy", "big-\(attempt)", cpu: "7")
                    #expect(answer.status == 403 && answer.text.contains("exceeded quota"), "\(answer.status) \(answer.text)")
                    try await Task.sleep(for: .milliseconds(200))
                }
                try await eventually(within: 10, "the busy namespace given the whole cap") { try await QuotaTests.hardCPU(onprem, "busy") == Quantity(6) }
                // The audit log, through which the writer learnt of them, records each refusal's request.
                let audit = try await writer.request(.GET, "/api/v1/audit?tenant=coke", token: admin).items.compactMap { $0["target"] as? String }
                #expect(audit.contains("clusters/onprem/api/v1/namespaces/busy/pods -> 403 (exceeded quota, requested: requests.cpu=7)"), "\(audit.prefix(3))")
                try await Task.sleep(for: .seconds(2))
                sampler.cancel()
                let samples = await sampler.value
                #expect(samples.count > 20)
                let over = samples.filter { $0.busy + $0.idle > Quantity(6) }
                #expect(over.isEmpty, "limits past the cap of 6: \(over.prefix(5))")
                let settled = samples.suffix(20)
                #expect(settled.allSatisfy { $0.busy == Quantity(6) && $0.idle == .zero }, "not settled: \(settled.map { "\($0.busy)/\($0.idle)" })")
                // The follower listed and compared, and wrote nothing.
                let cluster = try #require(writer.services.world.snapshot.tenant(named: "coke")?.cluster(named: "onprem"))
                let writerStatus = try #require(writer.services.reconciler.status(of: cluster.id))
                let followerStatus = try #require(follower.services.reconciler.status(of: cluster.id))
                #expect(writerStatus.writes > 0 && followerStatus.writes == 0 && followerStatus.passes > 0, "\(writerStatus) \(followerStatus)")
                // A namespace removed through the writer stays gone: the follower, whose
                // snapshot trails by up to a second, does not make it again.
                try Fixture.expect(await writer.request(.DELETE, "/api/v1/tenants/coke/projects/shop/namespaces/onprem/idle", token: admin), 204)
                try await eventually(within: 10, "idle deleted from the cluster") { try await !PlacementTests.exists(onprem, "idle") }
                for _ in 0..<30 {
                    #expect(try await !PlacementTests.exists(onprem, "idle"), "the removed namespace came back")
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Cleaning a cluster up, asked on the replica that does not write to the clusters, is handed
    /// to the one that does: the follower's cascade delete succeeds at once and the writer removes
    /// the namespace, the follower writing nothing. Then the writer stops: the other takes over and
    /// writes (a new namespace appears), and a cascade delete asked on it, through the CLI, as the
    /// takeover happens, goes through.
    @Test func aFollowerHandsCleanUpsToTheWriterAndAnotherReplicaTakesOverWhenTheWriterStops() async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        let shared = try TemporaryDirectory()
        defer { shared.remove() }
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            let (started, starting) = AsyncStream<TestServer>.makeStream()
            let (stopped, stop) = AsyncStream<Void>.makeStream()
            let firstRun = Task {
                try await TestServer.with(dataDirectory: shared.path, databaseURL: database, configure: Self.quickLease) { first in
                    starting.yield(first)
                    for await _ in stopped {}
                }
            }
            do {
                let first = try #require(await started.first { _ in true })
                try await eventually(within: 5, "the first replica writes") { first.services.reconciler.isLeading }
                let fixture = try await Fixture.build(first)
                try await PlacementTests.importClusters(first, sim, fixture)
                try await TestServer.with(dataDirectory: shared.path, databaseURL: database, configure: Self.quickLease) { second in
                    let admin = fixture.tokens["coke-admin"]
                    try await QuotaTests.project(first, admin, ["name": "shop", "placements": [
                        ["cluster": "onprem", "namespaces": ["shop-a"]], ["cluster": "cloud", "namespaces": ["shop-c"]],
                    ]])
                    try Fixture.expect(await first.request(.POST, "/api/v1/tenants/pepsi/projects", token: fixture.tokens["pepsi-admin"], json: [
                        "name": "shop", "placements": [["cluster": "west", "namespaces": ["shop-w"]]],
                    ]), 201)
                    let onprem = try PlacementTests.client(sim, "onprem"), cloud = try PlacementTests.client(sim, "cloud")
                    let west = try PlacementTests.client(sim, "west")
                    try await eventually(within: 10, "shop-a, shop-c and shop-w in the clusters") {
                        let a = try await PlacementTests.exists(onprem, "shop-a"), c = try await PlacementTests.exists(cloud, "shop-c")
                        let w = try await PlacementTests.exists(west, "shop-w")
                        return a && c && w
                    }
                    #expect(!second.services.reconciler.isLeading)
                    let adminOnSecond = try await second.login(tenant: "coke", "boss", Fixture.password)
                    try await eventually(within: 5, "the follower knows the project") {
                        try await second.request(.GET, "/api/v1/tenants/coke/projects/shop", token: adminOnSecond).status == 200
                    }
                    // Asked on the follower, the clean-up is the writer's (the follower's own
                    // reconciler refuses to release: it does not write).
                    let released = try await second.request(.DELETE, "/api/v1/tenants/coke/clusters/cloud?cascade=true", token: adminOnSecond)
                    #expect(released.status == 200, "\(released.status) \(released.text)")
                    #expect(released.object["removedNamespaces"] as? [String] == ["shop/shop-c"], "\(released.text)")
                    #expect((released.object["writes"] as? Int ?? 0) > 0, "\(released.text)")
                    let cloudGone = try await !PlacementTests.exists(cloud, "shop-c")
                    #expect(cloudGone)
                    #expect(!second.services.reconciler.isLeading && first.services.reconciler.isLeading)
                    try await eventually(within: 5, "the writer forgets the cluster") {
                        first.services.world.snapshot.tenant(named: "coke")?.cluster(named: "cloud") == nil
                    }
                    // The CLI, pointed at the follower, deletes a cluster as the writer stops (and
                    // gives the lease up): whichever replica writes by then cleans it up.
                    let home = try TemporaryDirectory()
                    defer { home.remove() }
                    let cli = CLI(configHome: home.path)
                    let login = try await cli.run(["login", "--server", second.baseURL, "--tenant", "pepsi", "--username", "boss", "--password", Fixture.password])
                    try #require(login.status == 0, "\(login.output)")
                    stop.finish()
                    let delete = Task { try await cli.run(["cluster", "delete", "west", "--tenant", "pepsi", "--cascade"]) }
                    try await firstRun.value
                    try await eventually(within: 5, "the second replica writes") { second.services.reconciler.isLeading }
                    try Fixture.expect(await second.request(.POST, "/api/v1/tenants/coke/projects/shop/namespaces", token: adminOnSecond, json: [
                        "cluster": "onprem", "name": "shop-b",
                    ]), 201)
                    try await eventually(within: 10, "shop-b in the cluster") { try await PlacementTests.exists(onprem, "shop-b") }
                    let deleted = try await delete.value
                    #expect(deleted.status == 0 && deleted.output.contains("cluster west removed"), "\(deleted.output)")
                    let westGone = try await !PlacementTests.exists(west, "shop-w")
                    #expect(westGone)
                }
            } catch {
                stop.finish()
                _ = try? await firstRun.value
                throw error
            }
        }
    }

    /// A replica whose secret key differs from the first one's does not start: it could not open
    /// the cluster credentials the others sealed, and would seal ones they could not open.
    @Test func aReplicaWithAnotherSecretKeyRefusesToStart() async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        try await TestServer.with(databaseURL: database) { _ in
            let other = try TemporaryDirectory()
            defer { other.remove() }
            let configuration = ServerConfiguration(dataDirectory: other.path, databaseURL: database, port: 0, bcryptCost: 4, tls: false)
            var logger = Logger(label: "canopy-test")
            logger.logLevel = .critical
            await #expect {
                try await CanopyServer.run(configuration, logger: logger) { ready in await ready.stop() }
            } throws: { error in
                "\(error)".contains("give every replica the same secret key")
            }
        }
    }

    /// Two replicas on one fresh PostgreSQL database with the same secret key (one data folder).
    static func withReplicas(_ body: @Sendable (TestServer, TestServer) async throws -> Void) async throws {
        try await withReplicas(prepare: { _ in () }) { first, second, _ in try await body(first, second) }
    }

    /// Two replicas, the second started after `prepare` ran on the first. (Once, in a loaded run, a
    /// tenant admin created on a replica just as the other started could not sign in there at
    /// once: 401. Not explained yet; README, "Known problems".)
    ///
    /// The lease is `lease` long (1.5 s: a takeover fits in a test); a test that needs its writer
    /// to stay the writer asks for a longer one, which a loaded machine's late renewals do not
    /// lose (with 1.5 s, one clean-clone run saw the replicas swap roles mid-test).
    static func withReplicas<Prepared: Sendable>(
        lease: Duration = .milliseconds(1500),
        prepare: @Sendable (TestServer) async throws -> Prepared, _ body: @Sendable (TestServer, TestServer, Prepared) async throws -> Void
    ) async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        let shared = try TemporaryDirectory()
        defer { shared.remove() }
        let configure: @Sendable (inout ServerConfiguration) -> Void = { $0.reconcilerLeaseLifetime = lease }
        try await TestServer.with(dataDirectory: shared.path, databaseURL: database, configure: configure) { first in
            let prepared = try await prepare(first)
            try await TestServer.with(dataDirectory: shared.path, databaseURL: database, configure: configure) { second in
                try await body(first, second, prepared)
            }
        }
    }

    /// A lease of 1.5 s (renewed every 0.5 s), so that a takeover fits in a test.
    @Sendable static func quickLease(_ configuration: inout ServerConfiguration) {
        configuration.reconcilerLeaseLifetime = .milliseconds(1500)
    }

    /// The replica that writes to the clusters and the one that follows, once one holds the lease.
    static func roles(_ first: TestServer, _ second: TestServer) async throws -> (writer: TestServer, follower: TestServer) {
        try await eventually(within: 5, "one replica writes") { first.services.reconciler.isLeading != second.services.reconciler.isLeading }
        return first.services.reconciler.isLeading ? (first, second) : (second, first)
    }

    /// Retries `body` for up to `limit` (five seconds unless told).
    private func retrying<T>(within limit: Duration = .seconds(5), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                return try await body()
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
