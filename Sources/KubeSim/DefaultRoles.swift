import KubeAPI

/// The bootstrap ClusterRoles and ClusterRoleBindings every cluster starts with, with the rules a
/// real API server gives them for the kinds KubeSim serves. Notably `admin` and `edit` may read
/// but not change ResourceQuota and LimitRange, and `view` cannot read Secrets.
enum DefaultRoles {
    private static let read = ["get", "list", "watch"]
    private static let write = ["create", "delete", "deletecollection", "patch", "update"]

    private static let viewRules: [PolicyRule] = [
        PolicyRule(verbs: read, apiGroups: [""], resources: [
            "configmaps", "endpoints", "persistentvolumeclaims", "pods", "replicationcontrollers", "services", "serviceaccounts",
            "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "resourcequotas",
            "resourcequotas/status", "namespaces",
        ]),
        PolicyRule(verbs: read, apiGroups: ["apps"], resources: [
            "controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets",
            "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status",
        ]),
        PolicyRule(verbs: read, apiGroups: ["batch"], resources: ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
        PolicyRule(verbs: read, apiGroups: ["networking.k8s.io"], resources: ["ingresses", "networkpolicies"]),
    ]

    private static let editRules: [PolicyRule] = [
        PolicyRule(verbs: write, apiGroups: [""], resources: [
            "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "configmaps", "endpoints",
            "persistentvolumeclaims", "replicationcontrollers", "secrets", "services", "serviceaccounts",
        ]),
        PolicyRule(verbs: read, apiGroups: [""], resources: ["secrets", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
        PolicyRule(verbs: ["impersonate"], apiGroups: [""], resources: ["serviceaccounts"]),
        PolicyRule(verbs: write, apiGroups: ["apps"], resources: [
            "daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale",
        ]),
        PolicyRule(verbs: write, apiGroups: ["batch"], resources: ["cronjobs", "jobs"]),
        PolicyRule(verbs: write, apiGroups: ["networking.k8s.io"], resources: ["ingresses", "networkpolicies"]),
    ]

    private static let adminRules: [PolicyRule] = [
        PolicyRule(verbs: write + read, apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"]),
        PolicyRule(verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["localsubjectaccessreviews"]),
    ]

    static let clusterRoles: [ClusterRole] = [
        ClusterRole(metadata: meta("cluster-admin"), rules: [
            PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"]), PolicyRule(verbs: ["*"], nonResourceURLs: ["*"]),
        ]),
        ClusterRole(metadata: meta("admin"), rules: viewRules + editRules + adminRules),
        ClusterRole(metadata: meta("edit"), rules: viewRules + editRules),
        ClusterRole(metadata: meta("view"), rules: viewRules),
        ClusterRole(metadata: meta("system:basic-user"), rules: [
            PolicyRule(verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            PolicyRule(verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"]),
        ]),
        ClusterRole(metadata: meta("system:discovery"), rules: [
            PolicyRule(verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]),
        ]),
    ]

    static let clusterRoleBindings: [ClusterRoleBinding] = [
        ClusterRoleBinding(metadata: meta("cluster-admin"), subjects: [.group("system:masters")], roleRef: RoleRef(kind: "ClusterRole", name: "cluster-admin")),
        ClusterRoleBinding(metadata: meta("system:basic-user"), subjects: [.group("system:authenticated")], roleRef: RoleRef(kind: "ClusterRole", name: "system:basic-user")),
        ClusterRoleBinding(metadata: meta("system:discovery"), subjects: [.group("system:authenticated")], roleRef: RoleRef(kind: "ClusterRole", name: "system:discovery")),
    ]

    private static func meta(_ name: String) -> ObjectMeta {
        ObjectMeta(name: name, labels: ["kubernetes.io/bootstrapping": "rbac-defaults"])
    }
}
