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
    /// Per cluster the project is placed on: its reservation and caps there (none by default).
    public var placements: [ClusterID: PlacementSettings]
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: ProjectID, tenantID: TenantID, name: String, displayName: String = "",
        caps: ResourceCaps? = nil, podSecurity: PodSecurityLevel = .baseline, placements: [ClusterID: PlacementSettings] = [:],
        version: Int = 1, createdAt: Date, updatedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.displayName = displayName
        self.caps = caps
        self.podSecurity = podSecurity
        self.placements = placements
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}

/// Maxima in Kubernetes quantity notation (`"8"`, `"500m"`, `"32Gi"`): CPU and memory requests,
/// and any other ResourceQuota resource by its quota name (`pods`, `requests.storage`,
/// `requests.nvidia.com/gpu`). Kept as validated text; the share planner reads them as amounts.
public struct ResourceCaps: Codable, Sendable, Equatable {
    public var cpu: String?
    public var memory: String?
    /// Other quota resources by name; `requests.cpu` and `requests.memory` are `cpu` and `memory`.
    public var resources: [String: String]?

    public init(cpu: String? = nil, memory: String? = nil, resources: [String: String]? = nil) {
        self.cpu = cpu
        self.memory = memory
        self.resources = resources
    }

    /// Every cap by its ResourceQuota name (`requests.cpu`, `requests.memory`, …).
    public var byQuotaName: [String: String] {
        var all = resources ?? [:]
        if let cpu { all[QuotaResource.cpu] = cpu }
        if let memory { all[QuotaResource.memory] = memory }
        return all
    }

    /// Whether no cap is set.
    public var isEmpty: Bool { byQuotaName.isEmpty }
}

/// The quota resource names Canopy always plans.
public enum QuotaResource {
    public static let cpu = "requests.cpu"
    public static let memory = "requests.memory"
}

/// A share of a cluster's allocatable CPU and memory held for one project, in percent (0–100).
public struct Reservation: Codable, Sendable, Equatable {
    public var cpuPercent: Double?
    public var memoryPercent: Double?

    public init(cpuPercent: Double? = nil, memoryPercent: Double? = nil) {
        self.cpuPercent = cpuPercent
        self.memoryPercent = memoryPercent
    }

    /// The percentages by quota resource name.
    public var byQuotaName: [String: Double] {
        var all: [String: Double] = [:]
        if let cpuPercent { all[QuotaResource.cpu] = cpuPercent }
        if let memoryPercent { all[QuotaResource.memory] = memoryPercent }
        return all
    }
}

/// What a project has on one cluster beyond its namespaces: a reservation and caps.
public struct PlacementSettings: Codable, Sendable, Equatable {
    public var reservation: Reservation?
    public var caps: ResourceCaps?

    public init(reservation: Reservation? = nil, caps: ResourceCaps? = nil) {
        self.reservation = reservation
        self.caps = caps
    }

    public var isEmpty: Bool { (reservation?.byQuotaName.isEmpty ?? true) && (caps?.isEmpty ?? true) }
}
