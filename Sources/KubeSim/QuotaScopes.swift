import KubeAPI

/// ResourceQuota scopes (`spec.scopes`, `spec.scopeSelector`) as a real API server validates and
/// applies them: a scoped quota counts and limits only the objects its every scope matches —
/// pods by `activeDeadlineSeconds` (Terminating), QoS class (BestEffort), `priorityClassName`
/// (PriorityClass, with In/NotIn/Exists/DoesNotExist) or cross-namespace pod (anti-)affinity
/// terms; claims by volume attributes class. A scoped quota never matches another kind.
enum QuotaScopes {
    /// One scope requirement: a listed scope is `Exists`.
    struct Requirement: Equatable {
        let scope: String
        let op: String
        let values: [String]
    }

    static let standard: Set<String> = ["Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity", "VolumeAttributesClass"]
    /// The scopes that take only `Exists` in a selector.
    static let existsOnly: Set<String> = ["BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "CrossNamespacePodAffinity"]
    static let conflicting: [Set<String>] = [["BestEffort", "NotBestEffort"], ["Terminating", "NotTerminating"]]

    /// Every requirement of `quota`: its scopes, then its selector's expressions.
    static func requirements(of quota: JSON) -> [Requirement] {
        let scopes = (quota[path: "spec.scopes"]?.arrayValue ?? []).compactMap(\.stringValue).map { Requirement(scope: $0, op: "Exists", values: []) }
        let selected = (quota[path: "spec.scopeSelector.matchExpressions"]?.arrayValue ?? []).map { expression in
            Requirement(
                scope: expression["scopeName"]?.stringValue ?? "", op: expression["operator"]?.stringValue ?? "",
                values: (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            )
        }
        return scopes + selected
    }

    /// Whether `quota` applies to `object` of `type`: an unscoped quota to everything; a scoped
    /// one to pods (and claims, for VolumeAttributesClass) that every requirement matches.
    static func matches(_ quota: JSON, _ object: JSON, as type: ResourceType) -> Bool {
        let requirements = requirements(of: quota)
        guard !requirements.isEmpty else { return true }
        guard type.group.isEmpty else { return false }
        return requirements.allSatisfy { requirement in
            switch type.resource {
            case "pods": podMatches(requirement, object)
            case "persistentvolumeclaims": claimMatches(requirement, object)
            default: false
            }
        }
    }

    /// Whether `quota` applies to `pod`.
    static func matchesPod(_ quota: JSON, _ pod: JSON) -> Bool {
        requirements(of: quota).allSatisfy { podMatches($0, pod) }
    }

    static func podMatches(_ requirement: Requirement, _ pod: JSON) -> Bool {
        switch requirement.scope {
        case "Terminating": isTerminating(pod)
        case "NotTerminating": !isTerminating(pod)
        case "BestEffort": isBestEffort(pod)
        case "NotBestEffort": !isBestEffort(pod)
        case "CrossNamespacePodAffinity": usesCrossNamespaceAffinity(pod)
        case "PriorityClass":
            selects(requirement, (pod[path: "spec.priorityClassName"]?.stringValue).flatMap { $0.isEmpty ? nil : [$0] } ?? [])
        default: false
        }
    }

    /// A claim's volume attributes classes: the one asked for and the one it has.
    static func claimMatches(_ requirement: Requirement, _ claim: JSON) -> Bool {
        guard requirement.scope == "VolumeAttributesClass" else { return false }
        let names = ["spec.volumeAttributesClassName", "status.currentVolumeAttributesClassName", "status.modifyVolumeStatus.targetVolumeAttributesClassName"]
            .compactMap { claim[path: $0]?.stringValue }.filter { !$0.isEmpty }
        return selects(requirement, Array(Set(names)))
    }

    /// A label selector's requirement on the scope's key, the object having `values` under it
    /// (none: the key is absent).
    static func selects(_ requirement: Requirement, _ values: [String]) -> Bool {
        switch requirement.op {
        case "Exists": !values.isEmpty
        case "DoesNotExist": values.isEmpty
        case "In": values.contains { requirement.values.contains($0) }
        case "NotIn": !values.contains { requirement.values.contains($0) }
        default: false
        }
    }

    /// `spec.activeDeadlineSeconds` set and not negative.
    static func isTerminating(_ pod: JSON) -> Bool {
        (pod[path: "spec.activeDeadlineSeconds"]?.numberValue).map { $0 >= 0 } ?? false
    }

    /// QoS class BestEffort: no container, init containers included, requests or limits a
    /// positive amount of CPU or memory.
    static func isBestEffort(_ pod: JSON) -> Bool {
        let containers = (pod[path: "spec.containers"]?.arrayValue ?? []) + (pod[path: "spec.initContainers"]?.arrayValue ?? [])
        return !containers.contains { container in
            ["requests", "limits"].contains { kind in
                ["cpu", "memory"].contains { resource in
                    (SpecValidation.quantity(container[path: "resources.\(kind).\(resource)"]) ?? .zero) > .zero
                }
            }
        }
    }

    /// A pod (anti-)affinity term, required or preferred, that names namespaces or selects them.
    static func usesCrossNamespaceAffinity(_ pod: JSON) -> Bool {
        ["podAffinity", "podAntiAffinity"].contains { kind in
            let required = pod[path: "spec.affinity.\(kind).requiredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []
            let preferred = (pod[path: "spec.affinity.\(kind).preferredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []).compactMap { $0["podAffinityTerm"] }
            return (required + preferred).contains { term in
                !(term["namespaces"]?.arrayValue ?? []).isEmpty || (term["namespaceSelector"].map { $0 != .null } ?? false)
            }
        }
    }

    // MARK: Validation

    /// The resources a scope may limit (`IsResourceQuotaScopeValidForResource`), for the
    /// standard quota resources.
    static func isValid(_ scope: String, for resource: String) -> Bool {
        let podCount: Set<String> = ["pods"]
        let podCompute: Set<String> = ["cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"]
        switch scope {
        case "Terminating", "NotTerminating", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity":
            return podCount.contains(resource) || podCompute.contains(resource)
        case "BestEffort":
            return podCount.contains(resource)
        case "VolumeAttributesClass":
            return ["persistentvolumeclaims", "requests.storage"].contains(resource)
        default:
            return true
        }
    }

    /// `validateResourceQuotaScopes` and `validateScopeSelector`: the 422's causes, with the
    /// values printed as Go prints them (`[]core.ResourceQuotaScope{"Foo"}`).
    static func causes(_ quota: JSON) -> [Status.Cause] {
        let hard = (quota[path: "spec.hard"]?.objectValue ?? [:]).keys.sorted().filter { SpecValidation.standardQuotaResources.contains($0) || SpecValidation.isHugePages($0) }
        let scopes = (quota[path: "spec.scopes"]?.arrayValue ?? []).compactMap(\.stringValue)
        var causes: [Status.Cause] = []
        func invalid(_ field: String, _ rendered: String, _ message: String) {
            causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(rendered): \(message)", field: field))
        }
        if !scopes.isEmpty {
            let rendered = goScopes(quota)
            for scope in scopes {
                if !standard.contains(scope) { invalid("spec.scopes", rendered, "unsupported scope") }
                for resource in hard where !isValid(scope, for: resource) { invalid("spec.scopes", rendered, "unsupported scope applied to resource") }
            }
            for pair in conflicting where pair.isSubset(of: Set(scopes)) { invalid("spec.scopes", rendered, "conflicting scopes") }
        }
        guard let selector = quota[path: "spec.scopeSelector"], selector != .null else { return causes }
        let path = "spec.scopeSelector.matchExpressions"
        var selected: Set<String> = []
        for expression in selector["matchExpressions"]?.arrayValue ?? [] {
            let scope = expression["scopeName"]?.stringValue ?? "", op = expression["operator"]?.stringValue ?? ""
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !standard.contains(scope) { invalid("\(path).scopeName", ObjectMetaValidation.quoted(scope), "unsupported scope") }
            for resource in hard where !isValid(scope, for: resource) { invalid(path, goSelector(selector), "unsupported scope applied to resource") }
            if existsOnly.contains(scope), op != "Exists" {
                invalid("\(path).operator", ObjectMetaValidation.quoted(op),
                        "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity")
            }
            switch op {
            case "In", "NotIn":
                if values.isEmpty { causes.append(SpecValidation.required("\(path).values", "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector")) }
            case "Exists", "DoesNotExist":
                if !values.isEmpty { invalid("\(path).values", goStrings(values), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector") }
            default:
                invalid("\(path).operator", ObjectMetaValidation.quoted(op), "not a valid selector operator")
            }
            selected.insert(scope)
        }
        // The real check names the quota's scopes (often none) rather than the selector's.
        for pair in conflicting where pair.isSubset(of: selected) { invalid(path, goScopes(quota), "conflicting scopes") }
        return causes
    }

    /// An update may not change the set of scopes.
    static func updateCause(_ replacement: JSON, current: JSON) -> Status.Cause? {
        func scopes(_ quota: JSON) -> Set<String> { Set((quota[path: "spec.scopes"]?.arrayValue ?? []).compactMap(\.stringValue)) }
        guard scopes(replacement) != scopes(current) else { return nil }
        return Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(goScopes(replacement)): field is immutable", field: "spec.scopes")
    }

    /// `spec.scopes` as Go's `%#v` prints the internal type.
    static func goScopes(_ quota: JSON) -> String {
        guard let scopes = quota[path: "spec.scopes"]?.arrayValue else { return "[]core.ResourceQuotaScope(nil)" }
        return "[]core.ResourceQuotaScope{" + scopes.map { ObjectMetaValidation.quoted($0.stringValue ?? "") }.joined(separator: ", ") + "}"
    }

    static func goStrings(_ values: [String]) -> String {
        "[]string{" + values.map { ObjectMetaValidation.quoted($0) }.joined(separator: ", ") + "}"
    }

    /// A scope selector as Go's `%#v` prints the internal struct (the pointer followed).
    static func goSelector(_ selector: JSON) -> String {
        let expressions = (selector["matchExpressions"]?.arrayValue).map { list in
            "[]core.ScopedResourceSelectorRequirement{" + list.map { expression in
                let values = (expression["values"]?.arrayValue).map { goStrings($0.compactMap(\.stringValue)) } ?? "[]string(nil)"
                return "core.ScopedResourceSelectorRequirement{ScopeName:\(ObjectMetaValidation.quoted(expression["scopeName"]?.stringValue ?? "")), "
                    + "Operator:\(ObjectMetaValidation.quoted(expression["operator"]?.stringValue ?? "")), Values:\(values)}"
            }.joined(separator: ", ") + "}"
        } ?? "[]core.ScopedResourceSelectorRequirement(nil)"
        return "core.ScopeSelector{MatchExpressions:\(expressions)}"
    }
}
