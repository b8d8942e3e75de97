import Foundation

/// A group of namespaces that may span several of the tenant's clusters (e.g. "marketing").
public struct Project: Codable, Sendable, Equatable {
    public var id: ProjectID
    public var tenantID: TenantID
    /// A DNS label, unique within the tenant.
    public var name: String
    public var displayName: String
    /// Maximum CPU and memory for the whole project; `nil` means uncapped.
    public var caps: ResourceCaps?
    /// The Pod Security Standard enforced in the project's namespaces; `baseline` by default.
    public var podSecurity: PodSecurityLevel
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: ProjectID, tenantID: TenantID, name: String, displayName: String = "",
        caps: ResourceCaps? = nil, podSecurity: PodSecurityLevel = .baseline, version: Int = 1, createdAt: Date,
        updatedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.displayName = displayName
        self.caps = caps
        self.podSecurity = podSecurity
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// CPU and memory maxima in Kubernetes quantity notation (`"8"`, `"500m"`, `"32Gi"`).
///
/// Kept as validated text here; the share planner (a later piece) reads them as quantities.
public struct ResourceCaps: Codable, Sendable, Equatable {
    public var cpu: String?
    public var memory: String?

    public init(cpu: String? = nil, memory: String? = nil) {
        self.cpu = cpu
        self.memory = memory
    }
}
