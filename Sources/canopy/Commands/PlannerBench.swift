import CanopyModel
import Foundation

/// `canopy bench --planner`: the share planner alone on one cluster with 1,000 projects of 5
/// namespaces each (issue 5's figure), usage and demand varied, a tenth of the projects with a
/// reservation and a third with caps. Then the planning one re-plan costs in a domain of 1,000
/// tenants (each 10 projects of 2 namespaces on 2 clusters): every tenant, as each re-plan did
/// before, against the one tenant whose inputs changed, as it does now.
struct PlannerBench {
    let projects: Int
    let namespaces: Int
    let runs = 200

    func run() {
        measureOneBigTree()
        measureReplan(tenants: 1000)
    }

    private func measureReplan(tenants: Int) {
        let cpu = QuotaResource.cpu, memory = QuotaResource.memory
        var generator = SystemRandomNumberGenerator()
        let trees = (0..<tenants).map { t in
            PlanTree(capacity: ["a-\(t)": [cpu: 64_000, memory: 256 << 30], "b-\(t)": [cpu: 64_000, memory: 256 << 30]], projects: (0..<10).map { p in
                PlanTree.Project(id: "p\(p)", caps: p % 3 == 0 ? [cpu: 8_000] : [:], placements: ["a-\(t)", "b-\(t)"].map { cluster in
                    PlanTree.Placement(cluster: cluster, reservation: p % 5 == 0 ? [cpu: 0.05] : [:], namespaces: (0..<2).map { n in
                        PlanTree.Namespace(name: "p\(p)-\(n)", used: [cpu: Int64.random(in: 0...2_000, using: &generator)], demand: [:])
                    })
                })
            })
        }
        var every: [Double] = [], one: [Double] = []
        var kept = 0
        for round in 0..<20 {
            var started = ContinuousClock.now
            for tree in trees { kept &+= SharePlanner.plan(tree).hard.count }
            every.append(Bench.nanoseconds(ContinuousClock.now - started) / 1e6)
            started = ContinuousClock.now
            kept &+= SharePlanner.plan(trees[round % trees.count]).hard.count
            one.append(Bench.nanoseconds(ContinuousClock.now - started) / 1e6)
        }
        // (`kept` is read so that no plan is optimized away.)
        print(String(
            format: "re-plan after one change, %d tenants of 10 projects x 2 namespaces on 2 clusters: planning every tenant median %.1f ms (before), the tenant concerned median %.3f ms (now) (%d limits planned)",
            tenants, Bench.median(every), Bench.median(one), kept
        ))
    }

    private func measureOneBigTree() {
        let cpu = QuotaResource.cpu, memory = QuotaResource.memory
        var generator = SystemRandomNumberGenerator()
        let tree = PlanTree(capacity: ["c": [cpu: 4_000_000, memory: 16 << 40]], projects: (0..<projects).map { p in
            PlanTree.Project(
                id: "project-\(p)", caps: p % 3 == 0 ? [cpu: 8_000, memory: 32 << 30] : [:],
                placements: [PlanTree.Placement(
                    cluster: "c", reservation: p % 10 == 0 ? [cpu: 0.5, memory: 0.5] : [:],
                    namespaces: (0..<namespaces).map { n in
                        PlanTree.Namespace(
                            name: "project-\(p)-\(n)",
                            used: [cpu: Int64.random(in: 0...2_000, using: &generator), memory: Int64.random(in: 0...(4 << 30), using: &generator)],
                            demand: n == 0 ? [cpu: Int64.random(in: 0...500, using: &generator)] : [:]
                        )
                    }
                )]
            )
        })
        var times: [Double] = []
        var plan = Plan()
        for _ in 0..<runs {
            let started = ContinuousClock.now
            let fresh = SharePlanner.plan(tree)
            times.append(Bench.nanoseconds(ContinuousClock.now - started) / 1e6)
            plan = fresh  // the previous plan is freed here, outside the measurement
        }
        print(String(
            format: "share planner, 1 cluster, %d projects x %d namespaces (%d hard limits): median %.2f ms, p99 %.2f ms over %d plans",
            projects, namespaces, plan.hard.count, Bench.median(times), Bench.percentile(times, 0.99), runs
        ))
    }
}
