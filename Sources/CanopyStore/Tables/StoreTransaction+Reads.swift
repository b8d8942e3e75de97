import CanopyModel
import SQLKit

extension StoreTransaction {
    /// One tenant with its users, projects and grants, as this transaction sees them; `nil` when
    /// the tenant no longer exists.
    public func loadTenant(_ id: TenantID) async throws -> TenantSnapshot? {
        guard let tenant = try await db.raw("SELECT * FROM tenants WHERE id = \(bind: id.rawValue)").first().map(Rows.tenant) else {
            return nil
        }
        let users = try await db.raw("SELECT * FROM users WHERE tenant_id = \(bind: id.rawValue)").all().map(Rows.user)
        let projects = try await db.raw("SELECT * FROM projects WHERE tenant_id = \(bind: id.rawValue)").all().map(Rows.project)
        let grants = try await db.raw("SELECT * FROM grants WHERE tenant_id = \(bind: id.rawValue)").all().map(Rows.grant)
        let clusters = try await db.raw("SELECT * FROM clusters WHERE tenant_id = \(bind: id.rawValue)").all().map(Rows.cluster)
        let namespaces = try await db.raw("SELECT * FROM namespaces WHERE tenant_id = \(bind: id.rawValue)").all().map(Rows.namespace)
        return TenantSnapshot(
            tenant: tenant, users: Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) }),
            projects: Dictionary(uniqueKeysWithValues: projects.map { ($0.id, $0) }),
            grants: Dictionary(uniqueKeysWithValues: grants.map { ($0.id, $0) }),
            clusters: Dictionary(uniqueKeysWithValues: clusters.map { ($0.id, $0) }),
            namespaces: Dictionary(uniqueKeysWithValues: namespaces.map { ($0.id, $0) })
        )
    }

    /// The domain level: every tenant record, the domain users and their grants.
    public func loadDomain() async throws -> DomainRecords {
        DomainRecords(
            tenants: try await db.raw("SELECT * FROM tenants").all().map(Rows.tenant),
            users: try await db.raw("SELECT * FROM users WHERE tenant_id = ''").all().map(Rows.user),
            grants: try await db.raw("SELECT * FROM grants WHERE tenant_id = ''").all().map(Rows.grant),
            poolClusters: try await db.raw("SELECT * FROM clusters WHERE tenant_id = ''").all().map(Rows.cluster)
        )
    }
}

/// The domain level of the tenancy graph, as loaded from the store.
public struct DomainRecords: Sendable {
    public let tenants: [Tenant]
    public let users: [User]
    public let grants: [Grant]
    public let poolClusters: [Cluster]
}
