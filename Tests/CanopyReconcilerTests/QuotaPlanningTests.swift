import CanopyModel
@testable import CanopyReconciler
import Foundation
import KubeAPI
import Testing

/// The reconciler's side of quota planning, as plain values: demand, refusals, the two-step
/// order, and which planned limits are written.
@Suite struct QuotaPlanningTests {
    let cluster = ClusterID("c")
    let cpu = QuotaResource.cpu

    @Test func aRefusalMessageGivesTheRequestedAmounts() {
        let message = #"{"kind":"Status","message":"pods \"x\" is forbidden: exceeded quota: canopy-quota, requested: requests.cpu=1500m,requests.memory=1Gi, used: requests.cpu=0, limited: requests.cpu=1"}"#
        #expect(Reconciler.requestedAmounts(in: message) == [cpu: 1_500, QuotaResource.memory: 1 << 30])
        #expect(Reconciler.requestedAmounts(in: "pods \"x\" is forbidden: User cannot create").isEmpty)
    }

    /// Only Canopy's own quota's refusals are demand: another quota in the namespace (added by
    /// the cluster's administrator or a policy engine) would refuse the pod however large
    /// Canopy's grew.
    @Test func onlyCanopysQuotaRefusalsAreDemand() {
        #expect(Reconciler.refusedByCanopyQuota(#"pods "x" is forbidden: exceeded quota: canopy-quota, requested: requests.cpu=3, used: requests.cpu=1, limited: requests.cpu=2"#))
        #expect(Reconciler.refusedByCanopyQuota(#"Error creating: pods "web-7d9f8c6b5-" is forbidden: exceeded quota: canopy-quota, requested: requests.cpu=3, used: requests.cpu=0, limited: requests.cpu=2"#))
        #expect(!Reconciler.refusedByCanopyQuota(#"pods "x" is forbidden: exceeded quota: team-limit, requested: requests.cpu=3, used: requests.cpu=1, limited: requests.cpu=2"#))
        #expect(!Reconciler.refusedByCanopyQuota(#"pods "x" is forbidden: exceeded quota: canopy-quota-extra, requested: requests.cpu=3, used: requests.cpu=1, limited: requests.cpu=2"#))
        #expect(!Reconciler.refusedByCanopyQuota(#"pods "x" is forbidden: failed quota: canopy-quota: must specify requests.cpu for: c"#))
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

    /// One project capped at `cap` on one cluster of `capacity`, with namespaces of these usages
    /// and demands (millicores).
    func tree(capacity: Int64 = 64_000, cap: Int64? = 8_000, _ namespaces: [(String, used: Int64, demand: Int64)]) -> PlanTree {
        PlanTree(capacity: ["c": [cpu: capacity]], projects: [
            PlanTree.Project(id: "p", caps: cap.map { [cpu: $0] } ?? [:], placements: [
                PlanTree.Placement(cluster: "c", namespaces: namespaces.map { PlanTree.Namespace(name: $0.0, used: [cpu: $0.used], demand: [cpu: $0.demand]) }),
            ]),
        ])
    }

    func limits(_ values: [String: Int64]) -> Reconciler.Targets { [cluster: values.mapValues { [cpu: $0] }] }

    /// Pods starting and ending within the room a namespace has write nothing, though each moves
    /// the planned split (under churn every pod event cost a lowered and a raised quota).
    @Test func usageMovingWithinItsRoomWritesNothing() {
        let tree = tree([("a", used: 1_000, demand: 500), ("b", used: 500, demand: 0)])
        let current = limits(["a": 4_000, "b": 4_000])
        let kept = Reconciler.keepingComfortableLimits(limits(["a": 4_300, "b": 3_700]), current: current, trees: [(tree, [])])
        #expect(kept == current)
    }

    /// A refused pod's namespace gets its raise, and the other is lowered for it, as planned.
    @Test func aRefusedPodsRaiseLowersTheOtherUnderTheCap() {
        let tree = tree([("a", used: 3_900, demand: 600), ("b", used: 500, demand: 0)])
        let next = limits(["a": 4_600, "b": 3_400])
        #expect(Reconciler.keepingComfortableLimits(next, current: limits(["a": 4_000, "b": 4_000]), trees: [(tree, [])]) == next)
    }

    /// A small raise waits while the namespace has half the room the plan would give it, not
    /// after; a large one (a node joined, a cap raised) does not wait.
    @Test func aSmallRaiseWaitsOnlyWhileTheNamespaceHasHalfItsPlannedRoom() {
        let current = limits(["a": 4_000, "b": 4_000])
        let roomy = tree(cap: 12_000, [("a", used: 1_000, demand: 0), ("b", used: 0, demand: 0)])
        let next = limits(["a": 5_000, "b": 5_000])
        #expect(Reconciler.keepingComfortableLimits(next, current: current, trees: [(roomy, [])]) == current)
        let tight = tree(cap: 12_000, [("a", used: 3_500, demand: 0), ("b", used: 0, demand: 0)])
        #expect(Reconciler.keepingComfortableLimits(next, current: current, trees: [(tight, [])]) == limits(["a": 5_000, "b": 4_000]))
        let large = limits(["a": 6_000, "b": 6_000])
        #expect(Reconciler.keepingComfortableLimits(large, current: current, trees: [(roomy, [])]) == large)
        // A large lowering is written too, with room to spare (capacity gone, say).
        #expect(Reconciler.keepingComfortableLimits(limits(["a": 2_000, "b": 2_000]), current: current, trees: [(roomy, [])]) == limits(["a": 2_000, "b": 2_000]))
    }

    /// A resource one project caps (`pods`) and the others' many namespaces leave unbounded: the
    /// capped project's limits are kept as for any resource, the others' sums saturate (they
    /// overflowed and trapped with four or more unbounded namespaces).
    @Test func namespacesNothingBoundsAreCountedAsUnbounded() {
        let pods = "pods"
        var projects = [PlanTree.Project(id: "capped", caps: [pods: 20], placements: [
            PlanTree.Placement(cluster: "c", namespaces: [PlanTree.Namespace(name: "a", used: [pods: 2]), PlanTree.Namespace(name: "b", used: [pods: 1])]),
        ])]
        var next: Reconciler.Targets = [cluster: ["a": [cpu: 1_000, pods: 11], "b": [cpu: 1_000, pods: 9]]]
        var current: Reconciler.Targets = [cluster: ["a": [cpu: 1_000, pods: 10], "b": [cpu: 1_000, pods: 10]]]
        for index in 0..<10 {
            projects.append(PlanTree.Project(id: "free-\(index)", placements: [PlanTree.Placement(cluster: "c", namespaces: [PlanTree.Namespace(name: "f\(index)")])]))
            next[cluster]?["f\(index)"] = [cpu: 1_000]
            current[cluster]?["f\(index)"] = [cpu: 1_000]
        }
        let tree = PlanTree(capacity: ["c": [cpu: 64_000]], projects: projects)
        let kept = Reconciler.keepingComfortableLimits(next, current: current, trees: [(tree, [])])
        #expect(kept[cluster]?["a"]?[pods] == 10 && kept[cluster]?["b"]?[pods] == 10)
        #expect(kept[cluster]?["f3"] == [cpu: 1_000])
        // Limits near Int64's end (edited in a cluster: quantities are clamped to it) do not trap.
        let huge = Int64.max - 10
        let edited = Reconciler.keepingComfortableLimits(
            [cluster: ["a": [cpu: 1_000, pods: huge], "b": [cpu: 1_000, pods: huge]]],
            current: [cluster: ["a": [cpu: 1_000, pods: Int64.max], "b": [cpu: 1_000, pods: huge - 5]]], trees: [(tree, [])]
        )
        #expect(edited[cluster]?["a"]?[pods] == huge, "kept above the plan over the cap of 20: the plan's")
        #expect(edited[cluster]?["b"]?[pods] == huge - 5, "kept below the plan")
    }

    /// A lowered cap, or a new namespace on a full cluster, lowers the kept limits to the plan.
    @Test func keptLimitsNeverPassABoundThePlanKeeps() {
        let lowered = tree(cap: 6_000, [("a", used: 100, demand: 0), ("b", used: 100, demand: 0)])
        let next = limits(["a": 3_000, "b": 3_000])
        #expect(Reconciler.keepingComfortableLimits(next, current: limits(["a": 4_000, "b": 4_000]), trees: [(lowered, [])]) == next)
        // No cap: the cluster's capacity bounds them; a new namespace takes its share.
        let full = tree(capacity: 8_000, cap: nil, [("a", used: 100, demand: 0), ("b", used: 100, demand: 0), ("c", used: 0, demand: 0)])
        let shared = limits(["a": 3_300, "b": 3_300, "c": 1_400])
        #expect(Reconciler.keepingComfortableLimits(shared, current: limits(["a": 4_000, "b": 4_000]), trees: [(full, [])]) == shared)
        // With room on the cluster, the others keep theirs.
        let roomy = tree(capacity: 16_000, cap: nil, [("a", used: 100, demand: 0), ("b", used: 100, demand: 0), ("c", used: 0, demand: 0)])
        #expect(Reconciler.keepingComfortableLimits(shared, current: limits(["a": 4_000, "b": 4_000]), trees: [(roomy, [])]) == limits(["a": 4_000, "b": 4_000, "c": 1_400]))
        // A namespace over its limit (lowered below its usage) is not kept either.
        let over = tree([("a", used: 5_000, demand: 0), ("b", used: 0, demand: 0)])
        #expect(Reconciler.keepingComfortableLimits(limits(["a": 5_000, "b": 3_000]), current: limits(["a": 4_000, "b": 3_000]), trees: [(over, [])]) == limits(["a": 5_000, "b": 3_000]))
    }
}
