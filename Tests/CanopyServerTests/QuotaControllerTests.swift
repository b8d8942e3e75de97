import Foundation
import KubeAPI
import KubeSim
import Synchronization
import Testing
import TestSupport

/// A real API server enforces a quota only once its quota controller has taken it up (its
/// `status.hard`), about a second after each write. Members get access to a new namespace only
/// once its quota is enforced, and the namespace is `Ready` only once the limits enforced leave
/// room for a pod.
@Suite struct QuotaControllerTests {
    @Test func membersGetAccessOnlyOnceTheQuotaIsEnforced() async throws {
        var shape = KubeSim.ClusterShape(nodes: 3)
        shape.quotaControllerDelay = 1.5
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"], shape: shape) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                let onprem = try #require(sim.sim.clusters["onprem"])
                let bindings = try #require(ResourceType.find(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings"))
                let quotas = try #require(ResourceType.find(group: "", version: "v1", resource: "resourcequotas"))
                let events = try onprem.watch(bindings, namespace: "web-a", selector: LabelSelector(), after: onprem.revision)
                try await QuotaTests.project(server, admin, ["name": "web", "caps": ["cpu": "4"], "placements": [["cluster": "onprem", "namespaces": ["web-a"]]]])

                // The instant the first role binding appears, the quota is already enforced.
                var enforcedAtAccess: JSON?
                for await event in events where event.type == "ADDED" {
                    enforcedAtAccess = (try? onprem.get(quotas, namespace: "web-a", name: "canopy-quota"))?["status"]?["hard"] ?? .null
                    break
                }
                #expect(enforcedAtAccess != nil && enforcedAtAccess != .null, "a member's role binding was created while the quota enforced nothing")

                // Ready only once the limits enforced leave room for a pod: the project's cap
                // goes to zero (enforced), then back to 4, which the controller takes up 1.5 s
                // after the write.
                let state = { @Sendable () async throws -> String? in
                    let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: admin)
                    return ((project.object["namespaces"] as? [[String: Any]])?.first?["status"] as? [String: Any])?["state"] as? String
                }
                @Sendable func enforcedCPU() -> Quantity? {
                    (try? onprem.get(quotas, namespace: "web-a", name: "canopy-quota"))?["status"]?["hard"]?["requests.cpu"]?.stringValue.flatMap { try? Quantity(parsing: $0) }
                }
                _ = try await eventually(within: 30, "web-a Ready") { try await state() == "Ready" }
                try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke/projects/web", token: admin, json: ["caps": ["cpu": "0"]]), 200)
                _ = try await eventually(within: 30, "web-a enforcing no CPU") { enforcedCPU() == .zero }
                try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke/projects/web", token: admin, json: ["caps": ["cpu": "4"]]), 200)
                let sawUnenforced = Atomic(false), seen = Mutex<[String]>([])
                _ = try await eventually(within: 30, "web-a Ready again") {
                    let current = try await state(), room = (enforcedCPU() ?? .zero) > .zero
                    seen.withLock { $0.append("\(current ?? "-")/\(enforcedCPU()?.canonical ?? "-")") }
                    if current == "Ready" {
                        #expect(room, "web-a said Ready while its enforced CPU limit was \(enforcedCPU()?.canonical ?? "none")")
                        return true
                    }
                    if !room { sawUnenforced.store(true, ordering: .relaxed) }
                    return false
                }
                let unenforcedSeen = sawUnenforced.load(ordering: .relaxed)
                #expect(unenforcedSeen, "the raise was never seen unenforced: the controller's delay did not apply (\(seen.withLock { $0 }))")
            }
        }
    }
}
