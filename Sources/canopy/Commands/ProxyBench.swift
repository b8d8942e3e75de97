import CanopyServer
import Foundation
import KubeAPI
import KubeClient
import KubeSim

/// `canopy bench --proxy`: issue 6's figures. One KubeSim cluster and one Canopy server (both
/// HTTPS, in this process); a project member's GET of one pod and LIST of 100 pods at
/// `concurrency`, straight to the cluster with its admin token and through Canopy's proxy with
/// the member's token.
struct ProxyBench {
    let concurrency: Int
    let duration: Duration

    func run() async throws {
        try await BenchCanopy.with { bench in
            let kubeconfig = try await Self.setUp(server: bench.server, ca: bench.certificatePEM, adminKubeconfig: bench.adminKubeconfig).kubeconfig
            var configuration = KubeClient.Configuration()
            configuration.retries = 0
            let direct = try KubeClient(connection: Kubeconfig(yaml: bench.adminKubeconfig).connection(), configuration: configuration)
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
        }
    }

    /// A tenant `bench` with the cluster as `c0`, the project `project` describes, and a member
    /// `dev` of it; returns the member's kubeconfig (token style) and the tenant admin's client,
    /// once the project's namespaces are Ready and their quotas sized.
    static func setUp(
        server: String, ca: String?, adminKubeconfig: String,
        project: [String: Any] = ["name": "p", "placements": [["cluster": "c0", "namespaces": ["ns-0"]]]]
    ) async throws -> (kubeconfig: String, admin: APIClient) {
        let provider = try await BenchCanopy.client(server, ca: ca, tenant: nil, "admin", "bench-admin-password")
        _ = try await provider.send(.POST, "/api/v1/tenants", body: ["name": "bench", "mode": "enterprise", "admin": ["username": "boss", "password": "bench-password"]])
        let admin = try await BenchCanopy.client(server, ca: ca, tenant: "bench", "boss", "bench-password")
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/clusters", body: ["name": "c0", "kubeconfig": adminKubeconfig])
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/projects", body: project)
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/users", body: ["username": "dev", "password": "bench-password"])
        _ = try await admin.send(.POST, "/api/v1/tenants/bench/projects/p/members", body: ["user": "dev", "role": "member"])
        let member = try await BenchCanopy.client(server, ca: ca, tenant: "bench", "dev", "bench-password")
        for _ in 0..<300 {
            let usage = try JSONSerialization.jsonObject(with: try await admin.send(.GET, "/api/v1/tenants/bench/projects/p/usage")) as? [String: Any]
            let planned = ((usage?["resources"] as? [String: Any])?["requests.cpu"] as? [String: Any])?["planned"] as? String
            let namespaces = (usage?["clusters"] as? [[String: Any]])?.first?["namespaces"] as? [[String: Any]] ?? []
            let sized = namespaces.allSatisfy { namespace in
                let hard = ((namespace["resources"] as? [String: Any])?["requests.cpu"] as? [String: Any])?["hard"] as? String
                return hard.map { $0 != "0" } ?? false
            }
            if planned != nil, !namespaces.isEmpty, sized { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return (String(decoding: try await member.send(.GET, "/api/v1/kubeconfig?style=token&project=p"), as: UTF8.self), admin)
    }

    private func measure(_ call: @escaping @Sendable () async throws -> Void) async throws -> [Double] {
        try await Load.measure(concurrency: concurrency, duration: duration, call)
    }

    private func report(_ name: String, _ latencies: [Double]) {
        Load.report("proxy", name + "", latencies, duration: duration, concurrency: concurrency)
    }
}
