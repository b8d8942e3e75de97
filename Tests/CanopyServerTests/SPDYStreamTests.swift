import Foundation
import KubeSim
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing
import TestSupport
@testable import CanopyServer

/// kubectl's streams over plain `SPDY/3.1` upgrades through Canopy (kubectl before v1.31, or told
/// not to use WebSockets): relayed byte for byte once the cluster switches protocols, refused as
/// the cluster or Canopy answers otherwise.
@Suite struct SPDYStreamTests {
    static let spdyOnly = ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"]

    /// A member's exec (with and without stdin, 300 KiB through `cat`) and port-forward (two
    /// connections, one of 300 KiB) over SPDY; the cluster's streams all end when kubectl does;
    /// both are audited with the cluster's `101`; Canopy logs no error for any of it (Hummingbird,
    /// never given these requests, used to log one for each).
    @Test func memberStreamsOverSPDY() async throws {
        let logs = LogRecorder(level: .error)
        try await PortForwardTests.withEchoPod(logs: logs) { sim, server, fixture, member in
            let input = (0..<12_000).map { "line \($0) ünïcödé\n" }.joined()
            let echoed = try await member.run("exec", "-i", "echo", "--", "cat", input: input, environment: Self.spdyOnly)
            #expect(echoed.status == 0, "\(echoed.output.prefix(300))")
            #expect(echoed.output == input, "\(echoed.output.utf8.count) bytes back for \(input.utf8.count)")
            let quiet = try await member.run("exec", "echo", "--", "true", environment: Self.spdyOnly)
            #expect(quiet.status == 0 && quiet.output.isEmpty, "\(quiet.output)")

            let large = (0..<300 * 1024).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let payloads = [Array("over spdy".utf8), large]
            let forwarded = try await member.portForward(["pod/echo"], port: 8080, sending: payloads, environment: Self.spdyOnly)
            #expect(forwarded.echoes.count == 2, "\(forwarded.output)")
            for (echo, payload) in zip(forwarded.echoes, payloads) {
                #expect(echo == payload, "\(echo.count) bytes back for \(payload.count): \(forwarded.output)")
            }
            #expect(try await PortForwardTests.eventually { sim.sim.openStreams == 0 }, "\(sim.sim.openStreams) streams still open on the cluster")

            let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: fixture.tokens["coke-admin"])
            let targets = audit.items.compactMap { $0["target"] as? String }
            #expect(targets.contains { $0.contains("/pods/echo/exec") && $0.hasSuffix("-> 101") }, "\(targets)")
            #expect(targets.contains { $0.contains("/pods/echo/portforward") && $0.hasSuffix("-> 101") }, "\(targets)")
        }
        #expect(logs.messages.isEmpty, "\(logs.messages)")
    }

    /// A viewer's SPDY streams get the cluster's Forbidden as the impersonated viewer, whatever
    /// `--as` they send; another tenant's admin gets 404 from Canopy; a refused stream leaves no
    /// connection to the cluster open (a real API server keeps its own open after a 403).
    @Test func refusedSPDYStreams() async throws {
        try await PortForwardTests.withEchoPod { sim, server, fixture, _ in
            let viewer = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pv"], query: "style=token&project=marketing")
            defer { viewer.remove() }
            _ = try await viewer.run("config", "use-context", "marketing@onprem")
            let forbidden = "pods \"echo\" is forbidden: User \"canopy:coke:pv\" cannot create resource \"pods/exec\""
            let refused = try await viewer.run("exec", "-i", "echo", "--", "cat", input: "x", environment: Self.spdyOnly)
            #expect(refused.status != 0 && refused.output.contains(forbidden), "\(refused.output)")
            let escalating = try await viewer.run("exec", "-i", "--as", "kubesim-admin", "--as-group", "system:masters", "echo", "--", "cat", input: "x", environment: Self.spdyOnly)
            #expect(escalating.status != 0 && escalating.output.contains(forbidden), "\(escalating.output)")
            let forwarding = try await viewer.portForward(["pod/echo"], port: 8080, sending: [[1]], environment: Self.spdyOnly)
            #expect(forwarding.echoes.isEmpty && forwarding.output.contains("cannot create resource \"pods/portforward\""), "\(forwarding.output)")

            let config = try await server.request(.GET, "/api/v1/kubeconfig?style=token&project=marketing", token: fixture.tokens["coke-pm"]).text
            let token = try #require(config.split(separator: "\n").first { $0.contains("token: ") }?.split(separator: " ").last)
            let outsider = try Kubectl(kubeconfig: config.replacingOccurrences(of: String(token), with: fixture.tokens["pepsi-admin"]!))
            defer { outsider.remove() }
            _ = try await outsider.run("config", "use-context", "marketing@onprem")
            let unreachable = try await outsider.run("exec", "-i", "echo", "--", "cat", input: "x", environment: Self.spdyOnly)
            #expect(unreachable.status != 0 && unreachable.output.contains("could not find the requested resource"), "\(unreachable.output)")

            let before = sim.sim.connections.open
            for _ in 0..<6 {
                _ = try await viewer.run("exec", "-i", "echo", "--", "cat", input: "x", environment: Self.spdyOnly)
            }
            #expect(
                try await PortForwardTests.eventually { sim.sim.connections.open < before + 3 },
                "\(sim.sim.connections.open - before) more connections to the cluster after 6 refused SPDY streams"
            )
        }
    }

    /// The requests kubectl cannot be made to send, straight at Canopy: no or a bad token gets
    /// 401 and the connection closes; a SPDY upgrade on anything but a pod's stream is answered
    /// as the plain request (the member's filtered namespace list, not the cluster's); an
    /// accepted stream gets the cluster's `101` naming the protocol.
    @Test func spdyRequestsStraightAtCanopy() async throws {
        try await PortForwardTests.withEchoPod { _, server, fixture, _ in
            func send(_ method: HTTPMethod, _ path: String, token: String?) async throws -> ClusterExchange {
                try await Self.spdyRequest(server, method, path, token: token)
            }
            let exec = Self.exec
            for token in [nil, "not-a-canopy-token"] {
                let refused = try await send(.POST, exec, token: token)
                #expect(refused.head.status == .unauthorized && String(buffer: refused.body).contains("\"reason\":\"Unauthorized\""), "\(refused.head) \(String(buffer: refused.body))")
                #expect(refused.head.headers["connection"] == ["close"])
                #expect(try await Self.closes(refused.channel), "the connection stays open after the refusal")
            }
            let outsider = try await send(.POST, exec, token: fixture.tokens["pepsi-admin"])
            #expect(outsider.head.status == .notFound, "\(outsider.head)")
            #expect(try await Self.closes(outsider.channel), "the connection stays open after the refusal")

            let namespaces = try await send(.GET, "/k8s/clusters/coke/onprem/api/v1/namespaces", token: fixture.tokens["coke-pm"])
            let names = try JSONDecoder().decode(NamespaceNames.self, from: Data(namespaces.body.readableBytesView)).items.map(\.metadata.name)
            #expect(namespaces.head.status == .ok && names == ["mkt-dev"], "\(namespaces.head) \(names)")
            try? await namespaces.channel.close()

            let accepted = try await send(.POST, exec, token: fixture.tokens["coke-pm"])
            #expect(accepted.head.status == .switchingProtocols, "\(accepted.head)")
            #expect(accepted.head.headers["x-stream-protocol-version"] == ["v4.channel.k8s.io"], "\(accepted.head)")
            try? await accepted.channel.close()
        }
    }

    /// A cluster that drops every connection (down): a stream through Canopy ends at once with a
    /// 503 Status, as any proxied request to it does, before any upgrade (SPDY or WebSocket).
    @Test func aClusterThatIsDownEndsStreamsAtOnce() async throws {
        try await PortForwardTests.withEchoPod { sim, server, fixture, _ in
            try #require(sim.sim.clusters["onprem"]).makeUnreachable(for: 120)
            let started = ContinuousClock.now
            let spdy = try await Self.spdyRequest(server, .POST, Self.exec, token: fixture.tokens["coke-pm"])
            let message = String(buffer: spdy.body)
            #expect(spdy.head.status == .serviceUnavailable && message.contains("\"reason\":\"ServiceUnavailable\"") && message.contains("the cluster"), "\(spdy.head) \(message)")

            let refused = try await Self.webSocketRequest(server, "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods/echo/portforward?ports=8080", token: fixture.tokens["coke-pm"])
            try? await refused.channel.close()
            let refusal = String(buffer: refused.body)
            #expect(refused.head.status == .serviceUnavailable && refusal.contains("\"reason\":\"ServiceUnavailable\""), "\(refused.head) \(refusal)")
            #expect(ContinuousClock.now - started < .seconds(20), "the streams took \(ContinuousClock.now - started) to fail")
            // Audited with the code the client got.
            let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: fixture.tokens["coke-admin"])
            let targets = audit.items.compactMap { $0["target"] as? String }
            #expect(targets.contains { $0.contains("/pods/echo/exec") && $0.hasSuffix("-> 503") }, "\(targets)")
            #expect(targets.contains { $0.contains("/pods/echo/portforward") && $0.hasSuffix("-> 503") }, "\(targets)")
        }
    }

    /// What Canopy takes as a SPDY stream: a pod's exec, attach or port-forward without a body;
    /// anything else is answered as a plain request.
    @Test func onlyBodilessPodStreamsAreClaimed() {
        func claims(_ path: String, _ headers: [(String, String)] = []) -> Bool {
            ProxySPDY.claims(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/k8s/clusters/coke/onprem" + path, headers: HTTPHeaders(headers)))
        }
        for subresource in ["exec?command=cat&stdin=true", "attach", "portforward?ports=80"] {
            #expect(claims("/api/v1/namespaces/mkt-dev/pods/echo/\(subresource)"))
        }
        let exec = "/api/v1/namespaces/mkt-dev/pods/echo/exec"
        #expect(claims(exec, [("Content-Length", "0")]))
        #expect(!claims(exec, [("Content-Length", "5")]))
        #expect(!claims(exec, [("Transfer-Encoding", "chunked")]))
        #expect(!claims("/api/v1/namespaces/mkt-dev/pods/echo/log"))
        #expect(!claims("/api/v1/namespaces/mkt-dev/pods/echo"))
        #expect(!claims("/api/v1/namespaces"))
        #expect(!claims("/apis/apps/v1/namespaces/mkt-dev/pods/echo/exec"))
        #expect(!claims("/api/v1/namespaces/mkt-dev/services/echo/exec"))
    }

    /// An established stream whose cluster goes away (its connection dropped) is closed on the
    /// client's side too; one whose client goes without a word is closed on the cluster's.
    @Test func aStreamEndsOnBothSidesWhenEitherGoes() async throws {
        try await PortForwardTests.withEchoPod { sim, server, fixture, _ in
            let first = try await Self.spdyRequest(server, .POST, Self.exec, token: fixture.tokens["coke-pm"])
            #expect(first.head.status == .switchingProtocols, "\(first.head)")
            #expect(try await PortForwardTests.eventually { sim.sim.openStreams == 1 }, "\(sim.sim.openStreams) streams open on the cluster")
            sim.sim.dropStreams()
            #expect(try await Self.closes(first.channel), "the client's side stays open after the cluster went away")
            #expect(try await PortForwardTests.eventually { sim.sim.openStreams == 0 })

            let second = try await Self.spdyRequest(server, .POST, Self.exec, token: fixture.tokens["coke-pm"])
            #expect(second.head.status == .switchingProtocols, "\(second.head)")
            #expect(try await PortForwardTests.eventually { sim.sim.openStreams == 1 })
            try await second.channel.close()
            #expect(try await PortForwardTests.eventually { sim.sim.openStreams == 0 }, "the cluster's session stays open after the client went")
        }
    }

    static let exec = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods/echo/exec?command=cat&stdin=true&stdout=true"

    /// A request asking for a SPDY upgrade, sent straight at Canopy over TLS, with `token`.
    static func spdyRequest(_ server: TestServer, _ method: HTTPMethod, _ path: String, token: String?) async throws -> ClusterExchange {
        try await upgradeRequest(server, method, path, token: token, asking: [
            ("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", "v4.channel.k8s.io"), ("Content-Length", "0"),
        ])
    }

    /// A request asking for a WebSocket upgrade to `subprotocol`, as client libraries open a
    /// stream, sent straight at Canopy over TLS, with `token`; for refusals, which are answered
    /// as plain requests (the answer of an accepted upgrade has no end to wait for).
    static func webSocketRequest(_ server: TestServer, _ path: String, token: String?, subprotocol: String = "v4.channel.k8s.io") async throws -> ClusterExchange {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        return try await upgradeRequest(server, .GET, path, token: token, asking: [
            ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Protocol", subprotocol),
        ])
    }

    private static func upgradeRequest(_ server: TestServer, _ method: HTTPMethod, _ path: String, token: String?, asking headers: [(String, String)]) async throws -> ClusterExchange {
        let port = try #require(URLComponents(string: server.baseURL)?.port)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try #require(server.certificatePEM).utf8)))
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
        head.headers.add(name: "Connection", value: "Upgrade")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return try await ClusterExchange.send(head, host: "127.0.0.1", port: port, sslContext: NIOSSLContext(configuration: tls), on: MultiThreadedEventLoopGroup.singleton.next())
    }

    private struct NamespaceNames: Decodable {
        struct Item: Decodable {
            struct Metadata: Decodable { let name: String }
            let metadata: Metadata
        }
        let items: [Item]
    }

    /// Whether `channel` is closed by its peer within 5 seconds.
    private static func closes(_ channel: any Channel) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while channel.isActive {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}
