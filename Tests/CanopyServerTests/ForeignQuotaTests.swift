import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// A quota Canopy did not write, in a project namespace (the cluster's administrator's, or a
/// policy engine's): its refusals reach the user as the cluster wrote them, and are no demand,
/// for no room Canopy could give would let the pod in.
@Suite struct ForeignQuotaTests {
    @Test func anotherQuotasRefusalIsPassedOnAndIsNoDemand() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                try await QuotaTests.project(server, admin, ["name": "p", "caps": ["cpu": "8"], "placements": [["cluster": "onprem", "namespaces": ["p-x", "p-y"]]]])
                let onprem = try PlacementTests.client(sim, "onprem")
                try await eventually(within: 30, "the shares split") {
                    let (x, y) = (try await QuotaTests.hardCPU(onprem, "p-x"), try await QuotaTests.hardCPU(onprem, "p-y"))
                    return x == Quantity(4) && y == Quantity(4)
                }
                _ = try await onprem.create(ResourceQuota(metadata: ObjectMeta(name: "team-limit", namespace: "p-x"), hard: ["requests.cpu": Quantity(1)]))
                // 3 CPUs fit Canopy's quota (4) but not the other one (1), whichever is asked first.
                for attempt in 0..<5 {
                    let answer = try await QuotaTests.create(server, admin, "onprem", "p-x", "big-\(attempt)", cpu: "3")
                    #expect(answer.status == 403 && answer.text.contains("exceeded quota: team-limit, requested: requests.cpu=3"), "\(answer.status) \(answer.text)")
                }
                // Audited as refused writes, without a request for room (which the other
                // replicas would read as demand).
                let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: admin).items.compactMap { $0["target"] as? String }
                let refusals = audit.filter { $0.hasPrefix("clusters/onprem/api/v1/namespaces/p-x/pods") }
                #expect(refusals.count == 5 && refusals.allSatisfy { $0 == "clusters/onprem/api/v1/namespaces/p-x/pods -> 403" }, "\(refusals)")
                // Canopy's own quota's refusal still is one.
                let own = try await QuotaTests.create(server, admin, "onprem", "p-y", "huge", cpu: "5")
                #expect(own.status == 403 && own.text.contains("exceeded quota: canopy-quota"), "\(own.text)")
                let after = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: admin).items.compactMap { $0["target"] as? String }
                #expect(after.contains("clusters/onprem/api/v1/namespaces/p-y/pods -> 403 (exceeded quota, requested: requests.cpu=5)"), "\(after.prefix(3))")
                try await Task.sleep(for: .seconds(1))
                #expect(try await QuotaTests.hardCPU(onprem, "p-x") <= Quantity(4))
            }
        }
    }
}
