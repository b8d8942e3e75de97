import KubeAPI

/// Which nodes a pod may go to before its resources are counted, as the scheduler's filters
/// decide it (in their order: NodeUnschedulable, TaintToleration, NodeAffinity) and in their
/// words: an unschedulable node, a `NoSchedule` or `NoExecute` taint the pod does not
/// tolerate, a `nodeSelector` or required node affinity the node's labels do not satisfy. The
/// DaemonSet controller asks the same, its pods tolerating the `node.kubernetes.io/…` taints
/// (and so unschedulable nodes) as a real one adds those tolerations.
enum NodePlacement {
    /// Why `node` cannot take `pod` (`spec` of a pod or a template's pod), or `nil`.
    static func misfit(_ pod: JSON, on node: JSON, daemon: Bool = false) -> String? {
        let spec = pod["spec"] ?? .object([:])
        let tolerations = spec["tolerations"]?.arrayValue ?? []
        if !daemon, node[path: "spec.unschedulable"] == .bool(true),
           !tolerates(tolerations, key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule") {
            return "node(s) were unschedulable"
        }
        for taint in node[path: "spec.taints"]?.arrayValue ?? [] {
            let key = taint["key"]?.stringValue ?? "", value = taint["value"]?.stringValue ?? "", effect = taint["effect"]?.stringValue ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            if daemon, key.hasPrefix("node.kubernetes.io/") { continue }
            if !tolerates(tolerations, key: key, value: value, effect: effect) { return "node(s) had untolerated taint {\(key): \(value)}" }
        }
        let labels = node[path: "metadata.labels"]?.stringMap ?? [:]
        let selector = spec["nodeSelector"]?.stringMap ?? [:]
        let terms = spec[path: "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"]?.arrayValue
        let nodeName = node[path: "metadata.name"]?.stringValue ?? ""
        if selector.contains(where: { labels[$0.key] != $0.value }) || !(terms.map { $0.contains { term in matches(term, labels, nodeName: nodeName) } } ?? true) {
            return "node(s) didn't match Pod's node affinity/selector"
        }
        return nil
    }

    /// Whether the misfit leaves preemption nothing to gain (the scheduler's
    /// `UnschedulableAndUnresolvable`).
    static func isUnresolvable(_ reason: String) -> Bool {
        reason.hasPrefix("node(s) ")
    }

    /// `Toleration.ToleratesTaint`: the key matches (or the toleration has none and `Exists`),
    /// the value matches for `Equal` (the default), the effect matches or is empty.
    static func tolerates(_ tolerations: [JSON], key: String, value: String, effect: String) -> Bool {
        tolerations.contains { toleration in
            let tolerated = toleration["effect"]?.stringValue ?? ""
            guard tolerated.isEmpty || tolerated == effect else { return false }
            let tolerationKey = toleration["key"]?.stringValue ?? ""
            switch toleration["operator"]?.stringValue ?? "Equal" {
            case "Exists": return tolerationKey.isEmpty || tolerationKey == key
            case "Equal": return tolerationKey == key && (toleration["value"]?.stringValue ?? "") == value
            default: return false
            }
        }
    }

    /// A `nodeSelectorTerm`: every expression on the node's labels holds (`In`, `NotIn`,
    /// `Exists`, `DoesNotExist`, `Gt`, `Lt`), and every field expression on its name
    /// (`metadata.name`, the one field there is: `In`, `NotIn`); a term without either matches
    /// nothing.
    private static func matches(_ term: JSON, _ labels: [String: String], nodeName: String) -> Bool {
        let expressions = term["matchExpressions"]?.arrayValue ?? [], fields = term["matchFields"]?.arrayValue ?? []
        guard !expressions.isEmpty || !fields.isEmpty else { return false }
        return expressions.allSatisfy { holds($0, labels[$0["key"]?.stringValue ?? ""]) }
            && fields.allSatisfy { $0["key"]?.stringValue == "metadata.name" && holds($0, nodeName) }
    }

    private static func holds(_ expression: JSON, _ held: String?) -> Bool {
        let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch expression["operator"]?.stringValue ?? "" {
        case "In": return held.map(values.contains) ?? false
        case "NotIn": return !(held.map(values.contains) ?? false)
        case "Exists": return held != nil
        case "DoesNotExist": return held == nil
        case "Gt": return held.flatMap { Int($0) }.map { number in values.first.flatMap { Int($0) }.map { number > $0 } ?? false } ?? false
        case "Lt": return held.flatMap { Int($0) }.map { number in values.first.flatMap { Int($0) }.map { number < $0 } ?? false } ?? false
        default: return false
        }
    }
}
