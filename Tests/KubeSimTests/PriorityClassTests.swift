import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// PriorityClasses and the Priority admission plugin, driven by the real `kubectl`: the system
/// classes, a pod's priority from its class or the global default, the refusals in a real
/// server's words, and quota scopes by class.
@Suite struct PriorityClassTests {
    static func pod(_ name: String, _ extra: String = "") -> String {
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name)}\nspec:\n  containers: [{name: c, image: nginx}]\n\(extra)"
    }

    @Test func podsTakeTheirPriorityFromTheirClass() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let system = try await kubectl.run("get", "priorityclasses")
            let rows = system.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(rows.first == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"], "\(system.output)")
            #expect(rows.dropFirst().map { [$0[0], $0[1], $0[2], $0[4]] } == [
                ["system-cluster-critical", "2000000000", "false", "PreemptLowerPriority"],
                ["system-node-critical", "2000001000", "false", "PreemptLowerPriority"],
            ], "\(system.output)")

            func create(_ manifest: String) async throws -> (status: Int32, output: String) {
                let result = try await kubectl.run("create", "-f", "-", input: manifest)
                return (result.status, result.output)
            }
            func priority(_ pod: String) async throws -> String {
                try await kubectl.run("get", "pod", pod, "-o", "jsonpath={.spec.priorityClassName}/{.spec.priority}/{.spec.preemptionPolicy}").output
            }
            // No class and no default: priority 0.
            #expect(try await create(Self.pod("plain")).status == 0)
            #expect(try await priority("plain") == "/0/PreemptLowerPriority")

            #expect(try await kubectl.run("create", "priorityclass", "high", "--value=1000", "--description=for the front end").status == 0)
            #expect(try await kubectl.run("create", "priorityclass", "low", "--value=10", "--global-default", "--preemption-policy=Never").status == 0)
            let second = try await kubectl.run("create", "priorityclass", "other", "--value=5", "--global-default")
            #expect(second.output.contains(#"priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass low is already marked as default. Only one default can exist"#), "\(second.output)")

            #expect(try await create(Self.pod("front", "  priorityClassName: high\n")).status == 0)
            #expect(try await priority("front") == "high/1000/PreemptLowerPriority")
            // Without a class a pod now takes the global default's, by name.
            #expect(try await create(Self.pod("batch")).status == 0)
            #expect(try await priority("batch") == "low/10/Never")

            let missing = try await create(Self.pod("lost", "  priorityClassName: missing\n"))
            #expect(missing.output.contains(#"pods "lost" is forbidden: no PriorityClass with name missing was found"#), "\(missing.output)")
            let given = try await create(Self.pod("pushy", "  priorityClassName: high\n  priority: 5\n"))
            #expect(given.output.contains(#"pods "pushy" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"#), "\(given.output)")
            // An update that leaves the priority out keeps it.
            let relabelled = try await kubectl.run("label", "pod", "front", "tier=web")
            #expect(relabelled.status == 0, "\(relabelled.output)")
            #expect(try await priority("front") == "high/1000/PreemptLowerPriority")

            // A quota scoped to the class counts only its pods.
            let quota = try await create("""
                apiVersion: v1
                kind: ResourceQuota
                metadata: {name: front-pods}
                spec:
                  hard: {pods: "1"}
                  scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]}
                """)
            #expect(quota.status == 0, "\(quota.output)")
            try await eventually(within: 10, "the quota taken up and counting the front pod") {
                try await kubectl.run("get", "resourcequota", "front-pods", "-o", "jsonpath={.status.used.pods}").output == "1"
            }
            let extra = try await create(Self.pod("front2", "  priorityClassName: high\n"))
            #expect(extra.output.contains("exceeded quota: front-pods, requested: pods=1, used: pods=1, limited: pods=1"), "\(extra.output)")
            #expect(try await create(Self.pod("batch2")).status == 0)
        }
    }

    @Test func classesAreValidatedAsARealServerValidatesThem() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let refusals: [([String], String)] = [
                (["system-mine", "--value=1"],
                 "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"),
                (["system-node-critical", "--value=7"],
                 "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000"),
                (["huge", "--value=1000000001"], "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"),
                (["odd", "--value=1", "--preemption-policy=Sometimes"], #"preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never""#),
            ]
            for (arguments, message) in refusals {
                let refused = try await kubectl.run(arguments: ["create", "priorityclass"] + arguments)
                #expect(refused.status != 0 && refused.output.contains(message), "\(arguments): \(refused.output)")
            }
            #expect(try await kubectl.run("create", "priorityclass", "mid", "--value=100").status == 0)
            let revalued = try await kubectl.run("patch", "priorityclass", "mid", "--type=merge", "-p", #"{"value":200}"#)
            #expect(revalued.output.contains(#"The PriorityClass "mid" is invalid: value: Forbidden: may not be changed in an update."#), "\(revalued.output)")
            let repolicied = try await kubectl.run("patch", "priorityclass", "mid", "--type=merge", "-p", #"{"preemptionPolicy":"Never"}"#)
            #expect(repolicied.output.contains(#"preemptionPolicy: Invalid value: "Never": field is immutable"#), "\(repolicied.output)")
            #expect(try await kubectl.run("patch", "priorityclass", "mid", "--type=merge", "-p", #"{"description":"middle"}"#).status == 0)
            #expect(try await kubectl.run("get", "priorityclass", "-o", "name").output.split(separator: "\n") == [
                "priorityclass.scheduling.k8s.io/mid", "priorityclass.scheduling.k8s.io/system-cluster-critical", "priorityclass.scheduling.k8s.io/system-node-critical",
            ])
        }
    }
}
