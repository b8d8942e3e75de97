import CanopyModel
@testable import CanopyReconciler
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Logging
import Synchronization
import Testing
import TestSupport

extension SnapshotFeed {
    /// Publishes a world of one tenant.
    func publish(_ tenant: TenantSnapshot) {
        publish(Snapshot(sequence: 1, tenants: [tenant], domainUsers: [], domainGrants: []))
    }
}

/// A reconciler running against KubeSim for the length of one test.
struct RunningReconciler {
    let reconciler: Reconciler
    let feed: SnapshotFeed

    static func with<T: Sendable>(
        _ sim: TestKubeSim, feed: SnapshotFeed, options: Reconciler.Options = fastOptions,
        _ body: @Sendable (RunningReconciler) async throws -> T
    ) async throws -> T {
        let logger = { var logger = Logger(label: "reconciler-test"); logger.logLevel = .critical; return logger }()
        let reconciler = Reconciler(options: options, logger: logger, snapshots: { feed.stream() }) { cluster, options in
            var configuration = KubeClient.Configuration()
            configuration.timeout = options.requestTimeout
            configuration.retries = 1
            return try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig(cluster.name)).connection(), configuration: configuration, logger: logger)
        }
        let task = Task { try await reconciler.run() }
        do {
            let result = try await body(RunningReconciler(reconciler: reconciler, feed: feed))
            task.cancel()
            _ = await task.result
            return result
        } catch {
            task.cancel()
            _ = await task.result
            throw error
        }
    }

    static var fastOptions: Reconciler.Options { TestServer.fastReconciler }
}

func adminClient(_ sim: TestKubeSim, _ cluster: String, as user: String? = nil, groups: [String] = []) throws -> KubeClient {
    var configuration = KubeClient.Configuration()
    configuration.retries = 0
    configuration.timeout = .seconds(5)
    if let user { configuration.impersonation = KubeClient.Impersonation(user: user, groups: groups) }
    return try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig(cluster)).connection(), configuration: configuration)
}

@Suite(.serialized) struct ReconcilerTests {
    @Test func aProjectAppearsInBothClustersAndStaysWithoutFurtherWrites() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            try await RunningReconciler.with(sim, feed: feed) { running in
                var world = World()
                let onprem = try adminClient(sim, "onprem"), cloud = try adminClient(sim, "cloud")
                // Role bindings are written last (members get access once the rest is in place).
                try await eventually(within: 10, "both namespaces fully set up") {
                    let dev = try await onprem.listAll(RoleBinding.self, namespace: "mkt-dev")
                    let prod = try await cloud.listAll(RoleBinding.self, namespace: "mkt-prod")
                    return dev.count == 3 && prod.count == 3
                }
                for (client, namespace) in [(onprem, "mkt-dev"), (cloud, "mkt-prod")] {
                    let ns = try await client.get(Namespace.self, namespace)
                    #expect(ns.metadata.labels?["canopy.io/managed-by"] == "canopy")
                    #expect(ns.metadata.labels?["pod-security.kubernetes.io/enforce"] == "baseline")
                    #expect(try await client.listAll(RoleBinding.self, namespace: namespace).count == 3)
                    #expect(try await client.get(LimitRange.self, "canopy-defaults", namespace: namespace).spec?.limits.count == 1)
                    #expect(try await client.get(ClusterRole.self, "canopy:project-member").rules?.isEmpty == false)
                }
                // The project's cap of 8 CPUs is shared by its two namespaces, never exceeded.
                let shared = try await eventually(within: 5, "the cap split over both clusters") {
                    let dev = try await onprem.get(ResourceQuota.self, "canopy-quota", namespace: "mkt-dev").spec?.hard?["requests.cpu"]
                    let prod = try await cloud.get(ResourceQuota.self, "canopy-quota", namespace: "mkt-prod").spec?.hard?["requests.cpu"]
                    return dev.map { $0 + (prod ?? .zero) } == Quantity(8) && dev != .zero && prod != .zero
                }
                #expect(shared < 5)
                // Steady state: passes find nothing to write.
                let onpremCluster = ClusterID("onprem")
                _ = try await running.reconciler.converge(onpremCluster, timeout: .seconds(5))
                let writes = sim.sim.clusters["onprem"]!.writes
                let outcome = try await running.reconciler.converge(onpremCluster, timeout: .seconds(5))
                #expect(outcome.writes == 0)
                #expect(sim.sim.clusters["onprem"]!.writes == writes)
                #expect(running.reconciler.namespaceStatus("mkt-dev", on: onpremCluster) == .ready)
                // Everything Canopy wrote has only fields its kind has: a real server would have
                // dropped any other (with a warning) and Canopy would never see it applied.
                #expect(sim.sim.clusters["onprem"]!.unknownFieldsWarned == [])
                #expect(sim.sim.clusters["cloud"]!.unknownFieldsWarned == [])

                // A new member shows in both clusters, as one binding per namespace.
                let before = (sim.sim.clusters["onprem"]!.writes, sim.sim.clusters["cloud"]!.writes)
                world.users.append(User(id: UserID("u9"), tenantID: world.tenant.id, username: "cat", createdAt: world.now))
                world.grants.append(Grant(id: GrantID("g9"), tenantID: world.tenant.id, projectID: world.project.id, role: .projectMember, subject: .user(UserID("u9")), createdAt: world.now))
                feed.publish(world.snapshot)
                try await eventually(within: 2, "the member's binding in both clusters") {
                    let dev = try await onprem.get(RoleBinding.self, "canopy:member", namespace: "mkt-dev")
                    let prod = try await cloud.get(RoleBinding.self, "canopy:member", namespace: "mkt-prod")
                    return [dev, prod].allSatisfy { $0.subjects?.contains(.user("canopy:coke:cat")) == true }
                }
                _ = try await running.reconciler.converge(onpremCluster, timeout: .seconds(5))
                #expect(sim.sim.clusters["onprem"]!.writes - before.0 == 1)
                #expect(sim.sim.clusters["cloud"]!.writes - before.1 == 1)

                // Removing them takes the access away again.
                world.grants.removeAll { $0.id == GrantID("g9") }
                feed.publish(world.snapshot)
                try await eventually(within: 2, "the member's access removed in both clusters") {
                    let dev = try await onprem.get(RoleBinding.self, "canopy:member", namespace: "mkt-dev")
                    let prod = try await cloud.get(RoleBinding.self, "canopy:member", namespace: "mkt-prod")
                    return [dev, prod].allSatisfy { $0.subjects?.contains(.user("canopy:coke:cat")) == false }
                }

                // Removing the placement deletes the namespace Canopy created.
                world.namespaces.removeAll { $0.name == "mkt-prod" }
                feed.publish(world.snapshot)
                try await eventually(within: 2, "mkt-prod deleted") {
                    do { _ = try await cloud.get(Namespace.self, "mkt-prod"); return false } catch let error as KubeError { return error.httpCode == 404 }
                }
            }
        }
    }

    /// A replica that stops leading in the middle of a pass writes nothing more in it (at most the
    /// write already sent completes): the pass asks before each write, not once at its start.
    @Test func aPassUnderWayStopsWritingWhenTheReplicaStopsLeading() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let onprem = try #require(sim.sim.clusters["onprem"])
            // Ten namespaces on onprem, set up first.
            var world = World()
            for index in 0..<9 {
                world.namespaces.append(ProjectNamespace(
                    id: NamespaceID("x\(index)"), tenantID: world.tenant.id, projectID: world.project.id, clusterID: ClusterID("onprem"),
                    name: "mkt-x\(index)", createdAt: world.now
                ))
            }
            let feed = SnapshotFeed()
            feed.publish(world.snapshot)
            let start = world
            try await RunningReconciler.with(sim, feed: feed) { running in
                var world = start
                let client = try adminClient(sim, "onprem")
                try await eventually(within: 20, "the ten namespaces set up") {
                    try await client.listAll(RoleBinding.self, namespace: "mkt-x8").count == 3
                }
                _ = try await running.reconciler.converge(ClusterID("onprem"), timeout: .seconds(5))
                // A new member: one binding per namespace, ten writes of 150 ms each in one pass.
                onprem.faults.latencyMilliseconds = 150
                let before = onprem.writes
                world.users.append(User(id: UserID("u9"), tenantID: world.tenant.id, username: "cat", createdAt: world.now))
                world.grants.append(Grant(id: GrantID("g9"), tenantID: world.tenant.id, projectID: world.project.id, role: .projectMember, subject: .user(UserID("u9")), createdAt: world.now))
                feed.publish(world.snapshot)
                try await eventually(within: 10, "the first bindings written") { onprem.writes >= before + 2 }
                running.reconciler.setLeading(false)
                let atStepDown = onprem.writes
                try await Task.sleep(for: .seconds(2))
                #expect(onprem.writes <= atStepDown + 1, "\(onprem.writes - atStepDown) writes after stepping down")
                // Leading again, it finishes the work.
                running.reconciler.setLeading(true)
                try await eventually(within: 20, "the member's binding everywhere") {
                    let binding = try await client.get(RoleBinding.self, "canopy:member", namespace: "mkt-x8")
                    return binding.subjects?.contains(.user("canopy:coke:cat")) == true
                }
            }
        }
    }

    @Test func driftIsRepairedAndUnmanagedObjectsAreLeftAlone() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            var options = RunningReconciler.fastOptions
            options.resync = .seconds(600)  // only the watch can notice
            try await RunningReconciler.with(sim, feed: feed, options: options) { running in
                let client = try adminClient(sim, "onprem")
                try await eventually(within: 10, "set up") {
                    running.reconciler.namespaceStatus("mkt-dev", on: ClusterID("onprem")) == .ready
                }
                let mine = ConfigMap(metadata: ObjectMeta(name: "mine", namespace: "mkt-dev"), data: ["a": "1"])
                _ = try await client.create(mine)
                let theirs = RoleBinding(
                    metadata: ObjectMeta(name: "by-hand", namespace: "mkt-dev"), subjects: [.user("someone")],
                    roleRef: RoleRef(kind: "ClusterRole", name: "view")
                )
                _ = try await client.create(theirs)
                try await client.delete(RoleBinding.self, "canopy:member", namespace: "mkt-dev")
                try await client.delete(ResourceQuota.self, "canopy-quota", namespace: "mkt-dev")
                var policy = try await client.get(NetworkPolicy.self, "canopy-same-project", namespace: "mkt-dev")
                policy.spec?.ingress = [NetworkPolicy.IngressRule(from: [NetworkPolicy.Peer(namespaceSelector: NetworkPolicy.Selector(matchLabels: [:]))])]
                _ = try await client.update(policy)
                let restored = try await eventually(within: 5, "the binding, quota and policy restored") {
                    let binding = try? await client.get(RoleBinding.self, "canopy:member", namespace: "mkt-dev")
                    let quota = try? await client.get(ResourceQuota.self, "canopy-quota", namespace: "mkt-dev")
                    let policy = try await client.get(NetworkPolicy.self, "canopy-same-project", namespace: "mkt-dev")
                    return binding != nil && quota != nil && policy.spec?.ingress?.first?.from?.first?.namespaceSelector?.matchLabels?["canopy.io/project"] == "marketing"
                }
                #expect(restored < 5)
                #expect(try await client.get(ConfigMap.self, "mine", namespace: "mkt-dev").data == ["a": "1"])
                #expect(try await client.get(RoleBinding.self, "by-hand", namespace: "mkt-dev").subjects == [.user("someone")])

                // A managed binding made again pointing at another role (a cluster admin's doing:
                // a roleRef cannot change in place) is deleted and made again pointing at Canopy's.
                let viewers = try await client.get(RoleBinding.self, "canopy:viewer", namespace: "mkt-dev")
                running.reconciler.setLeading(false)
                try await client.delete(RoleBinding.self, "canopy:viewer", namespace: "mkt-dev")
                _ = try await client.create(RoleBinding(
                    metadata: ObjectMeta(name: "canopy:viewer", namespace: "mkt-dev", labels: viewers.metadata.labels),
                    subjects: viewers.subjects ?? [], roleRef: RoleRef(kind: "ClusterRole", name: "cluster-admin")
                ))
                running.reconciler.setLeading(true)
                try await eventually(within: 5, "the viewers' binding pointing at Canopy's role again") {
                    try await client.get(RoleBinding.self, "canopy:viewer", namespace: "mkt-dev").roleRef == viewers.roleRef
                }
                try await eventually(within: 5, "ready again") { running.reconciler.namespaceStatus("mkt-dev", on: ClusterID("onprem")) == .ready }

                // Labels on the namespace are restored too.
                _ = try await client.mergePatch(Namespace.self, "mkt-dev", patch: .object(["metadata": .object(["labels": .object(["pod-security.kubernetes.io/enforce": .string("privileged")])])]))
                try await eventually(within: 5, "the Pod Security label restored") {
                    try await client.get(Namespace.self, "mkt-dev").metadata.labels?["pod-security.kubernetes.io/enforce"] == "baseline"
                }
            }
        }
    }

    @Test func anUnreachableClusterBacksOffWithoutDelayingTheOthers() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            try await RunningReconciler.with(sim, feed: feed) { running in
                var world = World()
                let onprem = ClusterID("onprem")
                try await eventually(within: 3, "set up") {
                    running.reconciler.namespaceStatus("mkt-dev", on: onprem) == .ready
                        && running.reconciler.namespaceStatus("mkt-prod", on: ClusterID("cloud")) == .ready
                }
                sim.sim.clusters["onprem"]!.makeUnreachable(for: 6)
                world.grants.append(Grant(id: GrantID("g9"), tenantID: world.tenant.id, projectID: world.project.id, role: .projectViewer, subject: .group("interns"), createdAt: world.now))
                feed.publish(world.snapshot)
                let cloud = try adminClient(sim, "cloud")
                // The healthy cluster converges at once.
                try await eventually(within: 2, "the cloud cluster converged") {
                    try await cloud.get(RoleBinding.self, "canopy:viewer", namespace: "mkt-prod").subjects?.contains(.group("canopy:coke:group:interns")) == true
                }
                try await eventually(within: 5, "onprem reported failing") {
                    running.reconciler.status(of: onprem)?.state == .failing
                }
                let status = running.reconciler.namespaceStatus("mkt-dev", on: onprem)
                #expect(status.state == .error)
                #expect(status.message?.contains("cannot reach the cluster") == true, "\(status)")
                // Back without intervention.
                let client = try adminClient(sim, "onprem")
                try await eventually(within: 10, "onprem converged after it returned") {
                    try await client.get(RoleBinding.self, "canopy:viewer", namespace: "mkt-dev").subjects?.contains(.group("canopy:coke:group:interns")) == true
                }
                try await eventually(within: 3, "onprem status recovered") { running.reconciler.status(of: onprem)?.state == .synced }
            }
        }
    }

    @Test func existingNamespacesAreTakenOverOnlyWhenAdopted() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let client = try adminClient(sim, "onprem")
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "mkt-dev", labels: ["team": "web"])))
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "legacy", namespace: "mkt-dev"), data: ["x": "y"]))
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            try await RunningReconciler.with(sim, feed: feed) { running in
                var world = World()
                let onprem = ClusterID("onprem")
                try await eventually(within: 3, "the namespace reported in the way") {
                    running.reconciler.namespaceStatus("mkt-dev", on: onprem).state == .error
                }
                #expect(running.reconciler.namespaceStatus("mkt-dev", on: onprem).message?.contains("adopt: true") == true)
                #expect(try await client.listAll(RoleBinding.self, namespace: "mkt-dev").isEmpty)
                #expect(try await client.get(Namespace.self, "mkt-dev").metadata.labels?["canopy.io/managed-by"] == nil)

                world.namespaces[0].adopted = true
                feed.publish(world.snapshot)
                try await eventually(within: 3, "adopted") { running.reconciler.namespaceStatus("mkt-dev", on: onprem) == .ready }
                let adopted = try await client.get(Namespace.self, "mkt-dev")
                #expect(adopted.metadata.labels?["canopy.io/managed-by"] == "canopy")
                #expect(adopted.metadata.labels?["team"] == "web")
                #expect(try await client.listAll(RoleBinding.self, namespace: "mkt-dev").count == 3)

                // Removing an adopted placement gives the namespace back, contents intact.
                world.namespaces.removeAll { $0.name == "mkt-dev" }
                feed.publish(world.snapshot)
                try await eventually(within: 3, "given back") {
                    try await client.get(Namespace.self, "mkt-dev").metadata.labels?["canopy.io/managed-by"] == nil
                }
                #expect(try await client.listAll(RoleBinding.self, namespace: "mkt-dev").isEmpty)
                #expect(try await client.get(ConfigMap.self, "legacy", namespace: "mkt-dev").data == ["x": "y"])
                #expect(try await client.get(Namespace.self, "mkt-dev").metadata.labels?["team"] == "web")
            }
        }
    }

    @Test func projectUsersCannotUndoTheirLimits() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            try await RunningReconciler.with(sim, feed: feed) { running in
                try await eventually(within: 3, "set up") { running.reconciler.namespaceStatus("mkt-dev", on: ClusterID("onprem")) == .ready }
                let admin = try adminClient(sim, "onprem", as: "canopy:coke:ann", groups: ["canopy:coke:marketing:admin"])
                let member = try adminClient(sim, "onprem", as: "canopy:coke:bob", groups: ["canopy:coke:marketing:member"])
                let viewer = try adminClient(sim, "onprem", as: "canopy:coke:vic", groups: ["canopy:coke:marketing:viewer"])
                let outsider = try adminClient(sim, "onprem", as: "canopy:coke:eve", groups: ["canopy:coke:sales:admin"])
                func refused(_ call: @Sendable () async throws -> Void) async -> Int? {
                    do { try await call(); return nil } catch let error as KubeError { return error.httpCode } catch { return -1 }
                }
                for user in [admin, member] {
                    // Workloads: yes.
                    _ = try await user.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(UUID().uuidString.prefix(6).lowercased())", namespace: "mkt-dev"), data: [:]))
                    // Their own limits and isolation: no.
                    #expect(await refused { try await user.delete(ResourceQuota.self, "canopy-quota", namespace: "mkt-dev") } == 403)
                    #expect(await refused {
                        var quota = try await user.get(ResourceQuota.self, "canopy-quota", namespace: "mkt-dev")
                        quota.spec?.hard?["requests.cpu"] = Quantity(1000)
                        _ = try await user.update(quota)
                    } == 403)
                    #expect(await refused { try await user.delete(LimitRange.self, "canopy-defaults", namespace: "mkt-dev") } == 403)
                    #expect(await refused { try await user.delete(NetworkPolicy.self, "canopy-same-project", namespace: "mkt-dev") } == 403)
                    #expect(await refused { try await user.delete(RoleBinding.self, "canopy:viewer", namespace: "mkt-dev") } == 403)
                    #expect(await refused {
                        _ = try await user.create(RoleBinding(metadata: ObjectMeta(name: "me-admin", namespace: "mkt-dev"), subjects: [.user("canopy:coke:bob")], roleRef: RoleRef(kind: "ClusterRole", name: "cluster-admin")))
                    } == 403)
                    #expect(await refused {
                        _ = try await user.mergePatch(Namespace.self, "mkt-dev", patch: .object(["metadata": .object(["labels": .object(["pod-security.kubernetes.io/enforce": .string("privileged")])])]))
                    } == 403)
                    #expect(try await user.get(Namespace.self, "mkt-dev").metadata.name == "mkt-dev")
                }
                #expect(await refused { _ = try await viewer.create(ConfigMap(metadata: ObjectMeta(name: "v", namespace: "mkt-dev"), data: [:])) } == 403)
                #expect(try await viewer.listAll(ConfigMap.self, namespace: "mkt-dev").count >= 2)
                #expect(await refused { _ = try await viewer.listAll(Secret.self, namespace: "mkt-dev") } == 403)
                #expect(await refused { _ = try await outsider.listAll(ConfigMap.self, namespace: "mkt-dev") } == 403)
                // Tenant admins hold cluster-admin through their group.
                let tenantAdmin = try adminClient(sim, "onprem", as: "canopy:coke:boss", groups: ["canopy:coke:tenant-admin"])
                #expect(try await tenantAdmin.listAll(Namespace.self).count > 4)
            }
        }
    }

    @Test func aRestartedReconcilerConvergesWithZeroWrites() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            let feed = SnapshotFeed()
            feed.publish(World().snapshot)
            try await RunningReconciler.with(sim, feed: feed) { running in
                try await eventually(within: 3, "set up") {
                    running.reconciler.namespaceStatus("mkt-dev", on: ClusterID("onprem")) == .ready
                        && running.reconciler.namespaceStatus("mkt-prod", on: ClusterID("cloud")) == .ready
                }
                // …with the share planner's limits written (a new namespace's quota starts at zero).
                let onprem = try adminClient(sim, "onprem"), cloud = try adminClient(sim, "cloud")
                try await eventually(within: 5, "quotas sized") {
                    let dev = try await onprem.get(ResourceQuota.self, "canopy-quota", namespace: "mkt-dev").spec?.hard?["requests.cpu"] ?? .zero
                    let prod = try await cloud.get(ResourceQuota.self, "canopy-quota", namespace: "mkt-prod").spec?.hard?["requests.cpu"] ?? .zero
                    return dev > .zero && prod > .zero && dev + prod == Quantity(8)
                }
            }
            let writes = sim.sim.clusters.values.reduce(0) { $0 + $1.writes }
            try await RunningReconciler.with(sim, feed: feed) { running in
                let first = try await running.reconciler.converge(ClusterID("onprem"), timeout: .seconds(5))
                let second = try await running.reconciler.converge(ClusterID("cloud"), timeout: .seconds(5))
                #expect(first.writes == 0 && second.writes == 0)
            }
            #expect(sim.sim.clusters.values.reduce(0) { $0 + $1.writes } == writes)
        }
    }
}
