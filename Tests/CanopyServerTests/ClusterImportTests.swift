import Foundation
import KubeSim
import Testing
import TestSupport

/// Importing KubeSim clusters into tenants over the API.
@Suite struct ClusterImportTests {
    @Test func aTenantAdminImportsAClusterAndItsCredentialsNeverComeBack() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]!
                let kubeconfig = sim.kubeconfig("onprem")
                let created = try await server.request(.POST, "/api/v1/tenants/coke/clusters", token: admin, json: [
                    "name": "onprem-d20", "kubeconfig": kubeconfig, "labels": ["provider": "onprem", "region": "d20"],
                ])
                #expect(created.status == 201, "\(created.text)")
                #expect(created.object["nodeCount"] as? Int == 3)
                #expect((created.object["capacity"] as? [String: Any])?["cpu"] as? String == "24")
                #expect((created.object["labels"] as? [String: String])?["provider"] == "onprem")
                let list = try await server.request(.GET, "/api/v1/tenants/coke/clusters", token: admin)
                let detail = try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem-d20", token: admin)
                let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: admin)
                #expect(list.items.map { $0["name"] as? String } == ["onprem-d20"])
                for text in [created.text, list.text, detail.text, audit.text] {
                    #expect(!text.contains(sim.sim.adminToken), "credentials leaked")
                }
                // The same physical cluster cannot join another tenant, and the answer names nobody.
                let again = try await server.request(.POST, "/api/v1/tenants/pepsi/clusters", token: fixture.tokens["pepsi-admin"], json: [
                    "name": "borrowed", "kubeconfig": kubeconfig,
                ])
                #expect(again.status == 409)
                #expect(again.errorMessage == "this cluster is already managed by this domain")
                #expect(!again.text.contains("coke"))
                // A second, different cluster is fine.
                let other = try await server.request(.POST, "/api/v1/tenants/pepsi/clusters", token: fixture.tokens["pepsi-admin"], json: [
                    "name": "cloud", "kubeconfig": sim.kubeconfig("cloud"),
                ])
                #expect(other.status == 201)
                #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/clusters/onprem-d20", token: admin).status == 204)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem-d20", token: admin).status == 404)
            }
        }
    }

    @Test func unusableClustersAreRefusedWithWhatToFix() async throws {
        try await TestKubeSim.with { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]!
                func attempt(_ kubeconfig: String) async throws -> TestResponse {
                    try await server.request(.POST, "/api/v1/tenants/coke/clusters", token: admin, json: ["name": "x", "kubeconfig": kubeconfig])
                }
                let garbage = try await attempt("not: [a kubeconfig")
                #expect(garbage.status == 422 && garbage.errorField == "kubeconfig")

                let closed = sim.kubeconfig("a").replacingOccurrences(of: sim.baseURL, with: "https://127.0.0.1:1")
                let unreachable = try await attempt(closed)
                #expect(unreachable.status == 422)
                #expect(unreachable.errorMessage?.contains("cannot be reached") == true, "\(unreachable.text)")

                let wrongToken = sim.sim.kubeconfig(cluster: "a", baseURL: sim.baseURL, user: "x", token: "nope")
                let unauthorized = try await attempt(wrongToken)
                #expect(unauthorized.status == 422 && unauthorized.errorMessage?.contains("401") == true, "\(unauthorized.text)")
                #expect(!unauthorized.text.contains("nope"))

                sim.sim.addToken("weak-token", user: "weak")
                let weak = try await attempt(sim.sim.kubeconfig(cluster: "a", baseURL: sim.baseURL, user: "weak", token: "weak-token"))
                #expect(weak.status == 422)
                #expect(weak.errorMessage?.contains("lack permissions Canopy needs") == true, "\(weak.text)")
                #expect(weak.errorMessage?.contains("impersonate users") == true)

                let listed = try await server.request(.GET, "/api/v1/tenants/coke/clusters", token: admin)
                #expect(listed.items.isEmpty)
            }
        }
    }
}

@Suite struct ClusterHealthTests {
    @Test func anUnreachableClusterShowsSoAndRecoversWithoutHelp() async throws {
        try await TestKubeSim.with(clusters: ["down", "up"]) { sim in
            try await TestServer.with(clusterProbeInterval: .milliseconds(200)) { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["pepsi-admin"]!
                for name in ["down", "up"] {
                    try Fixture.expect(await server.request(.POST, "/api/v1/tenants/pepsi/clusters", token: admin, json: ["name": name, "kubeconfig": sim.kubeconfig(name)]), 201)
                }
                @Sendable func state(_ name: String) async throws -> [String: Any] {
                    try await server.request(.GET, "/api/v1/tenants/pepsi/clusters/\(name)", token: admin).object["status"] as? [String: Any] ?? [:]
                }
                #expect(try await state("down")["state"] as? String == "Ready")
                sim.sim.clusters["down"]!.makeUnreachable(for: 600)
                let unreachable = try await eventually { () -> [String: Any] in
                    let status = try await state("down")
                    guard status["state"] as? String == "Unreachable" else { throw TestFailure("still \(status)") }
                    return status
                }
                #expect((unreachable["lastError"] as? String)?.contains("cannot be reached") == true)
                #expect(unreachable["lastSeen"] != nil)
                // The other cluster is unaffected.
                try await TestSupport.eventually(within: 5, "the other cluster Ready") { try await state("up")["state"] as? String == "Ready" }
                sim.sim.clusters["down"]!.faults = .init()
                _ = try await eventually { () -> Bool in
                    guard try await state("down")["state"] as? String == "Ready" else { throw TestFailure("not back yet") }
                    return true
                }
            }
        }
    }

    /// Retries `body` for up to ten seconds.
    private func eventually<T>(_ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await body()
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

@Suite struct DomainPoolTests {
    @Test func theProviderRegistersAndAssignsPoolClusters() async throws {
        try await TestKubeSim.with(clusters: ["spare"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let provider = fixture.tokens["provider"]!
                let body: [String: Any] = ["name": "spare", "kubeconfig": sim.kubeconfig("spare"), "labels": ["provider": "aws"]]
                // Nobody but the provider may touch the pool.
                for caller in ["coke-admin", "pepsi-pm"] {
                    #expect(try await server.request(.GET, "/api/v1/clusters", token: fixture.tokens[caller]).status == 403)
                    #expect(try await server.request(.POST, "/api/v1/clusters", token: fixture.tokens[caller], json: body).status == 403)
                    #expect(try await server.request(.POST, "/api/v1/clusters/spare/assign", token: fixture.tokens[caller], json: ["tenant": "coke"]).status == 403)
                }
                let registered = try await server.request(.POST, "/api/v1/clusters", token: provider, json: body)
                #expect(registered.status == 201, "\(registered.text)")
                #expect(try await server.request(.GET, "/api/v1/clusters", token: provider).items.map { $0["name"] as? String } == ["spare"])
                // The pool cluster is still a managed physical cluster.
                let twice = try await server.request(.POST, "/api/v1/tenants/pepsi/clusters", token: fixture.tokens["pepsi-admin"], json: body)
                #expect(twice.status == 409)
                #expect(try await server.request(.POST, "/api/v1/clusters/spare/assign", token: provider, json: ["tenant": "nowhere"]).status == 422)
                let assigned = try await server.request(.POST, "/api/v1/clusters/spare/assign", token: provider, json: ["tenant": "coke"])
                #expect(assigned.status == 200 && assigned.object["tenant"] as? String == "coke")
                #expect(try await server.request(.GET, "/api/v1/clusters", token: provider).items.isEmpty)
                let cokeClusters = try await server.request(.GET, "/api/v1/tenants/coke/clusters", token: fixture.tokens["coke-admin"])
                #expect(cokeClusters.items.map { $0["name"] as? String } == ["spare"])
                // The provider no longer sees it (coke is sealed), but the tenant count shows it.
                #expect(try await server.request(.GET, "/api/v1/tenants/coke/clusters", token: provider).status == 403)
                #expect(try await server.request(.GET, "/api/v1/tenants/coke", token: provider).object["clusterCount"] as? Int == 1)
                #expect(try await server.request(.POST, "/api/v1/clusters/spare/assign", token: provider, json: ["tenant": "pepsi"]).status == 404)
            }
        }
    }
}
