/// DESIGN.md's role table as data: for each action, which roles may do it. Tested cell by cell.
public enum RoleTable {
    /// What the service provider may do in a tenant of a given mode (or at domain level).
    public enum ProviderReach: Sendable, Equatable {
        case yes
        /// Only in enterprise tenants; an msp tenant is a sealed box.
        case enterpriseOnly
        case no
    }

    /// One row of the table.
    public struct Row: Sendable, Equatable {
        public let provider: ProviderReach
        public let tenantAdmin: Bool
        public let projectAdmin: Bool
        public let projectMember: Bool
        public let projectViewer: Bool

        /// Whether a project role may do the action (on its own project only).
        public func allows(projectRole role: Role) -> Bool {
            switch role {
            case .projectAdmin: projectAdmin
            case .projectMember: projectMember
            case .projectViewer: projectViewer
            case .serviceProvider, .tenantAdmin: false
            }
        }
    }

    /// The table itself. The project columns apply to the caller's own project only; the
    /// "see that a tenant exists" row is granted to every user of the tenant.
    public static func row(for action: Action) -> Row {
        switch action {
        case .manageTenants: Row(provider: .yes, tenantAdmin: false, projectAdmin: false, projectMember: false, projectViewer: false)
        case .seeTenant: Row(provider: .yes, tenantAdmin: true, projectAdmin: true, projectMember: true, projectViewer: true)
        case .seeInsideTenant: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: true, projectMember: true, projectViewer: true)
        case .manageUsers: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: false, projectMember: false, projectViewer: false)
        case .manageDomainPool: Row(provider: .yes, tenantAdmin: false, projectAdmin: false, projectMember: false, projectViewer: false)
        case .manageDomainAdmins: Row(provider: .yes, tenantAdmin: false, projectAdmin: false, projectMember: false, projectViewer: false)
        case .manageClusters: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: false, projectMember: false, projectViewer: false)
        case .manageProjects: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: false, projectMember: false, projectViewer: false)
        case .manageProjectMembers: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: true, projectMember: false, projectViewer: false)
        case .writeWorkloads: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: true, projectMember: true, projectViewer: false)
        case .readWorkloads: Row(provider: .enterpriseOnly, tenantAdmin: true, projectAdmin: true, projectMember: true, projectViewer: true)
        }
    }
}
