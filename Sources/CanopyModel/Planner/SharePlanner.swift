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
        var plan = Plan()
        for resource in tree.resources {
            var planner = ResourcePlan(tree: tree, resource: resource)
            planner.run(into: &plan)
        }
        return plan
    }
}

/// Saturating arithmetic where `Int64.max` stands for "no bound".
enum Amount {
    static let unbounded = Int64.max

    static func minus(_ value: Int64, _ amount: Int64) -> Int64 {
        value == unbounded ? unbounded : value - amount
    }

    static func plus(_ value: Int64, _ amount: Int64) -> Int64 {
        let (sum, overflow) = value.addingReportingOverflow(amount)
        return overflow || value == unbounded || amount == unbounded ? unbounded : sum
    }

    /// `value × numerator / denominator` without overflow, rounded down.
    static func scaled(_ value: Int64, _ numerator: Int64, _ denominator: Int64) -> Int64 {
        guard denominator > 0 else { return 0 }
        if value == unbounded { return unbounded }
        return Int64((Int128(value) * Int128(numerator)) / Int128(denominator))
    }
}

/// One resource's plan for one tenant.
private struct ResourcePlan {
    let resource: String
    let slots: [Slot]
    var clusterRoom: [String: Int64] = [:]
    var projectRoom: [Int: Int64] = [:]
    var tenantRoom: Int64
    var given: [Int64]

    /// One placement, flattened.
    struct Slot {
        let key: PlacementKey
        let project: Int
        let cap: Int64
        let reserved: Int64
        let namespaces: [PlanTree.Namespace]
        let resource: String

        var pinned: Int64 { namespaces.reduce(0) { $0 + ($1.pinned?[resource] ?? 0) } }
        var isPinnedOnly: Bool { namespaces.allSatisfy { $0.pinned != nil } }
        func used(_ namespace: PlanTree.Namespace) -> Int64 { max(0, namespace.used[resource] ?? 0) }
        func demand(_ namespace: PlanTree.Namespace) -> Int64 { max(0, namespace.demand[resource] ?? 0) }
        var used: Int64 { namespaces.reduce(0) { $0 + ($1.pinned?[resource] ?? used($1)) } }
        var demand: Int64 { namespaces.filter { $0.pinned == nil }.reduce(0) { $0 + demand($1) } }
    }

    init(tree: PlanTree, resource: String) {
        self.resource = resource
        let bounded = resource == QuotaResource.cpu || resource == QuotaResource.memory
        var slots: [Slot] = []
        for (index, project) in tree.projects.enumerated().sorted(by: { $0.element.id < $1.element.id }) {
            projectRoom[index] = project.caps[resource] ?? Amount.unbounded
            for placement in project.placements.sorted(by: { $0.cluster < $1.cluster }) {
                let capacity = tree.capacity[placement.cluster]?[resource] ?? (bounded ? 0 : Amount.unbounded)
                let percent = min(100, max(0, placement.reservation[resource] ?? 0))
                let reserved = capacity == Amount.unbounded || !percent.isFinite ? 0 : Int64((Double(capacity) * percent / 100).rounded(.down))
                clusterRoom[placement.cluster] = capacity
                slots.append(Slot(
                    key: PlacementKey(project: project.id, cluster: placement.cluster), project: index,
                    cap: placement.caps[resource] ?? Amount.unbounded, reserved: min(reserved, capacity),
                    namespaces: placement.namespaces.sorted { $0.name < $1.name }, resource: resource
                ))
            }
        }
        self.slots = slots
        tenantRoom = tree.caps[resource] ?? Amount.unbounded
        given = Array(repeating: 0, count: slots.count)
    }

    /// What slot `index` may still receive.
    func room(_ index: Int) -> Int64 {
        let slot = slots[index]
        let placementRoom = Amount.minus(slot.cap, given[index])
        return max(0, min(clusterRoom[slot.key.cluster] ?? 0, projectRoom[slot.project] ?? 0, tenantRoom, placementRoom))
    }

    /// Gives slot `index` up to `amount` (all of it with `force`, even past a limit).
    @discardableResult
    mutating func grant(_ index: Int, _ amount: Int64, force: Bool = false) -> Int64 {
        let granted = force ? max(0, amount) : min(max(0, amount), room(index))
        guard granted > 0 else { return 0 }
        let slot = slots[index]
        clusterRoom[slot.key.cluster] = Amount.minus(clusterRoom[slot.key.cluster] ?? 0, granted)
        projectRoom[slot.project] = Amount.minus(projectRoom[slot.project] ?? 0, granted)
        tenantRoom = Amount.minus(tenantRoom, granted)
        given[index] = Amount.plus(given[index], granted)
        return granted
    }

    mutating func run(into plan: inout Plan) {
        let all = Array(slots.indices)
        for index in all { grant(index, slots[index].pinned, force: true) }
        for index in all { grant(index, slots[index].reserved - given[index]) }
        for index in all { grant(index, slots[index].used - given[index]) }
        let open = all.filter { !slots[$0].isPinnedOnly }
        // Demand is met one placement at a time, smallest first, rather than split: a refused
        // pod's request either fits or is useless, so two halves of one pod's room serve nobody.
        for index in open.sorted(by: { (slots[$0].demand, slots[$0].key) < (slots[$1].demand, slots[$1].key) }) where slots[index].demand > 0 {
            grant(index, slots[index].demand)
        }
        var rest = open.map { _ in Amount.unbounded }
        share(among: open, wants: &rest)
        record(into: &plan)
    }

    /// Hands out free room to `indices`, each up to its `wants`: in proportion to the wants
    /// (equal shares when all want without bound), round after round until nothing moves. A
    /// project's cap and the tenant's cap are shared the same way across clusters, so that one
    /// cluster's placements never take all of a cap that spans several.
    mutating func share(among indices: [Int], wants: inout [Int64]) {
        for _ in 0..<12 {
            var moved = false
            let active = indices.indices.filter { wants[$0] > 0 }
            let byCluster = Dictionary(grouping: active, by: { slots[indices[$0]].key.cluster })
            let perProject = Dictionary(grouping: active, by: { slots[indices[$0]].project }).mapValues { Int64($0.count) }
            let tenantShare = Amount.scaled(tenantRoom, 1, Int64(max(1, active.count)))
            for cluster in byCluster.keys.sorted() {
                let members = byCluster[cluster] ?? []
                let free = clusterRoom[cluster] ?? 0
                guard free > 0, !members.isEmpty else { continue }
                let bounded = members.allSatisfy { wants[$0] != Amount.unbounded }
                let total = bounded ? members.reduce(Int64(0)) { Amount.plus($0, wants[$1]) } : Int64(members.count)
                for member in members {
                    let slot = slots[indices[member]]
                    let weight = bounded ? wants[member] : 1
                    var portion = free == Amount.unbounded ? wants[member] : Amount.scaled(free, weight, total)
                    portion = min(portion, Amount.scaled(projectRoom[slot.project] ?? 0, 1, perProject[slot.project] ?? 1), tenantShare)
                    let granted = grant(indices[member], min(max(1, portion), wants[member]))
                    if wants[member] != Amount.unbounded { wants[member] -= granted }
                    if granted == 0 { wants[member] = 0 }
                    moved = moved || granted > 0
                }
            }
            if !moved { break }
        }
    }

    /// Splits each placement's total over its namespaces and writes the figures.
    func record(into plan: inout Plan) {
        for (index, slot) in slots.enumerated() {
            let total = given[index]
            if total != Amount.unbounded {
                plan.placementHard[slot.key, default: [:]][resource] = total
                plan.reserved[slot.key, default: [:]][resource] = slot.reserved
            }
            for (name, hard) in split(total, over: slot) where hard != Amount.unbounded {
                plan.hard[NamespaceKey(cluster: slot.key.cluster, name: name), default: [:]][resource] = hard
            }
        }
        for (cluster, room) in clusterRoom where room != Amount.unbounded {
            plan.unallocated[cluster, default: [:]][resource] = max(0, room)
        }
    }

    /// A placement's total over its namespaces: pinned ones keep theirs; the others get their
    /// usage, then the demand, then equal parts of the rest (the remainder to the first names).
    func split(_ total: Int64, over slot: Slot) -> [(String, Int64)] {
        var result: [String: Int64] = [:]
        var left = total
        let open = slot.namespaces.filter { $0.pinned == nil }
        for namespace in slot.namespaces {
            if let pinned = namespace.pinned?[resource] {
                result[namespace.name] = pinned
                left = Amount.minus(left, pinned)
            }
        }
        left = max(0, left)
        guard !open.isEmpty else { return result.sorted { $0.key < $1.key } }
        if left == Amount.unbounded {
            for namespace in open { result[namespace.name] = Amount.unbounded }
            return result.sorted { $0.key < $1.key }
        }
        for namespace in open {
            let amount = min(slot.used(namespace), left)
            result[namespace.name] = amount
            left -= amount
        }
        for namespace in open.sorted(by: { (slot.demand($0), $0.name) < (slot.demand($1), $1.name) }) where slot.demand(namespace) > 0 {
            let amount = min(left, slot.demand(namespace))
            result[namespace.name, default: 0] += amount
            left -= amount
        }
        let each = left / Int64(open.count)
        var remainder = left - each * Int64(open.count)
        for namespace in open {
            let extra: Int64 = remainder > 0 ? 1 : 0
            remainder -= extra
            result[namespace.name, default: 0] += each + extra
        }
        return result.sorted { $0.key < $1.key }
    }
}
