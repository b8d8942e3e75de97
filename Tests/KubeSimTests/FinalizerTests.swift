import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// Finalizers hold a deleted object, marked, until they are removed; a foreground deletion
/// removes the owner only after everything it owned has gone, as on a real cluster.
@Suite struct FinalizerTests {
    static let configMaps = ResourceType.find(group: "", version: "v1", resource: "configmaps")!

    @Test func anObjectWithFinalizersStaysUntilTheyAreRemoved() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let cluster = try #require(sim.sim.clusters["a"])
            #expect(try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\n").status == 0)
            let deleted = try await kubectl.run("delete", "configmap", "held", "--wait=false")
            #expect(deleted.status == 0, "\(deleted.output)")
            let marked = try cluster.get(Self.configMaps, namespace: "default", name: "held")
            #expect(marked[path: "metadata.deletionTimestamp"] != nil)
            #expect(marked[path: "metadata.finalizers"] == .array([.string("example.com/hold")]))

            // Nothing new may hold it longer; its other changes are still taken.
            let added = try await kubectl.run("patch", "configmap", "held", "--type=json", "-p", #"[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]"#)
            #expect(added.output.contains(#"metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/more"}"#), "\(added.output)")
            #expect(try await kubectl.run("label", "configmap", "held", "state=draining").status == 0)
            #expect(try cluster.get(Self.configMaps, namespace: "default", name: "held")[path: "metadata.deletionTimestamp"] == marked[path: "metadata.deletionTimestamp"])

            let released = try await kubectl.run("patch", "configmap", "held", "--type=merge", "-p", #"{"metadata":{"finalizers":null}}"#)
            #expect(released.status == 0, "\(released.output)")
            #expect(throws: Status.self) { try cluster.get(Self.configMaps, namespace: "default", name: "held") }
        }
    }

    @Test func aForegroundDeletionRemovesTheOwnerLast() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let cluster = try #require(sim.sim.clusters["a"])
            let deployments = try #require(ResourceType.find(group: "apps", version: "v1", resource: "deployments"))
            let sets = try #require(ResourceType.find(group: "apps", version: "v1", resource: "replicasets"))
            let pods = try #require(ResourceType.find(group: "", version: "v1", resource: "pods"))
            #expect(try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment).status == 0)
            try await eventually(within: 10, "two pods") { try cluster.list(pods, namespace: "default").items.count == 2 }

            let marked = try cluster.delete(deployments, namespace: "default", name: "api", propagation: "Foreground")
            #expect(marked[path: "metadata.finalizers"] == .array([.string("foregroundDeletion")]))
            #expect(marked[path: "metadata.deletionTimestamp"] != nil)
            try await eventually(within: 10, "the deployment gone") { (try? cluster.get(deployments, namespace: "default", name: "api")) == nil }
            // It went last: nothing it owned is left.
            #expect(try cluster.list(sets, namespace: "default").items.isEmpty)
            #expect(try cluster.list(pods, namespace: "default").items.isEmpty)

            // kubectl's `--cascade=foreground` waits for the same.
            #expect(try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment).status == 0)
            try await eventually(within: 10, "two pods again") { try cluster.list(pods, namespace: "default").items.count == 2 }
            let foreground = try await kubectl.run("delete", "deployment", "api", "--cascade=foreground")
            #expect(foreground.status == 0 && foreground.output.contains("deployment.apps \"api\" deleted"), "\(foreground.output)")
            #expect(try cluster.list(pods, namespace: "default").items.isEmpty)
        }
    }
}
