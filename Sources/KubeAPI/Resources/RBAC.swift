/// One rule of a Role or ClusterRole: verbs on resources (optionally by name) in API groups, or
/// verbs on non-resource URLs.
public struct PolicyRule: Codable, Sendable, Hashable {
    public var verbs: [String]
    public var apiGroups: [String]?
    public var resources: [String]?
    public var resourceNames: [String]?
    public var nonResourceURLs: [String]?

    public init(verbs: [String], apiGroups: [String]? = nil, resources: [String]? = nil, resourceNames: [String]? = nil, nonResourceURLs: [String]? = nil) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }

    /// Whether the rule allows a request on a resource, with RBAC's matching: `*` matches any
    /// verb, group or resource; `pods/*` any subresource of pods and `*/scale` a subresource of any
    /// resource; an empty `resourceNames` matches every name; and a rule naming resources by name
    /// never matches requests without a name (list, create, watch).
    public func allows(verb: String, apiGroup: String, resource: String, subresource: String? = nil, name: String? = nil) -> Bool {
        guard verbs.contains(verb) || verbs.contains("*") else { return false }
        guard let groups = apiGroups, groups.contains(apiGroup) || groups.contains("*") else { return false }
        let combined = subresource.map { "\(resource)/\($0)" } ?? resource
        let resourceMatches = (resources ?? []).contains { pattern in
            if pattern == "*" || pattern == combined { return true }
            if let subresource {
                return pattern == "\(resource)/*" || pattern == "*/\(subresource)"
            }
            return false
        }
        guard resourceMatches else { return false }
        guard let names = resourceNames, !names.isEmpty else { return true }
        return name.map(names.contains) ?? false
    }

    /// Whether the rule allows a request on a non-resource URL (`/healthz`, `/api/*`): exact
    /// match, or a pattern ending in `*` matching by prefix.
    public func allows(verb: String, nonResourceURL path: String) -> Bool {
        guard verbs.contains(verb) || verbs.contains("*") else { return false }
        return (nonResourceURLs ?? []).contains { pattern in
            pattern == "*" || pattern == path || (pattern.hasSuffix("*") && path.hasPrefix(String(pattern.dropLast())))
        }
    }
}

/// Who a binding grants its role to.
public struct RBACSubject: Codable, Sendable, Hashable {
    /// `User`, `Group` or `ServiceAccount`.
    public var kind: String
    public var name: String
    public var namespace: String?
    public var apiGroup: String?

    public init(kind: String, name: String, namespace: String? = nil, apiGroup: String? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.apiGroup = apiGroup ?? (kind == "ServiceAccount" ? nil : "rbac.authorization.k8s.io")
    }

    public static func user(_ name: String) -> RBACSubject { RBACSubject(kind: "User", name: name) }
    public static func group(_ name: String) -> RBACSubject { RBACSubject(kind: "Group", name: name) }
}

/// The role a binding grants.
public struct RoleRef: Codable, Sendable, Hashable {
    public var apiGroup: String = "rbac.authorization.k8s.io"
    /// `Role` or `ClusterRole`.
    public var kind: String
    public var name: String

    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// A namespaced set of permissions.
public struct Role: KubeResource {
    public static let typeAPIVersion = "rbac.authorization.k8s.io/v1"
    public static let typeKind = "Role"
    public static let resource = "roles"
    public static let isNamespaced = true
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?

    public init(metadata: ObjectMeta, rules: [PolicyRule]) {
        self.apiVersion = Self.typeAPIVersion
        self.kind = Self.typeKind
        self.metadata = metadata
        self.rules = rules
    }
}

/// A cluster-wide set of permissions, usable in any namespace through a RoleBinding.
public struct ClusterRole: KubeResource {
    public static let typeAPIVersion = "rbac.authorization.k8s.io/v1"
    public static let typeKind = "ClusterRole"
    public static let resource = "clusterroles"
    public static let isNamespaced = false
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?

    public init(metadata: ObjectMeta, rules: [PolicyRule]) {
        self.apiVersion = Self.typeAPIVersion
        self.kind = Self.typeKind
        self.metadata = metadata
        self.rules = rules
    }
}

/// Grants a Role or ClusterRole to subjects within one namespace.
public struct RoleBinding: KubeResource {
    public static let typeAPIVersion = "rbac.authorization.k8s.io/v1"
    public static let typeKind = "RoleBinding"
    public static let resource = "rolebindings"
    public static let isNamespaced = true
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var subjects: [RBACSubject]?
    public var roleRef: RoleRef

    public init(metadata: ObjectMeta, subjects: [RBACSubject], roleRef: RoleRef) {
        self.apiVersion = Self.typeAPIVersion
        self.kind = Self.typeKind
        self.metadata = metadata
        self.subjects = subjects
        self.roleRef = roleRef
    }
}

/// Grants a ClusterRole to subjects in every namespace and at cluster scope.
public struct ClusterRoleBinding: KubeResource {
    public static let typeAPIVersion = "rbac.authorization.k8s.io/v1"
    public static let typeKind = "ClusterRoleBinding"
    public static let resource = "clusterrolebindings"
    public static let isNamespaced = false
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var subjects: [RBACSubject]?
    public var roleRef: RoleRef

    public init(metadata: ObjectMeta, subjects: [RBACSubject], roleRef: RoleRef) {
        self.apiVersion = Self.typeAPIVersion
        self.kind = Self.typeKind
        self.metadata = metadata
        self.subjects = subjects
        self.roleRef = roleRef
    }
}
