import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Synchronization
import Testing
import TestSupport

/// A real API server refuses every pod in a new namespace until the controller-manager has
/// created the namespace's `default` ServiceAccount, about a second after the namespace. A
/// namespace is `Ready` only once that account exists: a pod created the moment it says `Ready`
/// is admitted.
@Suite struct ServiceAccountReadyTests {
    @Test func readyWaitsForTheDefaultServiceAccount() async throws {
        // Longer than a real cluster's second, so that the share planner has sized the quota well
        // before the account appears (Ready waits for both).
        let shape = KubeSim.ClusterShape(nodes: 3, serviceAccountDelay: 5)
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"], shape: shape) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                try await QuotaTests.project(server, admin, ["name": "web", "caps": ["cpu": "4"], "placements": [["cluster": "onprem", "namespaces": ["web-a"]]]])
                let kube = try PlacementTests.client(sim, "onprem")
                let waiting = "waiting for the cluster to create its default ServiceAccount"
                // Waits until web-a said it waits for its account, then until it is Ready.
                let ready = { @Sendable () async throws in
                    let seen = Mutex<[String]>([])
                    do {
                        _ = try await eventually(within: 30, "web-a waiting for its account, then Ready") {
                            let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: admin)
                            let status = (project.object["namespaces"] as? [[String: Any]])?.first?["status"] as? [String: Any]
                            let state = status?["state"] as? String
                            return seen.withLock { seen in
                                seen.append("\(state ?? "-"): \(status?["message"] as? String ?? "")")
                                return state == "Ready" && seen.contains { $0.contains(waiting) }
                            }
                        }
                    } catch {
                        throw TestFailure("\(error): \(seen.withLock { $0 })")
                    }
                }
                try await ready()
                #expect(try await kube.create(ProxyTests.pod("first", "web-a")).metadata.name == "first")

                // Deleted behind Canopy's back, the namespace is made again, and its new account
                // is waited for again.
                try await kube.delete(Namespace.self, "web-a")
                _ = try await eventually(within: 30, "web-a made again") { try await PlacementTests.exists(kube, "web-a") }
                try await ready()
                #expect(try await kube.create(ProxyTests.pod("second", "web-a")).metadata.name == "second")
            }
        }
    }

    /// A cluster that does not let Canopy list service accounts (its administrator granted less
    /// than everything) is not waited for: the namespace is Ready without its account being seen
    /// (here it never appears), rather than Pending for ever.
    @Test func aClusterThatWithholdsServiceAccountsIsNotWaitedFor() async throws {
        let shape = KubeSim.ClusterShape(nodes: 3, serviceAccountDelay: 3600)
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"], shape: shape) { sim in
            sim.sim.clusters["onprem"]!.faults.withheldResources = ["serviceaccounts"]
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                try await QuotaTests.project(server, admin, ["name": "web", "caps": ["cpu": "4"], "placements": [["cluster": "onprem", "namespaces": ["web-a"]]]])
                let seen = Mutex<[String]>([])
                do {
                    _ = try await eventually(within: 30, "web-a Ready") {
                        let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: admin)
                        let status = (project.object["namespaces"] as? [[String: Any]])?.first?["status"] as? [String: Any]
                        let state = status?["state"] as? String
                        seen.withLock { $0.append("\(state ?? "-"): \(status?["message"] as? String ?? "")") }
                        return state == "Ready"
                    }
                } catch {
                    throw TestFailure("\(error): \(seen.withLock { Array($0.suffix(5)) })")
                }
                // The list really is refused, in RBAC's words.
                do {
                    _ = try await PlacementTests.client(sim, "onprem").list(ServiceAccount.self)
                    Issue.record("the service accounts were listed")
                } catch let error as KubeError {
                    #expect(error.httpCode == 403 && error.message.contains("cannot list resource \"serviceaccounts\""), "\(error)")
                }
            }
        }
    }
}
