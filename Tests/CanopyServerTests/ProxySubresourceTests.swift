import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// Pods' and service accounts' subresources through Canopy's proxy: `kubectl logs` and `logs -f`
/// (the container's lines stream to the caller as the cluster sends them, not held until the
/// answer ends; each role reads the logs its bindings allow, nobody another project's or another
/// tenant's) and `kubectl create token` (a member's, for their namespace's accounts).
@Suite struct ProxySubresourceTests {
    @Test func logsStreamThroughTheProxyToThoseWhoMayReadThem() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let cluster = try #require(sim.sim.clusters["onprem"])
                let admin = try PlacementTests.client(sim, "onprem")
                _ = try await admin.create(ProxyTests.pod("web", "mkt-dev"))
                _ = try await admin.create(ProxyTests.pod("ledger", "sales-dev"))
                try cluster.writeLog(namespace: "mkt-dev", pod: "web", "started")
                try cluster.writeLog(namespace: "sales-dev", pod: "ledger", "sales secret")

                var kubectls: [String: Kubectl] = [:]
                for role in ["pm", "pv", "sales-pa"] {
                    kubectls[role] = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-\(role)"], query: "style=token")
                }
                let pepsi = try await ProxyTests.kubectl(server, token: fixture.tokens["pepsi-admin"], query: "style=token")
                defer { for kubectl in Array(kubectls.values) + [pepsi] { kubectl.remove() } }
                let member = try #require(kubectls["pm"]), viewer = try #require(kubectls["pv"]), sales = try #require(kubectls["sales-pa"])
                _ = try await member.run("config", "use-context", "marketing@onprem")
                _ = try await viewer.run("config", "use-context", "marketing@onprem")

                // A member and a viewer read the log; the member follows it as lines are written.
                #expect(try await viewer.run("logs", "web", "-n", "mkt-dev").output == "started\n")
                let following = try member.start("logs", "-f", "web", "-n", "mkt-dev")
                try await eventually(within: 10, "the first line through the proxy") { following.output == "started\n" }
                for index in 1...3 {
                    try cluster.writeLog(namespace: "mkt-dev", pod: "web", "request \(index)")
                    try await eventually(within: 10, "line \(index) through the proxy as it is written") { following.output.hasSuffix("request \(index)\n") }
                }
                #expect(try await following.exitStatus(within: .milliseconds(300)) == nil, "\(following.output)")
                // The pod going ends the stream, and kubectl with it, cleanly.
                try await admin.delete(Pod.self, "web", namespace: "mkt-dev")
                #expect(try await following.exitStatus(within: .seconds(20)) == 0, "\(following.output)")
                #expect(following.output == "started\nrequest 1\nrequest 2\nrequest 3\n", "\(following.output)")

                // Another project's pod on the same cluster: the cluster's refusal, nothing of its log.
                let refused = try await member.run("logs", "ledger", "-n", "sales-dev")
                #expect(refused.status != 0 && refused.output.contains("forbidden") && !refused.output.contains("sales secret"), "\(refused.output)")
                #expect(try await sales.run("logs", "ledger", "-n", "sales-dev", "--context", "sales@onprem").output == "sales secret\n")
                // Another tenant does not learn that the cluster exists.
                let server404 = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods/web/log", token: fixture.tokens["pepsi-admin"])
                #expect(server404.status == 404, "\(server404.status) \(server404.text)")
                #expect(try await pepsi.run("config", "get-contexts", "-o", "name").output.contains("onprem") == false)
                // The provider of an msp tenant has no access to its clusters.
                let provider = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/namespaces/sales-dev/pods/ledger/log", token: fixture.tokens["provider"])
                #expect(provider.status == 404, "\(provider.status) \(provider.text)")
                #expect(!provider.text.contains("sales secret"))
            }
        }
    }

    @Test func membersMintTokensForTheirNamespacesAccountsAndViewersDoNot() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let member = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token")
                let viewer = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pv"], query: "style=token")
                defer { member.remove(); viewer.remove() }
                for kubectl in [member, viewer] { _ = try await kubectl.run("config", "use-context", "marketing@onprem") }
                let minted = try await member.run("create", "token", "default", "-n", "mkt-dev")
                #expect(minted.status == 0, "\(minted.output)")
                // The token is the cluster's, for the account: the cluster accepts it as that account.
                let robot = try Kubectl(kubeconfig: sim.sim.kubeconfig(
                    cluster: "onprem", baseURL: sim.baseURL, user: "robot", token: minted.output.trimmingCharacters(in: .whitespacesAndNewlines)
                ))
                defer { robot.remove() }
                let whoami = try await robot.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
                #expect(whoami.output == "system:serviceaccount:mkt-dev:default", "\(whoami.output)")
                let refused = try await viewer.run("create", "token", "default", "-n", "mkt-dev")
                #expect(refused.status != 0 && refused.output.contains(#"cannot create resource "serviceaccounts/token""#), "\(refused.output)")
                let otherProject = try await member.run("create", "token", "default", "-n", "sales-dev")
                #expect(otherProject.status != 0 && otherProject.output.contains("forbidden"), "\(otherProject.output)")
            }
        }
    }
}
