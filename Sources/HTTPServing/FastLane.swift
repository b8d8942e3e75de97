import NIOCore
import NIOHTTP1

/// Requests a server answers below Hummingbird, on the connection's event loop, without a
/// task, a router or an async hop: the lane of the kube proxy's plain GETs.
///
/// `take` is asked, on the event loop, about each request head that arrives while nothing else
/// is being answered on the connection; it returns the exchange that will answer it, or `nil` to
/// leave the request to Hummingbird as usual. Answers keep the order of their requests: what is
/// read while an exchange runs waits for it to end (and reading pauses once a few parts wait),
/// and a request that arrives while Hummingbird still answers an earlier one goes to Hummingbird.
public struct FastLane: Sendable {
    let take: @Sendable (HTTPRequestHead, any Channel) -> (any FastLaneExchange)?

    public init(take: @escaping @Sendable (HTTPRequestHead, any Channel) -> (any FastLaneExchange)?) {
        self.take = take
    }
}

/// One request answered on the fast lane. Every call comes on the connection's event loop.
public protocol FastLaneExchange: AnyObject {
    /// Begins the answer, which is given through `responder` (head, body parts, end; or a failure).
    func start(_ responder: FastLaneResponder)
    /// The client can take more bytes now (`true`), or has enough queued for now (`false`).
    func clientWritabilityChanged(_ writable: Bool)
    /// The client's connection closed before the answer ended.
    func clientGone()
}

/// Writes one fast-lane answer to the client. Only used on the connection's event loop, and
/// not after `end` or `fail`.
public final class FastLaneResponder {
    private let context: ChannelHandlerContext
    private weak var handler: FastLaneHandler?
    private var done = false

    init(context: ChannelHandlerContext, handler: FastLaneHandler) {
        self.context = context
        self.handler = handler
    }

    /// Whether the client takes bytes as fast as they come (when not, the exchange should stop
    /// reading its source until `clientWritabilityChanged(true)`).
    public var isWritable: Bool { context.channel.isWritable }

    public func head(_ head: HTTPResponseHead) {
        guard !done else { return }
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
    }

    public func body(_ buffer: ByteBuffer) {
        guard !done else { return }
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
    }

    /// Sends what was written so far.
    public func flush() {
        guard !done else { return }
        context.flush()
    }

    /// Ends the answer; the connection goes on with the next request.
    public func end() {
        guard !done else { return }
        done = true
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        handler?.exchangeEnded(context: context)
    }

    /// Gives a whole answer: `head` (its `Content-Length` set to the body's) and `body`.
    public func answer(_ head: HTTPResponseHead, body: ByteBuffer) {
        var head = head
        head.headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
        self.head(head)
        self.body(body)
        end()
    }

    /// Ends the answer by closing the connection: what a server does when its source fails
    /// after the head went out.
    public func fail() {
        guard !done else { return }
        done = true
        context.close(promise: nil)
    }
}

/// Sits right after the HTTP request decoder and takes the requests its `FastLane` wants.
final class FastLaneHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let lane: FastLane
    /// Requests handed to Hummingbird whose answers have not ended.
    private var handedOn = 0
    /// Whether any request went to Hummingbird (until then its HTTP handlers are not set up).
    private var handedAny = false
    /// Whether the request being read goes to Hummingbird (its body and end follow its head).
    private var passing = false
    /// The exchange answering the current request, and whether its request has ended.
    private var exchange: (any FastLaneExchange)?
    /// Parts read while an exchange runs, taken up when it ends; a request that could not be
    /// read is passed on in its turn.
    private var waiting: [Result<NIOAny, any Error>] = []
    /// A read the pipeline asked for while an exchange ran with `maxWaiting` parts waiting.
    private var heldRead = false
    /// A graceful shutdown began while an exchange ran.
    private var heldQuiesce: Any?
    private var served = false
    /// An upgrade went to Hummingbird: from then on everything passes through untouched (the
    /// HTTP handlers around this one are replaced, and what flows is no longer HTTP parts).
    private var steppedAside = false

    init(lane: FastLane) {
        self.lane = lane
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Behind an exchange, or behind parts still being taken up (an upgrade taken up there
        // may hand on the bytes its decoder held at once), a read waits its turn.
        if exchange != nil || !waiting.isEmpty {
            waiting.append(.success(data))
            return
        }
        take(data, context: context)
    }

    private func take(_ data: NIOAny, context: ChannelHandlerContext) {
        // After an upgrade what flows may no longer be HTTP parts: it is never unwrapped.
        if steppedAside { return context.fireChannelRead(data) }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            if handedOn == 0, !head.headers.contains(name: "upgrade"), let exchange = lane.take(head, context.channel) {
                self.exchange = exchange
                served = true
                passing = false
                exchange.start(FastLaneResponder(context: context, handler: self))
                return
            }
            passing = true
            handedOn += 1
            handedAny = true
            // An upgrade (a WebSocket) replaces the HTTP handlers: nothing here can follow it.
            // The handler stays (parts read behind it may still wait here) but steps aside.
            if head.headers.contains(name: "upgrade") { steppedAside = true }
            context.fireChannelRead(wrapInboundOut(part))
        case .body, .end:
            // A fast-lane request has no body (the lane takes none that declares one).
            if passing { context.fireChannelRead(wrapInboundOut(part)) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if exchange == nil { context.fireChannelReadComplete() }
    }

    /// The current exchange ended: reading goes on, starting with what waited.
    /// A graceful shutdown that arrived meanwhile is handed on once nothing is being answered
    /// here (requests that waited go their way first, so that Hummingbird ends the connection
    /// after answering them).
    func exchangeEnded(context: ChannelHandlerContext) {
        exchange = nil
        while exchange == nil, !waiting.isEmpty {
            switch waiting.removeFirst() {
            case .success(let data): take(data, context: context)
            case .failure(let error): unreadable(error, context: context)
            }
        }
        guard exchange == nil else { return }
        if let event = heldQuiesce {
            heldQuiesce = nil
            quiesce(event, context: context)
        }
        context.fireChannelReadComplete()
        if heldRead {
            heldRead = false
            context.read()
        }
    }

    /// Reading goes on while an exchange runs (a client usually sends nothing meanwhile, and
    /// stopping and resuming cost two `epoll_ctl` calls per request) until `maxWaiting` parts
    /// wait behind it.
    func read(context: ChannelHandlerContext) {
        if exchange != nil, waiting.count >= Self.maxWaiting {
            heldRead = true
            return
        }
        context.read()
    }

    static let maxWaiting = 16

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !steppedAside, case .end = unwrapOutboundIn(data), handedOn > 0 { handedOn -= 1 }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.clientWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    /// On a connection whose requests all went the lane, NIO's upgrade handler behind this one
    /// still waits for a first request: told that the input ended, it gives up quietly. A client
    /// that resets the connection (leaving in the middle of an answer with unread bytes) ends the
    /// channel without that event, and Hummingbird would log the upgrade handler's failure as an
    /// error.
    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            self.exchange = nil
            exchange.clientGone()
        }
        if served, !handedAny { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.fireChannelInactive()
    }

    /// A request that cannot be read (bad bytes behind the current one) while an exchange runs
    /// waits its turn, so that its answer does not cut into the exchange's.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if steppedAside { return context.fireErrorCaught(error) }
        guard exchange == nil else {
            waiting.append(.failure(error))
            return
        }
        unreadable(error, context: context)
    }

    /// A request that cannot be read, in its turn: when nothing else is being answered it gets
    /// what Go's HTTP server (a Kubernetes API server) answers, a 400, and the connection closes
    /// (Hummingbird's handlers are not set up on a connection whose requests all went the fast
    /// lane, and NIO's upgrade handler waiting for a first request would leave it open). Behind a
    /// request Hummingbird still answers, it is Hummingbird's to handle.
    private func unreadable(_ error: any Error, context: ChannelHandlerContext) {
        guard handedOn == 0, error is HTTPParserError else { return context.fireErrorCaught(error) }
        var head = HTTPResponseHead(version: .http1_1, status: .badRequest)
        head.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "Content-Length", value: "15")
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "400 Bad Request")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        if exchange != nil {
            heldQuiesce = event
            return
        }
        quiesce(event, context: context)
    }

    /// A graceful shutdown: Hummingbird ends its connections once idle; one it never saw a
    /// request on is closed here.
    private func quiesce(_ event: Any, context: ChannelHandlerContext) {
        if !handedAny, served {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Puts the handler right after the HTTP request decoder of `channel`'s pipeline.
    static func install(on channel: any Channel, lane: FastLane) throws {
        let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try channel.pipeline.syncOperations.addHandler(FastLaneHandler(lane: lane), position: .after(decoder.handler))
    }
}
