import KubeAPI

/// What a request wants to do, as the authorizer sees it.
struct RequestAttributes: Sendable, Equatable {
    var verb: String
    var group: String = ""
    var resource: String = ""
    var subresource: String?
    var namespace: String?
    var name: String?
    /// Set for non-resource requests (`/version`, `/api`).
    var path: String?
}

/// Kubernetes RBAC over one cluster's Roles, ClusterRoles and bindings: a request is allowed when
/// any rule bound to the user or one of their groups allows it (no deny rules). `system:masters`
/// is allowed everything without looking, as on a real server.
struct RBACAuthorizer {
    let cluster: SimCluster

    func allows(_ user: KubeSim.UserInfo, _ attributes: RequestAttributes) -> Bool {
        if user.groups.contains("system:masters") { return true }
        return rules(for: user, namespace: attributes.namespace).contains { rule in
            if let path = attributes.path { return rule.allows(verb: attributes.verb, nonResourceURL: path) }
            return rule.allows(verb: attributes.verb, apiGroup: attributes.group, resource: attributes.resource,
                               subresource: attributes.subresource, name: attributes.name)
        }
    }

    /// Every rule that applies to `user`: from ClusterRoleBindings everywhere, from RoleBindings
    /// in `namespace` only.
    private func rules(for user: KubeSim.UserInfo, namespace: String?) -> [PolicyRule] {
        let index = cluster.rbacIndex()
        var rules: [PolicyRule] = []
        for binding in index.clusterBindings where binds(binding.subjects, user) {
            rules += index.clusterRoles[binding.roleRef.name] ?? []
        }
        if let namespace {
            for binding in index.bindings[namespace] ?? [] where binds(binding.subjects, user) {
                rules += binding.roleRef.kind == "ClusterRole"
                    ? index.clusterRoles[binding.roleRef.name] ?? []
                    : index.roles[SimCluster.key(namespace, binding.roleRef.name)] ?? []
            }
        }
        return rules
    }

    private func binds(_ subjects: [RBACSubject]?, _ user: KubeSim.UserInfo) -> Bool {
        (subjects ?? []).contains { subject in
            switch subject.kind {
            case "User": subject.name == user.name
            case "Group": user.groups.contains(subject.name)
            case "ServiceAccount": user.name == "system:serviceaccount:\(subject.namespace ?? ""):\(subject.name)"
            default: false
            }
        }
    }
}

/// A cluster's Roles, ClusterRoles and bindings, decoded once per change to any of them: what
/// the API server's RBAC authorizer reads from its informer caches instead of the store.
struct RBACIndex: Sendable {
    /// The cluster's RBAC revision this index was built from.
    let revision: Int64
    var clusterBindings: [ClusterRoleBinding] = []
    var clusterRoles: [String: [PolicyRule]] = [:]
    /// RoleBindings by namespace.
    var bindings: [String: [RoleBinding]] = [:]
    /// Roles' rules by `namespace/name`.
    var roles: [String: [PolicyRule]] = [:]

    init(revision: Int64, objects: [String: [JSON]]) {
        self.revision = revision
        clusterBindings = (objects["clusterrolebindings"] ?? []).compactMap { try? $0.decode(as: ClusterRoleBinding.self) }
        for role in (objects["clusterroles"] ?? []).compactMap({ try? $0.decode(as: ClusterRole.self) }) {
            clusterRoles[role.metadata.name ?? ""] = role.rules ?? []
        }
        for binding in (objects["rolebindings"] ?? []).compactMap({ try? $0.decode(as: RoleBinding.self) }) {
            bindings[binding.metadata.namespace ?? "", default: []].append(binding)
        }
        for role in (objects["roles"] ?? []).compactMap({ try? $0.decode(as: Role.self) }) {
            roles[SimCluster.key(role.metadata.namespace, role.metadata.name ?? "")] = role.rules ?? []
        }
    }
}

extension SimCluster {
    /// The RBAC objects as of now, decoded: rebuilt only after one of them changed.
    func rbacIndex() -> RBACIndex {
        let revision = state.withLock { $0.rbacRevision }
        if let cached = rbacCache.withLock({ $0 }), cached.revision == revision { return cached }
        let (current, objects) = state.withLock { state in
            (state.rbacRevision, Dictionary(uniqueKeysWithValues: ["clusterrolebindings", "clusterroles", "rolebindings", "roles"].map {
                ($0, Array((state.objects[Self.type($0)] ?? [:]).values))
            }))
        }
        let index = RBACIndex(revision: current, objects: objects)
        rbacCache.withLock { cached in
            if (cached?.revision ?? -1) < current { cached = index }
        }
        return index
    }
}
