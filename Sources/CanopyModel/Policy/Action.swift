/// What someone wants to do: one row of DESIGN.md's role table each.
public enum Action: String, Sendable, CaseIterable, Codable {
    /// Create, change or delete tenants; name their first admins.
    case manageTenants
    /// Learn that a tenant exists (its name, mode, state and totals).
    case seeTenant
    /// See inside a tenant: users, projects, members, namespaces, audit.
    case seeInsideTenant
    /// Create, change or delete a tenant's users and name its further admins. Not a row of
    /// DESIGN.md's table, which is silent on it: it follows the tenant-admin column.
    case manageUsers
    /// Register pool clusters and assign them to tenants.
    case manageDomainPool
    /// Create or delete the domain's own users and name its administrators (service providers).
    /// Not a row of DESIGN.md's table, which is silent on it: it follows "create, change, delete
    /// tenants".
    case manageDomainAdmins
    /// Import or remove clusters, storage classes, networks, certificates.
    case manageClusters
    /// Create or delete projects, set caps and reservations, name Project Admins.
    case manageProjects
    /// Add or remove Project Members and Viewers, add namespaces on the project's clusters.
    case manageProjectMembers
    /// Deploy and manage workloads in the project's namespaces.
    case writeWorkloads
    /// Read the project's workloads and status.
    case readWorkloads
}

/// What an action is aimed at. Visibility is decided per target: a target the caller cannot see
/// answers "not found", exactly as if it did not exist.
public enum Target: Hashable, Sendable {
    /// The domain itself (the tenant list, the cluster pool).
    case domain
    case tenant(TenantID)
    case project(TenantID, ProjectID)

    /// The tenant the target lies in, if any.
    public var tenantID: TenantID? {
        switch self {
        case .domain: nil
        case .tenant(let id), .project(let id, _): id
        }
    }
}

/// The outcome of a policy decision.
public enum Decision: Sendable, Equatable {
    /// Go ahead.
    case allow
    /// The caller may see the target but not do this: HTTP 403.
    case forbid
    /// The caller may not even see the target: HTTP 404, identical to a missing object.
    case conceal
}
