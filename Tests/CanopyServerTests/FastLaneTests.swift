import Foundation
import KubeAPI
import KubeClient
import KubeSim
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import TestSupport

@testable import CanopyServer

/// The kube proxy's fast lane (`ProxyFastLane`): plain GETs answered below Hummingbird. Which
/// requests it takes is read from the server's own count of what it answered.
@Suite struct FastLaneTests {
    static let pods = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods"

    /// Sets up the proxy fixture, and waits until the fast lane answers a member's GET (the
    /// first GET fills the token cache and readies the cluster's connection details). Canopy must
    /// log no error (Hummingbird would, for a connection it never saw a request on, were it not
    /// told that the connection's input ended).
    /// `http2`: the cluster offers HTTP/2 and Canopy asks for it (`clusterHTTP2`); else the
    /// cluster offers HTTP/1.1 only. `laneHTTP2: false` leaves Canopy at its default (HTTP/1.1).
    static func withFastLane(
        http2: Bool = true, laneHTTP2: Bool = true, configure: @Sendable @escaping (inout ServerConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestKubeSim, TestServer, Fixture) async throws -> Void
    ) async throws {
        let logs = LogRecorder(level: .error)
        defer { #expect(logs.messages.isEmpty, "\(logs.messages)") }
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"], http2: http2) { sim in
            let configure: @Sendable (inout ServerConfiguration) -> Void = { configuration in
                configuration.clusterHTTP2 = laneHTTP2
                configure(&configuration)
            }
            try await TestServer.with(tls: true, configure: configure, logs: logs) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                try await warm(server, token: fixture.tokens["coke-pm"])
                try await body(sim, server, fixture)
            }
        }
    }

    /// Waits until the fast lane answers a GET with `token`. The lane trusts a token record for
    /// as long as the authenticator's cache does (10 seconds, counted from when it was read); the
    /// record is dropped first, so that the request that reads it again starts those 10 seconds
    /// now and the test's next requests (even on a loaded machine) find it fresh.
    static func warm(_ server: TestServer, token: String?) async throws {
        if let token, let identity = try await server.services.authenticator.identity(forToken: token) {
            server.services.authenticator.forget(tokenIDs: [identity.tokenID])
        }
        try await eventually(within: 10, "the fast lane answers") {
            let before = server.services.fastLane.answered
            let answer = try await server.request(.GET, pods, token: token)
            return answer.status == 200 && server.services.fastLane.answered > before
        }
    }

    /// A plain GET as raw HTTP/1.1, as kubectl writes it.
    static func rawGET(_ path: String, token: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nAuthorization: Bearer \(token)\r\n\r\n"
    }

    /// Creates pod `name` in mkt-dev and readies the lane for the project member; the member's
    /// token and how many requests the lane had answered.
    static func memberWithPod(_ name: String, _ sim: TestKubeSim, _ server: TestServer, _ fixture: Fixture) async throws -> (token: String, answered: Int) {
        _ = try await PlacementTests.client(sim, "onprem").create(ProxyTests.pod(name, "mkt-dev"))
        let member = try #require(fixture.tokens["coke-pm"])
        try await warm(server, token: member)
        return (member, server.services.fastLane.answered)
    }

    /// 24 ConfigMaps of 1 MB in mkt-dev: a list of them is an answer far longer than the sockets'
    /// buffers.
    static let configMaps = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/configmaps"
    static func fillWithConfigMaps(_ sim: TestKubeSim) async throws {
        let cluster = try PlacementTests.client(sim, "onprem")
        let blob = String(repeating: "y", count: 1_000_000)
        for index in 0..<24 {
            _ = try await cluster.create(ConfigMap(metadata: ObjectMeta(name: "big-\(index)", namespace: "mkt-dev"), data: ["blob": blob]))
        }
    }

    /// Requests on one connection are answered in their order, whichever way each goes: the fast
    /// lane, or the router behind it (filtered views, refusals, the API). One at a time, each
    /// plain GET is the lane's; written back to back (HTTP pipelining), a request that arrives
    /// while the router still answers an earlier one goes to the router too, so that answers keep
    /// their order.
    @Test func requestsAreAnsweredInOrderWhicheverWayTheyGo() async throws {
        try await Self.withFastLane { sim, server, fixture in
            let cluster = try PlacementTests.client(sim, "onprem")
            for name in ["a", "b"] { _ = try await cluster.create(ProxyTests.pod(name, "mkt-dev")) }
            let member = try #require(fixture.tokens["coke-pm"])
            // Path, token, status, whether the lane takes it.
            let requests: [(String, String?, Int, Bool)] = [
                (Self.pods + "/a", member, 200, true),
                ("/k8s/clusters/coke/onprem/api/v1/namespaces/sales-dev/pods", member, 403, true),
                ("/k8s/clusters/coke/onprem/api/v1/namespaces", member, 200, false),
                (Self.pods + "/b", member, 200, true),
                (Self.pods + "/a", "cnp_not-a-token", 401, false),
                ("/k8s/clusters/pepsi/west/api/v1/namespaces/default/pods", member, 404, false),
                ("/api/v1/tenants/coke/projects", member, 200, false),
                (Self.pods + "/missing", member, 404, true),
                ("/k8s/clusters/coke/onprem/api/v1/pods", member, 200, false),
                (Self.pods + "?watch=false", member, 200, false),
                (Self.pods + "/b", member, 200, true),
            ]
            func check(_ answers: [RawConnection.Answer]) {
                #expect(answers.count == requests.count)
                for ((path, _, status, _), answer) in zip(requests, answers) {
                    let text = String(buffer: answer.body)
                    #expect(Int(answer.head.status.code) == status, "\(path): \(answer.head.status) \(text.prefix(200))")
                    if path.hasSuffix("/a") || path.hasSuffix("/b"), status == 200 {
                        #expect(text.contains("\"name\":\"\(path.suffix(1))\""), "\(path): \(text.prefix(200))")
                    }
                    if path.hasSuffix("/namespaces") {
                        #expect(text.contains("\"mkt-dev\"") && !text.contains("sales-dev"), "\(text.prefix(300))")
                    }
                }
            }

            let connection = try await RawConnection(server)
            defer { connection.channel.close(promise: nil) }
            var oneAtATime: [RawConnection.Answer] = []
            for (path, token, _, taken) in requests {
                try await Self.warm(server, token: member)
                let before = server.services.fastLane.answered
                oneAtATime += try await connection.exchange([(path, token)])
                #expect(server.services.fastLane.answered - before == (taken ? 1 : 0), "\(path)")
            }
            check(oneAtATime)

            try await Self.warm(server, token: member)
            let before = server.services.fastLane.answered
            check(try await RawConnection.pipelined(server, requests.map { ($0.0, $0.1) }))
            // The two before the first request the router answers.
            #expect(server.services.fastLane.answered - before == 2)
        }
    }

    /// Many lane GETs written back to back: far more wait behind the first than the lane reads
    /// ahead (`FastLaneHandler.maxWaiting`), so reading pauses and resumes; every one is the
    /// lane's and answered in order, and the connection reads the next request afterwards.
    @Test func manyPipelinedLaneRequestsAreAnsweredInOrderAndReadingResumes() async throws {
        try await Self.withFastLane { sim, server, fixture in
            let cluster = try PlacementTests.client(sim, "onprem")
            for name in ["a", "b"] { _ = try await cluster.create(ProxyTests.pod(name, "mkt-dev")) }
            let member = try #require(fixture.tokens["coke-pm"])
            try await Self.warm(server, token: member)
            // 30 requests, 60 parts (a head and an end each): well over `maxWaiting`, and few
            // enough to be answered within the token record's 10 seconds on a loaded machine.
            let names = (0..<30).map { $0 % 3 == 0 ? "a" : "b" }
            let connection = try await RawConnection(server)
            defer { connection.channel.close(promise: nil) }
            let before = server.services.fastLane.answered, started = ContinuousClock.now
            let answers = try await connection.exchange(names.map { (Self.pods + "/" + $0, member) })
            let took = ContinuousClock.now - started
            #expect(answers.count == names.count)
            for (name, answer) in zip(names, answers) {
                let text = String(buffer: answer.body)
                #expect(answer.head.status == .ok && text.contains("\"name\":\"\(name)\""), "\(name): \(answer.head.status) \(text.prefix(200))")
            }
            #expect(server.services.fastLane.answered - before == names.count, "answered in \(took)")
            let next = try await connection.exchange([(Self.pods + "/a", member)])
            #expect(next.first?.head.status == .ok)
        }
    }

    /// Answers far larger than a socket's buffers stream through whole; a revoked token is
    /// refused at the next request; a cluster that goes away gives a 503 `Status` (the kept
    /// connections to it are found dead), and the lane serves again once it is back.
    @Test func largeAnswersRevocationAndAClusterGoingAway() async throws {
        try await Self.withFastLane { sim, server, fixture in
            let cluster = try PlacementTests.client(sim, "onprem")
            let blob = String(repeating: "x", count: 60_000)
            for index in 0..<60 {
                let map = ConfigMap(metadata: ObjectMeta(name: "map-\(index)", namespace: "mkt-dev"), data: ["blob": blob])
                _ = try await cluster.create(map)
            }
            let member = try #require(fixture.tokens["coke-pm"])
            let path = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/configmaps"
            try await Self.warm(server, token: member)
            var before = server.services.fastLane.answered
            let answers = try await RawConnection.pipelined(server, [(path, member), (path + "/map-7", member)])
            let list = try JSONSerialization.jsonObject(with: Data(answers[0].body.readableBytesView)) as? [String: Any]
            // The 60 maps (and the namespace's kube-root-ca.crt, which the cluster put there).
            let maps = (list?["items"] as? [[String: Any]] ?? []).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }.filter { $0.hasPrefix("map-") }
            #expect(maps.count == 60, "\(answers[0].head)")
            #expect(answers[0].body.readableBytes > 3_600_000)
            #expect(String(buffer: answers[1].body).contains("\"map-7\""))
            #expect(server.services.fastLane.answered - before == 2)

            // Revoked: the next request is refused, by the usual way (the lane no longer knows it).
            let revoker = try await server.request(.POST, "/api/v1/tokens", token: member, json: ["description": "revoke me"])
            let token = try #require(revoker.object["token"] as? String), tokenID = try #require(revoker.object["id"] as? String)
            #expect(try await server.request(.GET, Self.pods, token: token).status == 200)
            #expect(try await server.request(.GET, Self.pods, token: token).status == 200)
            try Fixture.expect(await server.request(.DELETE, "/api/v1/tokens/\(tokenID)", token: member), 204)
            #expect(try await server.request(.GET, Self.pods, token: token).status == 401)

            // Down: the answer is a Status, from the lane itself.
            try await Self.warm(server, token: member)
            try #require(sim.sim.clusters["onprem"]).makeUnreachable(for: 4)
            before = server.services.fastLane.answered
            let down = try await server.request(.GET, Self.pods, token: member)
            #expect(down.status == 503 && down.object["kind"] as? String == "Status", "\(down.status) \(down.text)")
            #expect((down.object["message"] as? String)?.contains("the cluster cannot be reached through Canopy") == true, "\(down.text)")
            #expect(server.services.fastLane.answered - before == 1)
            try await eventually(within: 15, "the cluster answers again") {
                try await server.request(.GET, Self.pods, token: member).status == 200
            }
        }
    }

    /// Bytes that are no request, right behind a GET the lane answers: the GET is answered whole
    /// first, then the broken request gets its 400 and the connection closes (the 400 never cuts
    /// into the answer before it).
    @Test func aBrokenRequestBehindALaneRequestWaitsItsTurn() async throws {
        try await Self.withFastLane { sim, server, fixture in
            let (member, before) = try await Self.memberWithPod("a", sim, server, fixture)
            let request = Self.rawGET("\(Self.pods)/a", token: member)
            let text = try await RawConnection.bytesUntilClosed(server, sending: request + "NOT HTTP AT ALL\r\n\r\n")
            #expect(server.services.fastLane.answered == before + 1)
            let answers = text.components(separatedBy: "HTTP/1.1 ").filter { !$0.isEmpty }
            #expect(answers.first?.hasPrefix("200") == true, "\(text.prefix(300))")
            let body = answers.first?.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n") ?? ""
            let pod = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect((pod?["metadata"] as? [String: Any])?["name"] as? String == "a", "\(body.prefix(300))")
            #expect(answers.count == 2 && answers.last?.hasPrefix("400 Bad Request") == true, "\(text.prefix(600))")
            // Alone, as a connection's first request, it gets the same (a server's plain answer).
            let alone = try await RawConnection.bytesUntilClosed(server, sending: "NOT HTTP AT ALL\r\n\r\n")
            #expect(alone.hasPrefix("HTTP/1.1 400 Bad Request"), "\(alone)")
        }
    }

    /// An upgrade (a WebSocket exec) written in the same packet right behind a GET the lane
    /// answers: the GET's answer comes first, then the upgrade goes through and the stream echoes
    /// (the lane's handler steps aside for the rest of the connection without losing what waited).
    @Test func anUpgradePipelinedBehindALaneRequestGoesThrough() async throws {
        try await Self.withFastLane { sim, server, fixture in
            let (member, before) = try await Self.memberWithPod("echo", sim, server, fixture)
            let get = Self.rawGET("\(Self.pods)/echo", token: member)
            let upgrade = "GET \(Self.pods)/echo/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\nHost: localhost\r\n"
                + "Authorization: Bearer \(member)\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
            let connection = try await RawBytes(server)
            try await connection.send(Array((get + upgrade).utf8))
            let switched = try await connection.waitFor(Array("HTTP/1.1 101 Switching Protocols".utf8))
            let text = String(decoding: switched, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 OK") && text.contains("\"name\":\"echo\""), "\(text.prefix(300))")
            #expect(server.services.fastLane.answered == before + 1)
            // stdin (channel 0) in a masked binary frame comes back on stdout (channel 1).
            let payload = [0] + Array("through the lane".utf8), mask: [UInt8] = [7, 1, 3, 9]
            try await connection.send([0x82, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
            try await connection.waitFor([1] + Array("through the lane".utf8))
            await connection.close()
        }
    }

    /// Which requests the lane takes, asked of a lane of the server's own services: a plain GET of
    /// a member; not the same GET with a body, an `Expect`, HTTP/1.0 or `Connection: close`, nor a
    /// watch, an escape, a dot segment, a filtered view, another method, or a refused caller.
    @Test func theLaneTakesOnlyPlainGets() async throws {
        try await Self.withFastLane { _, server, fixture in
            let member = try #require(fixture.tokens["coke-pm"])
            let lane = ProxyFastLane(services: server.services, clients: ProxyClients(clients: server.services.clusters))
            let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
            @Sendable func head(_ uri: String, _ method: HTTPMethod = .GET, version: HTTPVersion = .http1_1, token: String? = member, extra: [(String, String)] = []) -> HTTPRequestHead {
                var head = HTTPRequestHead(version: version, method: method, uri: uri)
                if let token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
                for (name, value) in extra { head.headers.add(name: name, value: value) }
                return head
            }
            @Sendable func takes(_ head: HTTPRequestHead) async throws -> Bool {
                try await eventLoop.submit { lane.take(head, eventLoop: eventLoop) != nil }.get()
            }
            // The first ask readies the cluster's connection details in the background.
            try await Self.warm(server, token: member)
            let plain = head(Self.pods)
            try await eventually(within: 10, "the lane's cluster details are ready") { try await takes(plain) }
            #expect(try await takes(head(Self.pods + "/a?pretty=true")))
            #expect(try await takes(head("/k8s/clusters/coke/onprem/api")))
            #expect(try await takes(head(Self.pods, extra: [("Content-Length", "0")])))
            let refused: [(String, HTTPRequestHead)] = [
                ("a body", head(Self.pods, extra: [("Content-Length", "5")])),
                ("chunked", head(Self.pods, extra: [("Transfer-Encoding", "chunked")])),
                ("expect", head(Self.pods, extra: [("Expect", "100-continue")])),
                ("HTTP/1.0", head(Self.pods, version: .http1_0)),
                ("close", head(Self.pods, extra: [("Connection", "close")])),
                ("watch", head(Self.pods + "?watch=true")),
                ("watch spelled otherwise", head(Self.pods + "?allowWatchBookmarks=true&watch=1")),
                ("escape", head(Self.pods + "/%61")),
                ("dot segment", head(Self.pods + "/../pods")),
                ("namespaces", head("/k8s/clusters/coke/onprem/api/v1/namespaces")),
                ("all namespaces", head("/k8s/clusters/coke/onprem/api/v1/pods")),
                ("POST", head(Self.pods, .POST)),
                ("HEAD", head(Self.pods, .HEAD)),
                ("no token", head(Self.pods, token: nil)),
                ("unknown token", head(Self.pods, token: "cnp_not-a-token")),
                ("another tenant's cluster", head("/k8s/clusters/pepsi/west/api/v1/namespaces/default/pods")),
                ("another tenant", head("/k8s/clusters/pepsi/west/api", token: fixture.tokens["coke-admin"])),
                ("no cluster", head("/k8s/clusters/coke")),
                ("not the proxy", head("/api/v1/tenants/coke/projects")),
            ]
            for (what, head) in refused {
                #expect(try await takes(head) == false, "\(what)")
            }
        }
    }

    /// The one rule every proxied path (router, fast lane, SPDY) uses for the client headers the
    /// cluster is never sent; streams keep `Connection` and `Upgrade`.
    @Test func clientCredentialsImpersonationAndHopByHopHeadersStayWithCanopy() {
        for name in ["authorization", "cookie", "impersonate-user", "impersonate-group", "impersonate-uid", "impersonate-extra-scopes", "host", "content-length", "transfer-encoding", "te", "trailer", "keep-alive", "proxy-connection"] {
            #expect(KubeProxy.isClientOnly(name), "\(name)")
            #expect(KubeProxy.isClientOnly(name, keepingUpgrade: true), "\(name)")
        }
        for name in ["connection", "upgrade"] {
            #expect(KubeProxy.isClientOnly(name))
            #expect(!KubeProxy.isClientOnly(name, keepingUpgrade: true))
        }
        for name in ["accept", "user-agent", "content-type", "x-stream-protocol-version", "accept-encoding"] {
            #expect(!KubeProxy.isClientOnly(name) && !KubeProxy.isClientOnly(name, keepingUpgrade: true), "\(name)")
        }
    }

    /// The byte-wise readers every proxied request goes through.
    @Test func bearerTokensAndPathsAreReadAsBytes() {
        #expect(KubeProxy.bearerToken("Bearer cnp_abc") == "cnp_abc")
        #expect(KubeProxy.bearerToken("bEaReR \t cnp_abc \t") == "cnp_abc")
        for refused in [nil, "Basic cnp_abc", "Bearer", "Bearer ", "Bearer   ", "Bearercnp_abc", "Bearer\tcnp_abc"] as [String?] {
            #expect(KubeProxy.bearerToken(refused) == nil, "\(String(describing: refused))")
        }
        let uri = "/x/api?labelSelector=a&watch=1"
        #expect(ProxyFastLane.occurs(Array("watch".utf8), in: uri.utf8[...]) && ProxyFastLane.occurs(Array("/a".utf8), in: uri.utf8[...]))
        #expect(!ProxyFastLane.occurs(Array("/.".utf8), in: uri.utf8[...]) && !ProxyFastLane.occurs(Array("watch=2".utf8), in: uri.utf8[...]))
        #expect(ProxyFastLane.occurs(Array("/.".utf8), in: "/a/./b".utf8[...]) && ProxyFastLane.occurs(Array("ww".utf8), in: "awww".utf8[...]))
        #expect(KubePath("/api/v1/namespaces/web/pods").segments == ["api", "v1", "namespaces", "web", "pods"])
        #expect(KubePath("/api/v1/namespaces/web").namespaceOfObject == nil)
        #expect(KubePath("/api/v1/namespaces/web/pods/p").namespaceOfObject == "web")
        #expect(KubePath("/api/v1/namespaces/").isNamespaceCollection && KubePath("//api//v1/namespaces").isNamespaceCollection)
        #expect(KubePath("/api/v1/pods").clusterWideResource! == ("/api/v1", "pods"))
        #expect(KubePath("//apis/apps/v1/deployments/").clusterWideResource! == ("/apis/apps/v1", "deployments"))
        #expect(KubePath("/api/v1/namespaces/web/pods").clusterWideResource == nil && KubePath("/").clusterWideResource == nil)
    }

    /// A client that leaves in the middle of a long answer: the lane ends the cluster's side of
    /// the request (rather than read the rest), as the cluster's side of any proxied request ends
    /// when its client goes: over HTTP/1.1 it closes its connection to the cluster, over HTTP/2 it
    /// resets the request's stream and keeps the connection for the requests that follow. The
    /// client either ends the connection (TLS close_notify, FIN) or resets it (as one leaving with
    /// unread bytes does); neither is logged as an error (a reset was, by Hummingbird, for a
    /// connection it never saw a request on).
    @Test(arguments: [false, true], [false, true]) func aClientLeavingMidAnswerEndsTheClustersSide(reset: Bool, http2: Bool) async throws {
        try await Self.withFastLane(http2: http2) { sim, server, fixture in
            try await Self.fillWithConfigMaps(sim)
            let member = try #require(fixture.tokens["coke-pm"])
            try await Self.warm(server, token: member)
            let lane = server.services.fastLane
            let (connected, open, abandoned, answered, streams) = (lane.connected, lane.open, lane.abandoned, lane.answered, lane.streams)
            let request = Self.rawGET(Self.configMaps, token: member)
            // The answer (24 MB) starts within the 2 seconds and is far from over when the client goes.
            try await RawConnection.leave(server, sending: request, after: .seconds(2), reset: reset)
            try await eventually(within: 10, "the lane sees the client go") { lane.abandoned == abandoned + 1 }
            if http2 {
                #expect(lane.streams == streams + 1)
                try await eventually(within: 10, "the request's stream is reset") { lane.openStreams == 0 }
                #expect(lane.open == open + (lane.connected - connected) && lane.open > 0)
                // The lane serves on (`warm` waits for it to answer a GET; that may come on another
                // event loop, with a connection of its own), and no connection closed.
                try await Self.warm(server, token: member)
                #expect(lane.answered > answered && lane.streams > streams + 1)
                #expect(lane.open == open + (lane.connected - connected))
            } else {
                #expect(lane.streams == 0)
                // The connection it used (kept or new) is closed; every other one is as it was.
                try await eventually(within: 10, "the cluster's connection closes") { lane.open == open + (lane.connected - connected) - 1 }
                #expect(lane.answered == answered)
            }
        }
    }

    /// A cluster slower than the proxy's deadline (here 3 s): the lane answers 503 with a
    /// `Status` once it passes and ends the cluster's side (closes its HTTP/1.1 connection,
    /// resets its HTTP/2 stream); the router's path (a filtered view) keeps the same deadline.
    @Test(arguments: [false, true]) func aClusterSlowerThanTheDeadlineGets503(http2: Bool) async throws {
        try await Self.withFastLane(http2: http2, configure: { $0.proxyDeadline = .seconds(3) }) { sim, server, fixture in
            let member = try #require(fixture.tokens["coke-pm"])
            let lane = server.services.fastLane
            let (answered, connected, open) = (lane.answered, lane.connected, lane.open)
            sim.sim.clusters["onprem"]!.faults.latencyMilliseconds = 10_000
            let started = ContinuousClock.now
            let slow = try await server.request(.GET, Self.pods, token: member)
            let took = ContinuousClock.now - started
            #expect(slow.status == 503, "\(slow.status) \(slow.text.prefix(300))")
            #expect(slow.object["kind"] as? String == "Status" && (slow.object["message"] as? String)?.contains("did not answer within 3 s") == true, "\(slow.text)")
            #expect(took >= .seconds(3) && took < .seconds(9), "answered after \(took)")
            #expect(lane.answered == answered + 1)
            if http2 {
                try await eventually(within: 5, "the request's stream is reset") { lane.openStreams == 0 }
                #expect(lane.open == open + (lane.connected - connected) && lane.open > 0)
            } else {
                // The connection the slow answer was to come on is not kept.
                // (Closing waits up to 5 s for the cluster's TLS close_notify, which a busy server may
                // send only once its answer is written.)
                try await eventually(within: 12, "the cluster's connection closed") { lane.open == open + (lane.connected - connected) - 1 }
            }
            // The router's path keeps the same deadline (a filtered view).
            let view = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/namespaces", token: member)
            #expect(view.status == 503 && view.object["kind"] as? String == "Status", "\(view.status) \(view.text.prefix(300))")
            sim.sim.clusters["onprem"]!.faults.latencyMilliseconds = 0
            #expect(try await server.request(.GET, Self.pods, token: member).status == 200)
        }
    }

    /// A cluster that offers HTTP/2 gets the lane's requests as streams of one connection per
    /// event loop, however many are under way at once, when Canopy asks for HTTP/2
    /// (`clusterHTTP2`); one that offers only HTTP/1.1, or any with Canopy's default, gets a
    /// connection per request under way (kept for the next). Every answer is the right one.
    @Test(arguments: [(true, true), (false, true), (true, false)])
    func concurrentGetsShareOneHTTP2Connection(offered: Bool, asked: Bool) async throws {
        let http2 = offered && asked
        try await Self.withFastLane(http2: offered, laneHTTP2: asked) { sim, server, fixture in
            let cluster = try PlacementTests.client(sim, "onprem")
            let names = (0..<8).map { "p\($0)" }
            for name in names { _ = try await cluster.create(ProxyTests.pod(name, "mkt-dev")) }
            let member = try #require(fixture.tokens["coke-pm"])
            try await Self.warm(server, token: member)
            let lane = server.services.fastLane
            let (connected, answered, streams) = (lane.connected, lane.answered, lane.streams)
            for _ in 0..<3 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<24 {
                        let name = names[index % names.count]
                        group.addTask {
                            let answer = try await server.request(.GET, Self.pods + "/" + name, token: member)
                            #expect(answer.status == 200 && answer.text.contains("\"name\":\"\(name)\""), "\(answer.status) \(answer.text.prefix(200))")
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(lane.answered - answered == 72)
            let loops = NIOSingletons.groupLoopCountSuggestion
            if http2 {
                #expect(lane.streams - streams == 72)
                #expect(lane.connected - connected <= loops, "\(lane.connected - connected) new connections")
            } else {
                #expect(lane.streams == 0)
                #expect(lane.connected - connected > loops, "\(lane.connected - connected) new connections")
            }
        }
    }

    /// Watches one after another on one kept-alive connection (as an informer's re-watches go):
    /// each one's wait on its client's end is dropped when it ends, so nothing piles up on the
    /// connection for as long as it lives (one action per watch did, before). The plain, filtered
    /// and fanned-out watches all go the router's way.
    @Test func watchesOnAKeptAliveConnectionLeaveNothingWaitingOnIt() async throws {
        try await Self.withFastLane { _, server, fixture in
            let member = fixture.tokens["coke-pm"]
            let connections = server.services.connections
            let connection = try await RawConnection(server)
            let paths = [
                Self.pods + "?watch=1&timeoutSeconds=1", "/k8s/clusters/coke/onprem/api/v1/namespaces?watch=1&timeoutSeconds=1",
                "/k8s/clusters/coke/onprem/api/v1/pods?watch=1&timeoutSeconds=1",
            ]
            for path in paths + paths {
                let answers = try await connection.exchange([(path, member)])
                #expect(answers.first?.head.status == .ok, "\(path): \(String(describing: answers.first?.head.status))")
            }
            try await eventually(within: 5, "nothing left waiting on the client") { connections.waitingOnClients == 0 }
            // A watch that runs waits on its client: the count is live.
            async let running = connection.exchange([(Self.pods + "?watch=1&timeoutSeconds=5", member)])
            try await eventually(within: 5, "the running watch counted") { connections.waitingOnClients == 1 }
            #expect(try await running.first?.head.status == .ok)
            try await eventually(within: 5, "and dropped when it ended") { connections.waitingOnClients == 0 }
            try await connection.channel.close()
        }
    }
}
