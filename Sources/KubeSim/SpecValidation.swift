import Foundation
import KubeAPI

/// The API server's checks of what quotas and limits are made of, in its words: a quantity it
/// cannot decode is a 400 before anything else (`ResourceQuota in version "v1" cannot be handled
/// as a ResourceQuota: quantities must match the regular expression …`); a ResourceQuota's
/// `spec.hard` and a LimitRange's limits are validated as `ValidateResourceQuota` and
/// `ValidateLimitRange` do, RBAC bindings and rules as `ValidateRoleBinding` and
/// `ValidatePolicyRule` do (422 causes, listed with the metadata's).
enum SpecValidation {
    static let quantityPattern = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

    // MARK: Decoding

    /// Throws the 400 a real server answers when a quantity field of `object` does not decode.
    static func checkQuantities(_ object: JSON, type: ResourceType) throws(Status) {
        var found: String?
        func check(_ values: JSON?) {
            guard found == nil, case .object(let fields) = values else { return }
            for value in fields.values {
                if let problem = quantityProblem(value) { found = problem; return }
            }
        }
        func checkPodSpec(_ spec: JSON?) {
            for list in ["containers", "initContainers"] {
                for container in spec?[list]?.arrayValue ?? [] {
                    check(container[path: "resources.requests"])
                    check(container[path: "resources.limits"])
                }
            }
            check(spec?["overhead"])
        }
        switch (type.group, type.resource) {
        case ("", "pods"): checkPodSpec(object["spec"])
        case ("apps", "deployments"), ("apps", "replicasets"), ("apps", "daemonsets"), ("batch", "jobs"):
            checkPodSpec(object[path: "spec.template.spec"])
        case ("apps", "statefulsets"):
            checkPodSpec(object[path: "spec.template.spec"])
            for claim in object[path: "spec.volumeClaimTemplates"]?.arrayValue ?? [] { check(claim[path: "spec.resources.requests"]) }
        case ("batch", "cronjobs"): checkPodSpec(object[path: "spec.jobTemplate.spec.template.spec"])
        case ("", "persistentvolumeclaims"):
            check(object[path: "spec.resources.requests"])
            check(object[path: "spec.resources.limits"])
        case ("", "resourcequotas"): check(object[path: "spec.hard"])
        case ("", "limitranges"):
            for item in object[path: "spec.limits"]?.arrayValue ?? [] {
                for field in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] { check(item[field]) }
            }
        case ("", "nodes"):
            check(object[path: "status.capacity"])
            check(object[path: "status.allocatable"])
        default: break
        }
        if let found {
            throw Status(code: 400, reason: "BadRequest", message: "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): \(found)")
        }
    }

    /// Why a JSON value is not a quantity (Go's `ParseQuantity` errors), or `nil`.
    static func quantityProblem(_ value: JSON) -> String? {
        if value == .null { return nil }
        let text = quantityText(value) ?? ""
        if (try? Quantity(parsing: text)) != nil { return nil }
        guard matchesQuantityPattern(text) else { return "quantities must match the regular expression '\(quantityPattern)'" }
        // The pattern holds: the number (sign, digits and at most one point) or the suffix is wrong.
        let unsigned = text.drop { $0 == "+" || $0 == "-" }
        let number = unsigned.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let digits = number.filter(\.isNumber)
        if digits.isEmpty || number.filter({ $0 == "." }).count > 1 { return "unable to parse numeric part of quantity" }
        return "unable to parse quantity's suffix"
    }

    /// `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`, by hand.
    static func matchesQuantityPattern(_ text: String) -> Bool {
        var rest = Substring(text)
        if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty else { return false }
        rest = rest.dropFirst(number.count)
        rest = rest.drop { "eEinumkKMGTP".contains($0) }
        if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
        return rest.allSatisfy { $0.isASCII && $0.isNumber }
    }

    // MARK: Validation

    static func causes(of object: JSON, type: ResourceType) -> [Status.Cause] {
        switch (type.group, type.resource) {
        case ("", "resourcequotas"): quotaCauses(object)
        case ("scheduling.k8s.io", "priorityclasses"): PriorityClasses.causes(object)
        case ("", "limitranges"): limitRangeCauses(object)
        case ("rbac.authorization.k8s.io", "rolebindings"), ("rbac.authorization.k8s.io", "clusterrolebindings"):
            bindingCauses(object, namespaced: type.resource == "rolebindings")
        case ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"):
            ruleCauses(object, namespaced: type.resource == "roles")
        case ("networking.k8s.io", "networkpolicies"): NetworkPolicyValidation.causes(object)
        case ("", "configmaps"): ConfigValidation.configMapCauses(object)
        case ("", "secrets"): ConfigValidation.secretCauses(object)
        default: []
        }
    }

    /// A ConfigMap's or Secret's keys (`data[<key>]: Invalid value: …`).
    static func keyCauses(_ object: JSON, fields: [String]) -> [Status.Cause] {
        fields.flatMap { field in
            (object[field]?.objectValue ?? [:]).keys.sorted().flatMap { key in
                ObjectMetaValidation.configKeyErrors(key).map { invalid("\(field)[\(key)]", key, $0) }
            }
        }
    }

    // MARK: RBAC

    static let rbacGroup = "rbac.authorization.k8s.io"

    static func unsupported(_ field: String, _ value: String, _ supported: [String]) -> Status.Cause {
        let list = supported.map { ObjectMetaValidation.quoted($0) }.joined(separator: ", ")
        return Status.Cause(reason: "FieldValueNotSupported", message: "Unsupported value: \(ObjectMetaValidation.quoted(value)): supported values: \(list)", field: field)
    }

    static func required(_ field: String, _ detail: String = "") -> Status.Cause {
        Status.Cause(reason: "FieldValueRequired", message: detail.isEmpty ? "Required value" : "Required value: \(detail)", field: field)
    }

    /// The API server's defaults for a binding (rbac/v1 `SetDefaults_*`): the roleRef's API group,
    /// and a user's or group's, is the RBAC group when left out.
    static func applyBindingDefaults(_ binding: inout JSON) {
        if (binding[path: "roleRef.apiGroup"]?.stringValue ?? "").isEmpty, binding["roleRef"]?.objectValue != nil {
            binding[path: "roleRef.apiGroup"] = .string(rbacGroup)
        }
        guard case .array(var subjects) = binding["subjects"] else { return }
        for index in subjects.indices where (subjects[index]["apiGroup"]?.stringValue ?? "").isEmpty {
            if ["User", "Group"].contains(subjects[index]["kind"]?.stringValue ?? "") { subjects[index]["apiGroup"] = .string(rbacGroup) }
        }
        binding["subjects"] = .array(subjects)
    }

    /// `ValidateRoleBinding`: a roleRef to a Role or ClusterRole of the RBAC group, subjects that
    /// are users and groups of that group or service accounts.
    static func bindingCauses(_ binding: JSON, namespaced: Bool) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        let group = binding[path: "roleRef.apiGroup"]?.stringValue ?? ""
        if group != rbacGroup { causes.append(unsupported("roleRef.apiGroup", group, [rbacGroup])) }
        let kind = binding[path: "roleRef.kind"]?.stringValue ?? ""
        if !(namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"]).contains(kind) {
            causes.append(unsupported("roleRef.kind", kind, namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"]))
        }
        let name = binding[path: "roleRef.name"]?.stringValue ?? ""
        if name.isEmpty {
            causes.append(required("roleRef.name"))
        } else {
            causes += ObjectMetaValidation.pathSegmentErrors(name, prefix: false).map { invalid("roleRef.name", name, $0) }
        }
        for (index, subject) in (binding["subjects"]?.arrayValue ?? []).enumerated() {
            let path = "subjects[\(index)]"
            let subjectName = subject["name"]?.stringValue ?? "", apiGroup = subject["apiGroup"]?.stringValue ?? ""
            if subjectName.isEmpty { causes.append(required("\(path).name")) }
            switch subject["kind"]?.stringValue ?? "" {
            case "ServiceAccount":
                if !subjectName.isEmpty {
                    causes += ObjectMetaValidation.subdomainErrors(subjectName).map { invalid("\(path).name", subjectName, $0) }
                }
                if !apiGroup.isEmpty { causes.append(unsupported("\(path).apiGroup", apiGroup, [""])) }
                if !namespaced, (subject["namespace"]?.stringValue ?? "").isEmpty { causes.append(required("\(path).namespace")) }
            case "User", "Group":
                if apiGroup != rbacGroup { causes.append(unsupported("\(path).apiGroup", apiGroup, [rbacGroup])) }
            case let other:
                causes.append(unsupported("\(path).kind", other, ["ServiceAccount", "User", "Group"]))
            }
        }
        return causes
    }

    /// What an update may not change: a binding's roleRef, a quota's scopes, a priority class's
    /// value, a workload's selector.
    static func updateCauses(_ type: ResourceType, replacement: JSON, current: JSON) -> [Status.Cause] {
        if type.group == rbacGroup, type.resource.hasSuffix("bindings") { return [roleRefChange(replacement, current: current)].compactMap { $0 } }
        if type.group.isEmpty, type.resource == "resourcequotas" { return [QuotaScopes.updateCause(replacement, current: current)].compactMap { $0 } }
        if type == PriorityClasses.type { return PriorityClasses.updateCauses(replacement, current: current) }
        return ConfigValidation.updateCauses(type, replacement: replacement, current: current) + SpecUpdates.causes(type, replacement: replacement, current: current)
            + [WorkloadValidation.selectorChange(replacement, current: current, type: type)].compactMap { $0 }
    }

    /// The 422 for an update that changes a binding's roleRef (`ValidateRoleBindingUpdate`): it
    /// names the new roleRef as Go prints the struct. A binding pointing elsewhere is deleted and
    /// made again.
    static func roleRefChange(_ replacement: JSON, current: JSON) -> Status.Cause? {
        let fields = ["apiGroup", "kind", "name"]
        let new = fields.map { replacement[path: "roleRef.\($0)"]?.stringValue ?? "" }
        guard new != fields.map({ current[path: "roleRef.\($0)"]?.stringValue ?? "" }) else { return nil }
        let rendered = "rbac.RoleRef{APIGroup:\(ObjectMetaValidation.quoted(new[0])), Kind:\(ObjectMetaValidation.quoted(new[1])), Name:\(ObjectMetaValidation.quoted(new[2]))}"
        return Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(rendered): cannot change roleRef", field: "roleRef")
    }

    /// `ValidatePolicyRule`: verbs, and for resource rules API groups and resources; non-resource
    /// URLs only in cluster roles and never with resources.
    static func ruleCauses(_ role: JSON, namespaced: Bool) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        for (index, rule) in (role["rules"]?.arrayValue ?? []).enumerated() {
            let path = "rules[\(index)]"
            func count(_ field: String) -> Int { rule[field]?.arrayValue?.count ?? 0 }
            if count("verbs") == 0 { causes.append(required("\(path).verbs", "verbs must contain at least one value")) }
            if count("nonResourceURLs") > 0 {
                let urls = "[]string{" + (rule["nonResourceURLs"]?.arrayValue ?? []).map { ObjectMetaValidation.quoted($0.stringValue ?? "") }.joined(separator: ", ") + "}"
                func invalidURLs(_ message: String) {
                    causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(urls): \(message)", field: "\(path).nonResourceURLs"))
                }
                if namespaced { invalidURLs("namespaced rules cannot apply to non-resource URLs") }
                if count("apiGroups") > 0 || count("resources") > 0 || count("resourceNames") > 0 {
                    invalidURLs("rules cannot apply to both regular resources and non-resource URLs")
                }
                continue
            }
            if count("apiGroups") == 0 { causes.append(required("\(path).apiGroups", "resource rules must supply at least one api group")) }
            if count("resources") == 0 { causes.append(required("\(path).resources", "resource rules must supply at least one resource")) }
        }
        return causes
    }

    static let standardResources: Set<String> = [
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu",
        "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
        "configmaps", "persistentvolumeclaims", "storage", "requests.storage", "services.nodeports", "services.loadbalancers",
    ]
    static let standardQuotaResources: Set<String> = [
        "pods", "memory", "requests.memory", "limits.memory", "cpu", "requests.cpu", "limits.cpu", "services",
        "replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "services.nodeports",
        "services.loadbalancers", "ephemeral-storage", "requests.ephemeral-storage", "limits.ephemeral-storage", "requests.storage",
    ]
    static let integerResources: Set<String> = [
        "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims",
        "services.nodeports", "services.loadbalancers",
    ]

    static func isHugePages(_ name: String) -> Bool { name.hasPrefix("hugepages-") || name.hasPrefix("requests.hugepages-") }

    /// `validateResourceName`: a qualified name, and a standard one unless it has a prefix.
    static func resourceNameMessages(_ name: String) -> [String] {
        let qualified = ObjectMetaValidation.labelKeyErrors(name)
        if !qualified.isEmpty { return qualified }
        if !name.contains("/"), !standardResources.contains(name), !isHugePages(name) { return ["must be a standard resource type or fully qualified"] }
        return []
    }

    static func invalid(_ field: String, _ value: String, _ message: String) -> Status.Cause {
        Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(ObjectMetaValidation.quoted(value)): \(message)", field: field)
    }

    static func quantity(_ value: JSON?) -> Quantity? {
        quantityText(value).flatMap { try? Quantity(parsing: $0) }
    }

    /// A quantity field's text: a string as it is, a JSON number as Go would read it (a whole one
    /// without a point; one past Int64's range in exponent form, not converted, which would trap).
    static func quantityText(_ value: JSON?) -> String? {
        switch value {
        case .string(let text)?: text
        case .number(let number)?: number.rounded() == number && abs(number) < 9e18 ? String(Int64(number)) : String(number)
        default: nil
        }
    }

    static func quotaCauses(_ quota: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        for (name, value) in (quota[path: "spec.hard"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let field = "spec.hard[\(name)]"
            causes += resourceNameMessages(name).map { invalid(field, name, $0) }
            if !name.contains("/"), !standardQuotaResources.contains(name), !isHugePages(name) {
                causes.append(invalid(field, name, "must be a standard resource for quota"))
            }
            guard let amount = quantity(value) else { continue }
            if amount < .zero { causes.append(invalid(field, amount.canonical, "must be greater than or equal to 0")) }
            let integer = integerResources.contains(name) || name.hasPrefix("count/")
            if integer, amount.milliValue % 1000 != 0 { causes.append(invalid(field, amount.canonical, "must be an integer")) }
        }
        return causes + QuotaScopes.causes(quota)
    }

    static func limitRangeCauses(_ range: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        var types: Set<String> = []
        for (index, item) in (range[path: "spec.limits"]?.arrayValue ?? []).enumerated() {
            let path = "spec.limits[\(index)]"
            let type = item["type"]?.stringValue ?? ""
            let typeErrors = ObjectMetaValidation.labelKeyErrors(type)
            causes += typeErrors.map { invalid("\(path).type", type, $0) }
            if typeErrors.isEmpty, !type.contains("/"), !["Pod", "Container", "PersistentVolumeClaim"].contains(type) {
                causes.append(invalid("\(path).type", type, "must be a standard limit type or fully qualified"))
            }
            if !types.insert(type).inserted {
                causes.append(Status.Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(ObjectMetaValidation.quoted(type))", field: "\(path).type"))
            }
            var amounts: [String: [String: Quantity]] = [:]
            func read(_ field: String) {
                guard case .object(let values) = item[field] else { return }
                for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                    var messages = resourceNameMessages(name)
                    if type == "Pod" || type == "Container", messages.isEmpty, !name.contains("/"),
                       !["cpu", "memory", "ephemeral-storage"].contains(name), !name.hasPrefix("hugepages-") {
                        messages.append("must be a standard resource for containers")
                    }
                    causes += messages.map { invalid("\(path).\(field)[\(name)]", name, $0) }
                    if let amount = quantity(value) { amounts[field, default: [:]][name] = amount }
                }
            }
            read("max")
            read("min")
            if type == "Pod" {
                for field in ["default", "defaultRequest"] where !(item[field]?.objectValue?.isEmpty ?? true) {
                    causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: may not be specified when `type` is 'Pod'", field: "\(path).\(field)"))
                }
            } else {
                read("default")
                read("defaultRequest")
            }
            if type == "PersistentVolumeClaim", item[path: "min.storage"] == nil, item[path: "max.storage"] == nil {
                causes.append(Status.Cause(reason: "FieldValueRequired", message: "Required value: either minimum or maximum storage value is required, but neither was provided", field: "\(path).limits"))
            }
            read("maxLimitRequestRatio")
            causes += comparisons(amounts, path: path)
        }
        return causes
    }

    /// The order the limits of one resource must keep: min ≤ defaultRequest ≤ default ≤ max, a
    /// ratio of at least 1 and at most max/min.
    static func comparisons(_ amounts: [String: [String: Quantity]], path: String) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        let names = Set(amounts.values.flatMap(\.keys)).sorted()
        for name in names {
            let min = amounts["min"]?[name], max = amounts["max"]?[name]
            let fallback = amounts["default"]?[name], request = amounts["defaultRequest"]?[name], ratio = amounts["maxLimitRequestRatio"]?[name]
            func add(_ field: String, _ value: Quantity, _ message: String) { causes.append(invalid("\(path).\(field)[\(name)]", value.canonical, message)) }
            if let min, let max, min > max { add("min", min, "min value \(min) is greater than max value \(max)") }
            if let request, let min, min > request { add("defaultRequest", request, "min value \(min) is greater than default request value \(request)") }
            if let request, let max, request > max { add("defaultRequest", request, "default request value \(request) is greater than max value \(max)") }
            if let request, let fallback, request > fallback {
                add("defaultRequest", request, "default request value \(request) is greater than default limit value \(fallback)")
            }
            if let fallback, let min, min > fallback { add("default", min, "min value \(min) is greater than default value \(fallback)") }
            if let fallback, let max, fallback > max { add("default", max, "default value \(fallback) is greater than max value \(max)") }
            if let ratio, ratio < Quantity(1) { add("maxLimitRequestRatio", ratio, "ratio \(ratio) is less than 1") }
            if let ratio, let min, let max, min > .zero {
                let limit = Double(max.milliValue) / Double(min.milliValue)
                if Double(ratio.milliValue) / 1000 > limit {
                    add("maxLimitRequestRatio", ratio, "ratio \(ratio) is greater than max/min = \(String(format: "%f", limit))")
                }
            }
            if name.hasPrefix("hugepages-"), let fallback, let request, fallback != request {
                add("defaultRequest", request, "default value \(fallback) must equal to defaultRequest value \(request) in \(name)")
            }
        }
        return causes
    }
}
