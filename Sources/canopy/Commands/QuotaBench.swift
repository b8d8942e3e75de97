import CanopyServer
import Foundation
import KubeAPI
import KubeClient
import KubeSim

/// `canopy bench --quota`: live quota enforcement end to end on KubeSim (issue 5). A project
/// capped at 8 CPUs has namespaces `a` and `b` on one cluster; measured:
/// - from a pod refused by `a`'s quota (sent through Canopy's proxy, as kubectl would) to `a`'s
///   limit raised enough for it (the re-plan the refusal triggers);
/// - quota writes per minute while pods come and go in both namespaces (steady churn).
struct QuotaBench {
    let samples: Int
    let duration: Duration

    func run() async throws {
        try await BenchCanopy.with { bench in
            let (kubeconfig, admin) = try await ProxyBench.setUp(server: bench.server, ca: bench.certificatePEM, adminKubeconfig: bench.adminKubeconfig, project: [
                "name": "p", "caps": ["cpu": "8"], "placements": [["cluster": "c0", "namespaces": ["a", "b"]]],
            ])
            let adminKubeconfig = bench.adminKubeconfig
            var clientConfiguration = KubeClient.Configuration()
            clientConfiguration.retries = 0
            let direct = try KubeClient(connection: Kubeconfig(yaml: adminKubeconfig).connection(), configuration: clientConfiguration)
            let member = try KubeClient(connection: Kubeconfig(yaml: kubeconfig).connection(context: "p@c0"), configuration: clientConfiguration)
            try await Self.waitUntil {
                let a = try await Self.quota(direct, "a").hard, b = try await Self.quota(direct, "b").hard
                return a > .zero && b > .zero
            }

            var latencies: [Double] = []
            for sample in 0..<samples {
                // The namespace with the lower limit asks for a little more than it has left.
                let a = try await Self.quota(direct, "a"), b = try await Self.quota(direct, "b")
                let (namespace, hard, used) = a.hard <= b.hard ? ("a", a.hard, a.used) : ("b", b.hard, b.used)
                let request = hard - used + Quantity(milli: 100)
                let started = ContinuousClock.now
                do {
                    _ = try await member.create(Self.pod("refused-\(sample)", namespace, cpu: request))
                    print("  sample \(sample): the pod was not refused; skipped")
                    continue
                } catch let error as KubeError where error.httpCode == 403 {}
                do {
                    try await Self.waitUntil { try await Self.quota(direct, namespace).hard >= used + request }
                } catch {
                    let now = try await Self.quota(direct, namespace)
                    print(String(decoding: try await admin.send(.GET, "/api/v1/tenants/bench/projects/p/usage"), as: UTF8.self))
                    throw KubeError(.timeout, "\(namespace)'s limit stayed at \(now.hard) (used \(now.used)) after a refused pod of \(request): \(error)")
                }
                latencies.append(Bench.nanoseconds(ContinuousClock.now - started) / 1e6)
                _ = try await member.create(Self.pod("admitted-\(sample)", namespace, cpu: request))
                for pod in try await direct.listAll(Pod.self, namespace: namespace) { try await direct.delete(Pod.self, pod.metadata.name ?? "", namespace: namespace) }
                try await Task.sleep(for: .milliseconds(300))
            }
            print(String(
                format: "quota: refused pod -> limit raised for it: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d samples; aim under 2 s)",
                Bench.percentile(latencies, 0.5), Bench.percentile(latencies, 0.99), latencies.max() ?? 0, latencies.count
            ))

            // Churn: a pod of 100m every 200 ms, alternately in a and b; at most 10 kept per namespace.
            let writesBefore = try await Self.reconcilerWrites(admin)
            let started = ContinuousClock.now
            var created = 0, refused = 0
            var live: [String: [String]] = ["a": [], "b": []]
            while ContinuousClock.now - started < duration {
                let namespace = created % 2 == 0 ? "a" : "b"
                let name = "churn-\(created)"
                created += 1
                do {
                    _ = try await member.create(Self.pod(name, namespace, cpu: Quantity(milli: 100)))
                    live[namespace, default: []].append(name)
                } catch let error as KubeError where error.httpCode == 403 {
                    refused += 1
                }
                if let oldest = live[namespace]?.first, (live[namespace]?.count ?? 0) > 10 {
                    try await direct.delete(Pod.self, oldest, namespace: namespace)
                    live[namespace]?.removeFirst()
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            let minutes = Bench.nanoseconds(ContinuousClock.now - started) / 60e9
            let writes = try await Self.reconcilerWrites(admin) - writesBefore
            print(String(
                format: "quota: churn of %d pods (%d refused) over %.1f min: %d reconciler writes, %.0f per minute",
                created, refused, minutes, writes, Double(writes) / minutes
            ))
            try await direct.shutdown()
            try await member.shutdown()
        }
    }

    static func pod(_ name: String, _ namespace: String, cpu: Quantity) -> Pod {
        let resources = ["cpu": cpu, "memory": Quantity(16 << 20)]
        return Pod(metadata: ObjectMeta(name: name, namespace: namespace), spec: .init(containers: [
            Container(name: "c", image: "nginx", resources: ResourceRequirements(requests: resources, limits: resources)),
        ]))
    }

    static func quota(_ client: KubeClient, _ namespace: String) async throws -> (hard: Quantity, used: Quantity) {
        let quota = try await client.get(ResourceQuota.self, "canopy-quota", namespace: namespace)
        return (quota.spec?.hard?["requests.cpu"] ?? .zero, quota.status?.used?["requests.cpu"] ?? .zero)
    }

    /// Polls every 5 ms, up to 10 s.
    static func waitUntil(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw KubeError(.timeout, "the quota did not change within 10 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func reconcilerWrites(_ admin: APIClient) async throws -> Int {
        let cluster = try JSONSerialization.jsonObject(with: try await admin.send(.GET, "/api/v1/tenants/bench/clusters/c0")) as? [String: Any]
        return (cluster?["reconcile"] as? [String: Any])?["writes"] as? Int ?? 0
    }
}
