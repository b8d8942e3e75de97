import Foundation
import KubeClient
import KubeSim
import Testing
import TestSupport

/// `kubectl exec` against KubeSim's echo pods, over the WebSocket protocol kubectl speaks.
@Suite struct ExecTests {
    static let pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: echo, namespace: team-a}
        spec:
          containers: [{name: c, image: busybox, resources: {requests: {cpu: 10m, memory: 16Mi}}}]
        """

    @Test func execRoundTripsStdinThroughTheEchoPod() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "team-a")
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pod).status == 0)
            let echoed = try await kubectl.run("exec", "-i", "-n", "team-a", "echo", "--", "cat", input: "hello\nworld\n")
            #expect(echoed.status == 0, "\(echoed.output)")
            #expect(echoed.output == "hello\nworld\n", "\(echoed.output)")

            // view may read the pod but not exec into it. The refusal is an HTTP 403 before any
            // upgrade, naming pods/exec (kubectl then tries SPDY, which KubeSim does not serve).
            _ = try await kubectl.run("create", "rolebinding", "alice-view", "-n", "team-a", "--clusterrole=view", "--user=alice")
            #expect(try await kubectl.run("exec", "-i", "-n", "team-a", "echo", "--as", "alice", "--", "cat", input: "x").status != 0)
            sim.sim.addToken("alice-token", user: "alice")
            let alice = try KubeClient(connection: Kubeconfig(yaml: sim.sim.kubeconfig(cluster: "a", baseURL: sim.baseURL, user: "alice", token: "alice-token")).connection())
            let refused = await #expect(throws: KubeError.self) { try await alice.send(.GET, "/api/v1/namespaces/team-a/pods/echo/exec", query: ["command": "cat", "stdin": "true"]) }
            #expect(refused?.httpCode == 403)
            #expect(refused?.status?.message == "pods \"echo\" is forbidden: User \"alice\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"team-a\"")
            _ = try await kubectl.run("create", "rolebinding", "alice-edit", "-n", "team-a", "--clusterrole=edit", "--user=alice")
            #expect(try await kubectl.run("exec", "-i", "-n", "team-a", "echo", "--as", "alice", "--", "cat", input: "as alice").output == "as alice")
            // Allowed, but not an upgrade: what a real server says.
            let plain = await #expect(throws: KubeError.self) { try await alice.send(.GET, "/api/v1/namespaces/team-a/pods/echo/exec", query: ["command": "cat"]) }
            #expect(plain?.httpCode == 400 && plain?.status?.message == "Upgrade request required")
            try await alice.shutdown()
            let missing = try await kubectl.run("exec", "-i", "-n", "team-a", "nope", "--", "cat", input: "x")
            #expect(missing.output.contains("pods \"nope\" not found"), "\(missing.output)")
        }
    }
}
