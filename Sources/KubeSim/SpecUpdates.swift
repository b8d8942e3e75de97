import KubeAPI

/// What an update may change of a pod's spec and a stateful set's, as a real server allows it
/// (`ValidatePodUpdate`, `ValidateStatefulSetUpdate`): everything else is refused with one
/// `spec: Forbidden` cause.
enum SpecUpdates {
    static func causes(_ type: ResourceType, replacement: JSON, current: JSON) -> [Status.Cause] {
        switch (type.group, type.resource) {
        case ("", "pods"): [podChange(replacement, current: current)].compactMap { $0 }
        case ("apps", "statefulsets"): [statefulSetChange(replacement, current: current)].compactMap { $0 }
        default: []
        }
    }

    static let podRule = """
        pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,\
        `spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)
        """

    /// A pod's spec may change its containers' images, its deadline, add tolerations, lower a
    /// negative grace period to 1 and drop scheduling gates; nothing else.
    static func podChange(_ replacement: JSON, current: JSON) -> Status.Cause? {
        guard var new = replacement["spec"]?.objectValue, let old = current["spec"]?.objectValue else { return nil }
        for field in ["containers", "initContainers"] {
            guard case .array(var containers)? = new[field], let previous = old[field]?.arrayValue, previous.count == containers.count else { continue }
            for index in containers.indices { containers[index]["image"] = previous[index]["image"] }
            new[field] = .array(containers)
        }
        new["activeDeadlineSeconds"] = old["activeDeadlineSeconds"]
        let tolerations = new["tolerations"]?.arrayValue ?? [], previous = old["tolerations"]?.arrayValue ?? []
        if previous.allSatisfy({ tolerations.contains($0) }) { new["tolerations"] = old["tolerations"] }
        if let grace = old["terminationGracePeriodSeconds"]?.numberValue, grace < 0, new["terminationGracePeriodSeconds"] == .number(1) {
            new["terminationGracePeriodSeconds"] = old["terminationGracePeriodSeconds"]
        }
        let gates = new["schedulingGates"]?.arrayValue ?? [], previousGates = old["schedulingGates"]?.arrayValue ?? []
        if gates.allSatisfy({ previousGates.contains($0) }) { new["schedulingGates"] = old["schedulingGates"] }
        let changed = changedFields(new, old)
        guard !changed.isEmpty else { return nil }
        return Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: \(podRule)\n\(diff(changed, new: new, old: old))", field: "spec")
    }

    /// A stateful set's spec may change only its replicas, ordinals, template, update strategy,
    /// history limit, claim retention policy and minReadySeconds.
    static func statefulSetChange(_ replacement: JSON, current: JSON) -> Status.Cause? {
        guard var new = replacement["spec"]?.objectValue, let old = current["spec"]?.objectValue else { return nil }
        for field in ["replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"] {
            new[field] = old[field]
        }
        guard !changedFields(new, old).isEmpty else { return nil }
        return Status.Cause(
            reason: "FieldValueForbidden",
            message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            field: "spec"
        )
    }

    /// The fields whose values differ, an absent field, `null`, `{}` and `[]` being the same (as
    /// Go's zero values are).
    static func changedFields(_ new: [String: JSON], _ old: [String: JSON]) -> [String] {
        Set(new.keys).union(old.keys).sorted().filter { normalized(new[$0]) != normalized(old[$0]) }
    }

    static func normalized(_ value: JSON?) -> JSON? {
        switch value {
        case .object(let fields)?:
            let kept = fields.compactMapValues(normalized)
            return kept.isEmpty ? nil : .object(kept)
        case .array(let items)?: return items.isEmpty ? nil : .array(items.map { normalized($0) ?? .null })
        case .null?, nil: return nil
        case let other?: return other
        }
    }

    /// A short form of the diff a real server appends (Go's `cmp.Diff` of the internal
    /// `core.PodSpec`): each changed field, its old value and its new one.
    private static func diff(_ fields: [String], new: [String: JSON], old: [String: JSON]) -> String {
        func show(_ value: JSON?) -> String { value.map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "nil" }
        var lines = ["  core.PodSpec{"]
        for field in fields {
            let name = field.prefix(1).uppercased() + field.dropFirst()
            lines.append("- \t\(name): \(show(old[field])),")
            lines.append("+ \t\(name): \(show(new[field])),")
        }
        lines.append("  \t... // \(Set(new.keys).union(old.keys).count - fields.count) identical fields")
        lines.append("  }")
        return lines.joined(separator: "\n")
    }
}
