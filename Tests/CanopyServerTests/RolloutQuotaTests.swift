import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// A Deployment's rolling update under Canopy's quotas: the surge pod the cluster's quota
/// refuses is demand, for which Canopy makes room within the project's cap; past the cap the
/// rollout waits, as on any cluster, until the strategy asks for no surge.
@Suite struct RolloutQuotaTests {
    static func deployment(_ name: String, replicas: Int, cpu: String, image: String) -> [String: Any] {
        [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": name],
            "spec": [
                "replicas": replicas, "selector": ["matchLabels": ["app": name]],
                "template": ["metadata": ["labels": ["app": name]], "spec": ["containers": [["name": "c", "image": image, "resources": ["requests": ["cpu": cpu, "memory": "64Mi"]]]]]],
            ],
        ]
    }

    /// Replaces the deployment through the proxy after `change` (a read, a change, a PUT).
    static func update(_ server: TestServer, _ token: String?, _ path: String, _ change: (inout [String: Any]) -> Void) async throws {
        var object = try Fixture.expect(await server.request(.GET, path, token: token), 200).object
        change(&object)
        try Fixture.expect(await server.request(.PUT, path, token: token, json: object), 200)
    }

    static func setImage(_ image: String) -> (inout [String: Any]) -> Void {
        { object in
            var spec = object["spec"] as? [String: Any] ?? [:], template = spec["template"] as? [String: Any] ?? [:]
            var podSpec = template["spec"] as? [String: Any] ?? [:], containers = podSpec["containers"] as? [[String: Any]] ?? []
            containers[0]["image"] = image
            podSpec["containers"] = containers
            template["spec"] = podSpec
            spec["template"] = template
            object["spec"] = spec
        }
    }

    /// The images of the pods running in `namespace` (not terminating).
    static func images(_ client: KubeClient, _ namespace: String) async throws -> [String] {
        try await client.list(Pod.self, namespace: namespace).items.filter { $0.status?.phase == "Running" && $0.metadata.deletionTimestamp == nil }
            .compactMap { $0.spec?.containers.first?.image }.sorted()
    }

    static func rolledOut(_ server: TestServer, _ token: String?, _ path: String, replicas: Int) async throws -> Bool {
        let object = try Fixture.expect(await server.request(.GET, path, token: token), 200).object
        let status = object["status"] as? [String: Any] ?? [:], metadata = object["metadata"] as? [String: Any] ?? [:]
        return status["observedGeneration"] as? Int == metadata["generation"] as? Int
            && status["updatedReplicas"] as? Int == replicas && status["availableReplicas"] as? Int == replicas && status["replicas"] as? Int == replicas
    }

    @Test func aRollingUpdateGetsRoomForItsSurgePodWithinTheCapAndWaitsPastIt() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                try await QuotaTests.project(server, admin, ["name": "roll", "caps": ["cpu": "8"], "placements": [["cluster": "onprem", "namespaces": ["roll-x", "roll-y"]]]])
                try await QuotaTests.project(server, admin, ["name": "tight", "caps": ["cpu": "2"], "placements": [["cluster": "onprem", "namespaces": ["tight-x"]]]])
                let onprem = try PlacementTests.client(sim, "onprem")
                // As on a real cluster, a deleted pod holds its quota until its containers stop.
                try #require(sim.sim.clusters["onprem"]).podTerminationDelay = 1
                try await eventually(within: 30, "the shares split") {
                    let (x, y, tight) = (try await QuotaTests.hardCPU(onprem, "roll-x"), try await QuotaTests.hardCPU(onprem, "roll-y"), try await QuotaTests.hardCPU(onprem, "tight-x"))
                    return x == Quantity(4) && y == Quantity(4) && tight == Quantity(2)
                }

                // Two pods of 2 CPUs fill roll-x; the new template's first pod (maxSurge 25 % of 2:
                // one pod) finds no room in the namespace's quota, but the cap has it.
                let web = "/k8s/clusters/coke/onprem/apis/apps/v1/namespaces/roll-x/deployments"
                try Fixture.expect(await server.request(.POST, web, token: admin, json: Self.deployment("web", replicas: 2, cpu: "2", image: "nginx:1")), 201)
                try await eventually(within: 30, "two pods running") { try await Self.images(onprem, "roll-x") == ["nginx:1", "nginx:1"] }
                try await Self.update(server, admin, "\(web)/web", Self.setImage("nginx:2"))
                try await eventually(within: 60, "the rollout done") {
                    let (x, y) = (try await QuotaTests.hardCPU(onprem, "roll-x"), try await QuotaTests.hardCPU(onprem, "roll-y"))
                    #expect(x + y <= Quantity(8), "\(x) + \(y)")
                    return try await Self.rolledOut(server, admin, "\(web)/web", replicas: 2)
                }
                try await eventually(within: 10, "only the new pods") { try await Self.images(onprem, "roll-x") == ["nginx:2", "nginx:2"] }

                // Past the cap: one pod of 2 CPUs under a 2-CPU cap. The surge pod is refused for
                // as long as the strategy wants one; the old pod keeps running meanwhile.
                let tight = "/k8s/clusters/coke/onprem/apis/apps/v1/namespaces/tight-x/deployments"
                try Fixture.expect(await server.request(.POST, tight, token: admin, json: Self.deployment("api", replicas: 1, cpu: "2", image: "api:1")), 201)
                try await eventually(within: 30, "the pod running") { try await Self.images(onprem, "tight-x") == ["api:1"] }
                try await Self.update(server, admin, "\(tight)/api", Self.setImage("api:2"))
                try await eventually(within: 30, "the surge pod refused") {
                    try await onprem.list(KubeEvent.self, namespace: "tight-x").items.contains {
                        $0.reason == "FailedCreate" && $0.involvedObject?.kind == "ReplicaSet" && $0.message?.contains("exceeded quota: canopy-quota") == true
                    }
                }
                try await Task.sleep(for: .seconds(3))
                #expect(try await QuotaTests.hardCPU(onprem, "tight-x") == Quantity(2))
                #expect(try await Self.images(onprem, "tight-x") == ["api:1"])
                #expect(try await !Self.rolledOut(server, admin, "\(tight)/api", replicas: 1))
                // No surge, one unavailable: the old pod goes first and the new one takes its room.
                try await Self.update(server, admin, "\(tight)/api") { object in
                    var spec = object["spec"] as? [String: Any] ?? [:]
                    spec["strategy"] = ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 0, "maxUnavailable": 1]]
                    object["spec"] = spec
                }
                try await eventually(within: 30, "the rollout done without surge") { try await Self.rolledOut(server, admin, "\(tight)/api", replicas: 1) }
                #expect(try await Self.images(onprem, "tight-x") == ["api:2"])
                #expect(try await QuotaTests.hardCPU(onprem, "tight-x") == Quantity(2))
            }
        }
    }
}
