import CanopyModel

/// Which planned limits are written: a namespace keeps its current limit while that still serves
/// it, so that usage moving within the room it has writes nothing.
///
/// The planner splits what a cap or a cluster leaves over all of its namespaces by usage and
/// recent growth, so each pod that starts or ends moves the split a little: written as planned,
/// every pod event under churn cost a lowered and a raised quota (1,012 writes a minute for one
/// project in `canopy bench --quota`), load on the API server for nothing that a pod needed.
extension Reconciler {
    /// A planned limit within this share of the current one (a quarter) is a small move: one
    /// that a pod starting or ending makes. A larger one (a node joining or leaving, a cap or a
    /// reservation changed) is written as planned.
    static let smallMoveDivisor: Int64 = 4

    /// Per namespace and resource of the re-planned tenants (`trees`, with their clusters that
    /// cannot be written now), the current limit instead of the planned one when the plan moves
    /// it by a small move only, and
    /// - lowers it (more room than planned serves the namespace), or
    /// - raises it while the namespace is comfortable: what it uses plus its demand (recent
    ///   growth, refused requests) fits, and it has at least half the room the plan would give it;
    ///
    /// and then the planned limit after all, for every kept limit above the planned one under a
    /// bound that the kept limits would pass — the cluster's capacity, the tenant's cap, the
    /// project's, the placement's — so that the result keeps every bound the plan keeps: under
    /// such a bound every limit is then at or below the planned one, elsewhere no bound is
    /// passed. Another namespace's raise, a new namespace, a lowered cap or a new reservation thus
    /// still lower the others, as planned. A limit missing on either side (a new namespace, a
    /// resource newly bounded or no longer) is the planned one.
    static func keepingComfortableLimits(_ next: Targets, current: Targets, trees: [(tree: PlanTree, frozen: Set<ClusterID>)]) -> Targets {
        var result = next
        for (tree, frozen) in trees {
            for resource in tree.resources {
                keepComfortable(resource, of: tree, frozen: frozen, next: next, current: current, into: &result)
            }
        }
        return result
    }

    /// `keepingComfortableLimits` for one tenant and resource.
    private static func keepComfortable(
        _ resource: String, of tree: PlanTree, frozen: Set<ClusterID>, next: Targets, current: Targets, into result: inout Targets
    ) {
        struct Entry {
            let cluster: ClusterID, name: String, project: Int, placement: Int
            let planned: Int64?
            var chosen: Int64?
            var kept: Bool
        }
        var entries: [Entry] = []
        for (p, project) in tree.projects.enumerated() {
            for (l, placement) in project.placements.enumerated() {
                let cluster = ClusterID(placement.cluster)
                for namespace in placement.namespaces {
                    let planned = next[cluster]?[namespace.name]?[resource]
                    var entry = Entry(cluster: cluster, name: namespace.name, project: p, placement: l, planned: planned, chosen: planned, kept: false)
                    if !frozen.contains(cluster), let planned, let held = current[cluster]?[namespace.name]?[resource] {
                        let used = namespace.used[resource] ?? 0, demand = namespace.demand[resource] ?? 0
                        // Amounts are never negative, so no difference overflows; "half the
                        // planned room" (2·room ≥ planned − used) is written without a product
                        // (a limit edited in a cluster can be near Int64's end).
                        let room = held - used
                        let small = abs(planned - held) <= held / smallMoveDivisor
                        let comfortable = small && room >= 0 && (planned <= held || (room >= demand && room >= planned - held))
                        if comfortable && held != planned { (entry.chosen, entry.kept) = (held, true) }
                    }
                    entries.append(entry)
                }
            }
        }
        guard entries.contains(where: \.kept) else { return }
        // The bounds, and what the chosen limits add up to under each.
        let bounded = resource == QuotaResource.cpu || resource == QuotaResource.memory
        var clusterSum: [ClusterID: Int64] = [:], projectSum = Array(repeating: Int64(0), count: tree.projects.count)
        var placementSum: [[Int64]] = tree.projects.map { Array(repeating: 0, count: $0.placements.count) }
        var tenantSum: Int64 = 0
        // A namespace nothing bounds counts as unbounded: any bound over it is passed whatever
        // the rest (sums saturate, however many there are).
        func add(_ sum: inout Int64, _ amount: Int64?) {
            guard let amount else { return sum = Int64.max }
            let (total, overflow) = sum.addingReportingOverflow(amount)
            sum = overflow ? Int64.max : total
        }
        for entry in entries {
            add(&clusterSum[entry.cluster, default: 0], entry.chosen)
            add(&projectSum[entry.project], entry.chosen)
            add(&placementSum[entry.project][entry.placement], entry.chosen)
            add(&tenantSum, entry.chosen)
        }
        let tenantOver = tree.caps[resource].map { tenantSum > $0 } ?? false
        func over(_ entry: Entry) -> Bool {
            let project = tree.projects[entry.project], placement = project.placements[entry.placement]
            let capacity = tree.capacity[entry.cluster.rawValue]?[resource] ?? (bounded ? 0 : nil)
            return tenantOver
                || capacity.map { clusterSum[entry.cluster, default: 0] > $0 } ?? false
                || project.caps[resource].map { projectSum[entry.project] > $0 } ?? false
                || placement.caps[resource].map { placementSum[entry.project][entry.placement] > $0 } ?? false
        }
        for entry in entries where entry.kept {
            // Kept at or below the plan, it passes no bound the plan keeps.
            if let planned = entry.planned, let chosen = entry.chosen, chosen > planned, over(entry) { continue }
            result[entry.cluster, default: [:]][entry.name, default: [:]][resource] = entry.chosen
        }
    }
}
