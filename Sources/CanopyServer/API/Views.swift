import CanopyModel
import Foundation

/// A list answer: `{"items": [...]}`, leaving room for paging fields later.
struct ListView<Item: Encodable>: Encodable {
    let items: [Item]
}

/// A tenant as the API shows it to `caller`. Of a sealed (msp) tenant the provider sees what it
/// needs to run the domain (DESIGN.md): name, mode, state, cluster count, its caps, capacity and
/// usage totals; not how many users and projects it has.
struct TenantView: Encodable {
    let id: String, name: String, displayName: String, mode: String, state: String
    let version: Int, createdAt: Date, updatedAt: Date
    /// Absent for the provider of an msp tenant.
    let userCount: Int?, projectCount: Int?
    let clusterCount: Int
    /// The provider's caps for the whole tenant.
    let caps: ResourceCaps?
    /// Allocatable capacity summed over the tenant's clusters, and what its project namespaces
    /// use, by quota resource (`requests.cpu`…); absent before the share planner's first plan.
    let capacity: [String: String]?
    let used: [String: String]?

    init(_ tenant: TenantSnapshot, for caller: Caller, totals: (capacity: [String: String], used: [String: String])?) {
        capacity = totals?.capacity
        used = totals?.used
        let sealed = caller.projects(in: tenant) == nil
        caps = tenant.tenant.caps
        id = tenant.tenant.id.rawValue
        name = tenant.tenant.name
        displayName = tenant.tenant.displayName
        mode = tenant.tenant.mode.rawValue
        state = tenant.tenant.state.rawValue
        version = tenant.tenant.version
        createdAt = tenant.tenant.createdAt
        updatedAt = tenant.tenant.updatedAt
        userCount = sealed ? nil : tenant.users.count
        projectCount = sealed ? nil : tenant.projects.count
        clusterCount = tenant.clusters.count
    }
}

/// A user as the API shows it; never a password or its hash.
struct UserView: Encodable {
    let id: String, tenant: String?, username: String, displayName: String, email: String?
    let source: String, disabled: Bool, version: Int, createdAt: Date, updatedAt: Date

    init(_ user: User, tenantName: String?) {
        id = user.id.rawValue
        tenant = tenantName
        username = user.username
        displayName = user.displayName
        email = user.email
        source = user.source.rawValue
        disabled = user.disabled
        version = user.version
        createdAt = user.createdAt
        updatedAt = user.updatedAt
    }
}

/// A project as the API shows it, with the caller's own role on it when they hold one.
struct ProjectView: Encodable {
    let id: String, tenant: String, name: String, displayName: String
    let caps: ResourceCaps?, podSecurity: String, version: Int, createdAt: Date, updatedAt: Date
    let role: String?
    let namespaces: [NamespaceView]
    /// Reservation and caps per cluster, by cluster name.
    let placements: [PlacementSettingsView]
    /// What the caller should know about the change (a cap below current usage).
    let warnings: [String]?

    init(_ project: Project, in tenantSnapshot: TenantSnapshot, role: Role?, namespaces: [NamespaceView], warnings: [String] = []) {
        id = project.id.rawValue
        tenant = tenantSnapshot.tenant.name
        placements = project.placements.compactMap { clusterID, settings in
            tenantSnapshot.clusters[clusterID].map { PlacementSettingsView(cluster: $0.name, reservation: settings.reservation, caps: settings.caps) }
        }.sorted { $0.cluster < $1.cluster }
        self.warnings = warnings.isEmpty ? nil : warnings
        name = project.name
        displayName = project.displayName
        caps = project.caps
        podSecurity = project.podSecurity.rawValue
        self.namespaces = namespaces
        version = project.version
        createdAt = project.createdAt
        updatedAt = project.updatedAt
        self.role = role?.rawValue
    }
}

/// A project's reservation and caps on one cluster.
struct PlacementSettingsView: Encodable {
    let cluster: String
    let reservation: Reservation?
    let caps: ResourceCaps?
}

/// A role grant (project member or tenant admin): who, which role, since when.
struct GrantView: Encodable {
    let id: String, user: String?, group: String?, role: String, createdAt: Date

    init(_ grant: Grant, in tenant: TenantSnapshot) {
        self.init(grant, in: .tenant(tenant))
    }

    init(_ grant: Grant, in scope: UserScope) {
        id = grant.id.rawValue
        switch grant.subject {
        case .user(let userID):
            user = scope.user(userID)?.username ?? userID.rawValue
            group = nil
        case .group(let name):
            user = nil
            group = name
        }
        role = grant.role.rawValue
        createdAt = grant.createdAt
    }
}

/// A token's record, without its secret.
struct TokenView: Encodable {
    let id: String, description: String, createdAt: Date, expiresAt: Date
    let lastUsedAt: Date?, revokedAt: Date?

    init(_ token: APIToken) {
        id = token.id.rawValue
        description = token.description
        createdAt = token.createdAt
        expiresAt = token.expiresAt
        lastUsedAt = token.lastUsedAt
        revokedAt = token.revokedAt
    }
}

/// A newly issued token: the only time its secret is shown.
struct IssuedTokenView: Encodable {
    let id: String, token: String, expiresAt: Date
}

/// An audit entry, with tenant and project by name.
struct AuditView: Encodable {
    let sequence: Int64, at: Date, actor: String, tenant: String?, project: String?
    let action: String, target: String, requestID: String?

    init(_ event: AuditEvent, snapshot: Snapshot) {
        sequence = event.sequence
        at = event.at
        actor = event.actor
        let tenant = event.tenantID.flatMap { snapshot.tenant($0) }
        self.tenant = tenant?.tenant.name ?? event.tenantID?.rawValue
        project = event.projectID.map { id in tenant?.project(id)?.name ?? id.rawValue }
        action = event.action
        target = event.target
        requestID = event.requestID
    }
}
