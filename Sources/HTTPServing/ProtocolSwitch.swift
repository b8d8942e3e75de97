import NIOCore
import NIOHTTP1

/// A server's own handling of an upgrade other than WebSocket: kubectl's `SPDY/3.1` streams
/// (`exec`, `attach` and `port-forward` before kubectl v1.31, or when told not to use WebSockets).
///
/// Hummingbird's HTTP/1 channel takes WebSocket upgraders only, so such an upgrade is taken over
/// below it: when a connection's first request asks for an upgrade and `claims` (called on the
/// event loop with the request's head and the connection) says yes, the request never reaches Hummingbird. Once the
/// request has ended, `take` is handed the connection (`SwitchingConnection`), which then either
/// answers it as a plain response and closes, or switches it to raw bytes.
public struct ProtocolSwitch: Sendable {
    let claims: @Sendable (HTTPRequestHead, any Channel) -> Bool
    let take: @Sendable (HTTPRequestHead, SwitchingConnection) -> Void

    public init(claims: @escaping @Sendable (HTTPRequestHead, any Channel) -> Bool, take: @escaping @Sendable (HTTPRequestHead, SwitchingConnection) -> Void) {
        self.claims = claims
        self.take = take
    }
}

/// A connection whose first request a `ProtocolSwitch` has claimed. It is answered once, from any
/// thread: with a plain response (the connection then closes), or by switching protocols.
public final class SwitchingConnection: @unchecked Sendable {
    /// The connection's channel; handlers for it are to be made on its event loop.
    public let channel: any Channel
    public var eventLoop: any EventLoop { channel.eventLoop }
    // Only touched on the event loop.
    private let context: ChannelHandlerContext
    private var answered = false

    init(context: ChannelHandlerContext) {
        self.channel = context.channel
        self.context = context
    }

    /// Answers the request with `head` and `body`, then closes the connection (nothing else may
    /// follow on it: the request it carried was meant to end the HTTP conversation).
    public func answer(_ head: HTTPResponseHead, body: ByteBuffer) {
        eventLoop.execute { [self] in
            guard !answered else { return }
            answered = true
            var head = head
            head.headers.replaceOrAdd(name: "connection", value: "close")
            head.headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
            context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).assumeIsolated().whenComplete { [context] _ in context.close(promise: nil) }
        }
    }

    /// Sends `head` (a `101 Switching Protocols`), then leaves the connection to `handler`, which
    /// from then on reads and writes its raw bytes (`ByteBuffer`), starting with any that arrived
    /// behind the request. Must be called on the event loop.
    public func switchProtocols(_ head: HTTPResponseHead, to handler: any ChannelHandler & RemovableChannelHandler) throws {
        eventLoop.preconditionInEventLoop()
        guard !answered else { return }
        answered = true
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        let pipeline = channel.pipeline.syncOperations
        // The encoder goes first: `handler` may write raw bytes as soon as it is added.
        if let encoder = try? pipeline.context(handlerType: HTTPResponseEncoder.self) { pipeline.removeHandler(context: encoder, promise: nil) }
        let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try pipeline.addHandler(handler, position: .after(decoder.handler))
        // The decoder hands the bytes it holds beyond the request to the next handler as it goes.
        // The filter stays, behind `handler`: it reads nothing more, and quiets the end.
        pipeline.removeHandler(context: decoder, promise: nil)
    }
}

/// Joins two connections on the same event loop: whatever one reads, the other writes, with
/// back-pressure (one stops reading while the other cannot write); when either ends, both close.
public final class ByteGlue: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var partner: ByteGlue?
    private var context: ChannelHandlerContext?
    /// Bytes read before the partner was in its pipeline.
    private var pending: [ByteBuffer] = []
    private var readWanted = false
    private var closeWhenAdded = false

    private init() {}

    /// Two handlers, one for each connection; add both on the event loop they share.
    public static func pair() -> (ByteGlue, ByteGlue) {
        let first = ByteGlue(), second = ByteGlue()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Bytes the partner read before this side was in place go out first.
        partner?.partnerAdded()
        if closeWhenAdded {
            context.writeAndFlush(NIOAny(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        // The channel may not read by itself (autoRead off); ask for the first read.
        context.read()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    private func partnerAdded() {
        guard let target = partner?.context, !pending.isEmpty else { return }
        for buffer in pending { target.write(NIOAny(buffer), promise: nil) }
        pending = []
        target.flush()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let target = partner?.context {
            target.write(NIOAny(buffer), promise: nil)
        } else {
            pending.append(buffer)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerEnded()
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            partner?.partnerEnded()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        partner?.partnerWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    public func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? true {
            context.read()
        } else {
            readWanted = true
        }
    }

    private func partnerWritabilityChanged(_ writable: Bool) {
        guard writable, readWanted, let context else { return }
        readWanted = false
        context.read()
    }

    /// The other connection ended: send what is written and close this one.
    private func partnerEnded() {
        guard let context else {
            closeWhenAdded = true
            return
        }
        context.writeAndFlush(NIOAny(ByteBuffer())).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
