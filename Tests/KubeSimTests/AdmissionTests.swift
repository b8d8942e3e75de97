import Foundation
import Synchronization
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// Quota, LimitRange, ServiceAccount and scheduling admission, through KubeClient.
@Suite struct AdmissionTests {
    static func pod(_ name: String, cpu: String?, memory: String?, namespace: String = "q") throws -> Pod {
        var resources: [String: Quantity] = [:]
        if let cpu { resources["cpu"] = try Quantity(parsing: cpu) }
        if let memory { resources["memory"] = try Quantity(parsing: memory) }
        let requirements = resources.isEmpty ? nil : ResourceRequirements(requests: resources, limits: resources)
        return Pod(metadata: ObjectMeta(name: name, namespace: namespace), spec: .init(containers: [Container(name: "c", image: "nginx", resources: requirements)]))
    }

    static func admin(_ sim: TestKubeSim) throws -> KubeClient {
        try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
    }

    @Test func quotaRefusesWithTheRealMessageAndCountsUsage() async throws {
        try await TestKubeSim.with { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            let hard = try ["requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2", "limits.memory": "2Gi", "pods": "3"].mapValues { try Quantity(parsing: $0) }
            _ = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "compute", namespace: "q"), hard: hard))
            _ = try await kube.create(try Self.pod("small", cpu: "500m", memory: "256Mi"))
            let refused = await #expect(throws: KubeError.self) { try await kube.create(try Self.pod("big2", cpu: "4", memory: "8Gi")) }
            #expect(refused?.httpCode == 403 && refused?.reason == "Forbidden")
            #expect(refused?.status?.message == "pods \"big2\" is forbidden: exceeded quota: compute, requested: limits.cpu=4,limits.memory=8Gi,requests.cpu=4,requests.memory=8Gi, used: limits.cpu=500m,limits.memory=256Mi,requests.cpu=500m,requests.memory=256Mi, limited: limits.cpu=2,limits.memory=2Gi,requests.cpu=1,requests.memory=1Gi")
            #expect(refused?.status?.details?.name == "big2" && refused?.status?.details?.kind == "pods")
            var quota = try await kube.get(ResourceQuota.self, "compute", namespace: "q")
            #expect(quota.status?.used?["requests.cpu"] == Quantity(milli: 500))
            #expect(quota.status?.used?["pods"] == Quantity(1))
            try await kube.delete(Pod.self, "small", namespace: "q")
            quota = try await kube.get(ResourceQuota.self, "compute", namespace: "q")
            #expect(quota.status?.used?["requests.cpu"] == .zero)
            let unspecified = await #expect(throws: KubeError.self) { try await kube.create(try Self.pod("bare", cpu: nil, memory: nil)) }
            #expect(unspecified?.status?.message?.hasPrefix("pods \"bare\" is forbidden: failed quota: compute: must specify") == true)
        }
    }

    /// As on a real cluster, quota admission enforces `status.hard`, which the quota controller
    /// takes up from the spec a moment after each change: a new quota enforces nothing until
    /// then, and a lowered one its old limit.
    @Test func quotaAdmissionEnforcesWhatTheControllerTookUp() async throws {
        var shape = KubeSim.ClusterShape(nodes: 3)
        shape.quotaControllerDelay = 0.6
        try await TestKubeSim.with(shape: shape) { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            let created = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "compute", namespace: "q"), hard: ["requests.cpu": Quantity(milli: 100), "requests.memory": try Quantity(parsing: "1Gi")]))
            #expect(created.status?.hard == nil)
            // Not taken up yet: nothing is enforced, and the pod is not counted.
            _ = try await kube.create(try Self.pod("early", cpu: "500m", memory: "64Mi"))
            var quota = try await Self.takenUp(kube, cpu: Quantity(milli: 100))
            #expect(quota.status?.used?["requests.cpu"] == Quantity(milli: 500))
            let refused = await #expect(throws: KubeError.self) { try await kube.create(try Self.pod("late", cpu: "100m", memory: "64Mi")) }
            #expect(refused?.status?.message?.contains("exceeded quota: compute, requested: requests.cpu=100m, used: requests.cpu=500m, limited: requests.cpu=100m") == true)
            // Raised in the spec: the old limit holds until the controller takes the new one up.
            quota.spec?.hard?["requests.cpu"] = Quantity(2)
            let updated = try await kube.update(quota)
            #expect(updated.status?.hard?["requests.cpu"] == Quantity(milli: 100))
            await #expect(throws: KubeError.self) { try await kube.create(try Self.pod("late", cpu: "100m", memory: "64Mi")) }
            _ = try await Self.takenUp(kube, cpu: Quantity(2))
            _ = try await kube.create(try Self.pod("late", cpu: "100m", memory: "64Mi"))
        }
    }

    /// Waits (up to 5 s) for the quota's `status.hard` to show `cpu` requests.
    static func takenUp(_ kube: KubeClient, cpu: Quantity) async throws -> ResourceQuota {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let quota = try await kube.get(ResourceQuota.self, "compute", namespace: "q")
            if quota.status?.hard?["requests.cpu"] == cpu { return quota }
            guard ContinuousClock.now < deadline else { throw TestFailure("status.hard is \(quota.status?.hard ?? [:])") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func limitRangeDefaultsAreAppliedAndCounted() async throws {
        try await TestKubeSim.with { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            _ = try await kube.create(LimitRange(metadata: ObjectMeta(name: "canopy-defaults", namespace: "q"), limits: [
                LimitRange.Item(default: ["cpu": Quantity(milli: 500), "memory": try Quantity(parsing: "512Mi")],
                                defaultRequest: ["cpu": Quantity(milli: 100), "memory": try Quantity(parsing: "128Mi")]),
            ]))
            _ = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "compute", namespace: "q"), hard: ["requests.cpu": Quantity(1)]))
            let created = try await kube.create(try Self.pod("bare", cpu: nil, memory: nil))
            #expect(created.spec?.containers.first?.resources?.requests?["cpu"] == Quantity(milli: 100))
            #expect(created.spec?.containers.first?.resources?.limits?["memory"] == (try Quantity(parsing: "512Mi")))
            let quota = try await kube.get(ResourceQuota.self, "compute", namespace: "q")
            #expect(quota.status?.used?["requests.cpu"] == Quantity(milli: 100))
        }
    }

    @Test func concurrentPodsNeverOvershootTheQuota() async throws {
        try await TestKubeSim.with { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            _ = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "compute", namespace: "q"), hard: ["requests.cpu": Quantity(2)]))
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask { (try? await kube.create(try Self.pod("p\(index)", cpu: "300m", memory: "10Mi"))) != nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(admitted == 6)
            let quota = try await kube.get(ResourceQuota.self, "compute", namespace: "q")
            #expect(quota.status?.used?["requests.cpu"] == Quantity(milli: 1800))
        }
    }

    @Test func podsBindToNodesThatFitOrStayPending() async throws {
        try await TestKubeSim.with(shape: KubeSim.ClusterShape(nodes: 2, nodeCPU: Quantity(2))) { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            let first = try await kube.create(try Self.pod("a", cpu: "1500m", memory: "1Gi"))
            let second = try await kube.create(try Self.pod("b", cpu: "1500m", memory: "1Gi"))
            let third = try await kube.create(try Self.pod("c", cpu: "1500m", memory: "1Gi"))
            #expect(first.spec?.nodeName == "node-1" && first.status?.phase == "Running")
            #expect(second.spec?.nodeName == "node-2" && second.status?.phase == "Running")
            #expect(third.spec?.nodeName == nil && third.status?.phase == "Pending")
            let events = try await kube.list(KubeEvent.self, namespace: "q").items.filter { $0.reason == "FailedScheduling" }
            #expect(events.map(\.message) == ["0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."],
                    "\(events.map(\.message))")
            #expect(events.first?.involvedObject?.name == "c" && events.first?.type == "Warning")
        }
    }

    @Test func podsWaitForTheDefaultServiceAccount() async throws {
        let now = Mutex(Date())
        try await TestKubeSim.with(shape: KubeSim.ClusterShape(nodes: 1, serviceAccountDelay: 1), clock: { now.withLock { $0 } }) { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            let early = await #expect(throws: KubeError.self) { try await kube.create(try Self.pod("early", cpu: "100m", memory: "10Mi")) }
            #expect(early?.status?.message == "pods \"early\" is forbidden: error looking up service account q/default: serviceaccount \"default\" not found", "\(early?.status?.message ?? "")")
            now.withLock { $0 += 1.5 }
            #expect(try await kube.create(try Self.pod("late", cpu: "100m", memory: "10Mi")).metadata.name == "late")
            #expect(try await kube.get(ServiceAccount.self, "default", namespace: "q").metadata.name == "default")
        }
    }

    /// The service-account controller makes the account when it is due, as a real one does: a
    /// watch sees it then, with nothing read in between.
    @Test func theDefaultServiceAccountAppearsWhenDueWithoutBeingAskedFor() async throws {
        try await TestKubeSim.with(shape: KubeSim.ClusterShape(nodes: 1, serviceAccountDelay: 0.5)) { sim in
            let kube = try Self.admin(sim)
            let seen = Mutex<Date?>(nil)
            let watcher = Task {
                try await kube.watch(ServiceAccount.self) { event in
                    if event.type == "ADDED", event.object.metadata.namespace == "w" { seen.withLock { $0 = $0 ?? Date() } }
                }
            }
            defer { watcher.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            let created = Date()
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "w")))
            try await eventually(within: 5, "the account seen by the watch") { seen.withLock { $0 } != nil }
            let after = try #require(seen.withLock { $0 }).timeIntervalSince(created)
            #expect(after >= 0.45, "seen \(after) s after the namespace was made")
        }
    }

    /// The service-account controller's create passes quota admission: a `count/serviceaccounts`
    /// quota of zero keeps the account (and so every pod) out until it grows, as on a real cluster.
    @Test func theDefaultServiceAccountCountsAgainstTheQuota() async throws {
        try await TestKubeSim.with(shape: KubeSim.ClusterShape(nodes: 1, serviceAccountDelay: 0.5)) { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "tight")))
            _ = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "accounts", namespace: "tight"), hard: ["count/serviceaccounts": Quantity(0)]))
            try await Task.sleep(for: .seconds(1))
            await #expect(throws: KubeError.self) { try await kube.get(ServiceAccount.self, "default", namespace: "tight") }
            var quota = try await kube.get(ResourceQuota.self, "accounts", namespace: "tight")
            quota.spec?.hard?["count/serviceaccounts"] = Quantity(1)
            _ = try await kube.update(quota)
            try await eventually(within: 10, "the account once the quota allows it") {
                (try? await kube.get(ServiceAccount.self, "default", namespace: "tight")) != nil
            }
            try await eventually(within: 5, "the account counted") {
                try await kube.get(ResourceQuota.self, "accounts", namespace: "tight").status?.used?["count/serviceaccounts"] == Quantity(1)
            }
        }
    }

    /// The account appears when due whoever looks first: a list or a get, not only a pod.
    @Test func theDefaultServiceAccountIsListedOnceDue() async throws {
        let now = Mutex(Date())
        try await TestKubeSim.with(shape: KubeSim.ClusterShape(nodes: 1, serviceAccountDelay: 1), clock: { now.withLock { $0 } }) { sim in
            let kube = try Self.admin(sim)
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            let named = FieldSelector([.init(path: "metadata.name", value: "default")])
            let early = try await kube.list(ServiceAccount.self, fieldSelector: named).items.compactMap(\.metadata.namespace)
            #expect(!early.contains("q"), "\(early)")
            await #expect(throws: KubeError.self) { try await kube.get(ServiceAccount.self, "default", namespace: "q") }
            now.withLock { $0 += 1.5 }
            let late = try await kube.list(ServiceAccount.self, fieldSelector: named).items
            #expect(late.contains { $0.metadata.namespace == "q" } && late.allSatisfy { $0.metadata.name == "default" }, "\(late.map(\.metadata))")
        }
    }
}

@Suite struct CountQuotaTests {
    @Test func objectCountQuotasLimitAnyKind() async throws {
        try await TestKubeSim.with { sim in
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            _ = try await kube.create(Namespace(metadata: ObjectMeta(name: "q")))
            // The namespace's kube-root-ca.crt (the cluster's root-CA publisher) counts too.
            try await eventually(within: 5, "the root CA published") { (try? await kube.get(ConfigMap.self, "kube-root-ca.crt", namespace: "q")) != nil }
            _ = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "objects", namespace: "q"), hard: ["count/configmaps": Quantity(3)]))
            #expect(try await kube.get(ResourceQuota.self, "objects", namespace: "q").status?.used?["count/configmaps"] == Quantity(1))
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "one", namespace: "q"), data: [:]))
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "two", namespace: "q"), data: [:]))
            let refused = await #expect(throws: KubeError.self) { try await kube.create(ConfigMap(metadata: ObjectMeta(name: "three", namespace: "q"), data: [:])) }
            #expect(refused?.status?.message == "configmaps \"three\" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=3, limited: count/configmaps=3")
            try await kube.delete(ConfigMap.self, "one", namespace: "q")
            #expect(try await kube.get(ResourceQuota.self, "objects", namespace: "q").status?.used?["count/configmaps"] == Quantity(2))
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "three", namespace: "q"), data: [:]))
            // A quota lowered to what else is there: a deleted kube-root-ca.crt cannot come back
            // (the publisher is refused like anyone) until the quota has room again.
            var quota = try await kube.get(ResourceQuota.self, "objects", namespace: "q")
            quota.spec?.hard = ["count/configmaps": Quantity(2)]
            _ = try await kube.update(quota)
            try await kube.delete(ConfigMap.self, "kube-root-ca.crt", namespace: "q")
            try await Task.sleep(for: .milliseconds(300))
            #expect((try? await kube.get(ConfigMap.self, "kube-root-ca.crt", namespace: "q")) == nil)
            quota = try await kube.get(ResourceQuota.self, "objects", namespace: "q")
            quota.spec?.hard = ["count/configmaps": Quantity(3)]
            _ = try await kube.update(quota)
            try await eventually(within: 10, "published again once there is room") { (try? await kube.get(ConfigMap.self, "kube-root-ca.crt", namespace: "q")) != nil }
        }
    }

    /// Claims count their storage (also per storage class) and services their load balancers
    /// and node ports, by a real server's names and messages; the plain names count objects.
    @Test func storageAndServiceQuotasCountWhatARealServerCounts() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "q")
            let quota = """
                apiVersion: v1
                kind: ResourceQuota
                metadata: {name: storage, namespace: q}
                spec:
                  hard: {requests.storage: 10Gi, persistentvolumeclaims: "2", gold.storageclass.storage.k8s.io/requests.storage: 3Gi, services.loadbalancers: "0", services: "5"}

                """
            _ = try await kubectl.run("apply", "-f", "-", input: quota)
            func claim(_ name: String, _ size: String, storageClass: String? = nil) async throws -> (status: Int32, output: String) {
                let spec = "{accessModes: [ReadWriteOnce], resources: {requests: {storage: \(size)}}\(storageClass.map { ", storageClassName: \($0)" } ?? "")}"
                let result = try await kubectl.run("apply", "-f", "-", input: "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: \(name), namespace: q}\nspec: \(spec)\n")
                return (result.status, result.output)
            }
            #expect(try await claim("a", "4Gi").status == 0)
            let gold = try await claim("b", "4Gi", storageClass: "gold")
            #expect(gold.output.contains("persistentvolumeclaims \"b\" is forbidden: exceeded quota: storage, requested: gold.storageclass.storage.k8s.io/requests.storage=4Gi, used: gold.storageclass.storage.k8s.io/requests.storage=0, limited: gold.storageclass.storage.k8s.io/requests.storage=3Gi"), "\(gold.output)")
            let large = try await claim("c", "7Gi")
            #expect(large.output.contains("exceeded quota: storage, requested: requests.storage=7Gi, used: requests.storage=4Gi, limited: requests.storage=10Gi"), "\(large.output)")
            #expect(try await claim("d", "1Gi", storageClass: "gold").status == 0)
            let third = try await claim("e", "1Gi")
            #expect(third.output.contains("requested: persistentvolumeclaims=1, used: persistentvolumeclaims=2, limited: persistentvolumeclaims=2"), "\(third.output)")
            let used = try await kubectl.run("get", "resourcequota", "storage", "-n", "q", "-o", "jsonpath={.status.used}")
            #expect(used.output.contains("\"requests.storage\":\"5Gi\"") && used.output.contains("\"gold.storageclass.storage.k8s.io/requests.storage\":\"1Gi\""), "\(used.output)")
            _ = try await kubectl.run("delete", "pvc", "a", "-n", "q")
            let after = try await kubectl.run("get", "resourcequota", "storage", "-n", "q", "-o", "jsonpath={.status.used.requests\\.storage} {.status.used.persistentvolumeclaims}")
            #expect(after.output == "1Gi 1", "\(after.output)")
            // A load balancer is refused by services.loadbalancers=0; a plain service is counted.
            let balancer = try await kubectl.run("create", "service", "loadbalancer", "web", "-n", "q", "--tcp=80:80")
            #expect(balancer.output.contains("services \"web\" is forbidden: exceeded quota: storage, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0"), "\(balancer.output)")
            #expect(try await kubectl.run("create", "service", "clusterip", "api", "-n", "q", "--tcp=80:80").status == 0)
            #expect(try await kubectl.run("get", "resourcequota", "storage", "-n", "q", "-o", "jsonpath={.status.used.services}").output == "1")
        }
    }
}
