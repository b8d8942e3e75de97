import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// Pods go only to nodes whose labels their selector and affinity accept and whose taints they
/// tolerate, daemon sets' pods too; a pod no node takes stays Pending with the scheduler's words.
@Suite struct SchedulingTests {
    static func pod(_ name: String, _ extra: String) -> String {
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name)}\nspec:\n  containers: [{name: c, image: busybox}]\n\(extra)"
    }

    @Test func selectorsAffinityAndTaintsDecideWherePodsGo() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("taint", "nodes", "node-1", "dedicated=infra:NoSchedule").status == 0)
            #expect(try await kubectl.run("label", "nodes", "node-2", "disktype=ssd").status == 0)

            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pod("fast", "  nodeSelector: {disktype: ssd}\n")).status == 0)
            #expect(try await kubectl.run("get", "pod", "fast", "-o", "jsonpath={.spec.nodeName}").output == "node-2")
            let tolerating = Self.pod("infra", """
                  tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
                  affinity:
                    nodeAffinity:
                      requiredDuringSchedulingIgnoredDuringExecution:
                        nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]

                """)
            #expect(try await kubectl.run("apply", "-f", "-", input: tolerating).status == 0)
            #expect(try await kubectl.run("get", "pod", "infra", "-o", "jsonpath={.spec.nodeName}").output == "node-1")
            // Any other pod avoids the tainted node.
            for index in 0..<4 { #expect(try await kubectl.run("apply", "-f", "-", input: Self.pod("plain-\(index)", "")).status == 0) }
            let placed = try await kubectl.run("get", "pods", "-l", "!nothing", "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName} {end}")
            #expect(!placed.output.split(separator: " ").contains { $0.hasPrefix("plain-") && $0.hasSuffix("=node-1") }, "\(placed.output)")

            // A field term names the node itself (`metadata.name`, as the DaemonSet controller's terms do).
            let named = Self.pod("named", """
                  affinity:
                    nodeAffinity:
                      requiredDuringSchedulingIgnoredDuringExecution:
                        nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [node-3]}]}]

                """)
            #expect(try await kubectl.run("apply", "-f", "-", input: named).status == 0)
            #expect(try await kubectl.run("get", "pod", "named", "-o", "jsonpath={.spec.nodeName}").output == "node-3")
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pod("nowhere", "  nodeSelector: {disktype: hdd}\n")).status == 0)
            #expect(try await kubectl.run("get", "pod", "nowhere", "-o", "jsonpath={.status.phase}").output == "Pending")
            let events = try await kubectl.run("get", "events", "--field-selector", "involvedObject.name=nowhere", "-o", "jsonpath={.items[*].message}")
            #expect(events.output.contains("0/3 nodes are available: 2 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: infra}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."), "\(events.output)")
        }
    }

    @Test func aDaemonSetRunsOnlyWhereItsPodsMayGo() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("taint", "nodes", "node-1", "dedicated=infra:NoSchedule").status == 0)
            #expect(try await kubectl.run("cordon", "node-3").status == 0)
            #expect(try await kubectl.run("apply", "-f", "-", input: ControllerRevisionTests.daemonSet).status == 0)
            @Sendable func nodes() async throws -> [String] {
                try await kubectl.run("get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[*].spec.nodeName}").output.split(separator: " ").map(String.init).sorted()
            }
            // The tainted node is skipped; a cordoned one is not (daemon pods tolerate it).
            try await eventually(within: 10, "agents on node-2 and node-3") { try await nodes() == ["node-2", "node-3"] }
            #expect(try await kubectl.run("get", "daemonset", "agent", "-o", "jsonpath={.status.desiredNumberScheduled}").output == "2")
            // Narrowed by a selector, its pods leave the nodes that no longer match.
            #expect(try await kubectl.run("label", "nodes", "node-2", "role=edge").status == 0)
            #expect(try await kubectl.run("patch", "daemonset", "agent", "-p", #"{"spec":{"template":{"spec":{"nodeSelector":{"role":"edge"}}}}}"#).status == 0)
            try await eventually(within: 10, "one agent, on node-2") { try await nodes() == ["node-2"] }
        }
    }

    /// The scheduler tries its pending pods again when a pod goes or a node changes, highest
    /// priority first.
    @Test func pendingPodsAreScheduledWhenRoomAppears() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            func big(_ name: String, _ extra: String = "") -> String {
                "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name)}\nspec:\n  containers: [{name: c, image: busybox, resources: {requests: {cpu: '5'}}}]\n\(extra)"
            }
            for name in ["big-1", "big-2", "big-3"] { #expect(try await kubectl.run("apply", "-f", "-", input: big(name)).status == 0) }
            #expect(try await kubectl.run("apply", "-f", "-", input: big("waiting")).status == 0)
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pod("picky", "  nodeSelector: {disktype: ssd}\n")).status == 0)
            @Sendable func phase(_ name: String) async throws -> String { try await kubectl.run("get", "pod", name, "-o", "jsonpath={.status.phase}").output }
            #expect(try await phase("waiting") == "Pending")
            #expect(try await phase("picky") == "Pending")
            let freed = try await kubectl.run("get", "pod", "big-2", "-o", "jsonpath={.spec.nodeName}").output
            #expect(try await kubectl.run("delete", "pod", "big-2").status == 0)
            try await eventually(within: 10, "the waiting pod bound once room appeared") { try await phase("waiting") == "Running" }
            let bound = try await kubectl.run("get", "pod", "waiting", "-o", "jsonpath={.spec.nodeName} {.status.conditions[?(@.type==\"Ready\")].status}").output
            #expect(bound == "\(freed) True", "\(bound)")
            let events = try await kubectl.run("get", "events", "--field-selector", "involvedObject.name=waiting", "-o", "jsonpath={.items[*].reason}").output
            #expect(events == "FailedScheduling Scheduled", "\(events)")
            // A node labelled to match: the picky pod goes there.
            #expect(try await kubectl.run("label", "nodes", "node-3", "disktype=ssd").status == 0)
            try await eventually(within: 10, "the picky pod bound on node-3") {
                try await kubectl.run("get", "pod", "picky", "-o", "jsonpath={.spec.nodeName}").output == "node-3"
            }
        }
    }

    /// Nodes as `kubectl get nodes` shows them on a real cluster: ready, cordoned, their roles,
    /// and with `-o wide` their address, OS image, kernel and runtime.
    @Test func nodesShowTheirKubeletsStatus() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("cordon", "node-2").status == 0)
            #expect(try await kubectl.run("label", "node", "node-1", "node-role.kubernetes.io/control-plane=").status == 0)
            let rows = try await kubectl.run("get", "nodes", "-o", "wide", "--no-headers").output.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            }
            #expect(rows.count == 3, "\(rows)")
            #expect(rows.first?.prefix(3) == ["node-1", "Ready", "control-plane"], "\(rows)")
            #expect(rows.dropFirst().first?.prefix(3) == ["node-2", "Ready,SchedulingDisabled", "<none>"], "\(rows)")
            #expect(rows.last.map { $0.contains(KubeSim.gitVersion) && $0.contains("10.0.0.4") && $0.contains("containerd://2.1.4") } == true, "\(rows)")
            let ready = try await kubectl.run("wait", "--for=condition=Ready", "node/node-3", "--timeout=5s")
            #expect(ready.status == 0, "\(ready.output)")
        }
    }
}
