import CanopyCertificates
import Foundation
import KubeSim
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import CanopyServer

/// `port-forward` through the proxy, as client libraries speak it (`v4.channel.k8s.io` over a
/// WebSocket).
@Suite struct PortForwardTests {
    /// The cluster opens the port's data and error channels with the port number, and bytes sent
    /// on the data channel come back from the pod's echo unchanged. A viewer (no
    /// `pods/portforward`) gets the cluster's refusal before any upgrade, as a plain 403.
    @Test func portForwardRoundTripsBytesThroughTheProxy() async throws {
        try await Self.withEchoPod { sim, server, fixture, _ in
            let url = "wss://" + server.baseURL.dropFirst("https://".count) + "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods/echo/portforward?ports=8080"
            let certificate = try #require(server.certificatePEM)
            let payload = Array("bytes through the proxy: ünïcödé".utf8)
            for _ in 0..<Self.rounds {
                let forwarded = try await PortForwardClient.exchange(
                    url: url, token: try #require(fixture.tokens["coke-pm"]), trusting: certificate, serverName: "localhost", sending: payload
                )
                #expect(forwarded == [[0, 0x90, 0x1F], [1, 0x90, 0x1F], [0] + payload], "\(forwarded)")
            }
            // Refused before any upgrade, as a real API server does: a plain 403 with the
            // cluster's Status (kubectl then falls back to SPDY, which is refused the same way).
            let path = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods/echo/portforward?ports=8080"
            let refused = try await SPDYStreamTests.webSocketRequest(server, path, token: fixture.tokens["coke-pv"])
            try? await refused.channel.close()
            let status = try JSONSerialization.jsonObject(with: Data(refused.body.readableBytesView)) as? [String: Any]
            let message = status?["message"] as? String ?? ""
            #expect(refused.head.status == .forbidden && status?["code"] as? Int == 403, "\(refused.head) \(String(buffer: refused.body))")
            #expect(message.contains("cannot create resource \"pods/portforward\""), "\(message)")
            #expect(!refused.head.headers.contains(name: "Sec-WebSocket-Accept"), "\(refused.head)")
            // Canopy's own refusals of an exec are plain answers too: no token, another tenant's
            // cluster, a token Canopy does not know.
            let exec = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods/echo/exec?command=cat&stdin=true&stdout=true"
            for (token, code) in [(nil, 401), (fixture.tokens["pepsi-admin"], 404), ("cnp_not-a-token", 401)] {
                let answer = try await SPDYStreamTests.webSocketRequest(server, exec, token: token, subprotocol: "v5.channel.k8s.io")
                try? await answer.channel.close()
                let body = try JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any]
                #expect(Int(answer.head.status.code) == code && body?["kind"] as? String == "Status" && body?["code"] as? Int == code, "\(answer.head) \(String(buffer: answer.body))")
            }

            // A cluster keeps its connection open after refusing an upgrade (as a real API
            // server does): Canopy must close it, not keep one per refusal.
            let before = sim.sim.connections.open
            for _ in 0..<12 {
                let again = try await SPDYStreamTests.webSocketRequest(server, path, token: fixture.tokens["coke-pv"])
                try? await again.channel.close()
            }
            #expect(try await Self.eventually { sim.sim.connections.open < before + 6 }, "\(sim.sim.connections.open - before) more connections to the cluster after 12 refused streams")
        }
    }

    /// Real kubectl's port-forward (a SPDY session tunnelled in the WebSocket) through Canopy:
    /// three connections (one of 300 KiB) echoed whole for a member; a viewer gets the cluster's
    /// Forbidden naming `pods/portforward` (refused before the upgrade, so kubectl prints it).
    /// Plain SPDY upgrades are in `SPDYStreamTests`.
    @Test func kubectlPortForwardThroughCanopy() async throws {
        try await Self.withEchoPod { sim, server, fixture, member in
            let large = (0..<300 * 1024).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let payloads = [Array("through canopy".utf8), large, Array("again".utf8)]
            let forwarded = try await member.portForward(["pod/echo"], port: 8080, sending: payloads)
            #expect(forwarded.echoes.count == 3, "\(forwarded.output)")
            for (echo, payload) in zip(forwarded.echoes, payloads) {
                #expect(echo == payload, "\(echo.count) bytes back for \(payload.count): \(forwarded.output)")
            }
            // kubectl, stopped, leaves without a WebSocket close: the session to the cluster
            // must end anyway (it used to stay open, and held Canopy's shutdown).
            #expect(try await Self.eventually { sim.sim.openStreams == 0 }, "\(sim.sim.openStreams) streams still open on the cluster")

            let viewer = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pv"], query: "style=token&project=marketing")
            defer { viewer.remove() }
            _ = try await viewer.run("config", "use-context", "marketing@onprem")
            let refused = try await viewer.portForward(["pod/echo"], port: 8080, sending: [[1]])
            #expect(refused.echoes.isEmpty)
            #expect(refused.output.contains("cannot create resource \"pods/portforward\""), "\(refused.output)")

        }
    }

    /// The fixture of `ProxyTests` (coke's project marketing on onprem and cloud) with the echo
    /// pod applied in mkt-dev by the project member, whose kubectl is passed along.
    /// `certificate` and `tlsServerName` as for `TestKubeSim.with`, `logs` for `TestServer.with`.
    static func withEchoPod(
        certificate: ServerCertificate? = nil, tlsServerName: String? = nil, logs: LogRecorder? = nil,
        _ body: @Sendable (TestKubeSim, TestServer, Fixture, Kubectl) async throws -> Void
    ) async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"], certificate: certificate, tlsServerName: tlsServerName) { sim in
            try await TestServer.with(tls: true, logs: logs) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let member = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token&project=marketing")
                defer { member.remove() }
                _ = try await member.run("config", "use-context", "marketing@onprem")
                let created = try await member.run("apply", "-f", "-", input: ProxyTests.echoPod)
                #expect(created.status == 0, "\(created.output)")
                try await body(sim, server, fixture, member)
            }
        }
    }

    /// Whether `condition` holds within 10 seconds.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    static let rounds = Int(ProcessInfo.processInfo.environment["CANOPY_TEST_PORT_FORWARD_ROUNDS"] ?? "") ?? 3
}
