import Foundation
import Hummingbird
import KubeAPI

/// The subresources KubeSim serves, as discovery lists them: `status` of the kinds that have
/// one on a real server, `scale` of deployments, replica sets and stateful sets (an
/// `autoscaling/v1` Scale: `kubectl scale`), a service account's `token` (`SimTokens`), and a
/// pod's `log`, `eviction` (`kubectl drain`) and streams (`exec`, `attach`, `portforward`,
/// answered in `SimRequest`). Any other is a 404, whatever the method, as on a real server.
extension SimVerbs {
    static let scalable: Set<String> = ["deployments", "replicasets", "statefulsets"]

    /// The kinds whose objects have a `status` subresource on a real server.
    static let withStatus: Set<String> = [
        "namespaces", "nodes", "pods", "services", "resourcequotas", "persistentvolumeclaims",
        "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs", "ingresses",
    ]

    /// One subresource of `type`: its name, and the group, version and kind it answers with when
    /// they are not the parent's.
    struct Subresource {
        let name: String
        let verbs: [String]
        var group: String? = nil, version: String? = nil, kind: String? = nil
    }

    static func subresources(of type: ResourceType) -> [Subresource] {
        var served: [Subresource] = []
        if type.group.isEmpty, type.resource == "pods" {
            served += [
                Subresource(name: "attach", verbs: ["create", "get"], kind: "PodAttachOptions"),
                Subresource(name: "eviction", verbs: ["create"], group: "policy", version: "v1", kind: "Eviction"),
                Subresource(name: "exec", verbs: ["create", "get"], kind: "PodExecOptions"),
                Subresource(name: "log", verbs: ["get"]),
                Subresource(name: "portforward", verbs: ["create", "get"], kind: "PodPortForwardOptions"),
            ]
        }
        if type.group.isEmpty, type.resource == "serviceaccounts" {
            served.append(Subresource(name: "token", verbs: ["create"], group: "authentication.k8s.io", version: "v1", kind: "TokenRequest"))
        }
        if scalable.contains(type.resource) {
            served.append(Subresource(name: "scale", verbs: ["get", "patch", "update"], group: "autoscaling", version: "v1", kind: "Scale"))
        }
        if withStatus.contains(type.resource) { served.append(Subresource(name: "status", verbs: ["get", "patch", "update"])) }
        return served
    }

    /// Answers a request for a subresource other than the streams.
    func respondToSubresource(_ name: String, _ subresource: String) async throws -> Response {
        guard Self.subresources(of: type).contains(where: { $0.name == subresource }) else {
            throw Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
        }
        switch subresource {
        case "log":
            guard request.request.method == .get else { throw Self.methodNotAllowed }
            return try PodLogRequest(cluster: cluster, namespace: target.namespace ?? "", name: name, query: query, clientGone: request.clientGone).respond()
        case "eviction": return try await evict(name)
        case "token": return try await requestToken(name)
        default: return try await respond(name, subresource)
        }
    }

    static let methodNotAllowed = Status(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")

    /// `POST …/pods/<name>/eviction`: with no PodDisruptionBudgets to consult, the pod is deleted
    /// as the eviction's `deleteOptions` say (its grace period), and the answer is the 201
    /// `Status` a real server gives.
    private func evict(_ name: String) async throws -> Response {
        guard request.request.method == .post else { throw Self.methodNotAllowed }
        let eviction = try await body()
        if let named = eviction[path: "metadata.name"]?.stringValue, !named.isEmpty, named != name {
            throw Status(code: 400, reason: "BadRequest", message: "name in URL does not match name in Eviction object")
        }
        let grace = eviction[path: "deleteOptions.gracePeriodSeconds"]?.numberValue.map { Int($0) }
        try cluster.delete(type, namespace: target.namespace, name: name, gracePeriod: grace)
        let status: JSON = .object(["kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]), "status": .string("Success"), "code": .number(201)])
        return SimAPI.json(status, status: .created)
    }

    func respond(_ name: String, _ subresource: String) async throws -> Response {
        let method = request.request.method
        let current = try cluster.get(type, namespace: target.namespace, name: name)
        if subresource == "status" {
            switch method {
            case .get: return SimAPI.json(current)
            case .put: return SimAPI.json(try cluster.replaceStatus(type, namespace: target.namespace, name: name, with: try await body()))
            case .patch: return SimAPI.json(try cluster.replaceStatus(type, namespace: target.namespace, name: name, with: try patched(current, with: try await body())))
            default: throw Self.methodNotAllowed
            }
        }
        let scale = Self.scale(of: current)
        let wanted: JSON
        switch method {
        case .get: return SimAPI.json(scale)
        case .put: wanted = try await body()
        case .patch: wanted = try patched(scale, with: try await body())
        default: throw Self.methodNotAllowed
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
