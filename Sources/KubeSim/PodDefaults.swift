import KubeAPI

/// The API server's defaults for pods and the pod templates of workloads (`SetDefaults_PodSpec`,
/// `SetDefaults_Container`, `SetDefaults_ContainerPort`, and for pods `SetDefaults_Pod` and the
/// ServiceAccount plugin's account), applied on every create and update before validation, as a
/// real server applies them: what `kubectl get -o yaml` shows that the manifest never said.
enum PodDefaults {
    static func apply(_ object: inout JSON, type: ResourceType) {
        switch (type.group, type.resource) {
        case ("", "pods"):
            applySpec(&object, at: "spec")
            if object[path: "spec.enableServiceLinks"] == nil { object[path: "spec.enableServiceLinks"] = .bool(true) }
            if (object[path: "spec.serviceAccountName"]?.stringValue ?? "").isEmpty, (object[path: "spec.serviceAccount"]?.stringValue ?? "").isEmpty {
                object[path: "spec.serviceAccountName"] = .string("default")
            }
            mirrorServiceAccount(&object, at: "spec")
        case ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"):
            applySpec(&object, at: "spec.template.spec")
        case ("batch", "cronjobs"):
            applySpec(&object, at: "spec.jobTemplate.spec.template.spec")
        default:
            break
        }
    }

    static func applySpec(_ object: inout JSON, at path: String) {
        guard case .object(var spec)? = object[path: path] else { return }
        func setIfAbsent(_ key: String, _ value: JSON) {
            if spec[key] == nil || spec[key] == .null || spec[key] == .string("") { spec[key] = value }
        }
        setIfAbsent("dnsPolicy", .string("ClusterFirst"))
        setIfAbsent("restartPolicy", .string("Always"))
        setIfAbsent("schedulerName", .string("default-scheduler"))
        if spec["securityContext"] == nil || spec["securityContext"] == .null { spec["securityContext"] = .object([:]) }
        if spec["terminationGracePeriodSeconds"] == nil || spec["terminationGracePeriodSeconds"] == .null { spec["terminationGracePeriodSeconds"] = .number(30) }
        for key in ["containers", "initContainers"] {
            guard let containers = spec[key]?.arrayValue else { continue }
            spec[key] = .array(containers.map(container))
        }
        object[path: path] = .object(spec)
        mirrorServiceAccount(&object, at: path)
    }

    /// One container's defaults: pull policy by tag, termination message, ports' protocol; its
    /// `resources` always shown (Go writes the empty struct).
    static func container(_ container: JSON) -> JSON {
        guard case .object(var fields) = container else { return container }
        if (fields["imagePullPolicy"]?.stringValue ?? "").isEmpty, let image = fields["image"]?.stringValue {
            fields["imagePullPolicy"] = .string(tag(of: image) == "latest" ? "Always" : "IfNotPresent")
        }
        if (fields["terminationMessagePath"]?.stringValue ?? "").isEmpty { fields["terminationMessagePath"] = .string("/dev/termination-log") }
        if (fields["terminationMessagePolicy"]?.stringValue ?? "").isEmpty { fields["terminationMessagePolicy"] = .string("File") }
        if fields["resources"] == nil || fields["resources"] == .null { fields["resources"] = .object([:]) }
        if let ports = fields["ports"]?.arrayValue {
            fields["ports"] = .array(ports.map { port in
                guard case .object(var entry) = port else { return port }
                if (entry["protocol"]?.stringValue ?? "").isEmpty { entry["protocol"] = .string("TCP") }
                return .object(entry)
            })
        }
        return .object(fields)
    }

    /// The image's tag as the defaulting reads it: `latest` when it names none (and no digest),
    /// none with a digest; a registry's port is not a tag.
    static func tag(of image: String) -> String? {
        if image.contains("@") { return nil }
        let last = image.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? image
        guard let colon = last.lastIndex(of: ":") else { return "latest" }
        return String(last[last.index(after: colon)...])
    }

    /// The pod's QoS class as the API server sets it on create (`GetPodQOS`): `BestEffort`
    /// without any positive CPU or memory request or limit; `Guaranteed` when every container,
    /// init containers included, limits both and the summed requests equal the summed limits;
    /// else `Burstable`.
    static func qosClass(_ pod: JSON) -> String {
        var requests: [String: Quantity] = [:], limits: [String: Quantity] = [:]
        var guaranteed = true
        let containers = (pod[path: "spec.containers"]?.arrayValue ?? []) + (pod[path: "spec.initContainers"]?.arrayValue ?? [])
        for container in containers {
            for resource in ["cpu", "memory"] {
                if let request = SpecValidation.quantity(container[path: "resources.requests.\(resource)"]), request > .zero {
                    requests[resource] = (requests[resource] ?? .zero) + request
                }
            }
            var limited: Set<String> = []
            for resource in ["cpu", "memory"] {
                if let limit = SpecValidation.quantity(container[path: "resources.limits.\(resource)"]), limit > .zero {
                    limited.insert(resource)
                    limits[resource] = (limits[resource] ?? .zero) + limit
                }
            }
            if limited != ["cpu", "memory"] { guaranteed = false }
        }
        if requests.isEmpty, limits.isEmpty { return "BestEffort" }
        if guaranteed, requests.allSatisfy({ limits[$0.key] == $0.value }), requests.count == limits.count { return "Guaranteed" }
        return "Burstable"
    }

    /// v1's deprecated `serviceAccount` mirrors `serviceAccountName` (and fills it when only it
    /// is given).
    static func mirrorServiceAccount(_ object: inout JSON, at path: String) {
        let name = object[path: "\(path).serviceAccountName"]?.stringValue ?? ""
        let deprecated = object[path: "\(path).serviceAccount"]?.stringValue ?? ""
        if name.isEmpty, !deprecated.isEmpty { object[path: "\(path).serviceAccountName"] = .string(deprecated) }
        if let name = object[path: "\(path).serviceAccountName"]?.stringValue, !name.isEmpty { object[path: "\(path).serviceAccount"] = .string(name) }
    }
}
