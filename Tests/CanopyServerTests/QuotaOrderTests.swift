import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// The order of quota writes across clusters: a limit is raised only once every limit lowered
/// to make room for it is written, however slow the cluster holding that one is.
@Suite struct QuotaOrderTests {
    /// A project capped at 6 CPUs holds them all in three namespaces on a slow cluster, then
    /// gets a fourth on a fast one. The share moves, and the moment `shop-b`'s limit rises, the
    /// other three are already down: the limits in the clusters never add up past the cap.
    /// (The lowering pass on the slow cluster takes longer than one confirmation wait; the
    /// re-plan after that wait used to write the raise without waiting any more.)
    @Test func aRaiseWaitsForTheLoweringOnASlowCluster() async throws {
        let options = {
            var options = TestServer.fastReconciler
            options.requestTimeout = .seconds(3)
            return options
        }()
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(reconciler: options) { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"], slow = ["shop-a1", "shop-a2", "shop-a3"]
                try await QuotaTests.project(server, admin, ["name": "shop", "caps": ["cpu": "6"], "placements": [["cluster": "onprem", "namespaces": slow]]])
                let onprem = try #require(sim.sim.clusters["onprem"]), cloud = try #require(sim.sim.clusters["cloud"])
                let quotas = try #require(ResourceType.find(group: "", version: "v1", resource: "resourcequotas"))
                @Sendable func hardCPU(_ cluster: SimCluster, _ namespace: String) -> Quantity {
                    let quota = try? cluster.get(quotas, namespace: namespace, name: "canopy-quota")
                    return (quota?["spec"]?["hard"]?["requests.cpu"]?.stringValue).flatMap { try? Quantity(parsing: $0) } ?? .zero
                }
                @Sendable func slowCPU() -> Quantity { slow.reduce(.zero) { $0 + hardCPU(onprem, $1) } }
                try await eventually(within: 30, "the slow namespaces hold the whole cap") {
                    slow.allSatisfy { hardCPU(onprem, $0) > .zero } && slowCPU() == Quantity(6)
                }

                // Each request to onprem now takes 2.5 s: a pass there (list everything, then write
                // three quotas one after another) takes longer than the 6 s a confirmation waits.
                onprem.faults.latencyMilliseconds = 2500
                let events = try cloud.watch(quotas, namespace: "shop-b", selector: LabelSelector(), after: cloud.revision)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/shop/namespaces", token: admin, json: [
                    "cluster": "cloud", "name": "shop-b",
                ]), 201)
                let raised = try await withThrowingTaskGroup(of: (a: Quantity, b: Quantity)?.self) { group in
                    group.addTask {
                        for await event in events {
                            let b = (event.object["spec"]?["hard"]?["requests.cpu"]?.stringValue).flatMap { try? Quantity(parsing: $0) } ?? .zero
                            // Read at once, in the simulator itself: what onprem holds when cloud's raise lands.
                            if b > .zero { return (slowCPU(), b) }
                        }
                        return nil
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(90))
                        return nil
                    }
                    defer { group.cancelAll() }
                    return try await group.next() ?? nil
                }
                onprem.faults.latencyMilliseconds = 0
                let limits = try #require(raised, "shop-b's quota was not raised within 90 s")
                #expect(limits.a + limits.b <= Quantity(6), "shop-b was raised to \(limits.b) while the others still held \(limits.a), past the cap of 6")
                #expect(limits.a < Quantity(6), "shop-b was raised before the others were lowered")
            }
        }
    }
}
