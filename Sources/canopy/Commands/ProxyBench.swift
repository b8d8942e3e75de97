import CanopyModel
import CanopyServer
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Logging

/// `canopy bench --proxy`: issue 6's figures. One KubeSim cluster (HTTPS, in this process) and one
/// Canopy server; a project member's GET of one pod and LIST of 100 pods at `concurrency`, and
/// then one call at a time, through Canopy's proxy with the member's token, against the same calls
/// straight to the cluster with the cluster's credentials impersonating the member as the proxy
/// does (the cluster does the same work for both: authorization, impersonation check, the answer).
///
/// Canopy runs in this process too, sharing every CPU with the clients and the cluster, or, with
/// `canopyCPU`, as a `canopy serve` child pinned to that CPU (this process must then be kept off
/// it: `taskset -c 0 canopy bench --proxy --canopy-cpu 1`), as a proxy runs in production: on CPUs
/// of its own, in front of a cluster that has its own. The cluster offers HTTP/2 and HTTP/1.1;
/// the fast lane speaks HTTP/2 to it with `clusterHTTP2` (`canopy serve --cluster-http2`), else
/// HTTP/1.1, as the direct calls do (Canopy's own client asks for HTTP/1.1 only).
struct ProxyBench {
    let concurrency: Int
    let duration: Duration
    var canopyCPU: Int?
    var clusterHTTP2 = false
    /// Rounds of each measurement, direct and through Canopy in turn (the order alternating);
    /// with more than one, the medians of their ratios are reported too.
    var rounds = 1

    /// One round's figures: both sides' latencies (ns), and Canopy's CPU per proxied call (s).
    private struct Pair {
        let straight: [Double]
        let through: [Double]
        let cpuPerCall: Double?

        var ratio: Double { Double(through.count) / Double(max(straight.count, 1)) }
        var addedP50: Double { (Bench.percentile(through, 0.5) - Bench.percentile(straight, 0.5)) / 1e6 }
    }

    func run() async throws {
        guard let canopyCPU else {
            return try await BenchCanopy.with(clusterHTTP2: clusterHTTP2) { bench in
                try await measure(server: bench.server, ca: bench.certificatePEM, adminKubeconfig: bench.adminKubeconfig)
            }
        }
        let own = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last.map(String.init) ?? "?"
        guard Self.cpus(in: own).map({ !$0.contains(canopyCPU) }) ?? false else {
            throw BenchFailure("this process may run on CPU \(canopyCPU) too (allowed: \(own)); start it with `taskset -c <other CPUs> canopy bench --proxy --canopy-cpu \(canopyCPU)`")
        }
        print("proxy: canopy serve pinned to CPU \(canopyCPU); the clients and the cluster on CPUs \(own)")
        try await CanopyChild.withCluster(cpu: canopyCPU, clusterHTTP2: clusterHTTP2) { _, adminKubeconfig, canopy in
            try await measure(server: canopy.url, ca: canopy.ca, adminKubeconfig: adminKubeconfig, canopy: canopy)
        }
    }

    /// The CPUs of a list such as `0-3,6`; `nil` when it does not parse.
    static func cpus(in list: String) -> Set<Int>? {
        var cpus: Set<Int> = []
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high else { return nil }
            cpus.formUnion(low...high)
        }
        return cpus
    }

    /// Measures; with `canopy` (a child process) also its CPU time per proxied call.
    private func measure(server: String, ca: String?, adminKubeconfig: String, canopy: CanopyChild? = nil) async throws {
        let kubeconfig = try await Self.setUp(server: server, ca: ca, adminKubeconfig: adminKubeconfig).kubeconfig
        var configuration = KubeClient.Configuration()
        configuration.retries = 0
        let admin = try KubeClient(connection: Kubeconfig(yaml: adminKubeconfig).connection(), configuration: configuration)
        var impersonating = configuration
        impersonating.impersonation = KubeClient.Impersonation(
            user: ClusterIdentity.user(tenant: "bench", username: "dev"),
            groups: [ClusterIdentity.projectGroup(tenant: "bench", project: "p", role: .projectMember)]
        )
        let direct = try KubeClient(connection: Kubeconfig(yaml: adminKubeconfig).connection(), configuration: impersonating)
        let proxied = try KubeClient(connection: Kubeconfig(yaml: kubeconfig).connection(context: "p@c0"), configuration: configuration)
        for index in 0..<100 {
            _ = try await admin.create(Pod(metadata: ObjectMeta(name: "pod-\(index)", namespace: "ns-0"), spec: .init(containers: [
                Container(name: "c", image: "nginx", resources: ResourceRequirements(requests: ["cpu": Quantity(milli: 10), "memory": Quantity(1 << 20)])),
            ])))
        }
        for (name, call) in [
            ("GET one pod", { @Sendable (client: KubeClient) async throws in _ = try await client.get(Pod.self, "pod-0", namespace: "ns-0") }),
            ("LIST 100 pods", { @Sendable (client: KubeClient) async throws in _ = try await client.list(Pod.self, namespace: "ns-0") }),
        ] {
            for callers in [concurrency, 1] {
                var pairs: [Pair] = []
                for round in 0..<rounds {
                    // Odd rounds go through Canopy first, so that a drift of the machine's speed
                    // over the run does not always favour the same side.
                    var straight: [Double] = []
                    var through: [Double] = []
                    var cpu: Double?
                    for side in round % 2 == 0 ? [false, true] : [true, false] {
                        if side {
                            let cpuBefore = canopy?.cpuSeconds()
                            through = try await Load.measure(concurrency: callers, duration: duration) { try await call(proxied) }
                            if let cpuBefore, let cpuAfter = canopy?.cpuSeconds() {
                                // The warm-up second's calls are not in `through`: count them at the same rate.
                                let calls = Double(through.count) * (Bench.nanoseconds(duration) + 1e9) / Bench.nanoseconds(duration)
                                cpu = (cpuAfter - cpuBefore) / calls
                            }
                        } else {
                            straight = try await Load.measure(concurrency: callers, duration: duration) { try await call(direct) }
                        }
                    }
                    let pair = Pair(straight: straight, through: through, cpuPerCall: cpu)
                    pairs.append(pair)
                    if rounds > 1 { print("round \(round + 1) of \(rounds):") }
                    Load.report("proxy", "\(name) direct", straight, duration: duration, concurrency: callers)
                    Load.report("proxy", "\(name) through Canopy", through, duration: duration, concurrency: callers)
                    if let cpu { print(String(format: "  canopy serve CPU per proxied call: %.0f µs", cpu * 1e6)) }
                    print(String(format: "  %@, %d concurrent: added p50 %.2f ms, throughput through Canopy %.0f %% of direct",
                                 name, callers, pair.addedP50, pair.ratio * 100))
                }
                if rounds > 1 {
                    let ratios = pairs.map(\.ratio).sorted()
                    let added = pairs.map(\.addedP50).sorted()
                    print(String(format: "  %@, %d concurrent, median of %d rounds: added p50 %.2f ms (%.2f to %.2f), throughput through Canopy %.0f %% of direct (%.0f to %.0f %%)",
                                 name, callers, rounds, Bench.percentile(added, 0.5), added[0], added[added.count - 1],
                                 Bench.percentile(ratios, 0.5) * 100, ratios[0] * 100, ratios[ratios.count - 1] * 100))
                }
            }
        }
        try await direct.shutdown()
        try await admin.shutdown()
        try await proxied.shutdown()
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
}
