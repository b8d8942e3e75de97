import CanopyModel
import KubeAPI

/// The ClusterRoles project bindings point at: `canopy:project-admin|member|viewer`.
///
/// What they leave out is the point: nobody in a project may write ResourceQuotas, LimitRanges,
/// NetworkPolicies, Roles or RoleBindings, nor change a namespace (its labels carry the Pod
/// Security level and the project), so project users cannot undo their own limits or
/// isolation. Membership and namespaces change through Canopy's API.
enum ProjectRoles {
    static func name(_ role: CanopyModel.Role) -> String { "canopy:project-\(role.rawValue)" }

    static let read = ["get", "list", "watch"]
    static let write = ["create", "update", "patch", "delete", "deletecollection"]

    /// Workload resources by API group: what members create and everyone in the project reads.
    static let workloads: [(group: String, resources: [String])] = [
        ("", ["pods", "services", "endpoints", "configmaps", "persistentvolumeclaims", "serviceaccounts", "replicationcontrollers"]),
        ("apps", ["deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"]),
        ("batch", ["jobs", "cronjobs"]),
        ("autoscaling", ["horizontalpodautoscalers"]),
        ("networking.k8s.io", ["ingresses"]),
        ("policy", ["poddisruptionbudgets"]),
        ("discovery.k8s.io", ["endpointslices"]),
    ]

    /// What a project's viewers may read beyond workloads: the namespace itself, its events,
    /// and Canopy's objects (so that everyone can see their limits).
    static let viewerExtras: [PolicyRule] = [
        PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["namespaces"]),
        PolicyRule(verbs: read, apiGroups: [""], resources: ["events", "pods/log", "resourcequotas", "limitranges"]),
        PolicyRule(verbs: read, apiGroups: ["events.k8s.io"], resources: ["events"]),
        PolicyRule(verbs: read, apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"]),
        PolicyRule(verbs: read, apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings", "roles"]),
    ]

    static func rules(for role: CanopyModel.Role) -> [PolicyRule] {
        var rules = workloads.map { PolicyRule(verbs: read, apiGroups: [$0.group], resources: $0.resources) }
        rules += viewerExtras
        guard role != .projectViewer else { return rules }
        rules += workloads.map { PolicyRule(verbs: write, apiGroups: [$0.group], resources: $0.resources) }
        rules += [
            PolicyRule(verbs: read + write, apiGroups: [""], resources: ["secrets"]),
            PolicyRule(verbs: ["get", "create"], apiGroups: [""], resources: ["pods/exec", "pods/attach", "pods/portforward"]),
            PolicyRule(verbs: ["create"], apiGroups: [""], resources: ["pods/eviction", "serviceaccounts/token"]),
            PolicyRule(verbs: ["get", "update", "patch"], apiGroups: ["apps"], resources: ["deployments/scale", "replicasets/scale", "statefulsets/scale"]),
            PolicyRule(verbs: ["create", "patch", "update"], apiGroups: [""], resources: ["events"]),
        ]
        return rules
    }
}
