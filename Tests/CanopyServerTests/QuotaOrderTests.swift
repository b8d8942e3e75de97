import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// The order of quota writes across clusters: a limit is raised only once every limit lowered
/// to make room for it is written, however slow the cluster holding that one is, or if it goes
/// away before writing it.
@Suite struct QuotaOrderTests {
    /// A project capped at 10 CPUs holds them all in five namespaces on onprem (made slow by
    /// `slowDown`: by default 2.5 s per request), then gets a sixth on cloud; `during` runs while
    /// the share moves. Returns what onprem's five held and what `shop-b` got at the moment its
    /// limit rose, read in the simulator itself (the quotas' specs, or with `enforced` their
    /// statuses: the limits the API server enforces), and how long after `shop-b` was made that was.
    static func moveTheShare(
        slowDown: @escaping @Sendable (SimCluster) -> Void = { $0.faults.latencyMilliseconds = 2500 }, enforced: Bool = false,
        during: @escaping @Sendable (SimCluster) async throws -> Void
    ) async throws -> (a: Quantity, b: Quantity, after: Duration)? {
        let options = {
            var options = TestServer.fastReconciler
            options.requestTimeout = .seconds(6)
            return options
        }()
        return try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            return try await TestServer.with(reconciler: options) { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"], slow = (1...5).map { "shop-a\($0)" }
                try await QuotaTests.project(server, admin, ["name": "shop", "caps": ["cpu": "10"], "placements": [["cluster": "onprem", "namespaces": slow]]])
                let onprem = try #require(sim.sim.clusters["onprem"]), cloud = try #require(sim.sim.clusters["cloud"])
                let quotas = try #require(ResourceType.find(group: "", version: "v1", resource: "resourcequotas"))
                @Sendable func hardCPU(_ quota: JSON?) -> Quantity {
                    (quota?[enforced ? "status" : "spec"]?["hard"]?["requests.cpu"]?.stringValue).flatMap { try? Quantity(parsing: $0) } ?? .zero
                }
                @Sendable func slowCPU() -> Quantity {
                    slow.reduce(.zero) { $0 + hardCPU(try? onprem.get(quotas, namespace: $1, name: "canopy-quota")) }
                }
                try await eventually(within: 60, "the slow namespaces hold the whole cap") {
                    slow.allSatisfy { hardCPU(try? onprem.get(quotas, namespace: $0, name: "canopy-quota")) > .zero } && slowCPU() == Quantity(10)
                }

                // A pass on onprem (list everything, then write five quotas one after another)
                // now takes 15 s, longer than the 12 s a confirmation waits; each request stays
                // well within the 6 s a request may take.
                slowDown(onprem)
                defer {
                    onprem.faults = Faults()
                    onprem.quotaControllerDelay = 0
                }
                let events = try cloud.watch(quotas, namespace: "shop-b", selector: LabelSelector(), after: cloud.revision)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/shop/namespaces", token: admin, json: [
                    "cluster": "cloud", "name": "shop-b",
                ]), 201)
                let posted = ContinuousClock.now
                return try await withThrowingTaskGroup(of: (a: Quantity, b: Quantity, after: Duration)?.self) { group in
                    group.addTask {
                        for await event in events {
                            let b = hardCPU(event.object)
                            if b > .zero { return (slowCPU(), b, ContinuousClock.now - posted) }
                        }
                        return nil
                    }
                    group.addTask {
                        try await during(onprem)
                        try await Task.sleep(for: .seconds(120))
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await group.next() ?? nil
                }
            }
        }
    }

    /// The lowering pass on the slow cluster takes longer than one confirmation wait. (The
    /// re-plan after that wait used to write the raise without waiting any more.)
    @Test func aRaiseWaitsForTheLoweringOnASlowCluster() async throws {
        let limits = try #require(try await Self.moveTheShare { _ in }, "shop-b's quota was not raised within 120 s")
        #expect(limits.a + limits.b <= Quantity(10), "shop-b was raised to \(limits.b) while the others still held \(limits.a), past the cap of 10")
        #expect(limits.a < Quantity(10), "shop-b was raised before the others were lowered")
    }

    /// The slow cluster goes away for 8 s in the middle of its lowering pass: the planner
    /// holds its limits frozen at the higher of what it asked and what it saw, so nothing is
    /// raised past the cap meanwhile, and the share moves once it is back.
    @Test func aClusterGoingAwayMidLoweringNeverLetsARaisePastTheCap() async throws {
        let limits = try #require(try await Self.moveTheShare { onprem in
            try await Task.sleep(for: .seconds(2))
            onprem.makeUnreachable(for: 8)
            // Fast again once back: what is checked is the order, not the slowness.
            onprem.faults.latencyMilliseconds = 0
        }, "shop-b's quota was not raised within 120 s")
        #expect(limits.a + limits.b <= Quantity(10), "shop-b was raised to \(limits.b) while the others still held \(limits.a), past the cap of 10")
        // Its return is news: the share moves at once, not at the next full re-plan (60 s).
        #expect(limits.after < .seconds(45), "shop-b was raised \(limits.after) after it was made")
    }

    /// On a real cluster a lowered limit is enforced only once the cluster's quota controller
    /// takes it up (about a second after the write; here 3 s on onprem): the raise on cloud
    /// waits for that, not only for the write, so the limits in force never pass the cap.
    @Test func aRaiseWaitsUntilTheLoweringIsInForce() async throws {
        let limits = try #require(try await Self.moveTheShare(slowDown: { $0.quotaControllerDelay = 3 }, enforced: true) { _ in },
                                  "shop-b's quota was not raised within 120 s")
        #expect(limits.a + limits.b <= Quantity(10), "shop-b's enforced limit rose to \(limits.b) while the others still enforced \(limits.a), past the cap of 10")
        #expect(limits.a < Quantity(10), "shop-b's limit was enforced before the others' lowering")
    }
}
