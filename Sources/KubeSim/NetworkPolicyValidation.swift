import KubeAPI

/// A NetworkPolicy's spec checked as `ValidateNetworkPolicySpec` checks it, in its words: label
/// selectors (labels, expression keys and operators), peers (one at least; an `ipBlock` alone),
/// ports' protocols and numbers, and `policyTypes`.
enum NetworkPolicyValidation {
    static func causes(_ policy: JSON) -> [Status.Cause] {
        var causes = LabelSelectors.causes(policy[path: "spec.podSelector"], path: "spec.podSelector")
        for direction in ["ingress", "egress"] {
            for (index, rule) in (policy[path: "spec.\(direction)"]?.arrayValue ?? []).enumerated() {
                let path = "spec.\(direction)[\(index)]"
                for (number, port) in (rule["ports"]?.arrayValue ?? []).enumerated() {
                    causes += portCauses(port, path: "\(path).ports[\(number)]")
                }
                for (number, peer) in (rule[direction == "ingress" ? "from" : "to"]?.arrayValue ?? []).enumerated() {
                    causes += peerCauses(peer, path: "\(path).\(direction == "ingress" ? "from" : "to")[\(number)]")
                }
            }
        }
        let types = policy[path: "spec.policyTypes"]?.arrayValue ?? []
        if types.count > 2 {
            causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(types.map { $0.stringValue ?? "" }): may not specify more than two policyTypes", field: "spec.policyTypes"))
        } else {
            for (index, type) in types.enumerated() where !["Ingress", "Egress"].contains(type.stringValue ?? "") {
                causes.append(SpecValidation.unsupported("spec.policyTypes[\(index)]", type.stringValue ?? "", ["Ingress", "Egress"]))
            }
        }
        return causes
    }

    static func peerCauses(_ peer: JSON, path: String) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        var kinds = 0
        for selector in ["podSelector", "namespaceSelector"] where peer[selector] != nil && peer[selector] != .null {
            kinds += 1
            causes += LabelSelectors.causes(peer[selector], path: "\(path).\(selector)")
        }
        let block = peer["ipBlock"].flatMap { $0 == .null ? nil : $0 }
        if block != nil { kinds += 1 }
        if kinds == 0 {
            causes.append(SpecValidation.required(path, "must specify a peer"))
        } else if kinds > 1, block != nil {
            causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: may not specify both ipBlock and another peer", field: path))
        }
        if let block, (block["cidr"]?.stringValue ?? "").isEmpty { causes.append(SpecValidation.required("\(path).ipBlock.cidr")) }
        return causes
    }

    static func portCauses(_ port: JSON, path: String) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        if let proto = port["protocol"]?.stringValue, !["TCP", "UDP", "SCTP"].contains(proto) {
            causes.append(SpecValidation.unsupported("\(path).protocol", proto, ["SCTP", "TCP", "UDP"]))
        }
        if case .number(let number) = port["port"], number < 1 || number > 65535 {
            causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(Int(number)): must be between 1 and 65535, inclusive", field: "\(path).port"))
        }
        return causes
    }
}
