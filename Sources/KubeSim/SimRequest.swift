import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import KubeAPI
import NIOCore

/// One request to one simulated cluster: which resource, which verb, and the answer.
struct SimRequest {
    let cluster: SimCluster
    let user: KubeSim.UserInfo
    let request: Request
    let path: [String]
    /// Resolves when the client has gone (set for watches, which end then, as on a real server).
    var clientGone: ClientGone? = nil

    /// Where a resource request points.
    struct Target {
        let type: ResourceType
        let namespace: String?
        let name: String?
        let subresource: String?
    }

    func respond() async throws -> Response {
        let target = isDiscovery ? nil : try resolve()
        let attributes = self.attributes(target)
        let caller = try impersonated(for: attributes)
        let withheld = target.map { cluster.faults.withheldResources.contains($0.type.resource) } ?? false
        guard !withheld, RBACAuthorizer(cluster: cluster).allows(caller, attributes) else {
            if let target {
                throw Status.forbidden(user: caller.name, verb: attributes.verb, resource: target.type.resource, subresource: target.subresource, group: target.type.group,
                                       namespace: attributes.namespace, name: target.name)
            }
            throw Status(code: 403, reason: "Forbidden", message: "forbidden: User \"\(caller.name)\" cannot \(attributes.verb) path \"\(attributes.path ?? "")\"")
        }
        if let target {
            if let subresource = target.subresource, Self.streamingSubresources.contains(subresource), target.type.resource == "pods" {
                // Reached only when the request was not a WebSocket upgrade KubeSim accepts.
                _ = try cluster.get(target.type, namespace: target.namespace, name: target.name ?? "")
                throw Status(code: 400, reason: "BadRequest", message: "Upgrade request required")
            }
            if target.type.resource == "selfsubjectaccessreviews" || target.type.resource == "subjectaccessreviews" {
                return try await AccessReview(cluster: cluster, caller: caller, request: request).respond(target.type)
            }
            if target.type.resource == "selfsubjectreviews" {
                return try await AccessReview(cluster: cluster, caller: caller, request: request).whoAmI(target.type)
            }
            return try await SimVerbs(request: self, target: target).respond()
        }
        return try discovery()
    }

    /// Pod subresources that stream over an upgraded connection.
    static let streamingSubresources: Set<String> = ["exec", "attach", "portforward"]

    /// The checks of a streaming request before its upgrade: the pod exists and the caller (or
    /// whom they impersonate) may `create` the subresource. Throws the `Status` a refusal gets.
    func authorizeStream() throws {
        let target = try resolve()
        guard let subresource = target.subresource, Self.streamingSubresources.contains(subresource), target.type.resource == "pods" else {
            throw Status(code: 400, reason: "BadRequest", message: "not a streaming request")
        }
        let attributes = self.attributes(target)
        let caller = try impersonated(for: attributes)
        guard RBACAuthorizer(cluster: cluster).allows(caller, attributes) else {
            throw Status.forbidden(user: caller.name, verb: attributes.verb, resource: target.type.resource, subresource: target.subresource, group: target.type.group,
                                   namespace: attributes.namespace, name: target.name)
        }
        _ = try cluster.get(target.type, namespace: target.namespace, name: target.name ?? "")
    }

    private var isDiscovery: Bool {
        guard let first = path.first else { return true }
        return first == "version" || first == "openapi" || path == ["api"] || path == ["apis"] || path == ["api", "v1"]
            || (first == "apis" && path.count == 3)
    }

    /// The verb, resource and scope of this request, as RBAC sees them.
    private func attributes(_ target: Target?) -> RequestAttributes {
        let method = request.method
        guard let target else {
            return RequestAttributes(verb: method == .get ? "get" : method.rawValue.lowercased(), path: "/" + path.joined(separator: "/"))
        }
        let watching = ["1", "true"].contains(request.uri.queryParameters["watch"].map(String.init))
        // Streaming subresources need `create` whatever the method (a WebSocket upgrade is a GET),
        // as on servers since v1.30.
        let verb = if let subresource = target.subresource, Self.streamingSubresources.contains(subresource) { "create" } else {
            switch (method, target.name) {
        case (.get, nil): watching ? "watch" : "list"
        case (.get, _): "get"
        case (.post, _): "create"
        case (.put, _): "update"
        case (.patch, _): "patch"
        case (.delete, nil): "deletecollection"
        default: "delete"
            }
        }
        // A namespace's own requests are scoped to that namespace, as on a real server.
        let namespace = target.type.resource == "namespaces" ? target.name : target.namespace
        return RequestAttributes(verb: verb, group: target.type.group, resource: target.type.resource,
                                 subresource: target.subresource, namespace: namespace, name: target.name)
    }

    /// The identity the request acts as: the caller, or whom it impersonates (`Impersonate-User`,
    /// `Impersonate-Group`) if RBAC grants the caller `impersonate` on those users and groups.
    private func impersonated(for attributes: RequestAttributes) throws -> KubeSim.UserInfo {
        let users = request.headers[values: HTTPField.Name("Impersonate-User")!]
        let groups = request.headers[values: HTTPField.Name("Impersonate-Group")!]
        guard let name = users.first else {
            guard groups.isEmpty else {
                throw Status(code: 400, reason: "BadRequest", message: "requested [\(groups.map { "{Group \($0)}" }.joined(separator: " "))] without impersonating a user")
            }
            return user
        }
        let authorizer = RBACAuthorizer(cluster: cluster)
        let allowed = authorizer.allows(user, RequestAttributes(verb: "impersonate", resource: "users", name: name))
            && groups.allSatisfy { authorizer.allows(user, RequestAttributes(verb: "impersonate", resource: "groups", name: $0)) }
        guard allowed else {
            // The wording of v1.36, which reports the constrained-impersonation check last.
            let scope = attributes.namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
            let subject = attributes.name.map { "\(attributes.resource) \"\($0)\"" } ?? attributes.resource
            let message = attributes.path == nil
                ? "\(subject) is forbidden: User \"\(user.name)\" cannot impersonate-on:user-info:\(attributes.verb) resource \"\(attributes.resource)\" in API group \"\(attributes.group)\" \(scope)"
                : "forbidden: User \"\(user.name)\" cannot impersonate-on:user-info:\(attributes.verb) path \"\(attributes.path!)\""
            throw Status(code: 403, reason: "Forbidden", message: message, details: Status.Details(kind: attributes.resource))
        }
        return KubeSim.UserInfo(name: name, groups: groups + ["system:authenticated"])
    }

    private func discovery() throws -> Response {
        switch path {
        case ["version"]:
            return SimAPI.json(Discovery.version)
        case ["api"]:
            return SimAPI.json(Discovery.coreVersions)
        case ["apis"]:
            return SimAPI.json(Discovery.groups)
        case ["api", "v1"]:
            return SimAPI.json(Discovery.resources(group: "", version: "v1"))
        case ["openapi", "v3"]:
            return SimAPI.json(Discovery.openAPIRoot)
        case ["openapi", "v3", "api", "v1"]:
            return SimAPI.json(Discovery.openAPIGroup(group: "", version: "v1"))
        default:
            break
        }
        if path.count == 5, path[0] == "openapi", path[1] == "v3", path[2] == "apis" {
            return SimAPI.json(Discovery.openAPIGroup(group: path[3], version: path[4]))
        }
        if path.count == 3, path[0] == "apis", ResourceType.known.contains(where: { $0.group == path[1] && $0.version == path[2] }) {
            return SimAPI.json(Discovery.resources(group: path[1], version: path[2]))
        }
        throw Self.notFound
    }

    /// Reads `api/v1/…` or `apis/{group}/{version}/…` into a target.
    private func resolve() throws -> Target {
        let (group, version, rest): (String, String, ArraySlice<String>)
        if path.first == "api", path.count >= 3, path[1] == "v1" {
            (group, version, rest) = ("", "v1", path[2...])
        } else if path.first == "apis", path.count >= 4 {
            (group, version, rest) = (path[1], path[2], path[3...])
        } else {
            throw Self.notFound
        }
        var parts = Array(rest)
        var namespace: String?
        if parts.count >= 3, parts[0] == "namespaces" {
            namespace = parts[1]
            parts.removeFirst(2)
        }
        guard let resource = parts.first, let type = ResourceType.find(group: group, version: version, resource: resource) else {
            throw Self.notFound
        }
        if namespace != nil && !type.isNamespaced { throw Self.notFound }
        return Target(type: type, namespace: namespace, name: parts.count > 1 ? parts[1] : nil, subresource: parts.count > 2 ? parts[2] : nil)
    }

    /// Whether `path` names a collection of resources (`api/v1/pods`, `apis/g/v/namespaces/n/x`).
    static func isCollection(_ path: [String]) -> Bool {
        let rest: ArraySlice<String>
        if path.first == "api", path.count >= 3 { rest = path[2...] } else if path.first == "apis", path.count >= 4 { rest = path[3...] } else { return false }
        return rest.count == 1 || (rest.count == 3 && rest.first == "namespaces")
    }

    static let notFound = Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
}
