/// One tenant's part of the world, with the indexes authorization needs. Immutable: a change
/// builds a new one, so readers never see a half-applied change.
public final class TenantSnapshot: Sendable {
    public let tenant: Tenant
    public let users: [UserID: User]
    public let projects: [ProjectID: Project]
    public let grants: [GrantID: Grant]
    public let clusters: [ClusterID: Cluster]
    public let namespaces: [NamespaceID: ProjectNamespace]

    private let clusterIDsByName: [String: ClusterID]
    private let userIDsByName: [String: UserID]
    private let projectIDsByName: [String: ProjectID]
    private let tenantAdminSubjects: Set<Subject>
    private let grantsBySubject: [Subject: [Grant]]
    private let grantsByProject: [ProjectID: [Grant]]
    private let namespacesByProject: [ProjectID: [ProjectNamespace]]
    private let namespacesByCluster: [ClusterID: [ProjectNamespace]]

    public init(
        tenant: Tenant, users: [UserID: User] = [:], projects: [ProjectID: Project] = [:], grants: [GrantID: Grant] = [:],
        clusters: [ClusterID: Cluster] = [:], namespaces: [NamespaceID: ProjectNamespace] = [:]
    ) {
        self.tenant = tenant
        self.users = users
        self.projects = projects
        self.grants = grants
        self.clusters = clusters
        self.namespaces = namespaces
        let ordered = namespaces.values.sorted { ($0.clusterID, $0.name) < ($1.clusterID, $1.name) }
        namespacesByProject = Dictionary(grouping: ordered, by: \.projectID)
        namespacesByCluster = Dictionary(grouping: ordered, by: \.clusterID)
        clusterIDsByName = Dictionary(clusters.values.map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
        userIDsByName = Dictionary(users.values.map { ($0.username, $0.id) }, uniquingKeysWith: { first, _ in first })
        projectIDsByName = Dictionary(projects.values.map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
        var admins = Set<Subject>()
        var bySubject: [Subject: [Grant]] = [:]
        var byProject: [ProjectID: [Grant]] = [:]
        for grant in grants.values {
            if grant.role == .tenantAdmin { admins.insert(grant.subject) }
            bySubject[grant.subject, default: []].append(grant)
            if let projectID = grant.projectID { byProject[projectID, default: []].append(grant) }
        }
        tenantAdminSubjects = admins
        grantsBySubject = bySubject
        grantsByProject = byProject
    }

    public func user(_ id: UserID) -> User? { users[id] }
    public func user(named name: String) -> User? { userIDsByName[name].flatMap { users[$0] } }
    public func project(_ id: ProjectID) -> Project? { projects[id] }
    public func project(named name: String) -> Project? { projectIDsByName[name].flatMap { projects[$0] } }
    public func cluster(named name: String) -> Cluster? { clusterIDsByName[name].flatMap { clusters[$0] } }

    /// A project's namespaces, ordered by cluster and name.
    public func namespaces(ofProject id: ProjectID) -> [ProjectNamespace] { namespacesByProject[id] ?? [] }

    /// The project namespaces on one cluster, ordered by name.
    public func namespaces(onCluster id: ClusterID) -> [ProjectNamespace] { namespacesByCluster[id] ?? [] }

    /// The placement of namespace `name` on a cluster, if a project holds it.
    public func namespace(_ name: String, onCluster id: ClusterID) -> ProjectNamespace? {
        namespacesByCluster[id]?.first { $0.name == name }
    }

    /// The tenant-admin grants, oldest first.
    public var adminGrants: [Grant] {
        grants.values.filter { $0.role == .tenantAdmin }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// The grants on one project, oldest first.
    public func grants(onProject id: ProjectID) -> [Grant] {
        (grantsByProject[id] ?? []).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// The grants held by one subject.
    public func grants(of subject: Subject) -> [Grant] { grantsBySubject[subject] ?? [] }

    /// Whether any of `subjects` is a tenant admin.
    public func isTenantAdmin(_ subjects: [Subject]) -> Bool {
        subjects.contains { tenantAdminSubjects.contains($0) }
    }

    /// The strongest project role each of `subjects` holds, per project.
    public func projectRoles(of subjects: [Subject]) -> [ProjectID: Role] {
        var roles: [ProjectID: Role] = [:]
        for subject in subjects {
            for grant in grantsBySubject[subject] ?? [] {
                guard let projectID = grant.projectID else { continue }
                if grant.role.projectRank > (roles[projectID]?.projectRank ?? 0) { roles[projectID] = grant.role }
            }
        }
        return roles
    }

    /// A copy with some parts replaced.
    public func replacing(
        tenant: Tenant? = nil, users: [UserID: User]? = nil, projects: [ProjectID: Project]? = nil,
        grants: [GrantID: Grant]? = nil, clusters: [ClusterID: Cluster]? = nil,
        namespaces: [NamespaceID: ProjectNamespace]? = nil
    ) -> TenantSnapshot {
        TenantSnapshot(
            tenant: tenant ?? self.tenant, users: users ?? self.users,
            projects: projects ?? self.projects, grants: grants ?? self.grants, clusters: clusters ?? self.clusters,
            namespaces: namespaces ?? self.namespaces
        )
    }
}
