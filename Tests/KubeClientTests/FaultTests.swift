import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// KubeClient under KubeSim's injected faults.
@Suite struct FaultTests {
    @Test func aConnectionDroppedMidListIsRetried() async throws {
        try await TestKubeSim.with { sim in
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            for index in 0..<50 {
                _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(index)", namespace: "default"), data: ["k": String(repeating: "v", count: 200)]))
            }
            let cluster = sim.sim.clusters["a"]!
            cluster.faults.dropListsMidway = 2
            let list = try await kube.list(ConfigMap.self, namespace: "default")
            #expect(list.items.count == 51)  // and the cluster's kube-root-ca.crt
            #expect(cluster.faults.dropListsMidway == 0)
        }
    }

    @Test func serverErrorsAreRetriedForReads() async throws {
        try await TestKubeSim.with { sim in
            var configuration = KubeClient.Configuration()
            configuration.initialBackoff = .milliseconds(10)
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection(), configuration: configuration)
            let cluster = sim.sim.clusters["a"]!
            var faults = Faults()
            faults.failNext = 3
            cluster.faults = faults
            #expect(try await kube.get(Namespace.self, "default").metadata.name == "default")
            #expect(cluster.faults.failNext == 0)
            faults.failNext = 10
            cluster.faults = faults
            let exhausted = await #expect(throws: KubeError.self) { try await kube.get(Namespace.self, "default") }
            #expect(exhausted?.httpCode == 500)
        }
    }

    @Test func tooManyRequestsWaitsForRetryAfter() async throws {
        try await TestKubeSim.with { sim in
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            var faults = Faults()
            faults.failNext = 1
            faults.failCode = 429
            sim.sim.clusters["a"]!.faults = faults
            let start = ContinuousClock.now
            // A create refused with 429 was not processed, so even a write is retried.
            _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "after-429", namespace: "default"), data: [:]))
            #expect(ContinuousClock.now - start >= .seconds(1))
        }
    }

    @Test func writesAreNotRetriedAfterAServerError() async throws {
        try await TestKubeSim.with { sim in
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            var faults = Faults()
            faults.failShare = 1
            sim.sim.clusters["a"]!.faults = faults
            let error = await #expect(throws: KubeError.self) {
                try await kube.create(ConfigMap(metadata: ObjectMeta(name: "once", namespace: "default"), data: [:]))
            }
            #expect(error?.httpCode == 500)
        }
    }

    @Test func anUnreachableClusterFailsFastWithAClearErrorAndRecovers() async throws {
        try await TestKubeSim.with { sim in
            var configuration = KubeClient.Configuration()
            configuration.timeout = .seconds(2)
            let kube = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection(), configuration: configuration)
            let cluster = sim.sim.clusters["a"]!
            cluster.makeUnreachable(for: 60)
            let error = await #expect(throws: KubeError.self) { try await kube.get(Namespace.self, "default") }
            #expect(error?.code == .unreachable || error?.code == .timeout)
            cluster.faults = Faults()
            #expect(try await kube.get(Namespace.self, "default").metadata.name == "default")
        }
    }

    @Test func onlyTheAdminMaySetFaults() async throws {
        try await TestKubeSim.with { sim in
            sim.sim.addToken("user-token", user: "someone")
            let user = try KubeClient(connection: Kubeconfig(yaml: sim.sim.kubeconfig(cluster: "a", baseURL: sim.baseURL, user: "u", token: "user-token")).connection())
            let refused = await #expect(throws: KubeError.self) {
                try await user.send(.POST, "/kubesim/faults", body: Data(#"{"failShare": 1}"#.utf8))
            }
            #expect(refused?.httpCode == 403)
            let admin = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            _ = try await admin.send(.POST, "/kubesim/faults", body: Data(#"{"latencyMilliseconds": 5}"#.utf8))
            #expect(sim.sim.clusters["a"]!.faults.latencyMilliseconds == 5)
        }
    }
}
