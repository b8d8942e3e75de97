import CanopyModel
import CanopyReconciler
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Logging
import ServiceLifecycle

/// `canopy bench --reconciler`: issue 4's figures. One tenant with `clusters` KubeSim clusters
/// (over HTTPS, in this process), `projects` projects each with `namespaces` namespaces on every
/// cluster. Measures, counting the writes the clusters received:
/// the cold convergence (against the floor of one write per missing object), one member added
/// (against the floor of one binding per namespace of the project), and a steady resync (zero).
struct ReconcilerBench {
    let clusters: Int
    let projects: Int
    let namespaces: Int

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        let names = (0..<clusters).map { String(format: "c%03d", $0) }
        let sim = try KubeSim(clusterNames: names, shape: KubeSim.ClusterShape(nodes: 3))
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, logger: logger) { continuation.yield($0) }
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            guard let port = await ready.first(where: { _ in true }) else { return }
            let baseURL = "https://127.0.0.1:\(port)"
            let feed = SnapshotFeed()
            var world = BenchTenant(clusters: names, projects: projects, namespaces: namespaces)
            let floor = clusters * (4 + projects * namespaces * 7)
            print("reconciler: \(clusters) clusters × \(projects) projects × \(namespaces) namespaces = \(clusters * projects * namespaces) namespaces, \(floor) objects")

            var options = Reconciler.Options()
            options.resync = .seconds(3600)
            let reconciler = Reconciler(options: options, logger: logger, snapshots: { feed.stream() }) { cluster, options in
                var configuration = KubeClient.Configuration()
                configuration.timeout = options.requestTimeout
                return try KubeClient(connection: try Kubeconfig(yaml: sim.adminKubeconfig(cluster: cluster.name, baseURL: baseURL)).connection(), configuration: configuration, logger: logger)
            }
            let task = Task { try await reconciler.run() }
            let ids = names.map { ClusterID($0) }
            func writes() -> Int { sim.clusters.values.reduce(0) { $0 + $1.writes } }
            func converged() async -> Bool {
                ids.allSatisfy { id in
                    guard let status = reconciler.status(of: id) else { return false }
                    return status.state == .synced && status.passes > 0
                }
            }

            // Cold (KubeSim's own set-up objects are not counted).
            let base = writes()
            var start = ContinuousClock.now
            feed.publish(world.snapshot)
            try await waitUntil { await converged() && writes() - base >= floor }
            for id in ids { _ = try await reconciler.converge(id, timeout: .seconds(120)) }
            let cold = ContinuousClock.now - start
            let coldWrites = writes() - base
            print("  cold: converged in \(Self.seconds(cold)) with \(coldWrites) writes (floor \(floor))")

            // One member added to one project: its binding in each of the project's namespaces.
            start = ContinuousClock.now
            let before = writes()
            world.addMember()
            feed.publish(world.snapshot)
            let memberFloor = clusters * namespaces
            try await waitUntil { writes() - before >= memberFloor }
            let memberTime = ContinuousClock.now - start
            for id in ids { _ = try await reconciler.converge(id, timeout: .seconds(60)) }
            print("  one member added: \(writes() - before) writes (floor \(memberFloor): one binding per namespace of the project) in \(Self.seconds(memberTime))")

            // Steady: a full resync pass on every cluster.
            let steadyBefore = writes()
            start = ContinuousClock.now
            for id in ids { _ = try await reconciler.converge(id, timeout: .seconds(60)) }
            print("  steady state: a full pass over every cluster sent \(writes() - steadyBefore) writes (\(Self.seconds(ContinuousClock.now - start)) for \(clusters) passes, one after another)")

            task.cancel()
            _ = await task.result
            for cluster in sim.clusters.values { cluster.closeWatches() }
            await services.triggerGracefulShutdown()
        }
    }

    private func waitUntil(_ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(600)
        while await !condition() {
            guard ContinuousClock.now < deadline else { throw CLIError("the reconciler did not converge within 10 minutes") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}

/// The benchmark's tenant: every project on every cluster, a few members each.
struct BenchTenant {
    let now = Date()
    let tenant = Tenant(id: TenantID("bench"), name: "bench", displayName: "", mode: .enterprise, createdAt: Date())
    var users: [UserID: User] = [:]
    var projects: [ProjectID: Project] = [:]
    var grants: [GrantID: Grant] = [:]
    var clusters: [ClusterID: Cluster] = [:]
    var placements: [NamespaceID: ProjectNamespace] = [:]

    init(clusters names: [String], projects: Int, namespaces: Int) {
        for name in names {
            clusters[ClusterID(name)] = Cluster(
                id: ClusterID(name), tenantID: tenant.id, name: name, identity: name, server: "", kubernetesVersion: "",
                capacity: ResourceCaps(cpu: "24", memory: "96Gi"), createdAt: now
            )
        }
        for p in 0..<projects {
            let project = Project(id: ProjectID("p\(p)"), tenantID: tenant.id, name: "project-\(p)", createdAt: now)
            self.projects[project.id] = project
            for (index, role) in Role.projectRoles.enumerated() {
                let user = User(id: UserID("p\(p)u\(index)"), tenantID: tenant.id, username: "user-\(p)-\(index)", createdAt: now)
                users[user.id] = user
                grants[GrantID("p\(p)g\(index)")] = Grant(id: GrantID("p\(p)g\(index)"), tenantID: tenant.id, projectID: project.id, role: role, subject: .user(user.id), createdAt: now)
            }
            for name in names {
                for n in 0..<namespaces {
                    let id = NamespaceID("\(name)-p\(p)-n\(n)")
                    placements[id] = ProjectNamespace(id: id, tenantID: tenant.id, projectID: project.id, clusterID: ClusterID(name), name: "project-\(p)-\(n)", createdAt: now)
                }
            }
        }
    }

    mutating func addMember() {
        let user = User(id: UserID("newcomer"), tenantID: tenant.id, username: "newcomer", createdAt: now)
        users[user.id] = user
        grants[GrantID("newcomer")] = Grant(id: GrantID("newcomer"), tenantID: tenant.id, projectID: ProjectID("p0"), role: .projectMember, subject: .user(user.id), createdAt: now)
    }

    var snapshot: Snapshot {
        Snapshot(sequence: 1, tenants: [TenantSnapshot(tenant: tenant, users: users, projects: projects, grants: grants, clusters: clusters, namespaces: placements)], domainUsers: [], domainGrants: [])
    }
}
