import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// Scoped ResourceQuotas count and limit only the pods their scopes match, and are validated as
/// a real server validates them (`validateResourceQuotaScopes`, `validateScopeSelector`).
@Suite struct QuotaScopeTests {
    static let quotas = """
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: best-effort}
        spec: {hard: {pods: "1"}, scopes: [BestEffort]}
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: terminating}
        spec: {hard: {requests.cpu: 500m}, scopes: [Terminating]}
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: cross}
        spec:
          hard: {pods: "0"}
          scopeSelector: {matchExpressions: [{scopeName: CrossNamespacePodAffinity, operator: Exists}]}
        """

    static func pod(_ name: String, cpu: String? = nil, deadline: Int? = nil, affinity: Bool = false) -> String {
        var spec = "  containers: [{name: c, image: nginx\(cpu.map { ", resources: {requests: {cpu: \($0)}}" } ?? "")}]\n"
        if let deadline { spec += "  activeDeadlineSeconds: \(deadline)\n" }
        if affinity {
            spec += "  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: kubernetes.io/hostname, namespaces: [other], labelSelector: {matchLabels: {app: db}}}]}}\n"
        }
        return "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name)}\nspec:\n" + spec
    }

    @Test func scopedQuotasChargeOnlyThePodsTheyMatch() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("create", "-f", "-", input: Self.quotas).status == 0)
            try await eventually(within: 10, "the quota controller took the quotas up") {
                try await kubectl.run("get", "resourcequota", "-o", "jsonpath={range .items[*]}{.status.hard}{end}").output.split(separator: "}").count == 3
            }
            func create(_ manifest: String) async throws -> (status: Int32, output: String) {
                let result = try await kubectl.run("create", "-f", "-", input: manifest)
                return (result.status, result.output)
            }
            // A best-effort pod counts against the BestEffort quota only; a second one is refused.
            #expect(try await create(Self.pod("be1")).status == 0)
            let second = try await create(Self.pod("be2"))
            #expect(second.output.contains(#"pods "be2" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1"#), "\(second.output)")
            // A burstable pod without a deadline: no quota matches it.
            #expect(try await create(Self.pod("burst", cpu: "2")).status == 0)
            // Pods with a deadline count against the Terminating quota.
            #expect(try await create(Self.pod("job1", cpu: "400m", deadline: 60)).status == 0)
            let job2 = try await create(Self.pod("job2", cpu: "200m", deadline: 60))
            #expect(job2.output.contains("exceeded quota: terminating, requested: requests.cpu=200m, used: requests.cpu=400m, limited: requests.cpu=500m"), "\(job2.output)")
            // A pod affinity term naming another namespace: the CrossNamespacePodAffinity quota.
            let cross = try await create(Self.pod("cross", cpu: "100m", affinity: true))
            #expect(cross.output.contains("exceeded quota: cross, requested: pods=1, used: pods=0, limited: pods=0"), "\(cross.output)")

            let used = try await kubectl.run("get", "resourcequota", "best-effort", "terminating", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.used} {end}")
            #expect(used.output == #"best-effort={"pods":"1"} terminating={"requests.cpu":"400m"} "#, "\(used.output)")
            // The quota controller's recount keeps to the scopes too.
            try #require(sim.sim.clusters["a"]).syncQuotas(in: "default", after: 0)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await kubectl.run("get", "resourcequota", "best-effort", "terminating", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.used} {end}").output == used.output)

            // Scopes never change.
            let rescoped = try await kubectl.run("patch", "resourcequota", "best-effort", "--type=merge", "-p", #"{"spec":{"scopes":["NotBestEffort"]}}"#)
            #expect(rescoped.output.contains(#"ResourceQuota "best-effort" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotBestEffort"}: field is immutable"#), "\(rescoped.output)")
        }
    }

    @Test func scopesAreValidatedAsARealServerValidatesThem() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let cases: [(spec: String, message: String)] = [
                (#"{hard: {requests.cpu: "1"}, scopes: [BestEffort]}"#,
                 #"ResourceQuota "q" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource"#),
                (#"{hard: {pods: "1"}, scopes: [Terminating, NotTerminating]}"#,
                 #"ResourceQuota "q" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"Terminating", "NotTerminating"}: conflicting scopes"#),
                (#"{hard: {pods: "1"}, scopes: [Sometimes]}"#,
                 #"ResourceQuota "q" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"Sometimes"}: unsupported scope"#),
                (#"{hard: {configmaps: "1"}, scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]}}"#,
                 #"ResourceQuota "q" is invalid: spec.scopeSelector.matchExpressions: Invalid value: core.ScopeSelector{MatchExpressions:[]core.ScopedResourceSelectorRequirement{core.ScopedResourceSelectorRequirement{ScopeName:"PriorityClass", Operator:"In", Values:[]string{"high"}}}}: unsupported scope applied to resource"#),
                (#"{hard: {pods: "1"}, scopeSelector: {matchExpressions: [{scopeName: BestEffort, operator: In, values: [x]}]}}"#,
                 #"spec.scopeSelector.matchExpressions.operator: Invalid value: "In": must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"#),
                (#"{hard: {pods: "1"}, scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: In}]}}"#,
                 #"ResourceQuota "q" is invalid: spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"#),
                (#"{hard: {pods: "1"}, scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: Exists, values: [a]}]}}"#,
                 #"spec.scopeSelector.matchExpressions.values: Invalid value: []string{"a"}: must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"#),
                (#"{hard: {pods: "1"}, scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: Near, values: [a]}]}}"#,
                 #"ResourceQuota "q" is invalid: spec.scopeSelector.matchExpressions.operator: Invalid value: "Near": not a valid selector operator"#),
                (#"{hard: {pods: "1"}, scopeSelector: {matchExpressions: [{scopeName: BestEffort, operator: Exists}, {scopeName: NotBestEffort, operator: Exists}]}}"#,
                 #"ResourceQuota "q" is invalid: spec.scopeSelector.matchExpressions: Invalid value: []core.ResourceQuotaScope(nil): conflicting scopes"#),
            ]
            for (spec, message) in cases {
                let created = try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: \(spec)\n")
                #expect(created.status != 0 && created.output.contains(message), "\(spec): \(created.output)")
            }
            // A scope wrong for two resources: a cause each, the message once (Go's aggregated
            // errors print each message once, and kubectl shows each cause once).
            let twice = try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {configmaps: \"1\", secrets: \"1\"}, scopes: [NotTerminating]}\n")
            let line = #"spec.scopes: Invalid value: []core.ResourceQuotaScope{"NotTerminating"}: unsupported scope applied to resource"#
            #expect(twice.output.trimmingCharacters(in: .whitespacesAndNewlines) == "The ResourceQuota \"q\" is invalid: \(line)", "\(twice.output)")
            let causes = QuotaScopes.causes(try JSONDecoder().decode(JSON.self, from: Data(#"{"spec": {"hard": {"configmaps": "1", "secrets": "1"}, "scopes": ["NotTerminating"]}}"#.utf8)))
            #expect(causes.count == 2)
            #expect(Status.invalid(kind: "ResourceQuota", "q", causes: causes).message == "ResourceQuota \"q\" is invalid: \(line)")
            #expect(try await kubectl.run("get", "resourcequota", "-o", "name").output.isEmpty, "nothing refused was stored")
        }
    }

    /// The PriorityClass scope as a label selector on the pod's class (none: the key is absent).
    @Test func priorityClassScopesSelectAsLabelSelectors() throws {
        func quota(_ op: String, _ values: [String]) -> JSON {
            .object(["spec": .object(["scopeSelector": .object(["matchExpressions": .array([
                .object(["scopeName": .string("PriorityClass"), "operator": .string(op), "values": .array(values.map { .string($0) })]),
            ])])])])
        }
        let high: JSON = .object(["spec": .object(["priorityClassName": .string("high"), "containers": .array([])])])
        let none: JSON = .object(["spec": .object(["containers": .array([])])])
        let table: [(String, [String], high: Bool, none: Bool)] = [
            ("In", ["high", "mid"], true, false), ("In", ["low"], false, false),
            ("NotIn", ["low"], true, true), ("NotIn", ["high"], false, true),
            ("Exists", [], true, false), ("DoesNotExist", [], false, true),
        ]
        for (op, values, matchesHigh, matchesNone) in table {
            #expect(QuotaScopes.matchesPod(quota(op, values), high) == matchesHigh, "\(op) \(values) on high")
            #expect(QuotaScopes.matchesPod(quota(op, values), none) == matchesNone, "\(op) \(values) without a class")
        }
    }
}
