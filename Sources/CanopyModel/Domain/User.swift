import Foundation

/// Where a user's identity comes from.
public enum UserSource: String, Codable, Sendable, CaseIterable {
    /// A password kept by Canopy.
    case local
    /// A directory account, created on first sign-in.
    case ldap
}

/// A person who signs in: a domain user (the service provider's staff, `tenantID == nil`) or a
/// user of one tenant. User names are unique within their scope only.
public struct User: Codable, Sendable, Equatable {
    public var id: UserID
    /// `nil` for domain users.
    public var tenantID: TenantID?
    /// A DNS label, unique within the tenant (or among domain users).
    public var username: String
    public var displayName: String
    public var email: String?
    public var source: UserSource
    /// A disabled user cannot sign in, and their tokens stop working.
    public var disabled: Bool
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UserID, tenantID: TenantID?, username: String, displayName: String = "",
        email: String? = nil, source: UserSource = .local, disabled: Bool = false,
        version: Int = 1, createdAt: Date, updatedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.username = username
        self.displayName = displayName
        self.email = email
        self.source = source
        self.disabled = disabled
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}
