import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import KubeAPI
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization

/// How an imported cluster answered its last probe.
public struct ClusterHealth: Sendable, Equatable, Encodable {
    public enum State: String, Sendable, Encodable {
        /// Not probed yet.
        case unknown = "Unknown"
        /// Answered, credentials accepted, nodes listed.
        case ready = "Ready"
        /// Answered, but not as it should (403, 5xx).
        case degraded = "Degraded"
        /// No answer: down, unreachable, or TLS failed.
        case unreachable = "Unreachable"
        /// The credentials were refused (401).
        case unauthorized = "Unauthorized"
    }

    public var state: State
    /// When the cluster last answered a probe successfully.
    public var lastSeen: Date?
    /// What the last failed probe said (never credentials).
    public var lastError: String?
    public var checkedAt: Date?
    /// Allocatable CPU and memory summed over the nodes at the last successful probe.
    public var capacity: ResourceCaps?
    public var nodeCount: Int?

    public static let unknown = ClusterHealth(state: .unknown)
}

/// Probes every imported cluster every `interval` (default 15 s), all at once so that a slow or
/// failing cluster never delays the others, and keeps the results in memory for the API.
public final class ClusterHealthMonitor: Service, Sendable {
    public let interval: Duration
    private let world: World
    private let clients: ClusterClients
    private let logger: Logger
    private let results = Mutex<[ClusterID: ClusterHealth]>([:])

    public init(world: World, secrets: SecretBox, interval: Duration = .seconds(15), logger: Logger) {
        self.world = world
        clients = ClusterClients(world: world, secrets: secrets, logger: logger)
        self.interval = interval
        self.logger = logger
    }

    /// The last known health of a cluster.
    public func health(of id: ClusterID) -> ClusterHealth { results.withLock { $0[id] ?? .unknown } }

    /// Records what an import just learned.
    func record(_ id: ClusterID, _ health: ClusterHealth) { results.withLock { $0[id] = health } }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await probeAll()
            let pause = interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
    }

    /// One round of probes over every cluster of every tenant.
    public func probeAll() async {
        let snapshot = world.snapshot
        let clusters = snapshot.tenants.values.flatMap { $0.clusters.values } + snapshot.poolClusters.values
        await withTaskGroup(of: (ClusterID, ClusterHealth).self) { group in
            for cluster in clusters {
                group.addTask { (cluster.id, await self.probe(cluster)) }
            }
            for await (id, health) in group { results.withLock { $0[id] = health } }
        }
        let known = Set(clusters.map(\.id))
        results.withLock { $0 = $0.filter { known.contains($0.key) } }
    }

    private func probe(_ cluster: Cluster) async -> ClusterHealth {
        var health = results.withLock { $0[cluster.id] } ?? .unknown
        let now = Date()
        health.checkedAt = now
        do {
            let client = try await clients.client(for: cluster, timeout: .seconds(5), retries: 0)
            let nodes = try await client.listAll(Node.self)
            let cpu = nodes.reduce(Quantity.zero) { $0 + ($1.status?.allocatable?["cpu"] ?? .zero) }
            let memory = nodes.reduce(Quantity(nanos: 0, format: .binarySI)) { $0 + ($1.status?.allocatable?["memory"] ?? .zero) }
            health.state = .ready
            health.lastSeen = now
            health.lastError = nil
            health.capacity = ResourceCaps(cpu: cpu.canonical, memory: memory.canonical)
            health.nodeCount = nodes.count
        } catch let error as KubeError {
            health.state = switch (error.code, error.httpCode) {
            case (_, 401?): .unauthorized
            case (.unreachable, _), (.timeout, _), (.tls, _): .unreachable
            default: .degraded
            }
            health.lastError = ClusterImporter.explain(error, server: cluster.server)
        } catch {
            health.state = .degraded
            health.lastError = "\(error)"
        }
        if health.state != .ready {
            logger.warning("cluster probe failed", metadata: ["cluster": "\(cluster.name)", "state": "\(health.state.rawValue)"])
        }
        return health
    }
}
