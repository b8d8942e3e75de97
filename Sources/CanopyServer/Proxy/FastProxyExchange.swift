import Dispatch
import HTTPServing
import NIOCore
import NIOHTTP1

/// One GET through the fast lane: sent on a stream of the cluster's HTTP/2 connection, or on a
/// pooled HTTP/1.1 connection to it (or a new one), its answer streamed to the client. Lives on
/// the client connection's event loop.
final class FastProxyExchange: FastLaneExchange, DeadlineWatched {
    private let request: HTTPRequestHead
    private let upstream: UpstreamTarget
    private let pool: UpstreamPool
    private let eventLoop: any EventLoop
    private let metrics: FastLaneMetrics
    private let startedAt = DispatchTime.now().uptimeNanoseconds
    private var responder: FastLaneResponder?
    /// The cluster's connection, or the HTTP/2 stream, that carries the request.
    private var channel: (any Channel)?
    /// The HTTP/2 connection whose stream `channel` is, if it is one.
    private var multiplexed: MultiplexedConnection?
    /// Whether the connection had served requests before (a failure before any answer is then
    /// retried once on a new one: the cluster may have closed it just as it was taken).
    private var reused = false
    private var head: HTTPResponseHead?
    private var headSent = false
    private var keepAlive = true
    private var finished = false
    private let deadlines: LaneDeadlines

    /// Whether the answer has ended (or the client has left).
    var isFinished: Bool { finished }

    init(
        request: HTTPRequestHead, upstream: UpstreamTarget, pool: UpstreamPool, eventLoop: any EventLoop, metrics: FastLaneMetrics,
        deadlines: LaneDeadlines
    ) {
        self.request = request
        self.upstream = upstream
        self.pool = pool
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.deadlines = deadlines
    }

    func start(_ responder: FastLaneResponder) {
        self.responder = responder
        deadlines.watch(self, on: eventLoop)
        send(reusing: true)
    }

    /// The cluster took longer than the proxy's deadline (as on the router's path): before its
    /// answer began, a 503 `Status`; within it, the client's connection is closed. The cluster's
    /// connection is closed either way. Called by `LaneDeadlines`.
    func deadlinePassed() {
        guard !finished else { return }
        let channel = channel
        self.channel = nil
        if let channel, let link = try? channel.pipeline.syncOperations.handler(type: UpstreamLink.self) { link.exchange = nil }
        channel?.close(promise: nil)
        if headSent {
            finished = true
            metrics.record(status: Int(head?.status.code ?? 0), since: startedAt)
            responder?.fail()
        } else {
            failBeforeAnswer("GET \(upstream.server) did not answer within \(deadlines.deadline.nanoseconds / 1_000_000_000) s")
        }
    }

    /// Sends the request on a connection of the pool or one being made for it (`reusing`), else
    /// on a new one.
    private func send(reusing: Bool) {
        multiplexed = nil
        if reusing, upstream.offersHTTP2, let connection = pool.multiplexedConnection(upstream, on: eventLoop) {
            open(on: connection, reused: true)
            return
        }
        if reusing, let channel = pool.take(upstream, on: eventLoop) {
            attach(channel, reused: true)
            return
        }
        if reusing, upstream.offersHTTP2, let pending = pool.pendingConnection(upstream, on: eventLoop) {
            pending.assumeIsolated().whenComplete { [self] result in
                guard !finished else { return }
                if case .success(.http2(let connection)) = result, connection.isUsable {
                    open(on: connection, reused: false)
                } else {
                    send(reusing: false)
                }
            }
            return
        }
        pool.connect(upstream, on: eventLoop).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(.http1(let channel)):
                metrics.connected(channel)
                attach(channel, reused: false)
            case .success(.http2(let connection)):
                metrics.connected(connection.channel)
                open(on: connection, reused: false)
            case .failure(let error): failBeforeAnswer("\(upstream.server) cannot be reached: \(error)")
            }
        }
    }

    /// Sends the request on a new stream of an HTTP/2 connection.
    private func open(on connection: MultiplexedConnection, reused: Bool) {
        multiplexed = connection
        connection.openStream().assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let stream):
                metrics.streamOpened(stream)
                attach(stream, reused: reused)
            case .failure(let error):
                connection.retire()
                if reused, !finished { return send(reusing: false) }
                failBeforeAnswer("\(upstream.server) cannot be reached: \(error)")
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
            // A stream ends with its answer; a connection goes back to the pool.
            if let channel, multiplexed == nil {
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
            // A kept connection the cluster had closed (or an HTTP/2 connection it is leaving):
            // once more on a new one.
            multiplexed?.retire()
            multiplexed = nil
            send(reusing: false)
            return
        }
        if headSent {
            finished = true
            metrics.record(status: Int(head?.status.code ?? 0), since: startedAt)
            responder?.fail()
            return
        }
        failBeforeAnswer("\(upstream.server) cannot be reached: \(error ?? ChannelError.eof)")
    }

    private func failBeforeAnswer(_ reason: String) {
        guard !finished else { return }
        finished = true
        let status = ProxyStatus.unreachable(reason)
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
