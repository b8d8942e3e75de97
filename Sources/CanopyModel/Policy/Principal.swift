/// An authenticated caller with its roles resolved against one snapshot, so that a decision is a
/// handful of lookups.
public struct Principal: Sendable, Equatable {
    public let user: User
    /// Directory group names the user belongs to (empty for local users).
    public let groups: Set<String>
    /// Holds a service-provider grant (domain users only).
    public let isServiceProvider: Bool
    /// Is an admin of `user.tenantID` (directly or through a group).
    public let isTenantAdmin: Bool
    /// The strongest project role held on each project of the user's tenant.
    public let projectRoles: [ProjectID: Role]

    public init(
        user: User, groups: Set<String> = [], isServiceProvider: Bool = false,
        isTenantAdmin: Bool = false, projectRoles: [ProjectID: Role] = [:]
    ) {
        self.user = user
        self.groups = groups
        self.isServiceProvider = isServiceProvider
        self.isTenantAdmin = isTenantAdmin
        self.projectRoles = projectRoles
    }

    /// The tenant the caller belongs to; `nil` for domain users.
    public var tenantID: TenantID? { user.tenantID }

    /// The subjects this caller answers to: the user and each of their groups.
    public var subjects: [Subject] { [.user(user.id)] + groups.sorted().map(Subject.group) }
}
