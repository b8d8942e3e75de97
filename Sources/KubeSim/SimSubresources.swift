import Foundation
import Hummingbird
import KubeAPI

/// The `scale` subresource of deployments, replica sets and stateful sets (an
/// `autoscaling/v1` Scale: `kubectl scale`) and the `status` subresource of every kind.
extension SimVerbs {
    static let scalable: Set<String> = ["deployments", "replicasets", "statefulsets"]

    func respond(_ name: String, _ subresource: String) async throws -> Response {
        let method = request.request.method
        guard subresource == "status" || Self.scalable.contains(type.resource) else {
            throw Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        let current = try cluster.get(type, namespace: target.namespace, name: name)
        if subresource == "status" {
            switch method {
            case .get: return SimAPI.json(current)
            case .put: return SimAPI.json(try cluster.replaceStatus(type, namespace: target.namespace, name: name, with: try await body()))
            case .patch: return SimAPI.json(try cluster.replaceStatus(type, namespace: target.namespace, name: name, with: try patched(current, with: try await body())))
            default: throw Status(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
            }
        }
        let scale = Self.scale(of: current)
        let wanted: JSON
        switch method {
        case .get: return SimAPI.json(scale)
        case .put: wanted = try await body()
        case .patch: wanted = try patched(scale, with: try await body())
        default: throw Status(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
        if let version = wanted[path: "metadata.resourceVersion"]?.stringValue, !version.isEmpty,
           version != current[path: "metadata.resourceVersion"]?.stringValue {
            throw Status.conflict(type.resource, name, group: type.group)
        }
        guard let replicas = wanted[path: "spec.replicas"]?.numberValue, replicas >= 0, replicas.rounded() == replicas else {
            throw Status.invalid(kind: "Scale", name, causes: [
                Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(wanted[path: "spec.replicas"].map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "null"): must be greater than or equal to 0", field: "spec.replicas"),
            ], group: "autoscaling")
        }
        var scaled = current
        scaled[path: "spec.replicas"] = .number(replicas)
        return SimAPI.json(Self.scale(of: try cluster.update(type, namespace: target.namespace, name: name, object: scaled)))
    }

    /// The Scale of a workload: its replicas wanted and had, and its selector as text.
    static func scale(of object: JSON) -> JSON {
        var metadata: [String: JSON] = [:]
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] { metadata[field] = object[path: "metadata.\(field)"] }
        let labels = (object[path: "spec.selector.matchLabels"]?.stringMap ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return .object([
            "kind": .string("Scale"), "apiVersion": .string("autoscaling/v1"), "metadata": .object(metadata),
            "spec": .object(["replicas": object[path: "spec.replicas"] ?? .number(1)]),
            "status": .object(["replicas": object[path: "status.replicas"] ?? .number(0), "selector": .string(labels.joined(separator: ","))]),
        ])
    }
}

extension SimCluster {
    /// Replaces an object's status as the status subresource does: the rest stays; a
    /// `metadata.resourceVersion` that is not the current one answers 409.
    public func replaceStatus(_ type: ResourceType, namespace: String?, name: String, with object: JSON) throws(Status) -> JSON {
        try state.withLock { state throws(Status) -> JSON in
            guard var current = state.objects[type]?[Self.key(namespace, name)] else { throw Status.notFound(type.resource, name, group: type.group) }
            if let version = object[path: "metadata.resourceVersion"]?.stringValue, !version.isEmpty,
               version != current[path: "metadata.resourceVersion"]?.stringValue {
                throw Status.conflict(type.resource, name, group: type.group)
            }
            guard current["status"] != object["status"] else { return current }
            current["status"] = object["status"]
            Self.store(&state, current, as: type)
            return state.objects[type]?[Self.key(namespace, name)] ?? current
        }
    }
}
