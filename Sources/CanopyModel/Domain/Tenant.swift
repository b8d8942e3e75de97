import Foundation

/// How a tenant relates to the service provider that runs the domain.
public enum TenancyMode: String, Codable, Sendable, CaseIterable {
    /// Central IT: the provider may look inside the tenant and act in it.
    case enterprise
    /// A managed-service customer: a sealed box the provider runs but cannot look into.
    case msp
}

/// Whether a tenant may be used.
public enum TenantState: String, Codable, Sendable, CaseIterable {
    case active
    /// Suspended by the provider: nobody in the tenant may sign in.
    case suspended
}

/// A customer of the domain (e.g. "coke"): its own users, clusters and projects.
public struct Tenant: Codable, Sendable, Equatable {
    public var id: TenantID
    /// A DNS label, unique in the domain.
    public var name: String
    public var displayName: String
    public var mode: TenancyMode
    public var state: TenantState
    /// Maxima all the tenant's projects share, set by the provider (an msp customer's plan).
    public var caps: ResourceCaps?
    /// Optimistic-concurrency version: starts at 1 and grows by one on every update.
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: TenantID, name: String, displayName: String, mode: TenancyMode,
        state: TenantState = .active, caps: ResourceCaps? = nil, version: Int = 1, createdAt: Date, updatedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.mode = mode
        self.state = state
        self.caps = caps
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}
