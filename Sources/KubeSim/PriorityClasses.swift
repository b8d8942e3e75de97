import KubeAPI

/// PriorityClasses (`scheduling.k8s.io/v1`) and the API server's Priority admission plugin: the
/// two system classes every cluster has, the classes' defaults, validation and single global
/// default, and a new pod's `priority` and `preemptionPolicy` taken from its class (the global
/// default's, or 0 and `PreemptLowerPriority`), a class that does not exist refused.
enum PriorityClasses {
    static let type = ResourceType.find(group: "scheduling.k8s.io", version: "v1", resource: "priorityclasses")!
    static let highestUserDefinable = 1_000_000_000
    static let policies = ["PreemptLowerPriority", "Never"]
    /// The classes a cluster is bootstrapped with (`SystemPriorityClasses`).
    static let system: [(name: String, value: Int, description: String)] = [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ]

    static var systemObjects: [JSON] {
        system.map { entry in
            .object([
                "apiVersion": .string("scheduling.k8s.io/v1"), "kind": .string("PriorityClass"), "metadata": .object(["name": .string(entry.name)]),
                "value": .number(Double(entry.value)), "description": .string(entry.description),
            ])
        }
    }

    /// `SetDefaults_PriorityClass`: a class preempts lower priorities unless told not to.
    static func applyDefaults(_ object: inout JSON) {
        if object["preemptionPolicy"] == nil || object["preemptionPolicy"] == .null { object["preemptionPolicy"] = .string("PreemptLowerPriority") }
    }

    static func value(_ object: JSON) -> Int { Int(object["value"]?.numberValue ?? 0) }

    /// `ValidatePriorityClass`: a `system-` name only for a system class as it is; a user's
    /// value at most 1,000,000,000; a known preemption policy.
    static func causes(_ object: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        let name = object[path: "metadata.name"]?.stringValue ?? ""
        if name.hasPrefix("system-") {
            let reason: String? = if let known = system.first(where: { $0.name == name }) {
                value(object) != known.value ? "value of \(name) PriorityClass must be \(known.value)"
                    : object["globalDefault"]?.boolValue == true ? "globalDefault of \(name) PriorityClass must be false" : nil
            } else {
                "\(name) is not a known system priority class"
            }
            if let reason {
                causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: \(reason)", field: "metadata.name"))
            }
        } else if value(object) > highestUserDefinable {
            causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: maximum allowed value of a user defined priority is \(highestUserDefinable)", field: "value"))
        }
        if let policy = object["preemptionPolicy"]?.stringValue {
            if policy.isEmpty {
                causes.append(SpecValidation.required("preemptionPolicy"))
            } else if !policies.contains(policy) {
                causes.append(SpecValidation.unsupported("preemptionPolicy", policy, policies))
            }
        }
        return causes
    }

    /// `ValidatePriorityClassUpdate`: the value and the preemption policy never change.
    static func updateCauses(_ replacement: JSON, current: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        if value(replacement) != value(current) {
            causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: may not be changed in an update.", field: "value"))
        }
        if replacement["preemptionPolicy"] != current["preemptionPolicy"] {
            let shown = replacement["preemptionPolicy"]?.stringValue.map(ObjectMetaValidation.quoted) ?? "null"
            causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(shown): field is immutable", field: "preemptionPolicy"))
        }
        return causes
    }

    /// The cluster's global default class: of several (a race a real server allows), the lowest.
    static func globalDefault(_ classes: [JSON]) -> JSON? {
        classes.filter { $0["globalDefault"]?.boolValue == true }.min { value($0) < value($1) }
    }

    /// The plugin's check of a class written: one global default at most (403).
    static func admit(_ object: JSON, name: String, classes: [JSON], isUpdate: Bool) throws(Status) {
        guard object["globalDefault"]?.boolValue == true, let existing = globalDefault(classes),
              let existingName = existing[path: "metadata.name"]?.stringValue, !isUpdate || existingName != name
        else { return }
        throw Status.admissionForbidden(type.resource, name, reason: "PriorityClass \(existingName) is already marked as default. Only one default can exist", group: type.group)
    }

    /// The plugin on a new pod (`asked` names it in refusals): its class, or the global default
    /// (named in the pod), sets `spec.priority` and `spec.preemptionPolicy`; a pod giving other
    /// values, or naming a class that does not exist, is refused.
    static func admitPod(_ pod: inout JSON, asked: String, classes: [JSON]) throws(Status) {
        let named = pod[path: "spec.priorityClassName"]?.stringValue ?? ""
        var priority = 0
        var policy: String? = "PreemptLowerPriority"
        if named.isEmpty {
            if let fallback = globalDefault(classes) {
                pod[path: "spec.priorityClassName"] = fallback["metadata"]?["name"]
                (priority, policy) = (value(fallback), fallback["preemptionPolicy"]?.stringValue)
            }
        } else {
            guard let chosen = classes.first(where: { $0[path: "metadata.name"]?.stringValue == named }) else {
                throw Status.admissionForbidden("pods", asked, reason: "no PriorityClass with name \(named) was found")
            }
            (priority, policy) = (value(chosen), chosen["preemptionPolicy"]?.stringValue)
        }
        if let given = pod[path: "spec.priority"]?.numberValue, Int(given) != priority {
            throw Status.admissionForbidden("pods", asked, reason: "the integer value of priority (\(Int(given))) must not be provided in pod spec; priority admission controller computed \(priority) from the given PriorityClass name")
        }
        pod[path: "spec.priority"] = .number(Double(priority))
        guard let policy else { return }
        if let given = pod[path: "spec.preemptionPolicy"]?.stringValue, given != policy {
            throw Status.admissionForbidden("pods", asked, reason: "the string value of PreemptionPolicy (\(given)) must not be provided in pod spec; priority admission controller computed \(policy) from the given PriorityClass name")
        }
        pod[path: "spec.preemptionPolicy"] = .string(policy)
    }

    /// The plugin on a pod's update: a replacement without `spec.priority` keeps the one the
    /// pod has (validation refuses any other change to it).
    static func keepPriority(_ replacement: inout JSON, current: JSON) {
        if replacement[path: "spec.priority"] == nil, let priority = current[path: "spec.priority"] {
            replacement[path: "spec.priority"] = priority
        }
    }
}
