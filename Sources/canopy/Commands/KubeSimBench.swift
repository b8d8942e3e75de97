import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Logging
import ServiceLifecycle

/// `canopy bench --kubesim`: KubeSim's footprint and KubeClient's speed against it.
///
/// Builds `clusters` × 3 nodes × 10 namespaces, each namespace with a ResourceQuota and a
/// RoleBinding, and reports the time and resident memory it took; then measures GET of one
/// object and LIST of 100 pods through KubeClient at `concurrency`, beside `/version`.
struct KubeSimBench {
    let clusters: Int
    let concurrency: Int
    let duration: Duration

    func run() async throws {
        let before = Self.residentMegabytes()
        let start = ContinuousClock.now
        let sim = try KubeSim(clusterNames: (0..<clusters).map { "c\($0)" }, shape: KubeSim.ClusterShape(nodes: 3))
        for cluster in sim.clusters.values {
            for index in 0..<10 {
                let namespace = "ns-\(index)"
                try cluster.create(SimCluster.namespaceType, namespace: nil, object: JSON(encoding: Namespace(metadata: ObjectMeta(name: namespace))))
                try cluster.create(SimCluster.quotaType, namespace: namespace, object: JSON(encoding: ResourceQuota(
                    metadata: ObjectMeta(name: "canopy-quota"), hard: ["requests.cpu": Quantity(4), "requests.memory": Quantity(8 << 30)]
                )))
                try cluster.create(SimCluster.roleBindingType, namespace: namespace, object: JSON(encoding: RoleBinding(
                    metadata: ObjectMeta(name: "canopy-member"), subjects: [.group("canopy:t:p:member")], roleRef: RoleRef(kind: "ClusterRole", name: "edit")
                )))
            }
        }
        let built = ContinuousClock.now - start
        print(String(format: "kubesim: %d clusters × 3 nodes × 10 namespaces (quota + rolebinding each) built in %@, resident memory %.0f MiB (%.0f MiB before)",
                     clusters, "\(built)", Self.residentMegabytes(), before))

        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        let (ready, continuation) = AsyncStream<Int>.makeStream()
        let app = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, logger: logger) { continuation.yield($0) }
        let services = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            guard let port = await ready.first(where: { _ in true }) else { return }
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.adminKubeconfig(cluster: "c0", baseURL: "https://127.0.0.1:\(port)")).connection())
            for index in 0..<100 {
                _ = try await kube.create(Pod(metadata: ObjectMeta(name: "pod-\(index)", namespace: "ns-0"), spec: .init(containers: [
                    Container(name: "c", image: "nginx", resources: ResourceRequirements(requests: ["cpu": Quantity(milli: 10), "memory": Quantity(1 << 20)]))
                ])))
            }
            let version = try await measure { _ = try await kube.version() }
            let get = try await measure { _ = try await kube.get(ResourceQuota.self, "canopy-quota", namespace: "ns-0") }
            let list = try await measure { _ = try await kube.list(Pod.self, namespace: "ns-0") }
            report("GET /version", version)
            report("GET one ResourceQuota", get)
            report("LIST 100 pods", list)
            try await kube.shutdown()
            await services.triggerGracefulShutdown()
        }
    }

    private func measure(_ call: @escaping @Sendable () async throws -> Void) async throws -> [Double] {
        try await Load.measure(concurrency: concurrency, duration: duration, call)
    }

    private func report(_ name: String, _ latencies: [Double]) {
        Load.report("kubesim", name + " through KubeClient", latencies, duration: duration, concurrency: concurrency)
    }

    /// VmRSS of this process, in MiB.
    static func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }
}
