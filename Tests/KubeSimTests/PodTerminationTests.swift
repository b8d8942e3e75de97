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
}
