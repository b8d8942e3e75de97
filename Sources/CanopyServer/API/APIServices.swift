import CanopyAuth
import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import HTTPServing
import Hummingbird
import Logging

/// What the API's handlers share: the world (store + snapshot), authentication, password hashing
/// and the clock.
public struct APIServices: Sendable {
    public let world: World
    public let authenticator: Authenticator
    public let hasher: PasswordHasher
    /// Seals cluster credentials and directory bind passwords at rest.
    public let secrets: SecretBox
    /// The latest probe result of every imported cluster.
    public let health: ClusterHealthMonitor
    /// Converges the clusters to the snapshot, and knows how far each one got.
    public let reconciler: Reconciler
    /// The identity providers' LDAP clients and the directory users' groups.
    public let directories: Directories
    public let logger: Logger
    /// What the kube proxy's fast lane answered (`ProxyFastLane`).
    let fastLane = FastLaneMetrics()
    /// The server's open connections, and the watches waiting on their clients' end.
    public let connections = ConnectionCounter()

    /// Cleans clusters up here, or through the replica that writes to the clusters.
    let releases: ClusterReleases

    /// `releaseHandover`: how long a replica that does not write to the clusters waits for the
    /// one that does to take a clean-up (a lease lifetime and a little).
    public init(
        world: World, authenticator: Authenticator, hasher: PasswordHasher, secrets: SecretBox, health: ClusterHealthMonitor,
        reconciler: Reconciler, directories: Directories, logger: Logger, releaseHandover: Duration = .seconds(20)
    ) {
        releases = ClusterReleases(store: world.store, reconciler: reconciler, logger: logger, handover: releaseHandover)
        self.directories = directories
        self.world = world
        self.authenticator = authenticator
        self.hasher = hasher
        self.secrets = secrets
        self.health = health
        self.reconciler = reconciler
        self.logger = logger
    }

    var now: Date { authenticator.now }

    /// Opens clients to the tenants' clusters.
    var clusters: ClusterClients { ClusterClients(world: world, secrets: secrets, logger: logger) }
}

/// The caller of one request, resolved against one snapshot, with the checks every handler makes.
struct Caller {
    let principal: Principal
    let snapshot: Snapshot
    let requestID: String

    /// Resolves the authenticated identity; 401 if the user vanished since the token was checked.
    init(_ context: AuthenticatedContext, _ services: APIServices) throws {
        let snapshot = services.world.snapshot
        guard let principal = snapshot.principal(
            userID: context.identity.userID, tenantID: context.identity.tenantID, groups: context.identity.groups
        ) else { throw APIError.unauthenticated("the account no longer exists") }
        self.principal = principal
        self.snapshot = snapshot
        requestID = context.requestID
    }

    private init(principal: Principal, snapshot: Snapshot, requestID: String) {
        self.principal = principal
        self.snapshot = snapshot
        self.requestID = requestID
    }

    /// The same caller reading `snapshot` (the world after their own change).
    func reading(_ snapshot: Snapshot) -> Caller {
        Caller(principal: principal, snapshot: snapshot, requestID: requestID)
    }

    /// Throws 404 (`what` not found) or 403 unless the policy allows `action` on `target`.
    func require(_ action: Action, on target: Target, _ what: @autoclosure () -> String) throws {
        switch Policy.decide(action, for: principal, on: target, in: snapshot) {
        case .allow: return
        case .forbid: throw APIError.forbidden()
        case .conceal: throw APIError.notFound(what())
        }
    }

    func allows(_ action: Action, on target: Target) -> Bool {
        Policy.decide(action, for: principal, on: target, in: snapshot) == .allow
    }

    /// A tenant by name, if the caller may see it; else 404.
    func tenant(_ name: String) throws -> TenantSnapshot {
        guard let tenant = snapshot.tenant(named: name), Policy.isVisible(.tenant(tenant.tenant.id), to: principal, in: snapshot) else {
            throw APIError.notFound("tenant '\(name)'")
        }
        return tenant
    }

    /// The tenants the caller may see, by name.
    var visibleTenants: [TenantSnapshot] {
        snapshot.tenants.values.filter { Policy.isVisible(.tenant($0.tenant.id), to: principal, in: snapshot) }.sorted { $0.tenant.name < $1.tenant.name }
    }

    /// The projects of `tenant` the caller may list, by name: all of them for those who see
    /// inside the tenant, their own for its project roles; `nil` for a caller who sees only the
    /// tenant (the provider of an msp tenant).
    func projects(in tenant: TenantSnapshot) -> [Project]? {
        let projects: [Project]
        if allows(.seeInsideTenant, on: .tenant(tenant.tenant.id)) {
            projects = Array(tenant.projects.values)
        } else if principal.tenantID == tenant.tenant.id {
            projects = principal.projectRoles.keys.compactMap { tenant.project($0) }
        } else {
            return nil
        }
        return projects.sorted { $0.name < $1.name }
    }

    /// A project by tenant and project name, if the caller may see it; else 404.
    func project(_ tenantName: String, _ projectName: String) throws -> (TenantSnapshot, Project) {
        let tenant = try tenant(tenantName)
        guard let project = tenant.project(named: projectName),
              Policy.isVisible(.project(tenant.tenant.id, project.id), to: principal, in: snapshot)
        else { throw APIError.notFound("project '\(projectName)'") }
        return (tenant, project)
    }

    /// The caller's name as the audit log shows it: `user` or `tenant/user`.
    var actorName: String {
        guard let tenantID = principal.tenantID, let tenant = snapshot.tenant(tenantID) else { return principal.user.username }
        return "\(tenant.tenant.name)/\(principal.user.username)"
    }

    /// An audit event for an action of this caller.
    func audit(_ action: String, _ target: String, tenant: TenantID? = nil, project: ProjectID? = nil, at now: Date) -> AuditEvent {
        AuditEvent(
            at: now, actorID: principal.user.id, actor: actorName, tenantID: tenant, projectID: project,
            action: action, target: target, requestID: requestID
        )
    }
}

extension Request {
    /// A path parameter that the route guarantees.
    func parameter(_ name: String, _ context: some RequestContext) throws -> String {
        try context.parameters.require(name)
    }
}
