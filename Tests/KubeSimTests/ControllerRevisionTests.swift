import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// Stateful sets and daemon sets keep their history as ControllerRevisions, so that
/// `kubectl rollout history` lists it and `kubectl rollout undo` goes back, as on a real cluster.
@Suite struct ControllerRevisionTests {
    @Test func aStatefulSetsHistoryIsListedAndUndone() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: SpecUpdateTests.statefulSet).status == 0)
            #expect(try await kubectl.run("rollout", "status", "statefulset/db", "--timeout=20s").status == 0)
            #expect(try await kubectl.run("set", "image", "statefulset/db", "db=postgres:17").status == 0)
            #expect(try await kubectl.run("rollout", "status", "statefulset/db", "--timeout=20s").status == 0)

            let history = try await kubectl.run("rollout", "history", "statefulset/db")
            #expect(history.status == 0, "\(history.output)")
            let numbers = history.output.split(separator: "\n").compactMap { Int($0.split(separator: " ").first ?? "") }
            #expect(numbers == [1, 2], "\(history.output)")
            let second = try await kubectl.run("rollout", "history", "statefulset/db", "--revision=2")
            #expect(second.output.contains("postgres:17"), "\(second.output)")
            let listed = try await kubectl.run("get", "controllerrevisions")
            #expect(listed.output.contains("CONTROLLER") && listed.output.contains("statefulset.apps/db"), "\(listed.output)")

            // Undo applies revision 1's template again, which becomes revision 3.
            let undone = try await kubectl.run("rollout", "undo", "statefulset/db")
            #expect(undone.status == 0 && undone.output.contains("rolled back"), "\(undone.output)")
            #expect(try await kubectl.run("get", "statefulset", "db", "-o", "jsonpath={.spec.template.spec.containers[0].image}").output == "postgres:16")
            try await eventually(within: 10, "the old template as revision 3") {
                let after = try await kubectl.run("rollout", "history", "statefulset/db").output
                return after.split(separator: "\n").compactMap { Int($0.split(separator: " ").first ?? "") } == [2, 3]
            }
        }
    }

    /// DaemonSet `agent` in `default`: one pod of `agent:1` per node that takes it.
    static let daemonSet = """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec: {containers: [{name: agent, image: "agent:1"}]}
        """

    @Test func aDaemonSetKeepsOneRevisionPerTemplate() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.daemonSet).status == 0)
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.daemonSet.replacingOccurrences(of: "agent:1", with: "agent:2")).status == 0)
            try await eventually(within: 10, "two revisions") {
                let history = try await kubectl.run("rollout", "history", "daemonset/agent").output
                return history.split(separator: "\n").compactMap { Int($0.split(separator: " ").first ?? "") } == [1, 2]
            }
            let revisions = try await kubectl.run("get", "controllerrevisions", "-l", "app=agent", "-o", "jsonpath={.items[*].revision}")
            #expect(revisions.output.split(separator: " ").sorted() == ["1", "2"], "\(revisions.output)")
        }
    }
}
