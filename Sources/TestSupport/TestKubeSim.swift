import CanopyCertificates
import Foundation
import Hummingbird
import KubeSim
import Logging
import ServiceLifecycle

/// KubeSim on a free loopback port for the length of one test.
public struct TestKubeSim: Sendable {
    public let sim: KubeSim
    public let baseURL: String

    /// Runs `body` with simulated clusters named `clusters`; stops them afterwards. `certificate`
    /// (self-signed) replaces the sim's own serving certificate.
    public static func with<T: Sendable>(
        clusters: [String] = ["a"], shape: KubeSim.ClusterShape = KubeSim.ClusterShape(nodes: 3), tls: Bool = true, certificate: ServerCertificate? = nil,
        clock: @escaping @Sendable () -> Date = Date.init, _ body: @Sendable (TestKubeSim) async throws -> T
    ) async throws -> T {
        let sim = try KubeSim(clusterNames: clusters, shape: shape, certificate: certificate, clock: clock)
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        let logger = { var logger = Logger(label: "kubesim-test"); logger.logLevel = .critical; return logger }()
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, tls: tls, logger: logger) { continuation.yield($0) }
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            guard let port = await ready.first(where: { _ in true }) else { throw TestFailure("KubeSim did not start") }
            // Stop gracefully, after ending the watches that would otherwise hold it open.
            let stop = {
                for cluster in sim.clusters.values { cluster.shutDown() }
                await services.triggerGracefulShutdown()
            }
            do {
                let result = try await body(TestKubeSim(sim: sim, baseURL: "\(tls ? "https" : "http")://127.0.0.1:\(port)"))
                await stop()
                for try await _ in group {}
                return result
            } catch {
                await stop()
                while (try? await group.next()) != nil {}
                throw error
            }
        }
    }

    /// The admin kubeconfig of one cluster, as YAML.
    public func kubeconfig(_ cluster: String) -> String { sim.adminKubeconfig(cluster: cluster, baseURL: baseURL) }
}
