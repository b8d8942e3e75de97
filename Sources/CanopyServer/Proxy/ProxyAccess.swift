import CanopyModel

/// Who a caller is on one cluster, as the proxy impersonates them, and what they may see there.
struct ProxyAccess: Sendable, Equatable {
    /// `canopy:<tenant>:<user>` (a domain user: `canopy:domain:<user>`).
    let user: String
    /// Role groups, the tenant-admin group, directory groups.
    let groups: [String]
    /// Tenant admins (and the provider of an enterprise tenant) see the whole cluster.
    let isAdmin: Bool
    /// The caller's project namespaces on this cluster.
    let namespaces: Set<String>

    /// The caller's access to `cluster` of `tenant`; `nil` when they have none, which the proxy
    /// answers exactly as a cluster that does not exist.
    static func resolve(_ principal: Principal, tenant: TenantSnapshot, cluster: Cluster) -> ProxyAccess? {
        let tenantName = tenant.tenant.name
        guard let callerTenant = principal.tenantID else {
            // The provider reaches an enterprise tenant's clusters as its admins do; an msp
            // tenant's clusters are sealed from it.
            guard principal.isServiceProvider, tenant.tenant.mode == .enterprise else { return nil }
            return ProxyAccess(
                user: "canopy:domain:\(principal.user.username)", groups: [ClusterIdentity.tenantAdminGroup(tenant: tenantName)],
                isAdmin: true, namespaces: []
            )
        }
        guard callerTenant == tenant.tenant.id else { return nil }
        let namespaces = Set(tenant.namespaces(onCluster: cluster.id).filter { principal.projectRoles[$0.projectID] != nil }.map(\.name))
        guard principal.isTenantAdmin || !namespaces.isEmpty else { return nil }
        var groups: [String] = []
        if principal.isTenantAdmin { groups.append(ClusterIdentity.tenantAdminGroup(tenant: tenantName)) }
        for (projectID, role) in principal.projectRoles.sorted(by: { $0.key < $1.key }) {
            guard let project = tenant.project(projectID) else { continue }
            groups.append(ClusterIdentity.projectGroup(tenant: tenantName, project: project.name, role: role))
        }
        groups += principal.groups.sorted().map { ClusterIdentity.directoryGroup(tenant: tenantName, name: $0) }
        return ProxyAccess(
            user: ClusterIdentity.user(tenant: tenantName, username: principal.user.username), groups: groups,
            isAdmin: principal.isTenantAdmin, namespaces: namespaces
        )
    }
}
