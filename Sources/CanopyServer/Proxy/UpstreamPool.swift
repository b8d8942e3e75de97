import CanopyModel
import Foundation
import KubeClient
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// Where one cluster's requests go, ready for the fast lane.
final class UpstreamTarget: Sendable {
    let cluster: ClusterID
    let version: Int
    let host: String
    let port: Int
    let sslContext: NIOSSLContext?
    /// The fast lane's: with `http2`, the same offering HTTP/2 before HTTP/1.1 (streams, which
    /// upgrade their connection, use `sslContext`, which offers nothing and so gets HTTP/1.1).
    let laneSSLContext: NIOSSLContext?
    /// Whether the lane offers HTTP/2 to this cluster (else it never looks for an HTTP/2
    /// connection to it).
    let offersHTTP2: Bool
    /// The name TLS sends and checks: `tls-server-name`, else the host unless it is an address.
    let serverName: String?
    let hostHeader: String
    /// The server URL's own path, without its trailing `/`.
    let basePath: String
    let authorization: String?
    let server: String

    convenience init(cluster: Cluster, client: KubeClient, http2: Bool) throws {
        try self.init(cluster: cluster.id, version: cluster.version, connection: client.connection, authorization: client.authorizationHeader, http2: http2)
    }

    init(cluster: ClusterID, version: Int, connection: Kubeconfig.Connection, authorization: String?, http2: Bool = false) throws {
        guard let base = URLComponents(string: connection.server), let host = base.host else {
            throw KubeError(.configuration, "bad cluster address \(connection.server)")
        }
        let isTLS = base.scheme == "https"
        let address = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.cluster = cluster
        self.version = version
        self.host = address
        port = base.port ?? (isTLS ? 443 : 80)
        let tls = isTLS ? try KubeClient.tlsConfiguration(for: connection) : nil
        sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        offersHTTP2 = http2 && tls != nil
        laneSSLContext = !http2 ? sslContext : try tls.map { tls in
            var offering = tls
            offering.applicationProtocols = ["h2", "http/1.1"]
            return try NIOSSLContext(configuration: offering)
        }
        let isAddress = (try? SocketAddress(ipAddress: address, port: 0)) != nil
        serverName = connection.tlsServerName.flatMap { $0.isEmpty ? nil : $0 } ?? (isAddress ? nil : address)
        hostHeader = base.port.map { "\(host):\($0)" } ?? host
        basePath = base.percentEncodedPath.hasSuffix("/") ? String(base.percentEncodedPath.dropLast()) : base.percentEncodedPath
        self.authorization = authorization
        server = connection.server
    }
}

/// The clusters' `UpstreamTarget`s, made once per cluster version from the proxy's client.
final class UpstreamTargets: Sendable {
    private let targets = Mutex<[ClusterID: (version: Int, target: UpstreamTarget?)]>([:])
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// The target of `cluster` when it is ready; when it is not, it is made in the background
    /// (the request goes the usual way meanwhile).
    func target(for cluster: Cluster, clients: ProxyClients) -> UpstreamTarget? {
        let (ready, start) = targets.withLock { targets -> (UpstreamTarget?, Bool) in
            if let entry = targets[cluster.id], entry.version >= cluster.version {
                return (entry.version == cluster.version ? entry.target : nil, false)
            }
            targets[cluster.id] = (cluster.version, nil)
            return (nil, true)
        }
        if start {
            let logger = logger
            Task {
                do {
                    let target = try UpstreamTarget(cluster: cluster, client: try await clients.client(for: cluster), http2: clients.http2)
                    self.targets.withLock { targets in
                        if targets[cluster.id]?.version == cluster.version { targets[cluster.id] = (cluster.version, target) }
                    }
                } catch {
                    // Tried again by a later request; meanwhile `KubeProxy` answers (and reports).
                    logger.debug("no fast lane to the cluster", metadata: ["cluster": "\(cluster.name)", "error": "\(error)"])
                    self.targets.withLock { targets in
                        if targets[cluster.id]?.version == cluster.version { targets[cluster.id] = nil }
                    }
                }
            }
        }
        return ready
    }

    /// The target of `cluster`, made now if it is not ready (for streams, which cannot go another
    /// way): one TLS context per cluster version, whatever path uses it.
    func ready(for cluster: Cluster, clients: ProxyClients) async throws -> UpstreamTarget {
        if let ready = target(for: cluster, clients: clients) { return ready }
        let target = try UpstreamTarget(cluster: cluster, client: try await clients.client(for: cluster), http2: clients.http2)
        targets.withLock { targets in
            if (targets[cluster.id]?.version ?? .min) <= cluster.version { targets[cluster.id] = (cluster.version, target) }
        }
        return target
    }
}

/// A connection to a cluster, as its TLS handshake settled it.
enum UpstreamConnection: Sendable {
    /// One request at a time; kept in the pool between requests.
    case http1(any Channel)
    /// Many requests at once, a stream each.
    case http2(MultiplexedConnection)
}

/// An HTTP/2 connection to a cluster. Used on its event loop only.
final class MultiplexedConnection: @unchecked Sendable {
    let channel: any Channel
    private let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    private let streams: StreamCount
    /// The cluster said it is going away (GOAWAY), or a stream on it failed before its answer (a
    /// broken connection): no new streams go to it.
    private(set) var retired = false
    /// Streams beyond this wait for a new connection rather than queue behind the cluster's
    /// limit (Go's HTTP/2 server allows 250 at once, NIO's 100).
    static let maxStreams = 100

    fileprivate init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer, streams: StreamCount) {
        self.channel = channel
        self.multiplexer = multiplexer
        self.streams = streams
    }

    var isUsable: Bool { !retired && channel.isActive && streams.open < Self.maxStreams }

    func retire() { retired = true }

    /// A new stream, ready for one request and its answer (HTTP/1 parts, as on an HTTP/1.1
    /// connection).
    func openStream() -> EventLoopFuture<any Channel> {
        multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                try stream.pipeline.syncOperations.addHandler(UpstreamLink())
            }
        }
    }
}

/// Retires an HTTP/2 connection once its cluster says it is going away (GOAWAY: a server
/// shutting down, or a Kubernetes API server with `--goaway-chance` sending clients elsewhere),
/// so that new requests go to a new connection at once rather than fail on this one first. The
/// streams under way finish as the cluster lets them.
final class GoingAwayWatcher: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let goingAway: () -> Void

    init(_ goingAway: @escaping () -> Void) { self.goingAway = goingAway }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { goingAway() }
        context.fireChannelRead(data)
    }
}

/// The open streams of one HTTP/2 connection; closes the connection once it has had none for
/// `UpstreamPool.idleTimeout`.
private final class StreamCount: NIOHTTP2StreamDelegate, @unchecked Sendable {
    private let eventLoop: any EventLoop
    private var count = 0
    private var idleClose: Scheduled<Void>?
    weak var channel: (any Channel)?

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    /// Read on the connection's event loop.
    var open: Int { count }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        count += 1
        idleClose?.cancel()
        idleClose = nil
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        count -= 1
        guard count == 0 else { return }
        idleClose = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: UpstreamPool.idleTimeout) { [weak self] in
            self?.channel?.close(promise: nil)
        }
    }
}

/// Idle connections to clusters, per cluster version and event loop (a connection serves
/// requests of its own event loop only, so nothing hops between threads). An idle connection is
/// closed after a minute (within five seconds more). A cluster that speaks HTTP/2 gets one
/// connection per event loop, carrying up to `MultiplexedConnection.maxStreams` requests at once.
final class UpstreamPool: Sendable {
    private struct Key: Hashable {
        let cluster: ClusterID
        let version: Int
        let eventLoop: ObjectIdentifier
    }

    private struct Idle: @unchecked Sendable {
        let channel: any Channel
        /// When it was put back.
        let since: NIODeadline
    }

    private let idle = Mutex<(open: Bool, channels: [Key: [Idle]])>((true, [:]))
    /// Per event loop that has kept a connection, the task that closes those idle for longer
    /// than `idleTimeout` (one task per loop, not a timer per connection put back: scheduling
    /// and cancelling one at every request was 1 % of the lane's CPU).
    private let sweepers = Mutex<(open: Bool, tasks: [ObjectIdentifier: RepeatedTask])>((true, [:]))
    private let multiplexed = Mutex<[Key: [MultiplexedConnection]]>([:])
    /// Connections being made to clusters known to speak HTTP/2: the requests that come
    /// meanwhile wait for them rather than each open one of their own.
    private let connecting = Mutex<[Key: EventLoopFuture<UpstreamConnection>]>([:])
    /// The cluster versions that chose HTTP/2.
    private let speakHTTP2 = Mutex<Set<ClusterVersion>>([])
    private struct ClusterVersion: Hashable {
        let cluster: ClusterID
        let version: Int
    }
    static let idleTimeout: TimeAmount = .seconds(60)
    static let maxIdle = 128
    /// How long a connection is kept idle, and how often an event loop's idle connections are
    /// looked at (one idle for `keepIdle` closes within `sweepInterval` more).
    let keepIdle: TimeAmount
    let sweepInterval: TimeAmount

    init(keepIdle: TimeAmount = UpstreamPool.idleTimeout, sweepInterval: TimeAmount = .seconds(5)) {
        self.keepIdle = keepIdle
        self.sweepInterval = sweepInterval
    }

    private func key(_ target: UpstreamTarget, _ eventLoop: any EventLoop) -> Key {
        Key(cluster: target.cluster, version: target.version, eventLoop: ObjectIdentifier(eventLoop))
    }

    /// An open idle connection to `target` on `eventLoop`, if there is one.
    func take(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> (any Channel)? {
        let key = key(target, eventLoop)
        while let found = idle.withLock({ $0.channels[key]?.popLast() }) {
            if found.channel.isActive { return found.channel }
        }
        return nil
    }

    /// An HTTP/2 connection to `target` on `eventLoop` that takes another stream, if there is
    /// one. Called on `eventLoop`.
    func multiplexedConnection(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> MultiplexedConnection? {
        let key = key(target, eventLoop)
        return multiplexed.withLock { connections in
            connections[key]?.removeAll { !$0.channel.isActive || $0.retired }
            return connections[key]?.first { $0.isUsable }
        }
    }

    /// A connection being made to `target` on `eventLoop` that the next request may wait for
    /// (the cluster chose HTTP/2 before), if there is one.
    func pendingConnection(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamConnection>? {
        let key = key(target, eventLoop)
        return connecting.withLock { $0[key] }
    }

    /// A new connection to `target` on `eventLoop` (`connect`). An HTTP/2 one is kept for the
    /// requests that follow (unless the pool is closed: it then closes once its streams have
    /// ended, by its idle timer), and while it is being made to a cluster that chose HTTP/2
    /// before, the requests that come wait for it. Called on `eventLoop`.
    func connect(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamConnection> {
        let key = key(target, eventLoop)
        let connection = Self.connect(target, on: eventLoop)
        let version = ClusterVersion(cluster: target.cluster, version: target.version)
        let shared = speakHTTP2.withLock { $0.contains(version) }
        if shared { connecting.withLock { $0[key] = connection } }
        connection.whenComplete { [self] result in
            if shared { connecting.withLock { if $0[key] === connection { $0[key] = nil } } }
            guard case .success(.http2(let made)) = result else { return }
            speakHTTP2.withLock { _ = $0.insert(version) }
            guard idle.withLock({ $0.open }) else { return made.retire() }
            multiplexed.withLock { $0[key, default: []].append(made) }
        }
        return connection
    }

    /// Keeps `channel` (of `eventLoop`, done with its answer) for the next request.
    func put(_ channel: any Channel, _ target: UpstreamTarget, on eventLoop: any EventLoop) {
        let key = key(target, eventLoop)
        let kept = idle.withLock { idle -> Bool in
            guard idle.open, idle.channels[key, default: []].count < Self.maxIdle else { return false }
            idle.channels[key, default: []].append(Idle(channel: channel, since: .now()))
            return true
        }
        guard kept else { return channel.close(promise: nil) }
        sweepers.withLock { sweepers in
            guard sweepers.open, sweepers.tasks[key.eventLoop] == nil else { return }
            sweepers.tasks[key.eventLoop] = eventLoop.scheduleRepeatedTask(initialDelay: sweepInterval, delay: sweepInterval) { [self] _ in
                closeIdle(on: key.eventLoop, before: .now() - keepIdle)
            }
        }
    }

    /// Closes the connections of an event loop put back before `limit`, and any closed meanwhile.
    func closeIdle(on eventLoop: ObjectIdentifier, before limit: NIODeadline) {
        let expired = idle.withLock { idle -> [any Channel] in
            var expired: [any Channel] = []
            for key in idle.channels.keys where key.eventLoop == eventLoop {
                // Taken from the end (the newest first), so the oldest are at the front.
                let channels = idle.channels[key]!
                let stale = channels.prefix { $0.since < limit || !$0.channel.isActive }.count
                guard stale > 0 else { continue }
                expired += channels.prefix(stale).map(\.channel)
                idle.channels[key]!.removeFirst(stale)
            }
            return expired
        }
        for channel in expired { channel.close(promise: nil) }
    }

    /// Closes every idle connection, and from now on each one done with its answer.
    func close() {
        let closing = idle.withLock { idle in
            defer { idle = (false, [:]) }
            return idle.channels.values.flatMap { $0 }
        }
        for found in closing { found.channel.close(promise: nil) }
        let tasks = sweepers.withLock { sweepers in
            defer { sweepers = (false, [:]) }
            return sweepers.tasks.values
        }
        for task in tasks { task.cancel() }
        let connections = multiplexed.withLock { connections in
            defer { connections = [:] }
            return connections.values.flatMap { $0 }
        }
        for connection in connections { connection.channel.close(promise: nil) }
    }

    /// A new connection to `target` on `eventLoop`, ready for requests: HTTP/2 when the cluster
    /// chooses it in the TLS handshake, else HTTP/1.1.
    static func connect(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamConnection> {
        typealias Negotiation = NIOTypedApplicationProtocolNegotiationHandler<UpstreamConnection>
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let context = target.laneSSLContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: target.serverName))
                    }
                    // Without HTTP/2 offered there is nothing to negotiate.
                    guard target.offersHTTP2 else { return try speakHTTP1(channel) }
                    try pipeline.addHandler(Negotiation { result in
                        channel.eventLoop.makeCompletedFuture {
                            switch result {
                            case .negotiated("h2"): return .http2(try speakHTTP2(channel))
                            default:
                                try speakHTTP1(channel)
                                return .http1(channel)
                            }
                        }
                    })
                }
            }
            .connect(host: target.host, port: target.port)
            .flatMap { channel in
                guard target.offersHTTP2 else { return eventLoop.makeSucceededFuture(.http1(channel)) }
                return channel.pipeline.handler(type: Negotiation.self).flatMap(\.protocolNegotiationResult)
            }
    }

    private static func speakHTTP1(_ channel: any Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(HTTPRequestEncoder())
        try pipeline.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
        try pipeline.addHandler(UpstreamLink())
    }

    private static func speakHTTP2(_ channel: any Channel) throws -> MultiplexedConnection {
        let streams = StreamCount(eventLoop: channel.eventLoop)
        streams.channel = channel
        // A cluster does not open streams towards its client (no server push is asked for).
        let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: .init(), streamConfiguration: .init(), streamDelegate: streams
        ) { stream in stream.close() }
        let connection = MultiplexedConnection(channel: channel, multiplexer: multiplexer, streams: streams)
        try channel.pipeline.syncOperations.addHandler(GoingAwayWatcher { [weak connection] in connection?.retire() })
        return connection
    }
}
