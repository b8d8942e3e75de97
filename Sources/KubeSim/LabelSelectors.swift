import KubeAPI

/// Label selectors as the API machinery reads and checks them (`metav1.LabelSelector`): their
/// validation, what they match, and Go's printing of them in a real server's messages. Used by
/// the workloads' and network policies' checks.
enum LabelSelectors {
    /// `ValidateLabelSelector`: `matchLabels` as labels, then each expression's operator known
    /// (values given exactly for `In`/`NotIn`) and its key a label key.
    static func causes(_ selector: JSON?, path: String) -> [Status.Cause] {
        guard let selector else { return [] }
        var causes: [Status.Cause] = []
        if case .object(let labels) = selector["matchLabels"] {
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                causes += ObjectMetaValidation.labelKeyErrors(key).map { SpecValidation.invalid("\(path).matchLabels", key, $0) }
                let text = value.stringValue ?? ""
                causes += ObjectMetaValidation.labelValueErrors(text).map { SpecValidation.invalid("\(path).matchLabels", text, $0) }
            }
        }
        for (index, expression) in (selector["matchExpressions"]?.arrayValue ?? []).enumerated() {
            let at = "\(path).matchExpressions[\(index)]"
            let values = expression["values"]?.arrayValue ?? []
            switch expression["operator"]?.stringValue ?? "" {
            case "In", "NotIn":
                if values.isEmpty {
                    causes.append(SpecValidation.required("\(at).values", "must be specified when `operator` is 'In' or 'NotIn'"))
                }
            case "Exists", "DoesNotExist":
                if !values.isEmpty {
                    causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'", field: "\(at).values"))
                }
            case let other:
                causes.append(SpecValidation.invalid("\(at).operator", other, "not a valid selector operator"))
            }
            let key = expression["key"]?.stringValue ?? ""
            causes += ObjectMetaValidation.labelKeyErrors(key).map { SpecValidation.invalid("\(at).key", key, $0) }
        }
        return causes
    }

    static func isEmpty(_ selector: JSON) -> Bool {
        (selector["matchLabels"]?.objectValue?.isEmpty ?? true) && (selector["matchExpressions"]?.arrayValue?.isEmpty ?? true)
    }

    /// Whether `labels` satisfy `selector` (`metav1.LabelSelectorAsSelector`: none selects
    /// nothing, an empty one everything).
    static func matches(_ selector: JSON?, _ labels: [String: String]) -> Bool {
        guard let selector else { return false }
        for (key, value) in selector["matchLabels"]?.objectValue ?? [:] where labels[key] != value.stringValue { return false }
        for expression in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? "", values = Set((expression["values"]?.arrayValue ?? []).compactMap(\.stringValue))
            let held = labels[key]
            switch expression["operator"]?.stringValue ?? "" {
            case "In": if !(held.map(values.contains) ?? false) { return false }
            case "NotIn": if let held, values.contains(held) { return false }
            case "Exists": if held == nil { return false }
            case "DoesNotExist": if held != nil { return false }
            default: return false
            }
        }
        return true
    }

    /// A selector without the empties that mean nothing, to compare an update with what was.
    static func normalized(_ selector: JSON?) -> JSON {
        var result: [String: JSON] = [:]
        if let labels = selector?["matchLabels"]?.objectValue, !labels.isEmpty { result["matchLabels"] = .object(labels) }
        if let expressions = selector?["matchExpressions"]?.arrayValue, !expressions.isEmpty { result["matchExpressions"] = .array(expressions) }
        return .object(result)
    }

    // MARK: Go's %#v

    static func goMap(_ map: [String: String]?) -> String {
        guard let map else { return "map[string]string(nil)" }
        let pairs = map.sorted { $0.key < $1.key }.map { "\(ObjectMetaValidation.quoted($0.key)):\(ObjectMetaValidation.quoted($0.value))" }
        return "map[string]string{" + pairs.joined(separator: ", ") + "}"
    }

    static func goStrings(_ values: [JSON]?) -> String {
        guard let values else { return "[]string(nil)" }
        return "[]string{" + values.map { ObjectMetaValidation.quoted($0.stringValue ?? "") }.joined(separator: ", ") + "}"
    }

    static func goSelector(_ selector: JSON?) -> String {
        let labels = selector?["matchLabels"]?.objectValue?.compactMapValues(\.stringValue)
        let expressions = selector?["matchExpressions"]?.arrayValue.map { list in
            "[]v1.LabelSelectorRequirement{" + list.map { expression in
                "v1.LabelSelectorRequirement{Key:\(ObjectMetaValidation.quoted(expression["key"]?.stringValue ?? "")), "
                    + "Operator:\(ObjectMetaValidation.quoted(expression["operator"]?.stringValue ?? "")), Values:\(goStrings(expression["values"]?.arrayValue))}"
            }.joined(separator: ", ") + "}"
        } ?? "[]v1.LabelSelectorRequirement(nil)"
        return "v1.LabelSelector{MatchLabels:\(goMap(labels)), MatchExpressions:\(expressions)}"
    }
}
