import CanopyModel
@testable import CanopyReconciler
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// Cleaning a cluster up is done only when it was: a pass that held its writes back because the
/// replica stopped leading while it ran has not removed anything, and is not reported as done
/// (the cluster would be forgotten with Canopy's namespaces still in it).
@Suite(.serialized) struct ReleaseLeadTests {
    @Test func aReleaseWhosePassHeldItsWritesBackIsNotDone() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let onprem = try #require(sim.sim.clusters["onprem"])
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            try await RunningReconciler.with(sim, feed: feed) { running in
                let client = try adminClient(sim, "onprem")
                try await eventually(within: 10, "set up") { running.reconciler.namespaceStatus("mkt-dev", on: ClusterID("onprem")) == .ready }
                _ = try await running.reconciler.converge(ClusterID("onprem"), timeout: .seconds(5))
                // Every request takes 300 ms: the release's pass lists for that long, and the
                // replica stops leading meanwhile, before the pass would delete the namespace.
                onprem.faults.latencyMilliseconds = 300
                let before = onprem.writes
                let release = Task { try await running.reconciler.release(ClusterID("onprem"), timeout: .seconds(10)) }
                try await Task.sleep(for: .milliseconds(100))
                running.reconciler.setLeading(false)
                let result = await release.result
                running.reconciler.setLeading(true)
                switch result {
                case .success(let outcome):
                    Issue.record("a release that wrote nothing was reported done: \(outcome.writes) writes")
                case .failure(let error):
                    #expect((error as? KubeError)?.message == Reconciler.follows, "\(error)")
                }
                #expect(onprem.writes == before)
                onprem.faults.latencyMilliseconds = 0
                // Leading again, a release goes through and removes the namespace.
                let outcome = try await running.reconciler.release(ClusterID("onprem"), timeout: .seconds(10))
                #expect(outcome.writes > 0)
                let namespace = try? await client.get(Namespace.self, "mkt-dev")
                #expect(namespace == nil || namespace?.metadata.deletionTimestamp != nil)
            }
        }
    }
}
