import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// KubeSim's controller-manager, driven by the real `kubectl`: Deployments make ReplicaSets make
/// pods, StatefulSets and Jobs make theirs, refusals are `FailedCreate` events, the garbage
/// collector follows owner references.
@Suite struct ControllerTests {
    static func deployment(_ name: String, replicas: Int, cpu: String, image: String = "example/api:1") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: \(name), namespace: work}
        spec:
          replicas: \(replicas)
          selector: {matchLabels: {app: \(name)}}
          template:
            metadata: {labels: {app: \(name)}}
            spec:
              containers: [{name: c, image: "\(image)", resources: {requests: {cpu: \(cpu)}, limits: {cpu: \(cpu)}}}]

        """
    }

    /// StatefulSet `db` in `work`: three pods of `image`, `claims` (YAML under `spec`) added.
    static func statefulSet(image: String, claims: String = "") -> String {
        """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db, namespace: work}
        spec:
          replicas: 3
          serviceName: db
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec: {containers: [{name: c, image: "\(image)"}]}

        """ + claims
    }

    static func json(_ kubectl: Kubectl, _ arguments: String...) async throws -> JSON {
        let result = try await kubectl.run(arguments: arguments + ["-n", "work", "-o", "json"])
        return try JSONDecoder().decode(JSON.self, from: Data(result.output.utf8))
    }

    static func names(_ list: JSON) -> [String] {
        (list["items"]?.arrayValue ?? []).compactMap { $0[path: "metadata.name"]?.stringValue }.sorted()
    }

    @Test func aDeploymentRollsOutScalesAndIsCollected() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.deployment("api", replicas: 3, cpu: "100m")).status == 0)
            let rollout = try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s")
            #expect(rollout.status == 0 && rollout.output.contains("successfully rolled out"), "\(rollout.output)")

            let sets = try await Self.json(kubectl, "get", "replicasets")
            let set = try #require(sets["items"]?.arrayValue?.first)
            let hash = try #require(set[path: "metadata.labels"]?["pod-template-hash"]?.stringValue)
            #expect(Self.names(sets) == ["api-\(hash)"])
            #expect(set[path: "metadata.ownerReferences"]?.arrayValue?.first?["kind"] == .string("Deployment"))
            let pods = try await Self.json(kubectl, "get", "pods", "-l", "app=api")
            #expect(Self.names(pods).count == 3 && Self.names(pods).allSatisfy { $0.hasPrefix("api-\(hash)-") && $0.count == "api-\(hash)-".count + 5 }, "\(Self.names(pods))")
            let table = try await kubectl.run("get", "deployment", "api", "-n", "work", "--no-headers")
            #expect(table.output.split(separator: " ").prefix(4) == ["api", "3/3", "3", "3"], "\(table.output)")
            let events = try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=ScalingReplicaSet", "-o", "jsonpath={.items[*].message}")
            #expect(events.output == "Scaled up replica set api-\(hash) from 0 to 3", "\(events.output)")

            // A pod deleted is replaced; the deployment scaled down keeps one.
            let victim = Self.names(pods)[0]
            _ = try await kubectl.run("delete", "pod", victim, "-n", "work")
            try await eventually(within: 10, "the pod replaced") {
                let now = Self.names(try await Self.json(kubectl, "get", "pods", "-l", "app=api"))
                return now.count == 3 && !now.contains(victim)
            }
            #expect(try await kubectl.run("scale", "deployment", "api", "-n", "work", "--replicas=1").status == 0)
            try await eventually(within: 10, "scaled to one") { Self.names(try await Self.json(kubectl, "get", "pods", "-l", "app=api")).count == 1 }

            // A new template: a new set takes the replicas, the old one goes to zero.
            _ = try await kubectl.run("apply", "-f", "-", input: Self.deployment("api", replicas: 1, cpu: "100m", image: "example/api:2"))
            try await eventually(within: 10, "the new set rolled out") {
                let items = try await Self.json(kubectl, "get", "replicasets")["items"]?.arrayValue ?? []
                let replicas = Dictionary(uniqueKeysWithValues: items.map { ($0[path: "metadata.name"]?.stringValue ?? "", SimCount.of($0[path: "spec.replicas"])) })
                return items.count == 2 && replicas["api-\(hash)"] == 0 && replicas.values.sorted() == [0, 1]
            }
            try await eventually(within: 10, "one pod of the new image") {
                try await kubectl.run("get", "pods", "-n", "work", "-l", "app=api", "-o", "jsonpath={.items[*].spec.containers[0].image}").output == "example/api:2"
            }

            // Deleting the deployment collects its sets and their pods.
            _ = try await kubectl.run("delete", "deployment", "api", "-n", "work")
            try await eventually(within: 10, "sets and pods collected") {
                let sets = Self.names(try await Self.json(kubectl, "get", "replicasets"))
                let pods = Self.names(try await Self.json(kubectl, "get", "pods"))
                return sets.isEmpty && pods.isEmpty
            }
            // With --cascade=orphan the set stays, its reference to the deployment gone.
            _ = try await kubectl.run("apply", "-f", "-", input: Self.deployment("keep", replicas: 1, cpu: "100m"))
            try await eventually(within: 10, "the set made") { Self.names(try await Self.json(kubectl, "get", "pods", "-l", "app=keep")).count == 1 }
            _ = try await kubectl.run("delete", "deployment", "keep", "-n", "work", "--cascade=orphan")
            try await eventually(within: 10, "the set orphaned") {
                let items = try await Self.json(kubectl, "get", "replicasets")["items"]?.arrayValue ?? []
                return items.count == 1 && items[0][path: "metadata.ownerReferences"] == nil
            }
            #expect(Self.names(try await Self.json(kubectl, "get", "pods", "-l", "app=keep")).count == 1)
        }
    }

    @Test func aPodTheQuotaRefusesIsAFailedCreateEventAndComesWhenThereIsRoom() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            _ = try await kubectl.run("create", "quota", "compute", "-n", "work", "--hard=requests.cpu=1,limits.cpu=1")
            _ = try await kubectl.run("apply", "-f", "-", input: Self.deployment("api", replicas: 3, cpu: "400m"))
            try await eventually(within: 10, "the refusal reported") {
                try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=FailedCreate", "-o", "name").output.isEmpty == false
            }
            let events = try await Self.json(kubectl, "get", "events", "--field-selector", "reason=FailedCreate")
            let event = try #require(events["items"]?.arrayValue?.first)
            let set = try #require(Self.names(try await Self.json(kubectl, "get", "replicasets")).first)
            // The real controller's words: the pod named by its generateName, the quota's numbers.
            #expect(event["message"]?.stringValue == #"Error creating: pods "\#(set)-" is forbidden: exceeded quota: compute, requested: limits.cpu=400m,requests.cpu=400m, used: limits.cpu=800m,requests.cpu=800m, limited: limits.cpu=1,requests.cpu=1"#,
                    "\(event)")
            #expect(event[path: "involvedObject.kind"] == .string("ReplicaSet") && event[path: "involvedObject.name"] == .string(set))
            #expect(event[path: "source.component"] == .string("replicaset-controller") && event["type"] == .string("Warning"))
            #expect(Self.names(try await Self.json(kubectl, "get", "pods")).count == 2)
            // The controller retries (its back-off): the same event is counted again, and the
            // deployment shows the failure.
            try await eventually(within: 10, "the retries counted") {
                let counted = try await Self.json(kubectl, "get", "events", "--field-selector", "reason=FailedCreate")["items"]?.arrayValue?.first?["count"]
                return SimCount.of(counted) >= 2
            }
            let deployment = try await Self.json(kubectl, "get", "deployment", "api")
            let failure = deployment[path: "status.conditions"]?.arrayValue?.first { $0["type"] == .string("ReplicaFailure") }
            #expect(failure?["reason"] == .string("FailedCreate") && failure?["message"]?.stringValue?.contains("exceeded quota: compute") == true, "\(deployment)")
            // Room made: the next retry creates the third pod, and the failure clears.
            _ = try await kubectl.run("patch", "quota", "compute", "-n", "work", "-p", #"{"spec":{"hard":{"requests.cpu":"2","limits.cpu":"2"}}}"#)
            try await eventually(within: 20, "the third pod") { Self.names(try await Self.json(kubectl, "get", "pods")).count == 3 }
            try await eventually(within: 10, "the failure cleared") {
                let conditions = try await Self.json(kubectl, "get", "deployment", "api")[path: "status.conditions"]?.arrayValue ?? []
                return !conditions.contains { $0["type"] == .string("ReplicaFailure") }
            }
            // A pod created by a client with a generateName is refused in the same words.
            _ = try await kubectl.run("patch", "quota", "compute", "-n", "work", "-p", #"{"spec":{"hard":{"requests.cpu":"1200m","limits.cpu":"1200m"}}}"#)
            let pod = "apiVersion: v1\nkind: Pod\nmetadata: {generateName: gen-, namespace: work}\nspec: {containers: [{name: c, image: x, resources: {limits: {cpu: 500m}}}]}\n"
            let refused = try await kubectl.run("create", "-f", "-", input: pod)
            #expect(refused.status != 0 && refused.output.contains(#"pods "gen-" is forbidden: exceeded quota: compute"#), "\(refused.output)")
        }
    }

    @Test func statefulSetsAndJobsMakeTheirPodsAndClaims() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            _ = try await kubectl.run("create", "quota", "storage", "-n", "work", "--hard=requests.storage=3Gi")
            _ = try await kubectl.run("apply", "-f", "-", input: Self.statefulSet(image: "postgres", claims: """
                  volumeClaimTemplates:
                  - metadata: {name: data}
                    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}

                """))
            // db-0 and its claim; db-1's claim is past the storage quota: no db-1.
            try await eventually(within: 10, "the claim refused") {
                try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=FailedCreate", "-o", "name").output.isEmpty == false
            }
            #expect(Self.names(try await Self.json(kubectl, "get", "pods")) == ["db-0"])
            #expect(Self.names(try await Self.json(kubectl, "get", "pvc")) == ["data-db-0"])
            let message = try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[0].message}").output
            #expect(message == #"create Claim data-db-1 for Pod db-1 in StatefulSet db failed error: persistentvolumeclaims "data-db-1" is forbidden: exceeded quota: storage, requested: requests.storage=2Gi, used: requests.storage=2Gi, limited: requests.storage=3Gi"#,
                    "\(message)")
            let pod = try await Self.json(kubectl, "get", "pod", "db-0")
            #expect(pod[path: "metadata.labels"]?["statefulset.kubernetes.io/pod-name"] == .string("db-0"))
            #expect(pod[path: "spec.volumes"]?.arrayValue?.first?[path: "persistentVolumeClaim.claimName"] == .string("data-db-0"))
            _ = try await kubectl.run("patch", "quota", "storage", "-n", "work", "-p", #"{"spec":{"hard":{"requests.storage":"6Gi"}}}"#)
            try await eventually(within: 20, "all three") { Self.names(try await Self.json(kubectl, "get", "pods")) == ["db-0", "db-1", "db-2"] }
            // Scaled down, the highest ordinals go; the claims stay.
            _ = try await kubectl.run("scale", "statefulset", "db", "-n", "work", "--replicas=1")
            try await eventually(within: 10, "scaled down") { Self.names(try await Self.json(kubectl, "get", "pods")) == ["db-0"] }
            #expect(Self.names(try await Self.json(kubectl, "get", "pvc")) == ["data-db-0", "data-db-1", "data-db-2"])

            // A job runs `parallelism` pods until `completions` succeeded (marked so here: no kubelet).
            let job = """
                apiVersion: batch/v1
                kind: Job
                metadata: {name: batch, namespace: work}
                spec:
                  parallelism: 2
                  completions: 3
                  template:
                    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}

                """
            _ = try await kubectl.run("apply", "-f", "-", input: job)
            @Sendable func jobPods() async throws -> [JSON] {
                try await Self.json(kubectl, "get", "pods", "-l", "job-name=batch")["items"]?.arrayValue ?? []
            }
            try await eventually(within: 10, "two pods run") { try await jobPods().count == 2 }
            // Marked through the status subresource (`kubectl patch --subresource=status`), which
            // changes the status and nothing else.
            for _ in 0..<3 {
                let running = try #require(try await jobPods().first { $0[path: "status.phase"] == .string("Running") })
                let name = running[path: "metadata.name"]?.stringValue ?? ""
                let marked = try await kubectl.run("patch", "pod", name, "-n", "work", "--subresource=status", "--type=merge", "-p", #"{"status":{"phase":"Succeeded"},"spec":{"nodeName":"elsewhere"}}"#)
                #expect(marked.status == 0, "\(marked.output)")
                let after = try await Self.json(kubectl, "get", "pod", name)
                #expect(after[path: "status.phase"] == .string("Succeeded") && after[path: "spec.nodeName"] == running[path: "spec.nodeName"], "\(after)")
                try await Task.sleep(for: .milliseconds(100))
            }
            try await eventually(within: 10, "the job complete") {
                try await kubectl.run("get", "job", "batch", "-n", "work", "-o", "jsonpath={.status.succeeded} {.status.conditions[?(@.type==\"Complete\")].status}").output == "3 True"
            }
            #expect(try await jobPods().count { $0[path: "status.phase"] == .string("Running") } == 0)
            let table = try await kubectl.run("get", "job", "batch", "-n", "work", "--no-headers")
            #expect(table.output.split(separator: " ").prefix(3) == ["batch", "Complete", "3/3"], "\(table.output)")
        }
    }
}

extension ControllerTests {
    @Test func aDeletedNamespaceTerminatesBeforeItGoes() async throws {
        var shape = KubeSim.ClusterShape(nodes: 1)
        shape.namespaceDeletionDelay = 12  // long enough for the checks below under load
        try await TestKubeSim.with(shape: shape) { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            _ = try await kubectl.run("apply", "-f", "-", input: Self.deployment("api", replicas: 2, cpu: "100m"))
            try await eventually(within: 10, "the pods") { Self.names(try await Self.json(kubectl, "get", "pods")).count == 2 }
            let deleted = try await kubectl.run("delete", "namespace", "work", "--wait=false")
            #expect(deleted.status == 0, "\(deleted.output)")
            // Terminating: still there, with its content; nothing new may go in; a second delete
            // and a new namespace of the name are refused as a real server refuses them.
            let space = try await kubectl.run("get", "namespace", "work", "-o", "jsonpath={.status.phase} {.spec.finalizers[0]} {.metadata.deletionTimestamp}")
            #expect(space.output.hasPrefix("Terminating kubernetes 20"), "\(space.output)")
            #expect(Self.names(try await Self.json(kubectl, "get", "pods")).count == 2)
            let again = try await kubectl.run("delete", "namespace", "work", "--wait=false")
            #expect(again.status != 0 && again.output.contains(#"Operation cannot be fulfilled on namespaces "work": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."#), "\(again.output)")
            let content = try await kubectl.run("create", "configmap", "late", "-n", "work")
            #expect(content.status != 0 && content.output.contains(#"configmaps "late" is forbidden: unable to create new content in namespace work because it is being terminated"#), "\(content.output)")
            let recreated = try await kubectl.run("create", "namespace", "work")
            #expect(recreated.status != 0 && recreated.output.contains("AlreadyExists"), "\(recreated.output)")
            // Then the namespace controller empties it and it goes; kubectl's wait sees it go.
            let waited = try await kubectl.run("wait", "--for=delete", "namespace/work", "--timeout=30s")
            #expect(waited.status == 0, "\(waited.output)")
            #expect(try await kubectl.run("get", "pods", "-n", "work", "-o", "name").output.isEmpty)
            #expect(try await kubectl.run("create", "namespace", "work").status == 0)
        }
    }
}

extension ControllerTests {
    final class WeakCluster: @unchecked Sendable { weak var cluster: SimCluster? }

    /// The controllers do not keep a cluster alive: one nobody holds goes, its queue with it.
    @Test func aClusterNobodyHoldsGoesWithItsControllers() async throws {
        let weak = WeakCluster()
        do {
            let cluster = SimCluster(name: "gone", nodes: [])
            weak.cluster = cluster
            try cluster.create(SimCluster.namespaceType, namespace: nil, object: .object(["metadata": .object(["name": .string("work")])]))
            let deployments = try #require(ResourceType.find(group: "apps", version: "v1", resource: "deployments"))
            let template: JSON = .object(["metadata": .object(["labels": .object(["app": .string("x")])]),
                                          "spec": .object(["containers": .array([.object(["name": .string("c"), "image": .string("x")])])])])
            try cluster.create(deployments, namespace: "work", object: .object([
                "metadata": .object(["name": .string("x")]),
                "spec": .object(["replicas": .number(2), "selector": .object(["matchLabels": .object(["app": .string("x")])]), "template": template]),
            ]))
            let pods = try #require(ResourceType.find(group: "", version: "v1", resource: "pods"))
            try await eventually(within: 10, "the pods made") { try cluster.list(pods, namespace: "work").items.count == 2 }
        }
        try await eventually(within: 10, "the cluster released") { weak.cluster == nil }
    }
}

extension ControllerTests {
    /// The garbage collector follows owner references as they are now: a dependent whose
    /// reference was removed by an update stays, one that gained a reference goes, and owners
    /// named by uid are matched only in the dependent's namespace.
    @Test func theCollectorFollowsReferencesAsUpdated() async throws {
        let cluster = SimCluster(name: "gc", nodes: [])
        let configMaps = try #require(ResourceType.find(group: "", version: "v1", resource: "configmaps"))
        for namespace in ["work", "other"] {
            try cluster.create(SimCluster.namespaceType, namespace: nil, object: .object(["metadata": .object(["name": .string(namespace)])]))
        }
        func make(_ name: String, in namespace: String = "work", owner: JSON? = nil) throws -> JSON {
            var metadata: [String: JSON] = ["name": .string(name)]
            if let owner { metadata["ownerReferences"] = .array([.object(["apiVersion": .string("v1"), "kind": .string("ConfigMap"), "name": owner[path: "metadata.name"] ?? .null, "uid": owner[path: "metadata.uid"] ?? .null])]) }
            return try cluster.create(configMaps, namespace: namespace, object: .object(["metadata": .object(metadata)]))
        }
        let owner = try make("owner")
        _ = try make("kept", owner: owner)
        _ = try make("collected", owner: owner)
        _ = try make("elsewhere", in: "other", owner: owner)
        let adopted = try make("adopted")
        var released = try cluster.get(configMaps, namespace: "work", name: "kept")
        released[path: "metadata.ownerReferences"] = nil
        try cluster.update(configMaps, namespace: "work", name: "kept", object: released)
        var claimed = adopted
        claimed[path: "metadata.ownerReferences"] = .array([.object(["apiVersion": .string("v1"), "kind": .string("ConfigMap"), "name": .string("owner"), "uid": owner[path: "metadata.uid"] ?? .null])])
        try cluster.update(configMaps, namespace: "work", name: "adopted", object: claimed)
        try cluster.delete(configMaps, namespace: "work", name: "owner")
        @Sendable func names(_ namespace: String) throws -> [String] {
            try cluster.list(configMaps, namespace: namespace).items.compactMap { $0[path: "metadata.name"]?.stringValue }.sorted()
        }
        try await eventually(within: 10, "the dependents collected") { try names("work") == ["kept"] }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try names("work") == ["kept"])
        #expect(try names("other") == ["elsewhere"])
    }
}

extension ControllerTests {
    /// Every namespace holds the cluster's CA as `kube-root-ca.crt`, the system ones from the
    /// start, a new one soon after; deleted, it comes back; edited, it is put right.
    @Test func everyNamespaceHoldsTheClustersRootCA() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            @Sendable func bundle(_ namespace: String) async throws -> String? {
                let result = try await kubectl.run("get", "configmap", "kube-root-ca.crt", "-n", namespace, "-o", "jsonpath={.data.ca\\.crt}")
                return result.status == 0 ? result.output : nil
            }
            let pem = sim.sim.certificate.certificatePEM
            for namespace in ["default", "kube-system", "kube-public"] { #expect(try await bundle(namespace) == pem, "\(namespace)") }
            _ = try await kubectl.run("create", "namespace", "work")
            try await eventually(within: 5, "published in a new namespace") { try await bundle("work") == pem }
            _ = try await kubectl.run("delete", "configmap", "kube-root-ca.crt", "-n", "work")
            try await eventually(within: 5, "published again") { try await bundle("work") == pem }
            _ = try await kubectl.run("patch", "configmap", "kube-root-ca.crt", "-n", "work", "-p", #"{"data":{"ca.crt":"mine"}}"#)
            try await eventually(within: 5, "put right") { try await bundle("work") == pem }
        }
    }
}

enum SimCount {
    static func of(_ value: JSON?) -> Int { value?.numberValue.map { Int($0) } ?? 0 }
}
