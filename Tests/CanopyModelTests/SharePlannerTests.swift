import CanopyModel
import Testing

/// A small deterministic random source, so that a failing tree can be replayed from its seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random trees for the property tests.
enum RandomTree {
    static let cpu = QuotaResource.cpu
    static let memory = QuotaResource.memory

    static func make(seed: UInt64) -> PlanTree {
        var random = SplitMix(state: seed)
        let clusters = (0..<Int.random(in: 1...3, using: &random)).map { "c\($0)" }
        var capacity: [String: [String: Int64]] = [:]
        for cluster in clusters {
            capacity[cluster] = [cpu: Int64.random(in: 0...64_000, using: &random), memory: Int64.random(in: 0...(256 << 30), using: &random)]
            if Bool.random(using: &random) { capacity[cluster]?["pods"] = Int64.random(in: 0...500, using: &random) }
        }
        var left = Dictionary(uniqueKeysWithValues: clusters.map { ($0, [cpu: 100.0, memory: 100.0]) })
        var projects: [PlanTree.Project] = []
        for index in 0..<Int.random(in: 1...6, using: &random) {
            var placements: [PlanTree.Placement] = []
            for cluster in clusters where Int.random(in: 0..<3, using: &random) > 0 {
                var reservation: [String: Double] = [:]
                for resource in [cpu, memory] where Bool.random(using: &random) {
                    let percent = Double(Int.random(in: 0...60, using: &random))
                    let granted = min(percent, left[cluster]?[resource] ?? 0)
                    left[cluster]?[resource]? -= granted
                    reservation[resource] = granted
                }
                let namespaces = (0..<Int.random(in: 0...4, using: &random)).map { n in
                    PlanTree.Namespace(
                        name: "p\(index)-n\(n)",
                        used: [cpu: Int64.random(in: 0...20_000, using: &random), memory: Int64.random(in: 0...(64 << 30), using: &random), "pods": Int64.random(in: 0...50, using: &random)],
                        demand: Bool.random(using: &random) ? [cpu: Int64.random(in: 0...4_000, using: &random), "pods": 3] : [:]
                    )
                }
                placements.append(PlanTree.Placement(cluster: cluster, reservation: reservation, caps: randomCaps(&random, scale: 2), namespaces: namespaces))
            }
            projects.append(PlanTree.Project(id: "p\(index)", caps: randomCaps(&random, scale: 4), placements: placements))
        }
        return PlanTree(capacity: capacity, caps: Int.random(in: 0..<4, using: &random) == 0 ? randomCaps(&random, scale: 8) : [:], projects: projects)
    }

    static func randomCaps(_ random: inout SplitMix, scale: Int64) -> [String: Int64] {
        var caps: [String: Int64] = [:]
        if Int.random(in: 0..<3, using: &random) == 0 { caps[cpu] = Int64.random(in: 0...(16_000 * scale), using: &random) }
        if Int.random(in: 0..<3, using: &random) == 0 { caps[memory] = Int64.random(in: 0...((32 << 30) * scale), using: &random) }
        if Int.random(in: 0..<5, using: &random) == 0 { caps["pods"] = Int64.random(in: 0...(40 * scale), using: &random) }
        return caps
    }
}

/// Sums of a plan over the tree's levels, for the invariants.
struct PlanSums {
    let tree: PlanTree
    let plan: Plan

    func hard(_ cluster: String, _ name: String, _ resource: String) -> Int64? { plan.hard[NamespaceKey(cluster: cluster, name: name)]?[resource] }

    /// Σ of placement totals (a reservation without namespaces still holds its share).
    func sum(_ resource: String, where include: (PlanTree.Project, PlanTree.Placement) -> Bool) -> Int64 {
        var total: Int64 = 0
        for project in tree.projects {
            for placement in project.placements where include(project, placement) {
                total += plan.placementHard[PlacementKey(project: project.id, cluster: placement.cluster)]?[resource] ?? 0
            }
        }
        return total
    }

    /// Σ of the namespaces' hard limits in one placement.
    func namespaceSum(_ placement: PlanTree.Placement, _ resource: String) -> Int64 {
        placement.namespaces.reduce(0) { $0 + (hard(placement.cluster, $1.name, resource) ?? 0) }
    }

    func reserved(_ project: PlanTree.Project, _ placement: PlanTree.Placement, _ resource: String) -> Int64 {
        plan.reserved[PlacementKey(project: project.id, cluster: placement.cluster)]?[resource] ?? 0
    }

    func capacity(_ cluster: String, _ resource: String) -> Int64? {
        tree.capacity[cluster]?[resource] ?? (resource == QuotaResource.cpu || resource == QuotaResource.memory ? 0 : nil)
    }

    /// Whether some limit enclosing the placement is used up, which excuses a shortfall there.
    func isConstrained(_ project: PlanTree.Project, _ placement: PlanTree.Placement, _ resource: String) -> Bool {
        if let cap = placement.caps[resource], sum(resource, where: { $0.id == project.id && $1.cluster == placement.cluster }) >= cap { return true }
        if let cap = project.caps[resource], sum(resource, where: { p, _ in p.id == project.id }) >= cap { return true }
        if let cap = tree.caps[resource], sum(resource, where: { _, _ in true }) >= cap { return true }
        if let capacity = capacity(placement.cluster, resource), sum(resource, where: { $1.cluster == placement.cluster }) >= capacity { return true }
        return false
    }
}

@Suite struct SharePlannerTests {
    static let seeds: [UInt64] = Array(1...2_000)

    /// Thousands of random trees (the seed in a failure replays it).
    @Test func everyInvariantHolds() {
        for seed in Self.seeds { checkInvariants(seed: seed) }
    }

    func checkInvariants(seed: UInt64) {
        let tree = RandomTree.make(seed: seed)
        let plan = SharePlanner.plan(tree)
        let sums = PlanSums(tree: tree, plan: plan)
        for resource in tree.resources {
            for (cluster, _) in tree.capacity {
                if let capacity = sums.capacity(cluster, resource) {
                    let fits = sums.sum(resource, where: { $1.cluster == cluster }) <= capacity
                    #expect(fits, "seed \(seed): \(resource) on \(cluster) over capacity")
                }
            }
            if let cap = tree.caps[resource] {
                let fits = sums.sum(resource, where: { _, _ in true }) <= cap
                #expect(fits, "seed \(seed): tenant cap of \(resource)")
            }
            for project in tree.projects {
                if let cap = project.caps[resource] {
                    let fits = sums.sum(resource, where: { p, _ in p.id == project.id }) <= cap
                    #expect(fits, "seed \(seed): project cap of \(resource)")
                }
                for placement in project.placements {
                    let total = sums.sum(resource, where: { $0.id == project.id && $1.cluster == placement.cluster })
                    if let cap = placement.caps[resource] {
                        let fits = total <= cap
                        #expect(fits, "seed \(seed): placement cap")
                    }
                    if !placement.namespaces.isEmpty, sums.hard(placement.cluster, placement.namespaces[0].name, resource) != nil {
                        let splitExactly = sums.namespaceSum(placement, resource) == total
                        #expect(splitExactly, "seed \(seed): namespaces of \(project.id) on \(placement.cluster) do not add up")
                    }
                    // The reservation stays attainable: held in full unless a cap stops it.
                    if total < sums.reserved(project, placement, resource) {
                        let excused = sums.isConstrained(project, placement, resource)
                        #expect(excused, "seed \(seed): reservation of \(project.id) on \(placement.cluster) not held")
                    }
                    for namespace in placement.namespaces {
                        guard let hard = sums.hard(placement.cluster, namespace.name, resource) else { continue }
                        let belowUsage = hard < namespace.used[resource] ?? 0
                        let excused = !belowUsage || (hard >= 0 && sums.isConstrained(project, placement, resource))
                        #expect(excused, "seed \(seed): \(namespace.name) below its usage without a reason")
                    }
                }
            }
        }
    }

    @Test func isDeterministicWhateverTheOrder() {
        for seed in Self.seeds.prefix(500) { checkDeterminism(seed: seed) }
    }

    func checkDeterminism(seed: UInt64) {
        let tree = RandomTree.make(seed: seed)
        var shuffled = tree
        var random = SplitMix(state: seed ^ 0xABCDEF)
        shuffled.projects.shuffle(using: &random)
        for index in shuffled.projects.indices {
            shuffled.projects[index].placements.shuffle(using: &random)
            for placement in shuffled.projects[index].placements.indices { shuffled.projects[index].placements[placement].namespaces.shuffle(using: &random) }
        }
        let same = SharePlanner.plan(tree) == SharePlanner.plan(shuffled)
        #expect(same, "seed \(seed)")
    }

    @Test func raisingAReservationNeverLowersTheProjectsHardLimit() {
        for seed in Self.seeds { checkReservationMonotony(seed: seed) }
    }

    func checkReservationMonotony(seed: UInt64) {
        let tree = RandomTree.make(seed: seed)
        var random = SplitMix(state: seed ^ 0x5EED)
        let candidates = tree.projects.indices.flatMap { p in tree.projects[p].placements.indices.map { (p, $0) } }
        guard let (p, c) = candidates.randomElement(using: &random) else { return }
        let cluster = tree.projects[p].placements[c].cluster
        for resource in [QuotaResource.cpu, QuotaResource.memory] {
            let others = tree.projects.flatMap(\.placements).filter { $0.cluster == cluster }.reduce(0.0) { $0 + ($1.reservation[resource] ?? 0) }
            let current = tree.projects[p].placements[c].reservation[resource] ?? 0
            let raised = current + Double(Int.random(in: 0...Int(100 - others), using: &random))
            var higher = tree
            higher.projects[p].placements[c].reservation[resource] = raised
            let key = PlacementKey(project: tree.projects[p].id, cluster: cluster)
            let before = SharePlanner.plan(tree), after = SharePlanner.plan(higher)
            let placementKept = (after.placementHard[key]?[resource] ?? 0) >= (before.placementHard[key]?[resource] ?? 0)
            #expect(placementKept, "seed \(seed): \(resource) \(current)% -> \(raised)%")
            let projectTotal = { (plan: Plan) in plan.placementHard.filter { $0.key.project == key.project }.reduce(Int64(0)) { $0 + ($1.value[resource] ?? 0) } }
            let projectKept = projectTotal(after) >= projectTotal(before)
            #expect(projectKept, "seed \(seed): project total of \(resource) \(current)% -> \(raised)%")
        }
    }

    @Test func aReservationIsHeldWhileOthersFillTheCluster() {
        let cpu = QuotaResource.cpu
        let tree = PlanTree(capacity: ["c": [cpu: 8_000, QuotaResource.memory: 8 << 30]], projects: [
            .init(id: "p", placements: [.init(cluster: "c", reservation: [cpu: 50], namespaces: [.init(name: "p1")])]),
            .init(id: "q", placements: [.init(cluster: "c", namespaces: [.init(name: "q1", used: [cpu: 2_000], demand: [cpu: 6_000])])]),
            .init(id: "r", placements: [.init(cluster: "c", namespaces: [.init(name: "r1", used: [cpu: 2_000], demand: [cpu: 6_000])])]),
        ])
        let plan = SharePlanner.plan(tree)
        #expect(plan.hard[NamespaceKey(cluster: "c", name: "p1")]?[cpu] == 4_000)
        #expect(plan.hard[NamespaceKey(cluster: "c", name: "q1")]?[cpu] == 2_000)
        #expect(plan.hard[NamespaceKey(cluster: "c", name: "r1")]?[cpu] == 2_000)
    }

    @Test func headroomFollowsDemandNotAStaticSplit() {
        let cpu = QuotaResource.cpu
        func plan(_ usedB: Int64, demandB: Int64) -> (a: Int64?, b: Int64?) {
            let tree = PlanTree(capacity: ["c": [cpu: 10_000]], projects: [
                .init(id: "p", caps: [cpu: 4_000], placements: [.init(cluster: "c", namespaces: [
                    .init(name: "a"), .init(name: "b", used: [cpu: usedB], demand: [cpu: demandB]),
                ])]),
            ])
            let result = SharePlanner.plan(tree)
            return (result.hard[NamespaceKey(cluster: "c", name: "a")]?[cpu], result.hard[NamespaceKey(cluster: "c", name: "b")]?[cpu])
        }
        #expect(plan(0, demandB: 0) == (2_000, 2_000))
        #expect(plan(1_000, demandB: 1_000) == (1_000, 3_000))
        #expect(plan(3_500, demandB: 500) == (0, 4_000))
    }

    @Test func aCapBelowUsageIsKeptNotClamped() {
        let cpu = QuotaResource.cpu
        let tree = PlanTree(capacity: ["c": [cpu: 10_000]], projects: [
            .init(id: "p", caps: [cpu: 1_000], placements: [.init(cluster: "c", namespaces: [.init(name: "a", used: [cpu: 3_000])])]),
        ])
        #expect(SharePlanner.plan(tree).hard[NamespaceKey(cluster: "c", name: "a")]?[cpu] == 1_000)
    }

    @Test func otherResourcesArePlannedOnlyWhereACapNamesThem() {
        let tree = PlanTree(capacity: ["c": [QuotaResource.cpu: 1_000, QuotaResource.memory: 1_000, "pods": 110]], projects: [
            .init(id: "p", caps: ["pods": 10, "requests.storage": 100], placements: [.init(cluster: "c", namespaces: [.init(name: "a"), .init(name: "b")])]),
        ])
        let hard = SharePlanner.plan(tree).hard
        #expect(hard[NamespaceKey(cluster: "c", name: "a")]?["pods"] == 5)
        #expect(hard[NamespaceKey(cluster: "c", name: "b")]?["requests.storage"] == 50)
        let uncapped = PlanTree(capacity: ["c": [QuotaResource.cpu: 1_000]], projects: [
            .init(id: "p", placements: [.init(cluster: "c", namespaces: [.init(name: "a")])]),
        ])
        #expect(SharePlanner.plan(uncapped).hard[NamespaceKey(cluster: "c", name: "a")]?["pods"] == nil)
    }

    @Test func pinnedLimitsArePlannedAround() {
        let cpu = QuotaResource.cpu
        let tree = PlanTree(capacity: ["c": [cpu: 10_000], "d": [cpu: 10_000]], projects: [
            .init(id: "p", caps: [cpu: 6_000], placements: [
                .init(cluster: "c", namespaces: [.init(name: "down", pinned: [cpu: 5_000])]),
                .init(cluster: "d", namespaces: [.init(name: "up")]),
            ]),
        ])
        let hard = SharePlanner.plan(tree).hard
        #expect(hard[NamespaceKey(cluster: "c", name: "down")]?[cpu] == 5_000)
        #expect(hard[NamespaceKey(cluster: "d", name: "up")]?[cpu] == 1_000)
    }

    /// A tenant's cluster reports what it likes (its own API server): usage, capacity and limits
    /// edited there up to Int64's end (quantities are clamped to it) must not stop the planner,
    /// which serves every tenant. Sums of such amounts overflowed and trapped.
    @Test func amountsAtInt64sEndDoNotTrap() {
        let cpu = QuotaResource.cpu, huge = Int64.max - 1
        let tree = PlanTree(capacity: ["c": [cpu: huge], "d": [cpu: 8_000]], caps: [cpu: huge], projects: [
            PlanTree.Project(id: "p", caps: [cpu: huge], placements: [
                PlanTree.Placement(cluster: "c", reservation: [cpu: 100], namespaces: [
                    PlanTree.Namespace(name: "a", used: [cpu: huge], demand: [cpu: huge]),
                    PlanTree.Namespace(name: "b", used: [cpu: huge], demand: [cpu: huge]),
                    PlanTree.Namespace(name: "c", used: [cpu: huge], pinned: [cpu: huge]),
                ]),
                PlanTree.Placement(cluster: "d", namespaces: [
                    PlanTree.Namespace(name: "x", pinned: [cpu: huge]),
                    PlanTree.Namespace(name: "y", pinned: [cpu: huge]),
                    PlanTree.Namespace(name: "z", used: [cpu: 1_000]),
                ]),
            ]),
        ])
        let plan = SharePlanner.plan(tree)
        // The pinned keep theirs; the others still get a limit, never below zero.
        #expect(plan.hard[NamespaceKey(cluster: "d", name: "x")]?[cpu] == huge)
        for name in ["a", "b"] { #expect((plan.hard[NamespaceKey(cluster: "c", name: name)]?[cpu] ?? -1) >= 0) }
        #expect((plan.hard[NamespaceKey(cluster: "d", name: "z")]?[cpu] ?? -1) >= 0)
    }
}
