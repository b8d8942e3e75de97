import CanopyServer
import Foundation
import KubeSim
import Logging
import ServiceLifecycle

/// One in-process KubeSim over HTTPS on a free loopback port, for the benchmarks: run `services`
/// in a task, then `url()` answers once it listens. It offers HTTP/2 (and HTTP/1.1) unless
/// `http2` is false.
struct BenchKubeSim: Sendable {
    let sim: KubeSim
    let services: ServiceGroup
    private let ports: AsyncStream<Int>

    init(clusters: [String], http2: Bool = true, logger: Logger) throws {
        sim = try KubeSim(clusterNames: clusters, shape: KubeSim.ClusterShape(nodes: 3))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        self.ports = ports
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, http2: http2, logger: logger) { continuation.yield($0) }
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

/// A KubeSim cluster `c0` and a Canopy server (HTTPS, SQLite in a temporary folder) in this
/// process, for the benchmarks that measure Canopy in front of a cluster.
struct BenchCanopy {
    let sim: KubeSim
    /// The cluster admin's kubeconfig for `c0`.
    let adminKubeconfig: String
    /// `https://127.0.0.1:PORT` and the CA that signed its certificate.
    let server: String
    let certificatePEM: String?

    /// Runs `body` with both started; stops Canopy first (its reconciler watches the cluster),
    /// then the cluster.
    static func with(clusterHTTP2: Bool = false, _ body: (BenchCanopy) async throws -> Void) async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        let cluster = try BenchKubeSim(clusters: ["c0"], logger: logger)
        let simServices = cluster.services
        let directory = try BenchKubeSim.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = {
            var configuration = ServerConfiguration(dataDirectory: directory, port: 0, bcryptCost: 4, adminPassword: "bench-admin-password", tls: true)
            configuration.clusterHTTP2 = clusterHTTP2
            return configuration
        }()
        let (ready, readyContinuation) = AsyncStream<CanopyServer.Ready>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simServices.run() }
            let canopyRun = Task { try await CanopyServer.run(configuration, logger: logger) { readyContinuation.yield($0) } }
            guard let simURL = await cluster.url(), let canopy = await ready.first(where: { _ in true }) else { return }
            let bench = BenchCanopy(
                sim: cluster.sim, adminKubeconfig: cluster.sim.adminKubeconfig(cluster: "c0", baseURL: simURL),
                server: "https://127.0.0.1:\(canopy.port)", certificatePEM: canopy.certificatePEM
            )
            do {
                try await body(bench)
            } catch {
                await canopy.stop()
                _ = await canopyRun.result
                cluster.sim.clusters["c0"]?.shutDown()
                await simServices.triggerGracefulShutdown()
                throw error
            }
            await canopy.stop()
            _ = await canopyRun.result
            cluster.sim.clusters["c0"]?.shutDown()
            await simServices.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    /// A client of `server` signed in as `user` (the domain's when `tenant` is nil).
    static func client(_ server: String, ca: String?, tenant: String?, _ user: String, _ password: String) async throws -> APIClient {
        var body: [String: Any] = ["username": user, "password": password]
        if let tenant { body["tenant"] = tenant }
        let data = try await APIClient(server: server, token: nil, certificateAuthority: ca).send(.POST, "/api/v1/login", body: body)
        let token = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String ?? ""
        return APIClient(server: server, token: token, certificateAuthority: ca)
    }
}
