import Foundation
import KubeAPI
import KubeSim
import Synchronization
import Testing
import TestSupport

@testable import CanopyServer

/// The fast lane at a graceful shutdown.
extension FastLaneTests {
    /// A graceful shutdown that begins while the lane answers, with a request for the router
    /// pipelined behind: both are answered in order, then the connection closes (well within
    /// the 30 s a busy connection is given).
    @Test func aShutdownDuringALaneAnswerLetsTheRequestsBehindItBeAnswered() async throws {
        let logs = LogRecorder(level: .error)
        let held = Mutex<RawBytes?>(nil)
        let stopping = Task {
            try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
                try await TestServer.with(tls: true, logs: logs) { server in
                    let fixture = try await ProxyTests.setUp(server, sim)
                    try await Self.fillWithConfigMaps(sim)
                    let member = try #require(fixture.tokens["coke-pm"])
                    try await Self.warm(server, token: member)
                    let before = server.services.fastLane.answered
                    let connection = try await RawBytes(server)
                    let requests = Self.rawGET(Self.configMaps, token: member) + Self.rawGET("/k8s/clusters/coke/onprem/api/v1/namespaces", token: member)
                    // The 24 MB answer stalls on the client, which stops reading by itself once
                    // the requests are written (TLS's handshake needs reads until then) and then
                    // reads only until the answer has begun (a client starved of CPU, polling,
                    // could take it all before it stopped); the shutdown begins.
                    try await connection.send(Array(requests.utf8))
                    try await connection.reading(false)
                    try await connection.waitFor(Array("HTTP/1.1 200 OK".utf8), onDemand: true)
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(server.services.fastLane.answered == before)
                    held.withLock { $0 = connection }
                    return connection.channel
                }
            }
        }
        let finished = Mutex(false)
        Task {
            _ = try? await stopping.value
            finished.withLock { $0 = true }
        }
        while held.withLock({ $0 }) == nil, !finished.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
        // Ended before handing the connection over: the set-up's error is the test's.
        guard let connection = held.withLock({ $0 }) else {
            _ = try await stopping.value
            throw TestFailure("the server stopped before the connection was handed over")
        }
        try await Task.sleep(for: .seconds(1))
        let resumed = ContinuousClock.now
        try await connection.reading(true)
        let received = try await connection.untilClosed(within: 60)
        #expect(ContinuousClock.now - resumed < .seconds(20), "closed \(ContinuousClock.now - resumed) after reading on")
        #expect(RawBytes.count("HTTP/1.1 200 OK", in: received) == 2, "\(String(decoding: received.prefix(300), as: UTF8.self))")
        let tail = String(decoding: received.suffix(4_000), as: UTF8.self)
        #expect(tail.contains("\"kind\":\"NamespaceList\"") && tail.contains("mkt-dev") && !tail.contains("sales-dev"), "\(tail.suffix(600))")
        #expect(await ShutdownTests.ends(within: 60, stopping), "the server did not stop")
        #expect(logs.messages.isEmpty, "\(logs.messages)")
    }

    /// A graceful shutdown does not wait on a connection that only the fast lane served.
    @Test func aConnectionOnlyTheFastLaneServedEndsAtShutdown() async throws {
        let logs = LogRecorder(level: .error)
        let answeredAt = Mutex<ContinuousClock.Instant?>(nil)
        let stopping = Task {
            try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
                try await TestServer.with(tls: true, logs: logs) { server in
                    let fixture = try await ProxyTests.setUp(server, sim)
                    let member = try #require(fixture.tokens["coke-pm"])
                    try await Self.warm(server, token: member)
                    let before = server.services.fastLane.answered
                    let connection = try await RawConnection(server)
                    let answers = try await connection.exchange([(Self.pods, member)])
                    #expect(answers.first?.head.status == .ok && server.services.fastLane.answered == before + 1)
                    answeredAt.withLock { $0 = .now }
                    return connection.channel
                }
            }
        }
        // Far past the setup's time under load; what counts is the time from the answer on.
        let ended = await ShutdownTests.ends(within: 120, stopping)
        #expect(ended, "the server did not stop")
        if ended {
            try? await stopping.value.close()
            let stoppedIn = answeredAt.withLock { $0 }.map { ContinuousClock.now - $0 }
            // The grace a busy connection gets is 30 s; an idle one must not wait for it.
            #expect(stoppedIn.map { $0 < .seconds(15) } == true, "stopped \(String(describing: stoppedIn)) after the answer")
        }
        #expect(logs.messages.isEmpty, "\(logs.messages)")
    }
}
