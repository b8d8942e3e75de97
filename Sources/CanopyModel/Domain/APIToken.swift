import Foundation

/// A bearer token's record. The token itself (256 random bits) is shown once at creation; only
/// its SHA-256 hash is stored.
public struct APIToken: Codable, Sendable, Equatable {
    public var id: TokenID
    public var userID: UserID
    public var description: String
    public var createdAt: Date
    public var expiresAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(
        id: TokenID, userID: UserID, description: String, createdAt: Date, expiresAt: Date,
        lastUsedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.userID = userID
        self.description = description
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// Whether the token may authenticate at `now`.
    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && now < expiresAt
    }
}
