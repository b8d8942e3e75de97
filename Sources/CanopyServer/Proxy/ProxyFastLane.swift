import CanopyModel
import Dispatch
import Foundation
import HTTPServing
import KubeClient
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The kube proxy's fast lane: plain GETs answered on the client connection's event loop, with
/// no task, router or async HTTP client in between (`HTTPServing.FastLane`).
///
/// It takes a request only when everything needed is at hand at once: a GET with no body, not a
/// watch, on a path that is never filtered (not `namespaces` and not a cluster-wide list), with a
/// bearer token whose record is cached and fresh (`Authenticator.cachedIdentity`), a caller who
/// may reach the cluster, and that cluster's connection details ready. Anything else (including
/// every refusal: 401, 404) goes the usual way through `KubeProxy`, which answers it and fills
/// the caches the next request finds here. What the lane forwards is what `KubeProxy` forwards:
/// the client's headers without its credentials, `Impersonate-*` and hop-by-hop headers, plus the
/// cluster's credential and the caller's impersonated identity; the answer streams back as it
/// comes, with back-pressure, and the cluster failing before its answer begins is a 503.
struct ProxyFastLane: Service {
    let services: APIServices
    let clients: ProxyClients
    let targets: UpstreamTargets
    let pool: UpstreamPool
    var metrics: FastLaneMetrics { services.fastLane }

    init(services: APIServices, clients: ProxyClients) {
        self.services = services
        self.clients = clients
        targets = UpstreamTargets(logger: services.logger)
        pool = UpstreamPool()
    }

    /// Closes the connections to clusters at a graceful shutdown.
    func run() async throws {
        try? await gracefulShutdown()
        pool.close()
    }

    var lane: FastLane {
        FastLane { head, channel in take(head, eventLoop: channel.eventLoop) }
    }

    /// The exchange that answers `head`, or `nil` to leave it to `KubeProxy`.
    func take(_ head: HTTPRequestHead, eventLoop: any EventLoop) -> FastProxyExchange? {
        guard head.method == .GET, head.version == .http1_1, head.isKeepAlive,
              head.headers.first(name: "content-length").map({ $0 == "0" }) ?? true, !head.headers.contains(name: "transfer-encoding"),
              // An interim `100 Continue` would end the exchange early and leave the final answer
              // on a pooled connection; such a request goes the usual way.
              !head.headers.contains(name: "expect")
        else { return nil }
        // The URI is read as bytes (every delimiter is ASCII): this runs for every request.
        let uri = head.uri, bytes = uri.utf8, slash = UInt8(ascii: "/")
        guard bytes.starts(with: Self.prefix.utf8) else { return nil }
        let queryStart = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        // A watch (in any spelling of its parameter) goes the usual way: it ends with its client.
        if queryStart != bytes.endIndex, Self.occurs(Self.watch, in: bytes[queryStart...]) { return nil }
        let tenantStart = bytes.index(bytes.startIndex, offsetBy: Self.prefix.utf8.count)
        guard let tenantEnd = bytes[tenantStart..<queryStart].firstIndex(of: slash) else { return nil }
        let clusterStart = bytes.index(after: tenantEnd)
        let clusterEnd = bytes[clusterStart..<queryStart].firstIndex(of: slash) ?? queryStart
        let tenantName = uri[tenantStart..<tenantEnd], clusterName = uri[clusterStart..<clusterEnd]
        let path = uri[clusterEnd..<queryStart], query = uri[queryStart...]
        // Escapes and dot segments are left to `KubeProxy`, which decides on the decoded path.
        guard !tenantName.isEmpty, !clusterName.isEmpty, !bytes[clusterEnd...].contains(UInt8(ascii: "%")), !Self.occurs(Self.dotSegment, in: path.utf8)
        else { return nil }
        let target = KubePath(String(path))
        guard !target.isNamespaceCollection, !target.isClusterWideList else { return nil }

        guard let token = KubeProxy.bearerToken(head.headers.first(name: "authorization")),
              let identity = services.authenticator.cachedIdentity(forToken: token)
        else { return nil }
        let snapshot = services.world.snapshot
        guard let principal = snapshot.principal(userID: identity.userID, tenantID: identity.tenantID, groups: identity.groups),
              let tenant = snapshot.tenant(named: String(tenantName)), let cluster = tenant.cluster(named: String(clusterName)),
              let access = ProxyAccess.resolve(principal, tenant: tenant, cluster: cluster),
              let upstream = targets.target(for: cluster, clients: clients)
        else { return nil }

        var request = HTTPRequestHead(version: .http1_1, method: .GET, uri: upstream.basePath + (path.isEmpty ? "/" : path) + query)
        for (name, value) in head.headers where !Self.dropped(name.lowercased()) { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Host", value: upstream.hostHeader)
        if let credential = upstream.authorization { request.headers.add(name: "Authorization", value: credential) }
        request.headers.add(name: "Impersonate-User", value: access.user)
        for group in access.groups { request.headers.add(name: "Impersonate-Group", value: group) }
        return FastProxyExchange(request: request, upstream: upstream, pool: pool, eventLoop: eventLoop, metrics: metrics)
    }

    static let prefix = "/k8s/clusters/"
    private static let watch = Array("watch".utf8), dotSegment = Array("/.".utf8)

    /// Whether `needle` occurs in `bytes`: a plain scan (the generic `contains` of a collection in
    /// another, from _StringProcessing, was 8 % of Canopy's CPU in the GET benchmark).
    static func occurs(_ needle: [UInt8], in bytes: Substring.UTF8View) -> Bool {
        guard let first = needle.first else { return true }
        var from = bytes.startIndex
        while let found = bytes[from...].firstIndex(of: first) {
            if bytes[found...].starts(with: needle) { return true }
            from = bytes.index(after: found)
        }
        return false
    }

    /// Headers of the client's request the cluster is not sent (as `KubeProxy.forwardedHeaders`).
    private static func dropped(_ name: String) -> Bool {
        name == "authorization" || name == "cookie" || name.hasPrefix("impersonate-") || KubeProxy.hopByHop.contains(name)
    }
}

/// Where one cluster's requests go, ready for the fast lane.
final class UpstreamTarget: Sendable {
    let cluster: ClusterID
    let version: Int
    let host: String
    let port: Int
    let sslContext: NIOSSLContext?
    /// The name TLS sends and checks: `tls-server-name`, else the host unless it is an address.
    let serverName: String?
    let hostHeader: String
    /// The server URL's own path, without its trailing `/`.
    let basePath: String
    let authorization: String?
    let server: String

    init(cluster: Cluster, client: KubeClient) throws {
        let connection = client.connection
        guard let base = URLComponents(string: connection.server), let host = base.host else {
            throw KubeError(.configuration, "bad cluster address \(connection.server)")
        }
        let isTLS = base.scheme == "https"
        let address = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.cluster = cluster.id
        version = cluster.version
        self.host = address
        port = base.port ?? (isTLS ? 443 : 80)
        sslContext = isTLS ? try NIOSSLContext(configuration: KubeClient.tlsConfiguration(for: connection)) : nil
        let isAddress = (try? SocketAddress(ipAddress: address, port: 0)) != nil
        serverName = connection.tlsServerName.flatMap { $0.isEmpty ? nil : $0 } ?? (isAddress ? nil : address)
        hostHeader = base.port.map { "\(host):\($0)" } ?? host
        basePath = base.percentEncodedPath.hasSuffix("/") ? String(base.percentEncodedPath.dropLast()) : base.percentEncodedPath
        authorization = client.authorizationHeader
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
                    let target = try UpstreamTarget(cluster: cluster, client: try await clients.client(for: cluster))
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
}

/// Idle connections to clusters, per cluster version and event loop (a connection serves
/// requests of its own event loop only, so nothing hops between threads). An idle connection is
/// closed after a minute.
final class UpstreamPool: Sendable {
    private struct Key: Hashable {
        let cluster: ClusterID
        let version: Int
        let eventLoop: ObjectIdentifier
    }

    private struct Idle: @unchecked Sendable {
        let channel: any Channel
        let expiry: Scheduled<Void>
    }

    private let idle = Mutex<(open: Bool, channels: [Key: [Idle]])>((true, [:]))
    static let idleTimeout: TimeAmount = .seconds(60)
    static let maxIdle = 128

    private func key(_ target: UpstreamTarget, _ eventLoop: any EventLoop) -> Key {
        Key(cluster: target.cluster, version: target.version, eventLoop: ObjectIdentifier(eventLoop))
    }

    /// An open idle connection to `target` on `eventLoop`, if there is one.
    func take(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> (any Channel)? {
        let key = key(target, eventLoop)
        while let found = idle.withLock({ $0.channels[key]?.popLast() }) {
            found.expiry.cancel()
            if found.channel.isActive { return found.channel }
        }
        return nil
    }

    /// Keeps `channel` (of `eventLoop`, done with its answer) for the next request.
    func put(_ channel: any Channel, _ target: UpstreamTarget, on eventLoop: any EventLoop) {
        let key = key(target, eventLoop)
        let id = ObjectIdentifier(channel)
        let expiry = eventLoop.scheduleTask(in: Self.idleTimeout) { [self] in
            let expired = idle.withLock { idle -> Bool in
                guard let index = idle.channels[key]?.firstIndex(where: { ObjectIdentifier($0.channel) == id }) else { return false }
                idle.channels[key]!.remove(at: index)
                return true
            }
            if expired { channel.close(promise: nil) }
        }
        let kept = idle.withLock { idle -> Bool in
            guard idle.open, idle.channels[key, default: []].count < Self.maxIdle else { return false }
            idle.channels[key, default: []].append(Idle(channel: channel, expiry: expiry))
            return true
        }
        if !kept {
            expiry.cancel()
            channel.close(promise: nil)
        }
    }

    /// Closes every idle connection, and from now on each one done with its answer.
    func close() {
        let closing = idle.withLock { idle in
            defer { idle = (false, [:]) }
            return idle.channels.values.flatMap { $0 }
        }
        for found in closing {
            found.expiry.cancel()
            found.channel.close(promise: nil)
        }
    }

    /// A new connection to `target` on `eventLoop`, ready for requests.
    static func connect(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let context = target.sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: target.serverName))
                    }
                    try pipeline.addHandler(HTTPRequestEncoder())
                    try pipeline.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
                    try pipeline.addHandler(UpstreamLink())
                }
            }
            .connect(host: target.host, port: target.port)
    }
}

/// One GET through the fast lane: sent on a pooled connection to the cluster (or a new one),
/// its answer streamed to the client. Lives on the client connection's event loop.
final class FastProxyExchange: FastLaneExchange {
    private let request: HTTPRequestHead
    private let upstream: UpstreamTarget
    private let pool: UpstreamPool
    private let eventLoop: any EventLoop
    private let metrics: FastLaneMetrics
    private let startedAt = DispatchTime.now().uptimeNanoseconds
    private var responder: FastLaneResponder?
    private var channel: (any Channel)?
    /// Whether the connection had served requests before (a failure before any answer is then
    /// retried once on a new one: the cluster may have closed it just as it was taken).
    private var reused = false
    private var head: HTTPResponseHead?
    private var headSent = false
    private var keepAlive = true
    private var finished = false

    init(request: HTTPRequestHead, upstream: UpstreamTarget, pool: UpstreamPool, eventLoop: any EventLoop, metrics: FastLaneMetrics) {
        self.request = request
        self.upstream = upstream
        self.pool = pool
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    func start(_ responder: FastLaneResponder) {
        self.responder = responder
        send(reusing: true)
    }

    private func send(reusing: Bool) {
        if reusing, let channel = pool.take(upstream, on: eventLoop) {
            attach(channel, reused: true)
            return
        }
        UpstreamPool.connect(upstream, on: eventLoop).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel):
                metrics.connected(channel)
                attach(channel, reused: false)
            case .failure(let error): failBeforeAnswer(error)
            }
        }
    }

    private func attach(_ channel: any Channel, reused: Bool) {
        guard !finished, let link = try? channel.pipeline.syncOperations.handler(type: UpstreamLink.self) else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        self.reused = reused
        link.exchange = self
        channel.write(HTTPClientRequestPart.head(request), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    // MARK: The cluster's side

    func received(_ part: HTTPClientResponsePart) {
        guard !finished, let responder else { return }
        switch part {
        case .head(let answer):
            keepAlive = answer.isKeepAlive
            var forwarded = HTTPResponseHead(version: .http1_1, status: answer.status)
            for (name, value) in answer.headers {
                let lowered = name.lowercased()
                if lowered == "content-length" || !KubeProxy.hopByHop.contains(lowered) { forwarded.headers.add(name: name, value: value) }
            }
            head = forwarded
        case .body(let bytes):
            sendHead()
            responder.body(bytes)
            if !responder.isWritable { setReading(false) }
        case .end:
            sendHead()
            finished = true
            let channel = channel
            self.channel = nil
            if let channel, let link = try? channel.pipeline.syncOperations.handler(type: UpstreamLink.self) { link.exchange = nil }
            if let channel {
                if keepAlive {
                    try? channel.syncOptions?.setOption(.autoRead, value: true)
                    pool.put(channel, upstream, on: eventLoop)
                } else {
                    channel.close(promise: nil)
                }
            }
            metrics.record(status: Int(head?.status.code ?? 0), since: startedAt)
            responder.end()
        }
    }

    func receivedAll() {
        if headSent { responder?.flush() }
    }

    /// The cluster's connection closed or failed before the answer ended.
    func upstreamFailed(_ error: (any Error)?) {
        guard !finished else { return }
        channel = nil
        if head == nil, reused {
            // A kept connection the cluster had closed: once more on a new one.
            send(reusing: false)
            return
        }
        if headSent {
            finished = true
            metrics.record(status: Int(head?.status.code ?? 0), since: startedAt)
            responder?.fail()
            return
        }
        failBeforeAnswer(error ?? ChannelError.eof)
    }

    private func failBeforeAnswer(_ error: any Error) {
        guard !finished else { return }
        finished = true
        let status = ProxyStatus(
            503, "ServiceUnavailable", "the cluster cannot be reached through Canopy: \(upstream.server) cannot be reached: \(error)"
        )
        metrics.record(status: status.code, since: startedAt)
        let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status.code), headers: ["Content-Type": "application/json"])
        responder?.answer(head, body: ByteBuffer(bytes: status.json))
    }

    private func sendHead() {
        guard !headSent, let head else { return }
        headSent = true
        responder?.head(head)
    }

    private func setReading(_ on: Bool) {
        guard let channel else { return }
        try? channel.syncOptions?.setOption(.autoRead, value: on)
        if on { channel.read() }
    }

    // MARK: The client's side

    func clientWritabilityChanged(_ writable: Bool) {
        if !finished { setReading(writable) }
    }

    func clientGone() {
        guard !finished else { return }
        finished = true
        metrics.abandon()
        channel?.close(promise: nil)
        channel = nil
    }
}

/// The fast lane's handler on a connection to a cluster: hands the answer to the exchange it
/// serves.
final class UpstreamLink: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    var exchange: FastProxyExchange?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        exchange?.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.receivedAll()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let exchange = exchange
        self.exchange = nil
        exchange?.upstreamFailed(nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let exchange = exchange
        self.exchange = nil
        exchange?.upstreamFailed(error)
        context.close(promise: nil)
    }
}

/// The request metrics Hummingbird's `MetricsMiddleware` records for the proxy's route, recorded
/// for the fast lane's requests too, so `/metrics` counts every proxied request.
/// `canopy.proxy.fast_lane_requests` counts them apart.
final class FastLaneMetrics: Sendable {
    private let byStatus = Mutex<[Int: (counter: Counter, timer: Metrics.Timer)]>([:])
    private let total = Atomic<Int>(0)
    private let counter = Counter(label: "canopy.proxy.fast_lane_requests")
    static let route = "/k8s/clusters/{tenant}/{cluster}/**"

    private let abandonedCount = Atomic<Int>(0), connections = Atomic<Int>(0), openConnections = Atomic<Int>(0)

    /// The requests this process's fast lane answered.
    var answered: Int { total.load(ordering: .relaxed) }
    /// Requests whose client left before their answer ended.
    var abandoned: Int { abandonedCount.load(ordering: .relaxed) }
    /// Connections the lane opened to clusters, and how many of them are open.
    var connected: Int { connections.load(ordering: .relaxed) }
    var open: Int { openConnections.load(ordering: .relaxed) }

    func abandon() { abandonedCount.add(1, ordering: .relaxed) }

    func connected(_ channel: any Channel) {
        connections.add(1, ordering: .relaxed)
        openConnections.add(1, ordering: .relaxed)
        channel.closeFuture.whenComplete { _ in self.openConnections.subtract(1, ordering: .relaxed) }
    }

    func record(status: Int, since start: UInt64) {
        total.add(1, ordering: .relaxed)
        self.counter.increment()
        let (counter, timer) = byStatus.withLock { cache in
            if let found = cache[status] { return found }
            let dimensions = [("http.route", Self.route), ("http.request.method", "GET"), ("http.response.status_code", "\(status)")]
            let made = (Counter(label: "hb.requests", dimensions: dimensions), Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds))
            cache[status] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
    }
}
