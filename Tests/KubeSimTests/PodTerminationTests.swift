import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// Graceful pod deletion, driven by the real `kubectl`: a deleted pod stays `Terminating`, still
/// counted by the quota, until its containers have stopped; its controller's replacement waits
/// for the room as on a real cluster.
@Suite struct PodTerminationTests {
    @Test func aDeletedPodTerminatesAndHoldsItsQuotaUntilItIsGone() async throws {
        try await TestKubeSim.with { sim in
            let cluster = try #require(sim.sim.clusters["a"])
            cluster.podTerminationDelay = 8  // long enough for the checks below under load
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            _ = try await kubectl.run("create", "quota", "compute", "-n", "work", "--hard=requests.cpu=200m")
            _ = try await kubectl.run("apply", "-f", "-", input: ControllerTests.deployment("api", replicas: 2, cpu: "100m"))
            try await eventually(within: 10, "two pods") { ControllerTests.names(try await ControllerTests.json(kubectl, "get", "pods")).count == 2 }
            let victim = try #require(ControllerTests.names(try await ControllerTests.json(kubectl, "get", "pods")).first)

            let deleted = try await kubectl.run("delete", "pod", victim, "-n", "work", "--wait=false")
            #expect(deleted.status == 0 && deleted.output.contains("pod \"\(victim)\" deleted"), "\(deleted.output)")
            let pod = try await ControllerTests.json(kubectl, "get", "pod", victim)
            #expect(pod[path: "metadata.deletionTimestamp"] != nil && pod[path: "metadata.deletionGracePeriodSeconds"] == .number(30), "\(pod)")
            // A change to a terminating pod (no finalizers, a grace period) keeps it terminating.
            #expect(try await kubectl.run("label", "pod", victim, "-n", "work", "seen=yes").status == 0)
            let table = try await kubectl.run("get", "pods", "-n", "work")
            #expect(table.output.split(separator: "\n").contains { $0.hasPrefix(victim) && $0.contains("Terminating") }, "\(table.output)")
            // The quota still counts it: the set's replacement is refused meanwhile.
            try await eventually(within: 5, "the replacement refused") {
                try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[*].message}").output
                    .contains("exceeded quota: compute, requested: requests.cpu=100m, used: requests.cpu=200m, limited: requests.cpu=200m")
            }
            // Its containers stopped, it goes, and the replacement gets in.
            try await eventually(within: 25, "the pod gone and replaced") {
                let pods = try await ControllerTests.json(kubectl, "get", "pods")["items"]?.arrayValue ?? []
                return pods.count == 2 && !ControllerTests.names(.object(["items": .array(pods)])).contains(victim)
                    && pods.allSatisfy { $0[path: "metadata.deletionTimestamp"] == nil && $0[path: "status.phase"] == .string("Running") }
            }

            // --force --grace-period=0: gone at once.
            let other = try #require(ControllerTests.names(try await ControllerTests.json(kubectl, "get", "pods")).first)
            let forced = try await kubectl.run("delete", "pod", other, "-n", "work", "--force", "--grace-period=0")
            #expect(forced.status == 0, "\(forced.output)")
            let after = try await kubectl.run("get", "pod", other, "-n", "work")
            #expect(after.status != 0 && after.output.contains("pods \"\(other)\" not found"), "\(after.output)")
        }
    }

    /// A terminating pod with a finalizer outlives its grace period until the finalizer is
    /// removed, then goes.
    @Test func aPodsFinalizerHoldsItPastItsGracePeriod() async throws {
        try await TestKubeSim.with { sim in
            let cluster = try #require(sim.sim.clusters["a"])
            cluster.podTerminationDelay = 1
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: held, finalizers: [example.com/hold]}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{name: c, image: nginx}]\n"
            #expect(try await kubectl.run("apply", "-f", "-", input: pod).status == 0)
            #expect(try await kubectl.run("delete", "pod", "held", "--wait=false").status == 0)
            // Its containers stopped (the kubelet's last DELETE, with no grace left): still there, held.
            try await eventually(within: 10, "the kubelet's last delete") {
                try await kubectl.run("get", "pod", "held", "-o", "jsonpath={.metadata.deletionGracePeriodSeconds}").output == "0"
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await kubectl.run("get", "pod", "held", "-o", "jsonpath={.metadata.finalizers[0]}").output == "example.com/hold")
            #expect(try await kubectl.run("patch", "pod", "held", "--type=json", "-p", #"[{"op":"remove","path":"/metadata/finalizers"}]"#).status == 0)
            try await eventually(within: 10, "the pod gone with its finalizer") { try await kubectl.run("get", "pod", "held").status != 0 }
        }
    }
}
