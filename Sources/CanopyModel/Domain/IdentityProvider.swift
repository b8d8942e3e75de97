import Foundation

public typealias IdentityProviderID = Identifier<IdentityProvider>

/// An LDAP directory a tenant's people (or, with `tenantID == nil`, the domain's) sign in with.
///
/// The bind password is not part of this value: it is sealed at rest and handed only to the
/// code that binds, never returned by the API.
public struct IdentityProvider: Codable, Sendable, Equatable {
    public var id: IdentityProviderID
    /// `nil` for the domain's provider.
    public var tenantID: TenantID?
    /// A DNS label, unique within the tenant.
    public var name: String
    public var urls: [String]
    public var bindDN: String
    public var userBaseDN: String
    public var userFilter: String
    public var groupBaseDN: String
    public var groupFilter: String
    public var groupNameAttribute: String
    public var startTLS: Bool
    public var caPEM: String?
    public var nestedGroupDepth: Int
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: IdentityProviderID, tenantID: TenantID?, name: String, urls: [String], bindDN: String, userBaseDN: String,
        userFilter: String = "(uid={username})", groupBaseDN: String, groupFilter: String = "(member={dn})",
        groupNameAttribute: String = "cn", startTLS: Bool = false, caPEM: String? = nil, nestedGroupDepth: Int = 0,
        version: Int = 1, createdAt: Date, updatedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.urls = urls
        self.bindDN = bindDN
        self.userBaseDN = userBaseDN
        self.userFilter = userFilter
        self.groupBaseDN = groupBaseDN
        self.groupFilter = groupFilter
        self.groupNameAttribute = groupNameAttribute
        self.startTLS = startTLS
        self.caPEM = caPEM
        self.nestedGroupDepth = nestedGroupDepth
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}
