import Foundation

public typealias NamespaceID = Identifier<ProjectNamespace>

/// One namespace of a project on one of the tenant's clusters: a *placement*. The reconciler
/// makes it exist in the cluster, with the project's bindings, quota, limit range and network
/// policies.
public struct ProjectNamespace: Codable, Sendable, Equatable {
    public var id: NamespaceID
    public var tenantID: TenantID
    public var projectID: ProjectID
    public var clusterID: ClusterID
    /// A DNS label, unique per cluster.
    public var name: String
    /// The namespace existed before Canopy managed it. Removing the placement then gives it
    /// back (Canopy's labels and objects are removed) instead of deleting it.
    public var adopted: Bool
    public var createdAt: Date

    public init(
        id: NamespaceID, tenantID: TenantID, projectID: ProjectID, clusterID: ClusterID, name: String,
        adopted: Bool = false, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.projectID = projectID
        self.clusterID = clusterID
        self.name = name
        self.adopted = adopted
        self.createdAt = createdAt
    }
}

/// The Pod Security Standard a project's namespaces enforce
/// (`pod-security.kubernetes.io/enforce`).
public enum PodSecurityLevel: String, Codable, Sendable, CaseIterable {
    case privileged
    case baseline
    case restricted
}
