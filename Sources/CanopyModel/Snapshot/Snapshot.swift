/// The whole tenancy graph as one immutable value. The server swaps in a new snapshot after each
/// committed change; every authorization reads one snapshot from start to end.
///
/// Updates are incremental: a change rebuilds only the tenant it touches and shares every other
/// tenant's (immutable) part with the previous snapshot.
public struct Snapshot: Sendable {
    /// The last audit sequence number this snapshot reflects.
    public private(set) var sequence: Int64
    public private(set) var tenants: [TenantID: TenantSnapshot]
    public private(set) var domainUsers: [UserID: User]
    public private(set) var domainGrants: [GrantID: Grant]
    /// Clusters registered by the provider and not yet assigned to a tenant.
    public private(set) var poolClusters: [ClusterID: Cluster] = [:]
    private var tenantIDsByName: [String: TenantID]
    private var domainUserIDsByName: [String: UserID]
    /// Domain users holding a service-provider grant of their own.
    private var serviceProviders: Set<UserID>
    /// Directory groups holding a service-provider grant: every domain user in one of them is a
    /// service provider.
    private var serviceProviderGroups: Set<String>

    /// An empty world.
    public init() {
        self.init(sequence: 0, tenants: [], domainUsers: [], domainGrants: [])
    }

    /// A pool cluster by name.
    public func poolCluster(named name: String) -> Cluster? { poolClusters.values.first { $0.name == name } }

    /// A world built from full listings, as loaded from the store at start.
    public init(sequence: Int64, tenants: [TenantSnapshot], domainUsers: [User], domainGrants: [Grant], poolClusters: [Cluster] = []) {
        self.poolClusters = Dictionary(poolClusters.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.sequence = sequence
        self.tenants = Dictionary(tenants.map { ($0.tenant.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.tenantIDsByName = Dictionary(tenants.map { ($0.tenant.name, $0.tenant.id) }, uniquingKeysWith: { first, _ in first })
        self.domainUsers = Dictionary(domainUsers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.domainUserIDsByName = Dictionary(domainUsers.map { ($0.username, $0.id) }, uniquingKeysWith: { first, _ in first })
        self.domainGrants = Dictionary(domainGrants.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.serviceProviders = []
        self.serviceProviderGroups = []
        indexServiceProviders()
    }

    /// The domain's administrators' grants (users and groups), oldest first.
    public var serviceProviderGrants: [Grant] {
        domainGrants.values.filter { $0.role == .serviceProvider }.sorted { ($0.createdAt, $0.id.rawValue) < ($1.createdAt, $1.id.rawValue) }
    }

    /// Rebuilds the service-provider indexes from `domainGrants`.
    private mutating func indexServiceProviders() {
        var users: Set<UserID> = []
        var groups: Set<String> = []
        for grant in domainGrants.values where grant.role == .serviceProvider {
            switch grant.subject {
            case .user(let id): users.insert(id)
            case .group(let name): groups.insert(name)
            }
        }
        serviceProviders = users
        serviceProviderGroups = groups
    }

    public func tenant(_ id: TenantID) -> TenantSnapshot? { tenants[id] }
    public func tenant(named name: String) -> TenantSnapshot? { tenantIDsByName[name].flatMap { tenants[$0] } }
    public func domainUser(named name: String) -> User? { domainUserIDsByName[name].flatMap { domainUsers[$0] } }

    /// A user by id, in the given scope (`nil`: the domain).
    public func user(_ id: UserID, in tenantID: TenantID?) -> User? {
        guard let tenantID else { return domainUsers[id] }
        return tenants[tenantID]?.users[id]
    }

    /// Resolves a signed-in user's roles. `nil` when the user (or their tenant) no longer exists.
    public func principal(userID: UserID, tenantID: TenantID?, groups: Set<String> = []) -> Principal? {
        guard let tenantID else {
            guard let user = domainUsers[userID] else { return nil }
            // A domain user is a service provider through a grant of their own or one of their
            // directory groups'.
            let isServiceProvider = serviceProviders.contains(userID) || !serviceProviderGroups.isDisjoint(with: groups)
            return Principal(user: user, groups: groups, isServiceProvider: isServiceProvider)
        }
        guard let tenant = tenants[tenantID], let user = tenant.users[userID] else { return nil }
        let subjects = [Subject.user(userID)] + groups.sorted().map(Subject.group)
        return Principal(
            user: user, groups: groups, isTenantAdmin: tenant.isTenantAdmin(subjects),
            projectRoles: tenant.projectRoles(of: subjects)
        )
    }

    /// The snapshot with one tenant's part replaced by a fresh load (`nil`: the tenant is gone).
    public func replacingTenant(_ id: TenantID, with fresh: TenantSnapshot?) -> Snapshot {
        var next = self
        if let old = next.tenants.removeValue(forKey: id) { next.tenantIDsByName[old.tenant.name] = nil }
        if let fresh {
            next.tenants[id] = fresh
            next.tenantIDsByName[fresh.tenant.name] = id
        }
        return next
    }

    /// The snapshot with the domain level replaced by a fresh load: tenant records (tenants that
    /// appeared get an empty part until loaded, tenants that vanished are dropped), domain users
    /// and domain grants.
    public func replacingDomain(tenants records: [Tenant], users: [User], grants: [Grant], poolClusters pool: [Cluster] = []) -> Snapshot {
        var parts: [TenantSnapshot] = []
        for record in records {
            parts.append(tenants[record.id].map { $0.tenant == record ? $0 : $0.replacing(tenant: record) } ?? TenantSnapshot(tenant: record))
        }
        return Snapshot(sequence: sequence, tenants: parts, domainUsers: users, domainGrants: grants, poolClusters: pool)
    }

    /// The same snapshot, marked as reflecting audit events up to `sequence`.
    public func advanced(to sequence: Int64) -> Snapshot {
        var next = self
        next.sequence = max(next.sequence, sequence)
        return next
    }

    /// The snapshot after one committed change.
    public func applying(_ change: Change, sequence: Int64) -> Snapshot {
        var next = self
        next.sequence = max(self.sequence, sequence)
        next.apply(change)
        return next
    }

    private mutating func apply(_ change: Change) {
        switch change {
        case .tenantSaved(let tenant):
            if let old = tenants[tenant.id] {
                tenantIDsByName[old.tenant.name] = nil
                tenants[tenant.id] = old.replacing(tenant: tenant)
            } else {
                tenants[tenant.id] = TenantSnapshot(tenant: tenant)
            }
            tenantIDsByName[tenant.name] = tenant.id
        case .tenantDeleted(let id):
            if let old = tenants.removeValue(forKey: id) { tenantIDsByName[old.tenant.name] = nil }
        case .userSaved(let user):
            guard let tenantID = user.tenantID else {
                if let old = domainUsers[user.id] { domainUserIDsByName[old.username] = nil }
                domainUsers[user.id] = user
                domainUserIDsByName[user.username] = user.id
                return
            }
            updateTenant(tenantID) { $0.replacing(users: $0.users.merging([user.id: user]) { _, new in new }) }
        case .userDeleted(let user):
            guard let tenantID = user.tenantID else {
                domainUsers[user.id] = nil
                domainUserIDsByName[user.username] = nil
                domainGrants = domainGrants.filter { $0.value.subject != .user(user.id) }
                indexServiceProviders()
                return
            }
            updateTenant(tenantID) { tenant in
                var users = tenant.users
                users[user.id] = nil
                return tenant.replacing(users: users, grants: tenant.grants.filter { $0.value.subject != .user(user.id) })
            }
        case .projectSaved(let project):
            updateTenant(project.tenantID) { $0.replacing(projects: $0.projects.merging([project.id: project]) { _, new in new }) }
        case .projectDeleted(let project):
            updateTenant(project.tenantID) { tenant in
                var projects = tenant.projects
                projects[project.id] = nil
                return tenant.replacing(
                    projects: projects, grants: tenant.grants.filter { $0.value.projectID != project.id },
                    namespaces: tenant.namespaces.filter { $0.value.projectID != project.id }
                )
            }
        case .grantSaved(let grant):
            guard let tenantID = grant.tenantID else {
                domainGrants[grant.id] = grant
                indexServiceProviders()
                return
            }
            updateTenant(tenantID) { $0.replacing(grants: $0.grants.merging([grant.id: grant]) { _, new in new }) }
        case .clusterSaved(let cluster):
            // A cluster lives in exactly one place: the pool or one tenant.
            poolClusters[cluster.id] = nil
            for (id, tenant) in tenants where tenant.clusters[cluster.id] != nil && id != cluster.tenantID {
                var clusters = tenant.clusters
                clusters[cluster.id] = nil
                tenants[id] = tenant.replacing(clusters: clusters)
            }
            guard let tenantID = cluster.tenantID else {
                poolClusters[cluster.id] = cluster
                return
            }
            updateTenant(tenantID) { $0.replacing(clusters: $0.clusters.merging([cluster.id: cluster]) { _, new in new }) }
        case .clusterDeleted(let cluster):
            guard let tenantID = cluster.tenantID else {
                poolClusters[cluster.id] = nil
                return
            }
            updateTenant(tenantID) { tenant in
                var clusters = tenant.clusters
                clusters[cluster.id] = nil
                return tenant.replacing(clusters: clusters, namespaces: tenant.namespaces.filter { $0.value.clusterID != cluster.id })
            }
        case .namespaceSaved(let namespace):
            updateTenant(namespace.tenantID) { $0.replacing(namespaces: $0.namespaces.merging([namespace.id: namespace]) { _, new in new }) }
        case .namespaceDeleted(let namespace):
            updateTenant(namespace.tenantID) { tenant in
                var namespaces = tenant.namespaces
                namespaces[namespace.id] = nil
                return tenant.replacing(namespaces: namespaces)
            }
        case .grantDeleted(let grant):
            guard let tenantID = grant.tenantID else {
                domainGrants[grant.id] = nil
                indexServiceProviders()
                return
            }
            updateTenant(tenantID) { tenant in
                var grants = tenant.grants
                grants[grant.id] = nil
                return tenant.replacing(grants: grants)
            }
        }
    }

    private mutating func updateTenant(_ id: TenantID, _ transform: (TenantSnapshot) -> TenantSnapshot) {
        guard let tenant = tenants[id] else { return }
        tenants[id] = transform(tenant)
    }
}

/// One committed change to the tenancy graph, as the snapshot applies it.
public enum Change: Sendable {
    case tenantSaved(Tenant)
    case tenantDeleted(TenantID)
    case userSaved(User)
    case userDeleted(User)
    case projectSaved(Project)
    case projectDeleted(Project)
    case grantSaved(Grant)
    case grantDeleted(Grant)
    case clusterSaved(Cluster)
    case clusterDeleted(Cluster)
    case namespaceSaved(ProjectNamespace)
    case namespaceDeleted(ProjectNamespace)
}
