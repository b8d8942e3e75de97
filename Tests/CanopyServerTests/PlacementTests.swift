import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// Projects in clusters through the API: placements, the reconciler's results, cascades, and
/// who may do what.
@Suite struct PlacementTests {
    /// Imports `onprem` and `cloud` into coke and one `west` cluster into pepsi.
    static func importClusters(_ server: TestServer, _ sim: TestKubeSim, _ fixture: Fixture) async throws {
        for (tenant, name, simName) in [("coke", "onprem", "onprem"), ("coke", "cloud", "cloud"), ("pepsi", "west", "west")] {
            try Fixture.expect(await server.request(.POST, "/api/v1/tenants/\(tenant)/clusters", token: fixture.tokens["\(tenant)-admin"], json: [
                "name": name, "kubeconfig": sim.kubeconfig(simName),
            ]), 201)
        }
    }

    static func client(_ sim: TestKubeSim, _ cluster: String) throws -> KubeClient {
        var configuration = KubeClient.Configuration()
        configuration.retries = 0
        return try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig(cluster)).connection(), configuration: configuration)
    }

    static func exists(_ client: KubeClient, _ namespace: String) async throws -> Bool {
        do {
            _ = try await client.get(Namespace.self, namespace)
            return true
        } catch let error as KubeError where error.httpCode == 404 {
            return false
        }
    }

    @Test func aProjectSpanningTwoClustersAppearsInBothAndFollowsItsMembers() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await Self.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                let created = try await server.request(.POST, "/api/v1/tenants/coke/projects", token: admin, json: [
                    "name": "web", "podSecurity": "restricted",
                    "placements": [["cluster": "onprem", "namespaces": ["web-dev"]], ["cluster": "cloud", "namespaces": ["web-prod"]]],
                ])
                #expect(created.status == 201, "\(created.text)")
                #expect((created.object["namespaces"] as? [[String: Any]])?.count == 2)
                let onprem = try Self.client(sim, "onprem"), cloud = try Self.client(sim, "cloud")
                try await eventually(within: 2, "namespaces, bindings, quota, limits and policies in both clusters") {
                    let dev = try await onprem.listAll(NetworkPolicy.self, namespace: "web-dev")
                    let prod = try await cloud.listAll(NetworkPolicy.self, namespace: "web-prod")
                    let quotas = try await onprem.listAll(ResourceQuota.self, namespace: "web-dev").count + cloud.listAll(ResourceQuota.self, namespace: "web-prod").count
                    let limits = try await onprem.listAll(LimitRange.self, namespace: "web-dev").count + cloud.listAll(LimitRange.self, namespace: "web-prod").count
                    let bindings = try await onprem.listAll(RoleBinding.self, namespace: "web-dev").count + cloud.listAll(RoleBinding.self, namespace: "web-prod").count
                    return dev.count == 1 && prod.count == 1 && quotas == 2 && limits == 2 && bindings == 6
                }
                #expect(try await onprem.get(Namespace.self, "web-dev").metadata.labels?["pod-security.kubernetes.io/enforce"] == "restricted")
                try await eventually(within: 2, "status Ready in the project's API") {
                    let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/web", token: admin)
                    let states = (project.object["namespaces"] as? [[String: Any]] ?? []).compactMap { ($0["status"] as? [String: Any])?["state"] as? String }
                    return states == ["Ready", "Ready"]
                }
                let cluster = try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem", token: admin)
                #expect((cluster.object["reconcile"] as? [String: Any])?["state"] as? String == "Synced", "\(cluster.text)")

                // A member added through the API reaches both clusters; removed, they are gone.
                let grant = try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/web/members", token: admin, json: ["user": "pm", "role": "member"]), 201)
                @Sendable func bound() async throws -> [Bool] {
                    let dev = try await onprem.get(RoleBinding.self, "canopy:member", namespace: "web-dev")
                    let prod = try await cloud.get(RoleBinding.self, "canopy:member", namespace: "web-prod")
                    return [dev, prod].map { $0.subjects?.contains(.user("canopy:coke:pm")) == true }
                }
                try await eventually(within: 2, "the member bound in both clusters") { try await bound() == [true, true] }
                let id = try #require(grant.object["id"] as? String)
                try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke/projects/web/members/\(id)", token: admin), 204)
                try await eventually(within: 2, "the member unbound in both clusters") { try await bound() == [false, false] }

                // A project with namespaces is deleted only with cascade, which empties the clusters.
                let refused = try await server.request(.DELETE, "/api/v1/tenants/coke/projects/web", token: admin)
                #expect(refused.status == 409)
                #expect(refused.errorMessage?.contains("cascade=true") == true)
                try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke/projects/web?cascade=true", token: admin), 204)
                try await eventually(within: 3, "the namespaces deleted in both clusters") {
                    let dev = try await Self.exists(onprem, "web-dev")
                    let prod = try await Self.exists(cloud, "web-prod")
                    return !dev && !prod
                }
            }
        }
    }

    @Test func placementsAreCheckedAndExistingNamespacesNeedAdopt() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await Self.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                func place(_ body: [String: Any], token: String? = nil, project: String = "marketing") async throws -> TestResponse {
                    try await server.request(.POST, "/api/v1/tenants/coke/projects/\(project)/namespaces", token: token ?? admin, json: body)
                }
                let foreign = try await place(["cluster": "west", "name": "mkt"])
                #expect(foreign.status == 422 && foreign.errorField == "cluster", "\(foreign.text)")
                #expect(try await place(["cluster": "onprem", "name": "Not_A_Label"]).status == 422)
                #expect(try await place(["cluster": "onprem", "name": "kube-system"]).status == 422)
                #expect(try await place(["cluster": "onprem", "name": "default"]).status == 422)
                #expect(try await place(["cluster": "onprem", "name": "mkt", "extra": 1]).status == 400)
                #expect(try await place(["cluster": "onprem", "name": 7]).status == 400)
                #expect(try await place(["cluster": "onprem", "name": "mkt"]).status == 201)
                // Unique per cluster, across the tenant's projects; the same name elsewhere is fine.
                #expect(try await place(["cluster": "onprem", "name": "mkt"], project: "sales").status == 409)
                #expect(try await place(["cluster": "cloud", "name": "mkt"]).status == 201)

                // A namespace that already exists in the cluster, unmanaged.
                let onprem = try Self.client(sim, "onprem")
                _ = try await onprem.create(Namespace(metadata: ObjectMeta(name: "legacy", labels: ["team": "old"])))
                let taken = try await place(["cluster": "onprem", "name": "legacy"])
                #expect(taken.status == 409)
                #expect(taken.errorMessage?.contains("adopt: true") == true)
                let adopted = try await place(["cluster": "onprem", "name": "legacy", "adopt": true])
                #expect(adopted.status == 201)
                #expect(adopted.object["adopted"] as? Bool == true)
                try await eventually(within: 2, "legacy labelled as Canopy's") {
                    try await onprem.get(Namespace.self, "legacy").metadata.labels?["canopy.io/project"] == "marketing"
                }
                // Removing it gives it back rather than deleting it.
                try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke/projects/marketing/namespaces/onprem/legacy", token: admin), 204)
                try await eventually(within: 2, "legacy given back") {
                    try await onprem.get(Namespace.self, "legacy").metadata.labels?["canopy.io/managed-by"] == nil
                }
                #expect(try await Self.exists(onprem, "legacy"))
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/projects/marketing/namespaces/onprem/legacy", token: admin).status == 404)

                // A project created with placements validates each one and stores none on failure.
                let bad = try await server.request(.POST, "/api/v1/tenants/coke/projects", token: admin, json: [
                    "name": "half", "placements": [["cluster": "onprem", "namespaces": ["half-a"]], ["cluster": "nowhere", "namespaces": ["half-b"]]],
                ])
                #expect(bad.status == 422)
                #expect(bad.errorField == "placements[1].namespaces[0].cluster", "\(bad.text)")
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/projects/half", token: admin).status == 404)
                let reservation = try await server.request(.POST, "/api/v1/tenants/coke/projects", token: admin, json: [
                    "name": "later", "placements": [["cluster": "onprem", "namespaces": ["l"], "reservation": ["cpuPercent": 120]]],
                ])
                #expect(reservation.status == 400 && reservation.errorField == "placements[0].reservation.cpuPercent", "\(reservation.text)")
            }
        }
    }

    @Test func namespaceEndpointsAnswerEachCallerAsThePolicySays() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await Self.importClusters(server, sim, fixture)
                let path = "/api/v1/tenants/coke/projects/marketing/namespaces"
                try Fixture.expect(await server.request(.POST, path, token: fixture.tokens["coke-admin"], json: ["cluster": "onprem", "name": "mkt"]), 201)
                let body: [String: Any] = ["cluster": "cloud", "name": "mkt-2"]
                // Who may see the project: its roles and the tenant admin. Who may add: admins.
                for (who, list, add) in [
                    ("coke-pa", 200, 201), ("coke-pm", 200, 403), ("coke-pv", 200, 403), ("coke-sales-pa", 404, 404),
                    ("pepsi-admin", 404, 404), ("pepsi-pa", 404, 404), ("provider", 404, 404),
                ] {
                    let listed = try await server.request(.GET, path, token: fixture.tokens[who])
                    #expect(listed.status == list, "\(who) list: \(listed.text)")
                    if list == 200 { #expect(listed.items.map { $0["name"] as? String } == ["mkt"]) }
                    let added = try await server.request(.POST, path, token: fixture.tokens[who], json: body)
                    #expect(added.status == add, "\(who) add: \(added.text)")
                    if add == 201 {
                        try Fixture.expect(await server.request(.DELETE, "\(path)/cloud/mkt-2", token: fixture.tokens[who]), 204)
                    }
                    if add != 201 {
                        let removed = try await server.request(.DELETE, "\(path)/onprem/mkt", token: fixture.tokens[who])
                        #expect(removed.status == add, "\(who) remove")
                    }
                }
                #expect(try await server.request(.GET, path, token: nil).status == 401)
                // Only tenant admins delete projects or release clusters.
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/projects/marketing?cascade=true", token: fixture.tokens["coke-pa"]).status == 403)
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem?cascade=true", token: fixture.tokens["coke-pa"]).status == 403)
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem?cascade=true", token: fixture.tokens["pepsi-admin"]).status == 404)
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem?cascade=true", token: fixture.tokens["provider"]).status == 403)
            }
        }
    }

    @Test func releasingAClusterWithCascadeEmptiesIt() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await Self.importClusters(server, sim, fixture)
                let admin = fixture.tokens["coke-admin"]
                for name in ["mkt-a", "mkt-b"] {
                    try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: admin, json: ["cluster": "onprem", "name": name]), 201)
                }
                let onprem = try Self.client(sim, "onprem")
                try await eventually(within: 2, "set up") { try await onprem.listAll(ResourceQuota.self).count == 2 }
                let refused = try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem", token: admin)
                #expect(refused.status == 409)
                #expect(refused.errorMessage?.contains("marketing/mkt-a") == true, "\(refused.text)")

                // While the cluster is down, the cascade cannot finish and says so.
                sim.sim.clusters["onprem"]!.makeUnreachable(for: 4)
                let down = try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem?cascade=true", token: admin)
                #expect(down.status == 503, "\(down.text)")
                #expect(down.errorMessage?.contains("retry") == true)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem", token: admin).status == 200)
                try await Task.sleep(for: .seconds(4))

                let released = try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem?cascade=true", token: admin)
                #expect(released.status == 200, "\(released.text)")
                #expect(try await !Self.exists(onprem, "mkt-a"))
                #expect(try await !Self.exists(onprem, "mkt-b"))
                #expect(try await onprem.listAll(ClusterRole.self, labelSelector: LabelSelector(matching: ["canopy.io/managed-by": "canopy"])).isEmpty)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem", token: admin).status == 404)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/namespaces", token: admin).items.isEmpty)
                // The same cluster can be imported again, into another tenant.
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/pepsi/clusters", token: fixture.tokens["pepsi-admin"], json: [
                    "name": "onprem", "kubeconfig": sim.kubeconfig("onprem"),
                ]), 201)
            }
        }
    }
}

/// Deleting a tenant that still manages clusters.
@Suite struct TenantReleaseTests {
    @Test func aTenantWithClustersIsDeletedOnlyWithCascadeWhichCleansItsClusters() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: fixture.tokens["coke-admin"], json: ["cluster": "onprem", "name": "mkt"]), 201)
                let onprem = try PlacementTests.client(sim, "onprem")
                try await eventually(within: 2, "set up") { try await PlacementTests.exists(onprem, "mkt") }
                let provider = fixture.tokens["provider"]
                let refused = try await server.request(.DELETE, "/api/v1/tenants/coke", token: provider)
                #expect(refused.status == 409)
                #expect(refused.errorMessage?.contains("cloud, onprem") == true, "\(refused.text)")
                // A tenant admin may not delete their own tenant, cascade or not.
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke?cascade=true", token: fixture.tokens["coke-admin"]).status == 403)

                sim.sim.clusters["cloud"]!.makeUnreachable(for: 4)
                let down = try await server.request(.DELETE, "/api/v1/tenants/coke?cascade=true", token: provider)
                #expect(down.status == 503, "\(down.text)")
                #expect(down.errorMessage?.contains("cluster 'cloud'") == true)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke", token: provider).status == 200)
                // Nothing was lost: the namespace comes back on the cluster that was cleaned.
                try await eventually(within: 3, "mkt restored") { try await PlacementTests.exists(onprem, "mkt") }
                try await Task.sleep(for: .seconds(4))

                try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke?cascade=true", token: provider), 204)
                #expect(try await !PlacementTests.exists(onprem, "mkt"))
                let leftovers = try await onprem.listAll(ClusterRole.self, labelSelector: LabelSelector(matching: ["canopy.io/managed-by": "canopy"]))
                #expect(leftovers.isEmpty)
                // Its clusters are free for another tenant.
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/pepsi/clusters", token: fixture.tokens["pepsi-admin"], json: [
                    "name": "onprem", "kubeconfig": sim.kubeconfig("onprem"),
                ]), 201)
            }
        }
    }
}
