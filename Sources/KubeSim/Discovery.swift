import KubeAPI

/// The discovery documents kubectl reads before anything else (legacy format; kubectl falls
/// back to it when the server does not offer aggregated discovery).
enum Discovery {
    static let version: JSON = .object([
        "major": .string("1"), "minor": .string("36"), "gitVersion": .string(KubeSim.gitVersion),
        "gitCommit": .string("kubesim"), "gitTreeState": .string("clean"), "buildDate": .string("2026-11-01T00:00:00Z"),
        "goVersion": .string("go1.25"), "compiler": .string("gc"), "platform": .string("linux/amd64"),
    ])

    static let coreVersions: JSON = .object([
        "kind": .string("APIVersions"), "versions": .array([.string("v1")]),
        "serverAddressByClientCIDRs": .array([.object(["clientCIDR": .string("0.0.0.0/0"), "serverAddress": .string("127.0.0.1:6443")])]),
    ])

    static var groups: JSON {
        var seen: [String] = []
        for type in ResourceType.known where !type.group.isEmpty && !seen.contains(type.group) { seen.append(type.group) }
        let groups: [JSON] = seen.map { name in
            let version = ResourceType.known.first { $0.group == name }!.version
            let groupVersion: JSON = .object(["groupVersion": .string("\(name)/\(version)"), "version": .string(version)])
            return .object(["name": .string(name), "versions": .array([groupVersion]), "preferredVersion": groupVersion])
        }
        return .object(["kind": .string("APIGroupList"), "apiVersion": .string("v1"), "groups": .array(groups)])
    }

    static func resources(group: String, version: String) -> JSON {
        let resources: [JSON] = ResourceType.known.filter { $0.group == group && $0.version == version }.flatMap { type in
            let resource: JSON = .object([
                "name": .string(type.resource), "singularName": .string(type.kind.lowercased()),
                "namespaced": .bool(type.isNamespaced), "kind": .string(type.kind),
                "verbs": .array(type.verbs.map(JSON.string)), "shortNames": .array(type.shortNames.map(JSON.string)),
                "categories": .array(type.categories.map(JSON.string)),
            ].filter { $0.value != .array([]) || $0.key == "verbs" })
            // Subresources follow their parent (`pods/log`), with the group, version and kind
            // they answer with when not the parent's.
            return [resource] + SimVerbs.subresources(of: type).map { sub in
                .object([
                    "name": .string("\(type.resource)/\(sub.name)"), "singularName": .string(""), "namespaced": .bool(type.isNamespaced),
                    "group": sub.group.map(JSON.string), "version": sub.version.map(JSON.string), "kind": .string(sub.kind ?? type.kind),
                    "verbs": .array(sub.verbs.map(JSON.string)),
                ].compactMapValues { $0 })
            }
        }
        return .object([
            "kind": .string("APIResourceList"), "apiVersion": .string("v1"),
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(resources),
        ])
    }

    /// `/openapi/v3`: one entry per group version.
    static var openAPIRoot: JSON {
        var paths: [String: JSON] = [:]
        for type in ResourceType.known {
            let key = type.group.isEmpty ? "api/\(type.version)" : "apis/\(type.group)/\(type.version)"
            paths[key] = .object(["serverRelativeURL": .string("/openapi/v3/\(key)?hash=kubesim")])
        }
        return .object(["paths": .object(paths)])
    }

    /// `/openapi/v3/api/v1` and friends: just enough for kubectl to see that the server validates
    /// fields itself (each kind's PATCH operation names the `fieldValidation` parameter), so that
    /// `kubectl apply` sends `fieldValidation=Strict` instead of validating against schemas.
    static func openAPIGroup(group: String, version: String) -> JSON {
        var paths: [String: JSON] = [:]
        let parameters: JSON = .array(["fieldValidation", "fieldManager", "dryRun"].map {
            .object(["name": .string($0), "in": .string("query"), "schema": .object(["type": .string("string")])])
        })
        for type in ResourceType.known where type.group == group && type.version == version && type.verbs.contains("patch") {
            let root = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
            let item = type.isNamespaced ? "\(root)/namespaces/{namespace}/\(type.resource)/{name}" : "\(root)/\(type.resource)/{name}"
            let gvk: JSON = .object(["group": .string(group), "version": .string(version), "kind": .string(type.kind)])
            let operation: JSON = .object(["parameters": parameters, "x-kubernetes-group-version-kind": gvk, "responses": .object([:])])
            paths[item] = .object(["patch": operation, "put": operation])
        }
        return .object([
            "openapi": .string("3.0.0"), "info": .object(["title": .string("Kubernetes"), "version": .string(KubeSim.gitVersion)]),
            "paths": .object(paths), "components": .object(["schemas": .object([:])]),
        ])
    }
}
