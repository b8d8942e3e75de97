/// Turns capacities, reservations, caps, usage and demand into a hard limit for every project
/// namespace of a tenant: a pure, deterministic function (same tree, same plan).
///
/// Per resource, placements (a project on a cluster) receive amounts in four rounds, each amount
/// bounded by what is still free in every enclosing limit — the cluster's capacity, the tenant's
/// cap, the project's cap and the placement's cap — so that by construction:
/// - on each cluster Σ hard ≤ capacity, per project Σ hard ≤ its caps (global and per cluster),
///   per tenant Σ hard ≤ the tenant's cap;
/// 1. pinned limits (clusters that cannot be written now) are counted first, as they stand;
/// 2. every placement gets its reservation, whatever the others use: a project below its
///    reservation can always grow to it;
/// 3. every placement gets its current usage, where the limits allow (hard ≥ used);
/// 4. what is left goes first where demand is (recent growth and refused requests), one
///    placement at a time, smallest demand first (half of a refused pod's room serves nobody),
///    and the rest evenly, so that nothing sits idle in a static split.
/// A placement's total is then split over its namespaces the same way: usage, demand, even rest.
/// Granting demand one at a time instead of in proportion is what lets a refused pod fit after
/// one re-plan.
public enum SharePlanner {
    /// Plans every resource of `tree`.
    public static func plan(_ tree: PlanTree) -> Plan {
        let resources = tree.resources
        let layout = Layout(tree, resources: resources)
        let results = resources.indices.map { r in
            var planner = ResourcePlan(layout: layout, tree: tree, resource: r, name: resources[r])
            return planner.run()
        }
        // One table per figure, row by row (namespace or placement), a column per resource.
        let count = resources.count
        var hard = Array(repeating: Int64.max, count: layout.namespaceNames.count * count)
        var given = Array(repeating: Int64.max, count: layout.slotKeys.count * count)
        var reserved = given
        for r in resources.indices {
            for n in layout.namespaceNames.indices { hard[n * count + r] = results[r].namespaceHard[n] }
            for s in layout.slotKeys.indices where results[r].given[s] != Amount.unbounded {
                given[s * count + r] = results[r].given[s]
                reserved[s * count + r] = results[r].reserved[s]
            }
        }
        var plan = Plan()
        plan.hard.reserveCapacity(layout.namespaceNames.count)
        for (n, name) in layout.namespaceNames.enumerated() {
            let row = hard[(n * count)..<((n + 1) * count)]
            guard row.contains(where: { $0 != Int64.max }) else { continue }
            plan.hard[NamespaceKey(cluster: layout.clusters[layout.namespaceCluster[n]], name: name)] = Amounts(names: resources, values: row)
        }
        plan.placementHard.reserveCapacity(layout.slotKeys.count)
        plan.reserved.reserveCapacity(layout.slotKeys.count)
        for (s, key) in layout.slotKeys.enumerated() {
            plan.placementHard[key] = Amounts(names: resources, values: given[(s * count)..<((s + 1) * count)])
            plan.reserved[key] = Amounts(names: resources, values: reserved[(s * count)..<((s + 1) * count)])
        }
        for (c, cluster) in layout.clusters.enumerated() where layout.clusterUsed[c] {
            for (r, resource) in resources.enumerated() where results[r].clusterRoom[c] != Amount.unbounded {
                plan.unallocated[cluster, default: [:]][resource] = max(0, results[r].clusterRoom[c])
            }
        }
        return plan
    }
}

/// The tree flattened once for all resources: placements (slots) in project-id then cluster
/// order, their namespaces by name, clusters and projects as indices.
struct Layout {
    var clusters: [String] = []
    var clusterUsed: [Bool] = []
    var projectCount = 0
    var slotKeys: [PlacementKey] = []
    var slotCluster: [Int] = []
    var slotProject: [Int] = []
    /// Per slot: its index in `tree.projects` and in that project's placements.
    var slotSource: [(project: Int, placement: Int)] = []
    /// Per slot: where its namespaces start in the namespace arrays (and `slotNamespaceEnd`).
    var slotNamespaceStart: [Int] = []
    var slotNamespaceEnd: [Int] = []
    var namespaceNames: [String] = []
    var namespaceCluster: [Int] = []
    /// Per namespace and resource (row-major, a column per resource): usage, demand, and the
    /// pinned limit (`nil` rows: not pinned).
    var resourceCount = 0
    var namespaceUsed: [Int64] = []
    var namespaceDemand: [Int64] = []
    var namespacePinned: [Int64] = []
    var namespaceIsPinned: [Bool] = []

    init(_ tree: PlanTree, resources: [String]) {
        resourceCount = resources.count
        /// Reads a figure map into a row: names matched by equality (resource names are short
        /// strings, compared without hashing).
        func fill(_ row: inout [Int64], _ map: [String: Int64]) {
            let start = row.count - resources.count
            for (name, value) in map {
                // Int64's end means "unbounded" to the planner: a figure clamped there by a
                // cluster reporting a huge amount is the largest bounded one instead.
                if let r = resources.firstIndex(of: name) { row[start + r] = min(max(0, value), Amount.unbounded - 1) }
            }
        }
        clusters = Set(tree.projects.flatMap { $0.placements.map(\.cluster) }).union(tree.capacity.keys).sorted()
        let clusterIndex = Dictionary(uniqueKeysWithValues: clusters.enumerated().map { ($1, $0) })
        clusterUsed = Array(repeating: false, count: clusters.count)
        projectCount = tree.projects.count
        let slots = tree.projects.reduce(0) { $0 + $1.placements.count }
        let namespaces = tree.projects.reduce(0) { $0 + $1.placements.reduce(0) { $0 + $1.namespaces.count } }
        slotKeys.reserveCapacity(slots)
        slotCluster.reserveCapacity(slots)
        slotProject.reserveCapacity(slots)
        slotSource.reserveCapacity(slots)
        slotNamespaceStart.reserveCapacity(slots)
        slotNamespaceEnd.reserveCapacity(slots)
        namespaceNames.reserveCapacity(namespaces)
        namespaceCluster.reserveCapacity(namespaces)
        namespaceIsPinned.reserveCapacity(namespaces)
        for table in [\Layout.namespaceUsed, \Layout.namespaceDemand, \Layout.namespacePinned] {
            self[keyPath: table].reserveCapacity(namespaces * resources.count)
        }
        for (p, project) in tree.projects.enumerated().sorted(by: { $0.element.id < $1.element.id }) {
            for (l, placement) in project.placements.enumerated().sorted(by: { $0.element.cluster < $1.element.cluster }) {
                let cluster = clusterIndex[placement.cluster] ?? 0
                clusterUsed[cluster] = true
                slotKeys.append(PlacementKey(project: project.id, cluster: placement.cluster))
                slotCluster.append(cluster)
                slotProject.append(p)
                slotSource.append((p, l))
                slotNamespaceStart.append(namespaceNames.count)
                // Usually in name order already (the snapshot keeps them so): then nothing is sorted.
                let namespaces = placement.namespaces
                var order = Array(namespaces.indices)
                if zip(namespaces, namespaces.dropFirst()).contains(where: { $0.name > $1.name }) {
                    order.sort { namespaces[$0].name < namespaces[$1].name }
                }
                for index in order {
                    namespaceNames.append(namespaces[index].name)
                    namespaceCluster.append(cluster)
                    namespaceUsed.append(contentsOf: repeatElement(0, count: resources.count))
                    fill(&namespaceUsed, namespaces[index].used)
                    namespaceDemand.append(contentsOf: repeatElement(0, count: resources.count))
                    fill(&namespaceDemand, namespaces[index].demand)
                    namespacePinned.append(contentsOf: repeatElement(0, count: resources.count))
                    if let pinned = namespaces[index].pinned { fill(&namespacePinned, pinned) }
                    namespaceIsPinned.append(namespaces[index].pinned != nil)
                }
                slotNamespaceEnd.append(namespaceNames.count)
            }
        }
    }
}

/// Saturating arithmetic where `Int64.max` stands for "no bound".
enum Amount {
    static let unbounded = Int64.max

    static func minus(_ value: Int64, _ amount: Int64) -> Int64 {
        value == unbounded ? unbounded : value.subtractingSaturating(amount)
    }

    /// Unbounded when either is; a sum past the range is the largest bounded amount (a sum of
    /// huge amounts a cluster reported is still a bound).
    static func plus(_ value: Int64, _ amount: Int64) -> Int64 {
        guard value != unbounded, amount != unbounded else { return unbounded }
        return min(value.addingSaturating(amount), unbounded - 1)
    }

    /// An equal part of `value` for each of `count` (unbounded stays unbounded), rounded down.
    static func part(_ value: Int64, of count: Int64) -> Int64 {
        value == unbounded ? unbounded : value / max(1, count)
    }

}

/// One resource's plan for one tenant, over the layout's arrays.
private struct ResourcePlan {
    struct Result {
        var given: [Int64]
        var reserved: [Int64]
        var namespaceHard: [Int64]
        var clusterRoom: [Int64]
    }

    let layout: Layout
    // Per slot.
    let cap: [Int64]
    let reserved: [Int64]
    let pinned: [Int64]
    let used: [Int64]
    let demand: [Int64]
    let pinnedOnly: [Bool]
    // Per namespace.
    let namespaceUsed: [Int64]
    let namespaceDemand: [Int64]
    let namespacePinned: [Int64?]
    // Room left in every enclosing limit.
    var clusterRoom: [Int64]
    var projectRoom: [Int64]
    var tenantRoom: Int64
    var given: [Int64]

    init(layout: Layout, tree: PlanTree, resource r: Int, name resource: String) {
        self.layout = layout
        let bounded = resource == QuotaResource.cpu || resource == QuotaResource.memory
        clusterRoom = layout.clusters.map { tree.capacity[$0]?[resource] ?? (bounded ? 0 : Amount.unbounded) }
        projectRoom = tree.projects.map { $0.caps[resource] ?? Amount.unbounded }
        tenantRoom = tree.caps[resource] ?? Amount.unbounded
        let count = layout.namespaceNames.count, width = layout.resourceCount
        var namespaceUsed: [Int64] = [], namespaceDemand: [Int64] = [], namespacePinned: [Int64?] = []
        namespaceUsed.reserveCapacity(count)
        namespaceDemand.reserveCapacity(count)
        namespacePinned.reserveCapacity(count)
        for n in 0..<count {
            namespaceUsed.append(layout.namespaceUsed[n * width + r])
            namespaceDemand.append(layout.namespaceDemand[n * width + r])
            namespacePinned.append(layout.namespaceIsPinned[n] ? layout.namespacePinned[n * width + r] : nil)
        }
        var cap: [Int64] = [], reserved: [Int64] = [], pinned: [Int64] = [], used: [Int64] = [], demand: [Int64] = [], pinnedOnly: [Bool] = []
        for (s, (p, l)) in layout.slotSource.enumerated() {
            let placement = tree.projects[p].placements[l]
            let capacity = clusterRoom[layout.slotCluster[s]]
            let percent = min(100, max(0, placement.reservation.isEmpty ? 0 : placement.reservation[resource] ?? 0))
            let share = (Double(capacity) * percent / 100).rounded(.down)
            // A capacity near Int64's end (a cluster reporting a huge one) rounds past it as a Double.
            let held = capacity == Amount.unbounded || !percent.isFinite ? 0 : share >= 0x1p63 ? Amount.unbounded - 1 : Int64(share)
            cap.append(placement.caps.isEmpty ? Amount.unbounded : placement.caps[resource] ?? Amount.unbounded)
            reserved.append(min(held, capacity))
            var slotPinned: Int64 = 0, slotUsed: Int64 = 0, slotDemand: Int64 = 0, allPinned = true
            for n in layout.slotNamespaceStart[s]..<layout.slotNamespaceEnd[s] {
                // Held below Int64's end (unbounded): a cluster may report amounts up to it.
                if let fixed = namespacePinned[n] {
                    slotPinned = Amount.plus(slotPinned, fixed)
                    slotUsed = Amount.plus(slotUsed, fixed)
                } else {
                    allPinned = false
                    slotUsed = Amount.plus(slotUsed, namespaceUsed[n])
                    slotDemand = Amount.plus(slotDemand, namespaceDemand[n])
                }
            }
            pinned.append(slotPinned)
            used.append(slotUsed)
            demand.append(slotDemand)
            pinnedOnly.append(allPinned)
        }
        (self.cap, self.reserved, self.pinned, self.used, self.demand, self.pinnedOnly) = (cap, reserved, pinned, used, demand, pinnedOnly)
        (self.namespaceUsed, self.namespaceDemand, self.namespacePinned) = (namespaceUsed, namespaceDemand, namespacePinned)
        given = Array(repeating: 0, count: layout.slotKeys.count)
    }

    /// What slot `s` may still receive.
    func room(_ s: Int) -> Int64 {
        max(0, min(clusterRoom[layout.slotCluster[s]], projectRoom[layout.slotProject[s]], tenantRoom, Amount.minus(cap[s], given[s])))
    }

    /// Gives slot `s` up to `amount` (all of it with `force`, even past a limit).
    @discardableResult
    mutating func grant(_ s: Int, _ amount: Int64, force: Bool = false) -> Int64 {
        let granted = force ? max(0, amount) : min(max(0, amount), room(s))
        guard granted > 0 else { return 0 }
        let cluster = layout.slotCluster[s], project = layout.slotProject[s]
        clusterRoom[cluster] = Amount.minus(clusterRoom[cluster], granted)
        projectRoom[project] = Amount.minus(projectRoom[project], granted)
        tenantRoom = Amount.minus(tenantRoom, granted)
        given[s] = Amount.plus(given[s], granted)
        return granted
    }

    mutating func run() -> Result {
        let all = Array(given.indices)
        for s in all { grant(s, pinned[s], force: true) }
        for s in all { grant(s, reserved[s] - given[s]) }
        for s in all { grant(s, used[s] - given[s]) }
        let open = all.filter { !pinnedOnly[$0] }
        // Demand is met one placement at a time, smallest first, rather than split: a refused
        // pod's request either fits or is useless, so two halves of one pod's room serve nobody.
        let demand = self.demand
        for s in open.filter({ demand[$0] > 0 }).sorted(by: { (demand[$0], $0) < (demand[$1], $1) }) {
            grant(s, demand[s])
        }
        shareEvenly(among: open)
        var namespaceHard = Array(repeating: Int64(0), count: layout.namespaceNames.count)
        for s in all { split(s, into: &namespaceHard) }
        return Result(given: given, reserved: reserved, namespaceHard: namespaceHard, clusterRoom: clusterRoom)
    }

    /// Hands out the free room in equal shares, round after round until nothing moves. A
    /// project's cap and the tenant's cap are shared the same way across clusters, so that one
    /// cluster's placements never take all of a cap that spans several.
    mutating func shareEvenly(among slots: [Int]) {
        var active = slots
        var perProject = Array(repeating: Int64(0), count: layout.projectCount)
        var perCluster = Array(repeating: Int64(0), count: layout.clusters.count)
        for _ in 0..<12 where !active.isEmpty {
            for index in perProject.indices { perProject[index] = 0 }
            for index in perCluster.indices { perCluster[index] = 0 }
            for s in active {
                perProject[layout.slotProject[s]] += 1
                perCluster[layout.slotCluster[s]] += 1
            }
            let tenantShare = Amount.part(tenantRoom, of: Int64(active.count))
            let clusterShare = clusterRoom.indices.map { Amount.part(clusterRoom[$0], of: perCluster[$0]) }
            let projectShare = projectRoom.indices.map { Amount.part(projectRoom[$0], of: perProject[$0]) }
            var still: [Int] = []
            for s in active {
                let portion = min(clusterShare[layout.slotCluster[s]], projectShare[layout.slotProject[s]], tenantShare)
                if grant(s, max(1, portion)) > 0 { still.append(s) }
            }
            active = still
        }
    }

    /// A placement's total over its namespaces: pinned ones keep theirs; the others get their
    /// usage, then the demand (smallest first), then equal parts of the rest (the remainder to
    /// the first names).
    func split(_ s: Int, into hard: inout [Int64]) {
        let range = layout.slotNamespaceStart[s]..<layout.slotNamespaceEnd[s]
        guard !range.isEmpty else { return }
        var left = given[s]
        var openCount: Int64 = 0, wanting = 0
        for n in range {
            if let fixed = namespacePinned[n] {
                hard[n] = fixed
                left = Amount.minus(left, fixed)
            } else {
                openCount += 1
                if namespaceDemand[n] > 0 { wanting += 1 }
            }
        }
        left = max(0, left)
        guard openCount > 0 else { return }
        if left == Amount.unbounded {
            for n in range where namespacePinned[n] == nil { hard[n] = Amount.unbounded }
            return
        }
        for n in range where namespacePinned[n] == nil {
            let amount = min(namespaceUsed[n], left)
            hard[n] = amount
            left -= amount
        }
        if wanting > 0 {
            // Closures capture these arrays, not the whole plan (which would retain every array).
            let demand = namespaceDemand, names = layout.namespaceNames, pinned = namespacePinned
            var order = range.filter { demand[$0] > 0 && pinned[$0] == nil }
            if order.count > 1 { order.sort { (demand[$0], names[$0]) < (demand[$1], names[$1]) } }
            for n in order {
                let amount = min(left, demand[n])
                hard[n] += amount
                left -= amount
            }
        }
        let each = left / openCount
        var remainder = left - each * openCount
        for n in range where namespacePinned[n] == nil {
            let extra: Int64 = remainder > 0 ? 1 : 0
            remainder -= extra
            hard[n] += each + extra
        }
    }

}

extension Int64 {
    /// `self + other`, held at the ends of the range instead of overflowing (which stops the
    /// process): what a cluster reports — usage, capacity, limits edited there — can be anything
    /// up to Int64's end once clamped, and a tenant's cluster must not stop the plane that serves
    /// every tenant.
    public func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, held at the ends of the range instead of overflowing.
    public func subtractingSaturating(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
