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
            // upgrade, naming pods/exec (kubectl then tries SPDY and gets the same answer).
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

/// `port-forward` against KubeSim's echo pods: kubectl's SPDY tunnel and the channel protocol
/// client libraries speak.
@Suite struct PortForwardSimTests {
    /// Real kubectl: each local connection is its own pair of SPDY streams in one session; a
    /// 300 KiB payload crosses in many frames; who may not port-forward gets the real Forbidden.
    @Test func kubectlPortForwardEchoesEveryConnection() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "team-a")
            #expect(try await kubectl.run("apply", "-f", "-", input: ExecTests.pod).status == 0)
            let large = (0..<300 * 1024).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let payloads = [Array("first connection".utf8), large, Array("third".utf8)]
            let forwarded = try await kubectl.portForward(["-n", "team-a", "pod/echo"], port: 8080, sending: payloads)
            #expect(forwarded.echoes.count == 3, "\(forwarded.output)")
            for (echo, payload) in zip(forwarded.echoes, payloads) {
                #expect(echo == payload, "\(echo.count) bytes back for \(payload.count): \(forwarded.output)")
            }
            #expect(forwarded.output.components(separatedBy: "Handling connection for").count == 4, "\(forwarded.output)")

            _ = try await kubectl.run("create", "rolebinding", "alice-view", "-n", "team-a", "--clusterrole=view", "--user=alice")
            let refused = try await kubectl.portForward(["-n", "team-a", "pod/echo", "--as", "alice"], port: 8080, sending: [[1]])
            #expect(refused.echoes.isEmpty)
            #expect(refused.output.contains("cannot create resource \"pods/portforward\""), "\(refused.output)")
        }
    }

    /// kubectl told not to use WebSockets upgrades to `SPDY/3.1`, as kubectl before v1.31 does:
    /// exec and port-forward echo the same; a refusal is the real Status before any upgrade; the
    /// sim's streams end when kubectl does.
    @Test func kubectlStreamsOverPlainSPDY() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let spdyOnly = ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"]
            _ = try await kubectl.run("create", "namespace", "team-a")
            #expect(try await kubectl.run("apply", "-f", "-", input: ExecTests.pod).status == 0)
            let large = (0..<300 * 1024).map { UInt8(truncatingIfNeeded: $0 &* 5) }
            let payloads = [Array("over spdy".utf8), large]
            let forwarded = try await kubectl.portForward(["-n", "team-a", "pod/echo"], port: 8080, sending: payloads, environment: spdyOnly)
            #expect(forwarded.echoes.count == 2, "\(forwarded.output)")
            for (echo, payload) in zip(forwarded.echoes, payloads) {
                #expect(echo == payload, "\(echo.count) bytes back for \(payload.count): \(forwarded.output)")
            }
            let input = (0..<5_000).map { "line \($0)\n" }.joined()
            let echoed = try await kubectl.run("exec", "-i", "-n", "team-a", "echo", "--", "cat", input: input, environment: spdyOnly)
            #expect(echoed.status == 0 && echoed.output == input, "\(echoed.output.prefix(300))")
            let quiet = try await kubectl.run("exec", "-n", "team-a", "echo", "--", "true", environment: spdyOnly)
            #expect(quiet.status == 0 && quiet.output.isEmpty, "\(quiet.output)")

            _ = try await kubectl.run("create", "rolebinding", "alice-view", "-n", "team-a", "--clusterrole=view", "--user=alice")
            let refused = try await kubectl.run("exec", "-i", "-n", "team-a", "echo", "--as", "alice", "--", "cat", input: "x", environment: spdyOnly)
            #expect(refused.status != 0 && refused.output.contains("User \"alice\" cannot create resource \"pods/exec\""), "\(refused.output)")
            let missing = try await kubectl.run("exec", "-i", "-n", "team-a", "nope", "--", "cat", input: "x", environment: spdyOnly)
            #expect(missing.status != 0 && missing.output.contains("pods \"nope\" not found"), "\(missing.output)")

            let deadline = ContinuousClock.now + .seconds(10)
            while sim.sim.openStreams > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(sim.sim.openStreams == 0, "\(sim.sim.openStreams) SPDY sessions still open after kubectl ended")
        }
    }

    @Test func everyPortOpensItsChannelsAndEchoes() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "team-a")
            #expect(try await kubectl.run("apply", "-f", "-", input: ExecTests.pod).status == 0)
            let url = "wss://" + sim.baseURL.dropFirst("https://".count) + "/clusters/a/api/v1/namespaces/team-a/pods/echo/portforward?ports=8080"
            let rounds = Int(ProcessInfo.processInfo.environment["CANOPY_TEST_PORT_FORWARD_ROUNDS"] ?? "") ?? 3
            for _ in 0..<rounds {
                let forwarded = try await PortForwardClient.exchange(
                    url: url, token: sim.sim.adminToken, trusting: sim.sim.certificate.certificatePEM, serverName: "localhost", sending: [1, 2, 3]
                )
                #expect(forwarded == [[0, 0x90, 0x1F], [1, 0x90, 0x1F], [0, 1, 2, 3]], "\(forwarded)")
            }
        }
    }
}
