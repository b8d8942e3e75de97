import Foundation
import Hummingbird
import KubeSim
import Logging

/// KubeSim on a free loopback port for the length of one test.
public struct TestKubeSim: Sendable {
    public let sim: KubeSim
    public let baseURL: String

    /// Runs `body` with simulated clusters named `clusters`; stops them afterwards.
    public static func with<T: Sendable>(
        clusters: [String] = ["a"], tls: Bool = true, _ body: @Sendable (TestKubeSim) async throws -> T
    ) async throws -> T {
        let sim = try KubeSim(clusterNames: clusters)
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        let logger = { var logger = Logger(label: "kubesim-test"); logger.logLevel = .critical; return logger }()
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, tls: tls, logger: logger) { continuation.yield($0) }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            guard let port = await ready.first(where: { _ in true }) else { throw TestFailure("KubeSim did not start") }
            let result = try await body(TestKubeSim(sim: sim, baseURL: "\(tls ? "https" : "http")://127.0.0.1:\(port)"))
            group.cancelAll()
            return result
        }
    }

    /// The admin kubeconfig of one cluster, as YAML.
    public func kubeconfig(_ cluster: String) -> String { sim.adminKubeconfig(cluster: cluster, baseURL: baseURL) }
}
