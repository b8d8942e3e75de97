/// A typed Kubernetes object: where it lives in the API and its metadata.
public protocol KubeResource: Codable, Sendable {
    /// `v1` for the core group, `group/version` otherwise.
    static var typeAPIVersion: String { get }
    static var typeKind: String { get }
    /// The plural resource name in URLs (`pods`, `rolebindings`).
    static var resource: String { get }
    static var isNamespaced: Bool { get }
    /// As sent and received; set from the type's constants when building objects in code.
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }
}

extension KubeResource {
    /// The API group (`""` for core).
    public static var group: String {
        let parts = typeAPIVersion.split(separator: "/")
        return parts.count == 2 ? String(parts[0]) : ""
    }

    /// The API version without the group.
    public static var version: String { String(typeAPIVersion.split(separator: "/").last ?? "") }

    /// The path of the collection: `/api/v1/namespaces/{ns}/pods` or `/apis/rbac…/v1/clusterroles`.
    public static func collectionPath(namespace: String?) -> String {
        let root = group.isEmpty ? "/api/\(version)" : "/apis/\(typeAPIVersion)"
        if isNamespaced, let namespace { return "\(root)/namespaces/\(namespace)/\(resource)" }
        return "\(root)/\(resource)"
    }
}
