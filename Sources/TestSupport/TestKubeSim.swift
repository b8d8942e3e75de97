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
    /// The `tls-server-name` the kubeconfigs name, if any.
    public var tlsServerName: String?

    /// Runs `body` with simulated clusters named `clusters`; stops them afterwards. `certificate`
    /// (self-signed) replaces the sim's own serving certificate; `tlsServerName` goes into every
    /// kubeconfig (`kubeconfig(_:)`) as `tls-server-name`. Over TLS, clients may choose HTTP/2
    /// unless `http2` is false.
    public static func with<T: Sendable>(
        clusters: [String] = ["a"], shape: KubeSim.ClusterShape = KubeSim.ClusterShape(nodes: 3), tls: Bool = true, http2: Bool = true,
        certificate: ServerCertificate? = nil,
        tlsServerName: String? = nil, clock: @escaping @Sendable () -> Date = Date.init, _ body: @Sendable (TestKubeSim) async throws -> T
    ) async throws -> T {
        let sim = try KubeSim(clusterNames: clusters, shape: shape, certificate: certificate, clock: clock)
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        let logger = { var logger = Logger(label: "kubesim-test"); logger.logLevel = .critical; return logger }()
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, tls: tls, http2: http2, logger: logger) { continuation.yield($0) }
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
                let result = try await body(TestKubeSim(sim: sim, baseURL: "\(tls ? "https" : "http")://127.0.0.1:\(port)", tlsServerName: tlsServerName))
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

    /// The admin kubeconfig of one cluster, as YAML (with `tls-server-name` when the sim has one).
    public func kubeconfig(_ cluster: String) -> String {
        let yaml = sim.adminKubeconfig(cluster: cluster, baseURL: baseURL)
        guard let tlsServerName else { return yaml }
        return yaml.replacingOccurrences(of: "    server: \(baseURL)/clusters/\(cluster)\n", with: "    server: \(baseURL)/clusters/\(cluster)\n    tls-server-name: \(tlsServerName)\n")
    }
}
