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
        var rules: [PolicyRule] = []
        let clusterBindings = (try? cluster.list(SimCluster.type("clusterrolebindings"), namespace: nil).items) ?? []
        for binding in clusterBindings.compactMap({ try? $0.decode(as: ClusterRoleBinding.self) }) where binds(binding.subjects, user) {
            rules += clusterRoleRules(binding.roleRef.name)
        }
        if let namespace {
            let bindings = (try? cluster.list(SimCluster.type("rolebindings"), namespace: namespace).items) ?? []
            for binding in bindings.compactMap({ try? $0.decode(as: RoleBinding.self) }) where binds(binding.subjects, user) {
                if binding.roleRef.kind == "ClusterRole" {
                    rules += clusterRoleRules(binding.roleRef.name)
                } else if let role = try? cluster.get(SimCluster.type("roles"), namespace: namespace, name: binding.roleRef.name).decode(as: Role.self) {
                    rules += role.rules ?? []
                }
            }
        }
        return rules
    }

    private func clusterRoleRules(_ name: String) -> [PolicyRule] {
        ((try? cluster.get(SimCluster.type("clusterroles"), namespace: nil, name: name).decode(as: ClusterRole.self))?.rules) ?? []
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
