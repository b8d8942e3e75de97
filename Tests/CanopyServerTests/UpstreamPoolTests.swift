import CanopyModel
import KubeClient
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import TestSupport
@testable import CanopyServer

/// The fast lane's connections to a cluster, as the protocol the cluster chose makes them.
@Suite struct UpstreamPoolTests {
    static func target(_ sim: TestKubeSim, http2: Bool) throws -> UpstreamTarget {
        let connection = try Kubeconfig(yaml: sim.kubeconfig("a")).connection()
        guard case .token(let token) = connection.credential else { throw TestFailure("the sim's kubeconfig has no token") }
        return try UpstreamTarget(cluster: ClusterID("a"), version: 1, connection: connection, authorization: "Bearer \(token)", http2: http2)
    }

    /// Two event loops of the shared group (one when the machine has a single core).
    static var loops: (any EventLoop, any EventLoop) {
        var iterator = MultiThreadedEventLoopGroup.singleton.makeIterator()
        let first = iterator.next()!
        return (first, iterator.next() ?? first)
    }

    /// Once a cluster has chosen HTTP/2, a connection being made to it on an event loop is
    /// shared: the requests that arrive meanwhile wait for it (`pendingConnection`) instead of
    /// each making their own, and once made it takes their streams. A cluster not yet known to
    /// speak HTTP/2 is not waited for (it may answer HTTP/1.1, one request per connection).
    @Test func aConnectionBeingMadeToAnHTTP2ClusterIsWaitedFor() async throws {
        try await TestKubeSim.with { sim in
            let target = try Self.target(sim, http2: true)
            let pool = UpstreamPool()
            defer { pool.close() }
            let (first, second) = Self.loops
            let (firstConnection, waitedFirst) = try await first.flatSubmit { () -> EventLoopFuture<(UpstreamConnection, Bool)> in
                let made = pool.connect(target, on: first)
                // Not known to speak HTTP/2 yet: nothing to wait for.
                let waited = pool.pendingConnection(target, on: first) != nil
                return made.map { ($0, waited) }
            }.get()
            #expect(!waitedFirst)
            guard case .http2(let multiplexed) = firstConnection else {
                Issue.record("the cluster did not choose HTTP/2")
                return
            }
            #expect(try await first.submit { pool.multiplexedConnection(target, on: first) === multiplexed }.get())

            let (waited, kept) = try await second.flatSubmit { () -> EventLoopFuture<(Bool, Bool)> in
                // An event loop without a connection of its own (on a single core, the first one's
                // is retired to make it so): one being made is waited for.
                pool.multiplexedConnection(target, on: second)?.retire()
                let made = pool.connect(target, on: second)
                let waited = pool.pendingConnection(target, on: second) === made
                return made.map { connection in
                    guard case .http2(let connection) = connection else { return (waited, false) }
                    return (waited, pool.pendingConnection(target, on: second) == nil && pool.multiplexedConnection(target, on: second) === connection)
                }
            }.get()
            #expect(waited && kept)
        }
    }

    /// A retired connection (a stream failed on it before its answer: the cluster is leaving)
    /// takes no more streams; a cluster that offers HTTP/1.1 only, or a lane that does not ask
    /// for HTTP/2, gets HTTP/1.1 connections, which are never shared.
    @Test(arguments: [(true, false), (false, true)]) func http1ConnectionsAreNotShared(offered: Bool, asked: Bool) async throws {
        try await TestKubeSim.with(http2: offered) { sim in
            let target = try Self.target(sim, http2: asked)
            let pool = UpstreamPool()
            defer { pool.close() }
            let (loop, _) = Self.loops
            let connection = try await loop.flatSubmit { pool.connect(target, on: loop) }.get()
            guard case .http1(let channel) = connection else {
                Issue.record("HTTP/2 was chosen")
                return
            }
            defer { channel.close(promise: nil) }
            let shared = try await loop.submit { pool.pendingConnection(target, on: loop) != nil || pool.multiplexedConnection(target, on: loop) != nil }.get()
            #expect(!shared)
        }
    }

    @Test func aRetiredConnectionTakesNoMoreStreams() async throws {
        try await TestKubeSim.with { sim in
            let target = try Self.target(sim, http2: true)
            let pool = UpstreamPool()
            defer { pool.close() }
            let (loop, _) = Self.loops
            let connection = try await loop.flatSubmit { pool.connect(target, on: loop) }.get()
            guard case .http2(let multiplexed) = connection else {
                Issue.record("the cluster did not choose HTTP/2")
                return
            }
            let (before, after) = try await loop.submit { () -> (Bool, Bool) in
                let before = pool.multiplexedConnection(target, on: loop) === multiplexed
                multiplexed.retire()
                return (before, pool.multiplexedConnection(target, on: loop) == nil)
            }.get()
            #expect(before && after)
        }
    }

    /// A cluster that says it is going away (GOAWAY, here KubeSim's graceful shutdown) has its
    /// HTTP/2 connection retired: no new request is sent on it.
    @Test func aClusterGoingAwayRetiresItsHTTP2Connection() async throws {
        let pool = UpstreamPool()
        defer { pool.close() }
        let (loop, _) = Self.loops
        let made = try await TestKubeSim.with { sim -> MultiplexedConnection in
            let target = try Self.target(sim, http2: true)
            let connection = try await loop.flatSubmit { pool.connect(target, on: loop) }.get()
            guard case .http2(let multiplexed) = connection else { throw TestFailure("the cluster did not choose HTTP/2") }
            // One request answered on it first: a connection the cluster has read nothing from
            // yet is closed at shutdown without a GOAWAY (once so under load).
            try await loop.flatSubmit { () -> EventLoopFuture<Void> in
                multiplexed.openStream().flatMap { stream in
                    var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.basePath + "/version")
                    head.headers.add(name: "Host", value: target.hostHeader)
                    stream.write(HTTPClientRequestPart.head(head), promise: nil)
                    stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    return stream.closeFuture
                }
            }.get()
            #expect(try await loop.submit { !multiplexed.retired }.get())
            return multiplexed
        }
        try await made.channel.closeFuture.get()
        #expect(try await loop.submit { made.retired }.get())
    }

    /// A connection put back is taken by the next request; one left idle longer than the pool
    /// keeps them is closed by the event loop's sweep (and not taken), while one put back since
    /// stays.
    @Test func idleConnectionsAreClosedAfterTheirTime() async throws {
        try await TestKubeSim.with(http2: false) { sim in
            let target = try Self.target(sim, http2: false)
            let pool = UpstreamPool(keepIdle: .seconds(2), sweepInterval: .milliseconds(100))
            defer { pool.close() }
            let (loop, _) = Self.loops
            func connect() async throws -> any Channel {
                guard case .http1(let channel) = try await loop.flatSubmit({ pool.connect(target, on: loop) }).get() else {
                    throw TestFailure("HTTP/2 was chosen")
                }
                return channel
            }
            let old = try await connect(), fresh = try await connect()
            try await loop.submit { pool.put(old, target, on: loop) }.get()
            #expect(try await loop.submit { pool.take(target, on: loop) === old }.get())
            try await loop.submit { pool.put(old, target, on: loop) }.get()
            try await Task.sleep(for: .milliseconds(1200))
            try await loop.submit { pool.put(fresh, target, on: loop) }.get()
            _ = try await eventually(within: 10, "the idle connection closes") { !old.isActive }
            #expect(fresh.isActive)
            #expect(try await loop.submit { (pool.take(target, on: loop) === fresh, pool.take(target, on: loop) == nil) }.get() == (true, true))
            fresh.close(promise: nil)
        }
    }
}
