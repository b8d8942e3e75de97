import Foundation
import KubeSim
import Logging
import ServiceLifecycle

/// One in-process KubeSim over HTTPS on a free loopback port, for the benchmarks: run `services`
/// in a task, then `url()` answers once it listens.
struct BenchKubeSim: Sendable {
    let sim: KubeSim
    let services: ServiceGroup
    private let ports: AsyncStream<Int>

    init(clusters: [String], logger: Logger) throws {
        sim = try KubeSim(clusterNames: clusters, shape: KubeSim.ClusterShape(nodes: 3))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        self.ports = ports
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, logger: logger) { continuation.yield($0) }
        services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    }

    /// `https://127.0.0.1:PORT` once the server listens; `nil` if it stopped first.
    func url() async -> String? {
        await ports.first { _ in true }.map { "https://127.0.0.1:\($0)" }
    }

    /// A new folder under the system's temporary folder for a benchmark's server.
    static func temporaryFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }
}
