import Foundation
import Hummingbird
import KubeAPI
import NIOCore

/// One request to one simulated cluster: which resource, which verb, and the answer.
struct SimRequest {
    let cluster: SimCluster
    let user: KubeSim.UserInfo
    let request: Request
    let path: [String]

    /// Where a resource request points.
    struct Target {
        let type: ResourceType
        let namespace: String?
        let name: String?
        let subresource: String?
    }

    func respond() async throws -> Response {
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
        let target = try resolve()
        return try await SimVerbs(request: self, target: target).respond()
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

    static let notFound = Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
}
