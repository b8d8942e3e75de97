import Foundation

/// A role someone holds. Project roles are ordered: admin > member > viewer.
public enum Role: String, Codable, Sendable, CaseIterable {
    case serviceProvider = "service-provider"
    case tenantAdmin = "tenant-admin"
    case projectAdmin = "admin"
    case projectMember = "member"
    case projectViewer = "viewer"

    /// The project roles, strongest first.
    public static let projectRoles: [Role] = [.projectAdmin, .projectMember, .projectViewer]

    /// Strength among project roles (higher is stronger); 0 for the others.
    public var projectRank: Int {
        switch self {
        case .projectAdmin: 3
        case .projectMember: 2
        case .projectViewer: 1
        case .serviceProvider, .tenantAdmin: 0
        }
    }
}

/// Who a grant is for: one user, or every member of a directory group (by the group's name as
/// its identity provider reports it).
public enum Subject: Hashable, Sendable {
    case user(UserID)
    case group(String)
}

/// One role held by one subject at one scope: the domain (service provider), a tenant (tenant
/// admin) or a project (admin, member, viewer).
public struct Grant: Codable, Sendable, Equatable {
    public var id: GrantID
    /// `nil` only for service-provider grants.
    public var tenantID: TenantID?
    /// Set only for project roles.
    public var projectID: ProjectID?
    public var role: Role
    public var subject: Subject
    public var createdAt: Date

    public init(
        id: GrantID, tenantID: TenantID?, projectID: ProjectID?, role: Role, subject: Subject,
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.projectID = projectID
        self.role = role
        self.subject = subject
        self.createdAt = createdAt
    }
}

extension Subject: Codable {
    private enum CodingKeys: String, CodingKey { case user, group }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let user = try container.decodeIfPresent(UserID.self, forKey: .user) {
            self = .user(user)
        } else {
            self = .group(try container.decode(String.self, forKey: .group))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .user(let id): try container.encode(id, forKey: .user)
        case .group(let name): try container.encode(name, forKey: .group)
        }
    }
}
