import KubeAPI

/// Pod Security admission for the `pod-security.kubernetes.io/enforce` namespace label, at the
/// `baseline` and `restricted` levels, with the API server's refusal wording:
/// `pods "x" is forbidden: violates PodSecurity "restricted:latest": <check> (<detail>), …`.
enum PodSecurity {
    static let label = "pod-security.kubernetes.io/enforce"

    /// Capabilities the baseline level allows containers to add.
    static let baselineCapabilities: Set<String> = [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    ]

    /// Throws the refusal when `pod` breaks the level its namespace enforces.
    static func check(_ pod: JSON, namespace: JSON?) throws(Status) {
        guard let level = namespace?[path: "metadata.labels"]?[label]?.stringValue, level == "baseline" || level == "restricted" else { return }
        var violations = baseline(pod)
        if level == "restricted" { violations += restricted(pod) }
        guard !violations.isEmpty else { return }
        let name = pod[path: "metadata.name"]?.stringValue ?? ""
        throw Status.admissionForbidden("pods", name, reason: "violates PodSecurity \"\(level):latest\": \(violations.joined(separator: ", "))")
    }

    private static func containers(_ pod: JSON) -> [JSON] {
        (pod[path: "spec.initContainers"]?.arrayValue ?? []) + (pod[path: "spec.containers"]?.arrayValue ?? [])
    }

    private static func quoted(_ names: [String]) -> String {
        names.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    private static func baseline(_ pod: JSON) -> [String] {
        var violations: [String] = []
        let hostFields = ["hostNetwork", "hostPID", "hostIPC"].filter { pod[path: "spec.\($0)"] == .bool(true) }
        if !hostFields.isEmpty {
            violations.append("host namespaces (\(hostFields.map { "\($0)=true" }.joined(separator: ", ")))")
        }
        let privileged = containers(pod).filter { $0[path: "securityContext.privileged"] == .bool(true) }.compactMap { $0["name"]?.stringValue }
        if !privileged.isEmpty {
            violations.append("privileged (container\(privileged.count > 1 ? "s" : "") \(quoted(privileged)) must not set securityContext.privileged=true)")
        }
        let capabilities = containers(pod).compactMap { container -> String? in
            let added = (container[path: "securityContext.capabilities.add"]?.arrayValue ?? []).compactMap(\.stringValue)
                .filter { !baselineCapabilities.contains($0) }
            guard !added.isEmpty, let name = container["name"]?.stringValue else { return nil }
            return "container \"\(name)\" must not include \(quoted(added)) in securityContext.capabilities.add"
        }
        if !capabilities.isEmpty { violations.append("non-default capabilities (\(capabilities.joined(separator: "; ")))") }
        let hostPaths = (pod[path: "spec.volumes"]?.arrayValue ?? []).filter { $0["hostPath"] != nil }.compactMap { $0["name"]?.stringValue }
        if !hostPaths.isEmpty { violations.append("hostPath volumes (volume\(hostPaths.count > 1 ? "s" : "") \(quoted(hostPaths)))") }
        let hostPorts = containers(pod).compactMap { container -> String? in
            let ports = (container["ports"]?.arrayValue ?? []).compactMap { port -> Int? in
                if case .number(let value) = port["hostPort"], value != 0 { return Int(value) }
                return nil
            }
            guard !ports.isEmpty, let name = container["name"]?.stringValue else { return nil }
            return "container \"\(name)\" uses hostPort\(ports.count > 1 ? "s" : "") \(ports.map(String.init).joined(separator: ", "))"
        }
        if !hostPorts.isEmpty { violations.append("hostPort (\(hostPorts.joined(separator: "; ")))") }
        return violations
    }

    private static func restricted(_ pod: JSON) -> [String] {
        var violations: [String] = []
        let all = containers(pod)
        func names(_ predicate: (JSON) -> Bool) -> [String] { all.filter(predicate).compactMap { $0["name"]?.stringValue } }
        let escalating = names { $0[path: "securityContext.allowPrivilegeEscalation"] != .bool(false) }
        if !escalating.isEmpty {
            violations.append("allowPrivilegeEscalation != false (container\(escalating.count > 1 ? "s" : "") \(quoted(escalating)) must set securityContext.allowPrivilegeEscalation=false)")
        }
        let undropped = names { !(($0[path: "securityContext.capabilities.drop"]?.arrayValue ?? []).contains(.string("ALL"))) }
        if !undropped.isEmpty {
            violations.append("unrestricted capabilities (container\(undropped.count > 1 ? "s" : "") \(quoted(undropped)) must set securityContext.capabilities.drop=[\"ALL\"])")
        }
        let podNonRoot = pod[path: "spec.securityContext.runAsNonRoot"] == .bool(true)
        let rootable = names { container in
            let value = container[path: "securityContext.runAsNonRoot"]
            return value == .bool(false) || (value == nil && !podNonRoot)
        }
        if !rootable.isEmpty {
            violations.append("runAsNonRoot != true (pod or container\(rootable.count > 1 ? "s" : "") \(quoted(rootable)) must set securityContext.runAsNonRoot=true)")
        }
        let podSeccomp = pod[path: "spec.securityContext.seccompProfile.type"]?.stringValue
        let unconfined = names { container in
            let type = container[path: "securityContext.seccompProfile.type"]?.stringValue ?? podSeccomp
            return type != "RuntimeDefault" && type != "Localhost"
        }
        if !unconfined.isEmpty {
            violations.append("seccompProfile (pod or container\(unconfined.count > 1 ? "s" : "") \(quoted(unconfined)) must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")")
        }
        return violations
    }
}
