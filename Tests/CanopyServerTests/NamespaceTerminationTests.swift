import Foundation
import KubeAPI
import KubeSim
import Synchronization
import Testing
import TestSupport

/// A namespace deleted in a cluster stays `Terminating` for a while, as on a real cluster.
@Suite struct NamespaceTerminationTests {
    static func namespaceStatus(_ server: TestServer, _ token: String?, _ name: String) async throws -> (state: String?, message: String?) {
        let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: token)
        let entry = (project.object["namespaces"] as? [[String: Any]])?.first { $0["name"] as? String == name }
        let status = entry?["status"] as? [String: Any]
        return (status?["state"] as? String, status?["message"] as? String)
    }

    /// Removed from its project, the namespace is deleted and terminates; added back meanwhile,
    /// it waits (Pending, saying why) until the old one is gone, and is then made anew.
    @Test func aNamespaceAddedBackWhileItsOldSelfTerminatesIsMadeAgainOnceItIsGone() async throws {
        var shape = KubeSim.ClusterShape(nodes: 3)
        shape.namespaceDeletionDelay = 6
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"], shape: shape) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                try await QuotaTests.project(server, admin, ["name": "web", "caps": ["cpu": "4"], "placements": [["cluster": "onprem", "namespaces": ["web-a"]]]])
                let onprem = try PlacementTests.client(sim, "onprem")
                try await eventually(within: 30, "web-a Ready") { try await Self.namespaceStatus(server, admin, "web-a").state == "Ready" }
                let first = try await onprem.get(Namespace.self, "web-a").metadata.uid

                try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke/projects/web/namespaces/onprem/web-a", token: admin), 204)
                try await eventually(within: 10, "web-a terminating") { try await onprem.get(Namespace.self, "web-a").metadata.deletionTimestamp != nil }
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/web/namespaces", token: admin, json: ["cluster": "onprem", "name": "web-a"]), 201)
                let seen = Mutex<[String]>([])
                try await eventually(within: 10, "web-a waiting for the old one to go") {
                    let status = try await Self.namespaceStatus(server, admin, "web-a")
                    seen.withLock { $0.append("\(status.state ?? "-"): \(status.message ?? "")") }
                    return status.state == "Pending" && status.message?.contains("being deleted in the cluster") == true
                }
                // Gone, then made again by Canopy with everything in it.
                try await eventually(within: 30, "web-a made anew and Ready") {
                    guard try await Self.namespaceStatus(server, admin, "web-a").state == "Ready" else { return false }
                    let space = try await onprem.get(Namespace.self, "web-a")
                    return space.metadata.uid != first && space.metadata.deletionTimestamp == nil
                }
                #expect(try await onprem.get(ResourceQuota.self, "canopy-quota", namespace: "web-a").spec?.hard?["requests.cpu"] != nil)
                #expect(try await onprem.create(ProxyTests.pod("back", "web-a")).metadata.name == "back")
            }
        }
    }
}
