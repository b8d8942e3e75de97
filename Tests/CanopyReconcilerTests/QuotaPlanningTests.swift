import CanopyModel
@testable import CanopyReconciler
import Foundation
import KubeAPI
import Testing

/// The reconciler's side of quota planning, as plain values: demand, refusals, the two-step
/// order and hysteresis.
@Suite struct QuotaPlanningTests {
    let cluster = ClusterID("c")
    let cpu = QuotaResource.cpu

    @Test func aRefusalMessageGivesTheRequestedAmounts() {
        let message = #"{"kind":"Status","message":"pods \"x\" is forbidden: exceeded quota: canopy-quota, requested: requests.cpu=1500m,requests.memory=1Gi, used: requests.cpu=0, limited: requests.cpu=1"}"#
        #expect(Reconciler.requestedAmounts(in: message) == [cpu: 1_500, QuotaResource.memory: 1 << 30])
        #expect(Reconciler.requestedAmounts(in: "pods \"x\" is forbidden: User cannot create").isEmpty)
    }

    @Test func demandIsRecentGrowthPlusRefusalsNotYetServed() {
        var tracker = DemandTracker()
        let start = ContinuousClock.now
        tracker.record(used: 1_000, of: cpu, in: "a", on: cluster, at: start)
        tracker.record(used: 3_000, of: cpu, in: "a", on: cluster, at: start + .seconds(1))
        #expect(tracker.demand(of: "a", on: cluster, at: start + .seconds(1))[cpu] == 2_000)
        tracker.record(refused: 500, of: cpu, in: "a", on: cluster, at: start + .seconds(2))
        #expect(tracker.demand(of: "a", on: cluster, at: start + .seconds(2))[cpu] == 2_500)
        // The refused pod got in: its refusal no longer asks for room (its growth still counts).
        tracker.record(used: 3_500, of: cpu, in: "a", on: cluster, at: start + .seconds(3))
        #expect(tracker.demand(of: "a", on: cluster, at: start + .seconds(3))[cpu] == 2_500)
        // Outside the window nothing is left but the latest usage.
        #expect(tracker.demand(of: "a", on: cluster, at: start + .seconds(120))[cpu] == nil)
        #expect(tracker.demand(of: "b", on: cluster, at: start).isEmpty)
    }

    @Test func theFirstStepOnlyLowersAndANewNamespaceStartsAtZero() {
        let current: Reconciler.Targets = [cluster: ["a": [cpu: 4_000], "b": [cpu: 4_000]]]
        let next: Reconciler.Targets = [cluster: ["a": [cpu: 6_000], "b": [cpu: 1_000], "c": [cpu: 1_000]]]
        let lowered = Reconciler.lowest(current, next)
        #expect(lowered[cluster]?["a"] == [cpu: 4_000])
        #expect(lowered[cluster]?["b"] == [cpu: 1_000])
        // A new namespace stays unsized (rendered with zero limits) until the raise.
        #expect(lowered[cluster]?["c"] == nil)
        #expect(lowered[cluster]?.keys.sorted() == ["a", "b"])
        #expect(Renderer.quota(lowered[cluster]?["c"]) == [QuotaResource.cpu: .zero, QuotaResource.memory: .zero])
    }

    /// What the clusters show counts as a limit in force (after a restart), but a quota still
    /// unsized there does not: its namespace stays unsized through the first step instead of
    /// being sized at zero (which would make it `Ready` with a quota that admits nothing).
    @Test func anUnsizedQuotaSeenInAClusterStaysUnsizedThroughTheFirstStep() {
        var ledger = QuotaLedger()
        _ = ledger.observe(ResourceQuota(metadata: ObjectMeta(name: "canopy-quota", namespace: "new"), hard: Renderer.quota(nil)), on: cluster, at: .now)
        _ = ledger.observe(ResourceQuota(metadata: ObjectMeta(name: "canopy-quota", namespace: "old"), hard: [cpu: Quantity(2)]), on: cluster, at: .now)
        _ = ledger.observe(ResourceQuota(metadata: ObjectMeta(name: "canopy-quota", namespace: "shut"), hard: [cpu: .zero]), on: cluster, at: .now)
        #expect(ledger.effectiveTargets[cluster]?["new"] == nil)
        #expect(ledger.effectiveTargets[cluster]?["old"] == [cpu: 2_000])
        // A limit the planner set to zero is a limit.
        #expect(ledger.effectiveTargets[cluster]?["shut"] == [cpu: 0])
        let lowered = Reconciler.lowest(ledger.effectiveTargets, [cluster: ["new": [cpu: 1_000], "old": [cpu: 1_000], "shut": [cpu: 1_000]]])
        #expect(lowered[cluster]?["new"] == nil)
        #expect(lowered[cluster]?["old"] == [cpu: 1_000])
        #expect(lowered[cluster]?["shut"] == [cpu: 0])
    }

    /// Only a lowered limit waits for its cluster's confirmation before the raises.
    @Test func onlyALimitReallyLoweredNeedsConfirming() {
        #expect(Reconciler.lowers([cpu: 1_000], below: [cpu: 2_000]))
        #expect(!Reconciler.lowers([cpu: 2_000], below: [cpu: 2_000]))
        #expect(!Reconciler.lowers([cpu: 3_000], below: [cpu: 2_000]))
        // A resource newly bounded is lowered from unbounded; none before (a restart) counts too.
        #expect(Reconciler.lowers([cpu: 3_000, "pods": 10], below: [cpu: 2_000]))
        #expect(Reconciler.lowers([cpu: 3_000], below: nil))
    }

    @Test func smallRaisesWaitUnlessTheNamespaceIsNearItsLimit() {
        var ledger = QuotaLedger()
        let current: Reconciler.Targets = [cluster: ["idle": [cpu: 10_000], "busy": [cpu: 10_000]]]
        let next: Reconciler.Targets = [cluster: ["idle": [cpu: 10_100], "busy": [cpu: 10_100]]]
        let usage = ResourceQuota(metadata: ObjectMeta(name: "canopy-quota", namespace: "busy"), hard: [cpu: Quantity(10)])
        var busy = usage
        busy.status = .init(used: [cpu: Quantity(milli: 9_950)])
        _ = ledger.observe(busy, on: cluster, at: .now)
        let kept = Reconciler.withHysteresis(next, current: current, observed: ledger)
        #expect(kept[cluster]?["idle"] == [cpu: 10_000])
        #expect(kept[cluster]?["busy"] == [cpu: 10_100])
        // Lowering is never held back.
        let lower = Reconciler.withHysteresis([cluster: ["idle": [cpu: 9_990]]], current: current, observed: ledger)
        #expect(lower[cluster]?["idle"] == [cpu: 9_990])
    }
}
