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
        let resources: [JSON] = ResourceType.known.filter { $0.group == group && $0.version == version }.map { type in
            .object([
                "name": .string(type.resource), "singularName": .string(type.kind.lowercased()),
                "namespaced": .bool(type.isNamespaced), "kind": .string(type.kind),
                "verbs": .array(type.verbs.map(JSON.string)), "shortNames": .array(type.shortNames.map(JSON.string)),
            ])
        }
        return .object([
            "kind": .string("APIResourceList"), "apiVersion": .string("v1"),
            "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(resources),
        ])
    }
}
