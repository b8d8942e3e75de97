import Foundation

public typealias ClusterID = Identifier<Cluster>

/// A Kubernetes cluster a tenant imported. Its credentials are kept sealed in the store and are
/// never part of this value, the snapshot, or any API answer.
public struct Cluster: Codable, Sendable, Equatable {
    public var id: ClusterID
    /// `nil` while the cluster waits in the domain pool for the provider to assign it.
    public var tenantID: TenantID?
    /// A DNS label, unique within the tenant (or the pool).
    public var name: String
    /// The uid of the cluster's `kube-system` namespace: the same physical cluster has the same
    /// identity whatever kubeconfig reaches it.
    public var identity: String
    /// The API server URL from the kubeconfig.
    public var server: String
    public var kubernetesVersion: String
    /// Where it runs: `provider=onprem|azure|aws|gcp`, `region`, ….
    public var labels: [String: String]
    /// Allocatable CPU and memory summed over the nodes at import.
    public var capacity: ResourceCaps
    public var nodeCount: Int
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: ClusterID, tenantID: TenantID?, name: String, identity: String, server: String, kubernetesVersion: String,
        labels: [String: String] = [:], capacity: ResourceCaps = ResourceCaps(), nodeCount: Int = 0, version: Int = 1,
        createdAt: Date, updatedAt: Date? = nil
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.identity = identity
        self.server = server
        self.kubernetesVersion = kubernetesVersion
        self.labels = labels
        self.capacity = capacity
        self.nodeCount = nodeCount
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }
}
