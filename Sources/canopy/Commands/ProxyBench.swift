import CanopyServer
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Logging
import ServiceLifecycle

/// `canopy bench --proxy`: issue 6's figures. One KubeSim cluster and one Canopy server (both
/// HTTPS, in this process); a project member's GET of one pod and LIST of 100 pods at
/// `concurrency`, straight to the cluster with its admin token and through Canopy's proxy with
/// the member's token.
struct ProxyBench {
    let concurrency: Int
    let duration: Duration

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        let cluster = try BenchKubeSim(clusters: ["c0"], logger: logger)
        let sim = cluster.sim, simServices = cluster.services
        let directory = try BenchKubeSim.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = ServerConfiguration(dataDirectory: directory, port: 0, bcryptCost: 4, adminPassword: "bench-admin-password", tls: true)
        let (ready, readyContinuation) = AsyncStream<CanopyServer.Ready>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simServices.run() }
            let canopyRun = Task { try await CanopyServer.run(configuration, logger: logger) { readyContinuation.yield($0) } }
            guard let simURL = await cluster.url(), let canopy = await ready.first(where: { _ in true }) else { return }
            let server = "https://127.0.0.1:\(canopy.port)"
            let kubeconfig = try await Self.setUp(server: server, ca: canopy.certificatePEM, adminKubeconfig: sim.adminKubeconfig(cluster: "c0", baseURL: simURL))

            var configuration = KubeClient.Configuration()
            configuration.retries = 0
            let direct = try KubeClient(connection: Kubeconfig(yaml: sim.adminKubeconfig(cluster: "c0", baseURL: simURL)).connection(), configuration: configuration)
            let proxied = try KubeClient(connection: Kubeconfig(yaml: kubeconfig).connection(context: "p@c0"), configuration: configuration)
            for index in 0..<100 {
                _ = try await direct.create(Pod(metadata: ObjectMeta(name: "pod-\(index)", namespace: "ns-0"), spec: .init(containers: [
                    Container(name: "c", image: "nginx", resources: ResourceRequirements(requests: ["cpu": Quantity(milli: 10), "memory": Quantity(1 << 20)])),
                ])))
            }
            for (name, call) in [
                ("GET one pod", { @Sendable (client: KubeClient) async throws in _ = try await client.get(Pod.self, "pod-0", namespace: "ns-0") }),
                ("LIST 100 pods", { @Sendable (client: KubeClient) async throws in _ = try await client.list(Pod.self, namespace: "ns-0") }),
            ] {
                let straight = try await measure { try await call(direct) }
                let through = try await measure { try await call(proxied) }
                report("\(name) direct", straight)
                report("\(name) through Canopy", through)
                let added = (Bench.percentile(through, 0.5) - Bench.percentile(straight, 0.5)) / 1e6
                print(String(format: "  %@: added p50 %.2f ms, throughput through Canopy %.0f %% of direct", name, added, Double(through.count) / Double(max(straight.count, 1)) * 100))
            }
            try await direct.shutdown()
            try await proxied.shutdown()
            // Canopy first (its reconciler watches the cluster), then the cluster.
            await canopy.stop()
            _ = await canopyRun.result
            sim.clusters["c0"]?.shutDown()
            await simServices.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    /// A tenant with the cluster, a project with namespace ns-0 on it, and a member; returns the
    /// member's kubeconfig (token style).
    static func setUp(server: String, ca: String?, adminKubeconfig: String) async throws -> String {
        func token(_ tenant: String?, _ user: String, _ password: String) async throws -> String {
            var body: [String: Any] = ["username": user, "password": password]
            if let tenant { body["tenant"] = tenant }
            let data = try await APIClient(server: server, token: nil, certificateAuthority: ca).send(.POST, "/api/v1/login", body: body)
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String ?? ""
        }
        let provider = APIClient(server: server, token: try await token(nil, "admin", "bench-admin-password"), certificateAuthority: ca)
        _ = try await provider.send(.POST, "/api/v1/tenants", body: ["name": "bench", "mode": "enterprise", "admin": ["username": "boss", "password": "bench-password"]])
        let admin = APIClient(server: server, token: try await token("bench", "boss", "bench-password"), certificateAuthority: ca)
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/clusters", body: ["name": "c0", "kubeconfig": adminKubeconfig])
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/projects", body: ["name": "p", "placements": [["cluster": "c0", "namespaces": ["ns-0"]]]])
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/users", body: ["username": "dev", "password": "bench-password"])
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/projects/p/members", body: ["user": "dev", "role": "member"])
        let member = APIClient(server: server, token: try await token("bench", "dev", "bench-password"), certificateAuthority: ca)
        for _ in 0..<300 {
            let project = try JSONSerialization.jsonObject(with: try await admin.send(.GET, "/api/v1/tenants/bench/projects/p")) as? [String: Any]
            if ((project?["namespaces"] as? [[String: Any]])?.first?["status"] as? [String: Any])?["state"] as? String == "Ready" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return String(decoding: try await member.send(.GET, "/api/v1/kubeconfig?style=token&project=p"), as: UTF8.self)
    }

    private func measure(_ call: @escaping @Sendable () async throws -> Void) async throws -> [Double] {
        try await Load.measure(concurrency: concurrency, duration: duration, call)
    }

    private func report(_ name: String, _ latencies: [Double]) {
        Load.report("proxy", name + "", latencies, duration: duration, concurrency: concurrency)
    }
}
