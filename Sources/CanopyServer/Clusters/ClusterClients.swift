import CanopyAuth
import CanopyModel
import CanopyStore
import KubeClient
import Logging

/// Opens clients to imported clusters from their sealed credentials.
struct ClusterClients: Sendable {
    let world: World
    let secrets: SecretBox
    let logger: Logger

    /// A client for `cluster` with a deadline per call and a number of retries. The caller owns
    /// it (and shuts it down, or lets it go).
    func client(for cluster: Cluster, timeout: Duration, retries: Int, maxConnections: Int = 16) async throws -> KubeClient {
        guard let sealed = try await world.store.clusterCredentials(of: cluster.id) else {
            throw KubeError(.configuration, "the cluster's credentials are gone")
        }
        let connection: Kubeconfig.Connection
        do {
            connection = try Kubeconfig(yaml: try secrets.open(sealed)).connection()
        } catch {
            throw KubeError(.configuration, "the stored credentials cannot be used: \(error)")
        }
        var configuration = KubeClient.Configuration()
        configuration.timeout = timeout
        configuration.retries = retries
        configuration.maxConnections = maxConnections
        return try KubeClient(connection: connection, configuration: configuration, logger: logger)
    }
}
