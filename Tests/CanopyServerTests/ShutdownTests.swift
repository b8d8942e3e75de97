import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestSupport

/// A graceful shutdown ends even while a client holds a connection it never sent a request on
/// (connection pools keep such connections when overlapping requests finish early). Such a
/// connection used to hold Canopy's and KubeSim's shutdown open for as long as the client kept
/// it: the test suite hung on it now and then. (Usually the connection closes at once; if the
/// shutdown event raced past it, within the first-request timeout of 20 s.)
@Suite struct ShutdownTests {
    /// Opens a TCP connection to `baseURL`'s port, sends nothing, and gives the server time to
    /// take it in.
    static func idleConnection(to baseURL: String) async throws -> any Channel {
        let port = try #require(baseURL.split(separator: ":").last.flatMap { Int($0) })
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await Task.sleep(for: .seconds(1))
        return channel
    }

    /// Whether `stopping` ends within `seconds` (a task that hangs is left behind, not awaited).
    static func ends(within seconds: Int, _ stopping: Task<any Channel, any Error>) async -> Bool {
        let ended = Mutex(false)
        Task {
            _ = try? await stopping.value
            ended.withLock { $0 = true }
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if ended.withLock({ $0 }) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test(arguments: [false, true]) func canopyStopsWithAnUnusedConnectionOpen(tls: Bool) async throws {
        let stopping = Task { try await TestServer.with(tls: tls) { server in try await Self.idleConnection(to: server.baseURL) } }
        let ended = await Self.ends(within: 40, stopping)
        #expect(ended, "the server did not stop within 40 s")
        if ended { try? await stopping.value.close() }
    }

    @Test func kubeSimStopsWithAnUnusedConnectionOpen() async throws {
        let stopping = Task { try await TestKubeSim.with { sim in try await Self.idleConnection(to: sim.baseURL) } }
        let ended = await Self.ends(within: 40, stopping)
        #expect(ended, "KubeSim did not stop within 40 s")
        if ended { try? await stopping.value.close() }
    }
}
