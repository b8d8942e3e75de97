import CanopyModel
import Foundation
import KubeAPI

/// Everything Canopy wants in one cluster, rendered from the snapshot.
public struct DesiredCluster: Sendable {
    /// The name of Canopy's ResourceQuota in every project namespace.
    public static let quotaName = "canopy-quota"

    public var namespaces: [Namespace] = []
    public var clusterRoles: [ClusterRole] = []
    public var clusterRoleBindings: [ClusterRoleBinding] = []
    public var roleBindings: [RoleBinding] = []
    public var quotas: [ResourceQuota] = []
    public var limitRanges: [LimitRange] = []
    public var networkPolicies: [NetworkPolicy] = []
    /// Namespaces that may be taken over when they exist without Canopy's label.
    public var adoptable: Set<String> = []
    /// The tenant whose objects these are; objects labelled for another tenant are left alone.
    public var tenant: String?
    /// Namespaces whose quota the share planner has not sized yet: a missing quota is created
    /// refusing everything, an existing one is left as it is.
    public var pendingQuotas: Set<String> = []

    public init() {}

    /// Namespaces whose quota leaves no room for a pod (no CPU or no memory: every pod asks for
    /// both, by itself or through the limit range's defaults).
    public var roomlessQuotas: Set<String> {
        Set(quotas.compactMap { quota in
            let hard = quota.spec?.hard ?? [:]
            return hard[QuotaResource.cpu] == .zero || hard[QuotaResource.memory] == .zero ? quota.metadata.namespace : nil
        })
    }

    /// How many objects this is.
    public var count: Int {
        namespaces.count + clusterRoles.count + clusterRoleBindings.count + roleBindings.count + quotas.count
            + limitRanges.count + networkPolicies.count
    }

    /// A stable digest: equal digests mean equal desired states.
    public var fingerprint: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = Data()
        func add(_ value: some Encodable) { data += (try? encoder.encode(value)) ?? Data() }
        add(namespaces); add(clusterRoles); add(clusterRoleBindings); add(roleBindings); add(quotas)
        add(limitRanges); add(networkPolicies); add(adoptable.sorted()); add(tenant); add(pendingQuotas.sorted())
        return data
    }
}

/// Renders the desired objects of one cluster from the snapshot: a pure function.
public enum Renderer {
    /// Default container requests of `canopy-defaults`, so that every pod is counted by the
    /// quota (which caps requests). No default limits: a container asking for more than such a
    /// default without naming a limit would be invalid (`must be less than or equal to cpu limit
    /// of 1`), and a limit is the container's own business.
    public static let defaultRequest: [String: Quantity] = ["cpu": Quantity(milli: 100), "memory": Quantity(128 << 20, format: .binarySI)]

    /// The objects cluster `clusterID` of `tenant` should hold, with the share planner's hard
    /// limits per namespace (`quotas`, planner units). A cluster being released wants nothing.
    public static func render(
        tenant: TenantSnapshot, cluster clusterID: ClusterID, releasing: Bool = false, quotas: [String: [String: Int64]] = [:]
    ) -> DesiredCluster {
        var desired = DesiredCluster()
        let tenantName = tenant.tenant.name
        desired.tenant = tenantName
        guard !releasing, tenant.clusters[clusterID] != nil else { return desired }
        let tenantLabels = ManagedLabels.labels(tenant: tenantName, project: nil)

        for role in CanopyModel.Role.projectRoles {
            desired.clusterRoles.append(ClusterRole(
                metadata: ObjectMeta(name: ProjectRoles.name(role), labels: tenantLabels), rules: ProjectRoles.rules(for: role)
            ))
        }
        let adminSubjects = [RBACSubject.group(ClusterIdentity.tenantAdminGroup(tenant: tenantName))]
            + subjects(of: tenant.adminGrants, in: tenant)
        desired.clusterRoleBindings.append(ClusterRoleBinding(
            metadata: ObjectMeta(name: "canopy:tenant-admin", labels: tenantLabels),
            subjects: adminSubjects, roleRef: RoleRef(kind: "ClusterRole", name: "cluster-admin")
        ))

        for placement in tenant.namespaces(onCluster: clusterID) {
            guard let project = tenant.project(placement.projectID) else { continue }
            render(placement, of: project, in: tenant, hard: quotas[placement.name], into: &desired)
        }
        return desired
    }

    private static func render(
        _ placement: ProjectNamespace, of project: Project, in tenant: TenantSnapshot, hard: [String: Int64]?, into desired: inout DesiredCluster
    ) {
        let tenantName = tenant.tenant.name
        let name = placement.name
        let labels = ManagedLabels.labels(tenant: tenantName, project: project.name)
        func meta(_ objectName: String) -> ObjectMeta { ObjectMeta(name: objectName, namespace: name, labels: labels) }

        var namespaceLabels = labels
        namespaceLabels[ManagedLabels.podSecurityEnforce] = project.podSecurity.rawValue
        desired.namespaces.append(Namespace(metadata: ObjectMeta(
            name: name, labels: namespaceLabels, annotations: placement.adopted ? [ManagedLabels.adopted: "true"] : nil
        )))
        if placement.adopted { desired.adoptable.insert(name) }

        let grants = tenant.grants(onProject: project.id)
        for role in CanopyModel.Role.projectRoles {
            let group = RBACSubject.group(ClusterIdentity.projectGroup(tenant: tenantName, project: project.name, role: role))
            desired.roleBindings.append(RoleBinding(
                metadata: meta("canopy:\(role.rawValue)"),
                subjects: [group] + subjects(of: grants.filter { $0.role == role }, in: tenant),
                roleRef: RoleRef(kind: "ClusterRole", name: ProjectRoles.name(role))
            ))
        }
        desired.quotas.append(ResourceQuota(metadata: meta(DesiredCluster.quotaName), hard: quota(hard)))
        if hard == nil { desired.pendingQuotas.insert(name) }
        desired.limitRanges.append(LimitRange(metadata: meta("canopy-defaults"), limits: [
            LimitRange.Item(type: "Container", defaultRequest: defaultRequest),
        ]))
        desired.networkPolicies.append(NetworkPolicy(metadata: meta("canopy-same-project"), spec: NetworkPolicy.Spec(
            podSelector: NetworkPolicy.Selector(), policyTypes: ["Ingress"],
            ingress: [NetworkPolicy.IngressRule(from: [NetworkPolicy.Peer(namespaceSelector: NetworkPolicy.Selector(
                matchLabels: [ManagedLabels.tenant: tenantName, ManagedLabels.project: project.name]
            ))])]
        )))
    }

    /// The hard limits of a quota the planner has not sized yet.
    static let unsizedQuota: [String: Quantity] = [QuotaResource.cpu: .zero, QuotaResource.memory: .zero]

    /// The quota's hard limits: the planner's, or — before it has sized this namespace —
    /// zero CPU and memory, so that nothing runs uncounted.
    static func quota(_ hard: [String: Int64]?) -> [String: Quantity] {
        guard let hard else { return unsizedQuota }
        var result: [String: Quantity] = [:]
        for (resource, amount) in hard { result[resource] = PlanUnits.quantity(amount, resource) }
        return result
    }

    /// Binding subjects for grants: users as `canopy:<tenant>:<user>`, directory groups as
    /// `canopy:<tenant>:group:<name>`, sorted so that the rendering is stable.
    static func subjects(of grants: [Grant], in tenant: TenantSnapshot) -> [RBACSubject] {
        let tenantName = tenant.tenant.name
        let subjects = grants.compactMap { grant -> RBACSubject? in
            switch grant.subject {
            case .user(let id):
                tenant.user(id).map { .user(ClusterIdentity.user(tenant: tenantName, username: $0.username)) }
            case .group(let name):
                .group(ClusterIdentity.directoryGroup(tenant: tenantName, name: name))
            }
        }
        return Array(Set(subjects)).sorted { ($0.kind, $0.name) < ($1.kind, $1.name) }
    }
}
