import Foundation
import KubeAPI

/// What a real API server fills in and checks on a Service: its defaults, a cluster IP from the
/// service range (10.96.0.0/12) and node ports from 30000–32767, each allocated once in the
/// cluster, kept across updates that leave them out.
enum SimServices {
    static let nodePorts = 30000...32767
    /// 10.96.0.0/12 as numbers; .1 is the API server's own service and .10 the DNS service on a
    /// real cluster, so allocation starts above them.
    static let range: ClosedRange<UInt32> = 0x0A60_0000...0x0A6F_FFFF
    static let firstAllocated: UInt32 = 0x0A60_000B

    /// Fills a new service's defaults and allocations; throws the real 422 for a taken or
    /// out-of-range address or port.
    static func admit(_ service: inout JSON, name: String, others: [JSON], previous: JSON? = nil) throws(Status) {
        let kind = service[path: "spec.type"]?.stringValue ?? "ClusterIP"
        service[path: "spec.type"] = .string(kind)
        if service[path: "spec.sessionAffinity"] == nil { service[path: "spec.sessionAffinity"] = .string("None") }
        var ports = service[path: "spec.ports"]?.arrayValue ?? []
        for index in ports.indices {
            if ports[index]["protocol"] == nil { ports[index]["protocol"] = .string("TCP") }
            if ports[index]["targetPort"] == nil, let port = ports[index]["port"] { ports[index]["targetPort"] = port }
        }
        var causes: [Status.Cause] = []
        if kind != "ExternalName" {
            if service[path: "spec.internalTrafficPolicy"] == nil { service[path: "spec.internalTrafficPolicy"] = .string("Cluster") }
            service[path: "spec.ipFamilies"] = service[path: "spec.ipFamilies"] ?? .array([.string("IPv4")])
            service[path: "spec.ipFamilyPolicy"] = service[path: "spec.ipFamilyPolicy"] ?? .string("SingleStack")
            let kept = previous?[path: "spec.clusterIP"]?.stringValue
            let asked = service[path: "spec.clusterIP"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            if let kept, let asked, asked != kept {
                causes.append(cause("spec.clusterIPs[0]", #"[]string{"\#(asked)"}"#, "may not change once set"))
            } else if let address = asked ?? kept {
                if previous == nil, address != "None" {
                    if let number = number(address), !range.contains(number) {
                        causes.append(cause("spec.clusterIPs", #"[]string{"\#(address)"}"#,
                                            "failed to allocate IP \(address): the provided IP (\(address)) is not in the valid range. The range of valid IPs is 10.96.0.0/12"))
                    } else if taken(addressesOf: others).contains(address) {
                        causes.append(cause("spec.clusterIPs", #"[]string{"\#(address)"}"#, "failed to allocate IP \(address): provided IP is already allocated"))
                    }
                }
                service[path: "spec.clusterIP"] = .string(address)
                service[path: "spec.clusterIPs"] = .array([.string(address)])
            } else {
                let used = Set(taken(addressesOf: others).compactMap(number))
                if let free = (firstAllocated...range.upperBound).first(where: { !used.contains($0) }) {
                    service[path: "spec.clusterIP"] = .string(text(free))
                    service[path: "spec.clusterIPs"] = .array([.string(text(free))])
                }
            }
        }
        if kind == "NodePort" || kind == "LoadBalancer" {
            if service[path: "spec.externalTrafficPolicy"] == nil { service[path: "spec.externalTrafficPolicy"] = .string("Cluster") }
            if kind == "LoadBalancer", service[path: "spec.allocateLoadBalancerNodePorts"] == nil {
                service[path: "spec.allocateLoadBalancerNodePorts"] = .bool(true)
            }
            var used = Set(others.flatMap { ($0[path: "spec.ports"]?.arrayValue ?? []).compactMap { $0["nodePort"]?.numberValue.map { Int($0) } } })
            let before = (previous?[path: "spec.ports"]?.arrayValue ?? []).compactMap { port -> (String, Int)? in
                guard let node = port["nodePort"]?.numberValue.map({ Int($0) }) else { return nil }
                return (key(port), node)
            }
            for index in ports.indices {
                let mine = before.first { $0.0 == key(ports[index]) }?.1
                if let asked = ports[index]["nodePort"]?.numberValue.map({ Int($0) }), asked != 0 {
                    guard asked != mine else { continue }
                    if !nodePorts.contains(asked) {
                        causes.append(cause("spec.ports[\(index)].nodePort", String(asked),
                                            "provided port is not in the valid range. The range of valid ports is 30000-32767"))
                    } else if used.contains(asked) {
                        causes.append(cause("spec.ports[\(index)].nodePort", String(asked), "provided port is already allocated"))
                    }
                    used.insert(asked)
                } else if let port = mine ?? nodePorts.first(where: { !used.contains($0) }) {
                    ports[index]["nodePort"] = .number(Double(port))
                    used.insert(port)
                }
            }
        } else {
            for index in ports.indices { ports[index]["nodePort"] = nil }
        }
        if !ports.isEmpty { service[path: "spec.ports"] = .array(ports) }
        if !causes.isEmpty { throw Status.invalid(kind: "Service", name, causes: causes) }
    }

    private static func cause(_ field: String, _ value: String, _ detail: String) -> Status.Cause {
        Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(value): \(detail)", field: field)
    }

    private static func key(_ port: JSON) -> String {
        "\(port["port"]?.numberValue.map { Int($0) } ?? 0)/\(port["protocol"]?.stringValue ?? "TCP")"
    }

    private static func taken(addressesOf services: [JSON]) -> [String] {
        services.compactMap { $0[path: "spec.clusterIP"]?.stringValue }.filter { $0 != "None" && !$0.isEmpty }
    }

    static func number(_ address: String) -> UInt32? {
        let parts = address.split(separator: ".").compactMap { UInt32($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 < 256 }) else { return nil }
        return parts.reduce(0) { $0 << 8 | $1 }
    }

    static func text(_ number: UInt32) -> String {
        [24, 16, 8, 0].map { String(number >> UInt32($0) & 0xFF) }.joined(separator: ".")
    }
}
