/// A kind KubeSim serves: where it lives in the API and how it is listed in discovery.
public struct ResourceType: Sendable, Hashable {
    public let group: String
    public let version: String
    /// Plural, as in URLs.
    public let resource: String
    public let kind: String
    public let isNamespaced: Bool
    public let shortNames: [String]
    /// Verbs for discovery; `create`-only kinds (access reviews) serve nothing else.
    public let verbs: [String]
    /// Discovery's categories: `all` for what `kubectl get all` shows.
    public let categories: [String]

    /// `v1` or `group/version`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `pods` or `rolebindings.rbac.authorization.k8s.io`, as error messages name it.
    public var qualifiedName: String { group.isEmpty ? resource : "\(resource).\(group)" }

    static let all = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    init(
        _ group: String, _ version: String, _ resource: String, _ kind: String, namespaced: Bool, short: [String] = [],
        verbs: [String] = ResourceType.all, categories: [String] = []
    ) {
        self.categories = categories
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        isNamespaced = namespaced
        shortNames = short
        self.verbs = verbs
    }

    /// Every kind KubeSim knows. Others answer 404, as a cluster without that API would.
    public static let known: [ResourceType] = [
        ResourceType("", "v1", "namespaces", "Namespace", namespaced: false, short: ["ns"]),
        ResourceType("", "v1", "nodes", "Node", namespaced: false, short: ["no"]),
        ResourceType("", "v1", "pods", "Pod", namespaced: true, short: ["po"], categories: ["all"]),
        ResourceType("", "v1", "services", "Service", namespaced: true, short: ["svc"], categories: ["all"]),
        ResourceType("", "v1", "configmaps", "ConfigMap", namespaced: true, short: ["cm"]),
        ResourceType("", "v1", "secrets", "Secret", namespaced: true),
        ResourceType("", "v1", "serviceaccounts", "ServiceAccount", namespaced: true, short: ["sa"]),
        ResourceType("", "v1", "resourcequotas", "ResourceQuota", namespaced: true, short: ["quota"]),
        ResourceType("", "v1", "limitranges", "LimitRange", namespaced: true, short: ["limits"]),
        ResourceType("", "v1", "events", "Event", namespaced: true, short: ["ev"]),
        ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", namespaced: true, short: ["pvc"]),
        ResourceType("apps", "v1", "deployments", "Deployment", namespaced: true, short: ["deploy"], categories: ["all"]),
        ResourceType("apps", "v1", "replicasets", "ReplicaSet", namespaced: true, short: ["rs"], categories: ["all"]),
        ResourceType("apps", "v1", "statefulsets", "StatefulSet", namespaced: true, short: ["sts"], categories: ["all"]),
        ResourceType("apps", "v1", "daemonsets", "DaemonSet", namespaced: true, short: ["ds"], categories: ["all"]),
        ResourceType("apps", "v1", "controllerrevisions", "ControllerRevision", namespaced: true),
        ResourceType("batch", "v1", "jobs", "Job", namespaced: true, categories: ["all"]),
        ResourceType("batch", "v1", "cronjobs", "CronJob", namespaced: true, short: ["cj"], categories: ["all"]),
        ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", namespaced: true),
        ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced: false),
        ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", namespaced: true),
        ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced: false),
        ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", namespaced: true, short: ["netpol"]),
        ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", namespaced: true, short: ["ing"]),
        ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced: false, short: ["sc"]),
        ResourceType("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced: false, short: ["pc"]),
        ResourceType("resource.k8s.io", "v1", "deviceclasses", "DeviceClass", namespaced: false),
        ResourceType("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", namespaced: false, verbs: ["create"]),
        ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced: false, verbs: ["create"]),
        ResourceType("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced: false, verbs: ["create"]),
    ]

    /// The kind served at `group/version/resource`, if any.
    public static func find(group: String, version: String, resource: String) -> ResourceType? {
        known.first { $0.group == group && $0.version == version && $0.resource == resource }
    }
}
