import HTTPTypes
import HummingbirdHTTP2
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A server child channel that lets a graceful shutdown finish whatever its connections do.
///
/// Hummingbird closes a connection at graceful shutdown once its request in progress is
/// answered, but only after the connection's first request has been read: until then the
/// connection is still negotiating a possible WebSocket upgrade and nothing handles the shutdown
/// event. A connection a client opened and never used (connection pools open them, when
/// requests overlap and finish before the new connection is needed) then holds the server's
/// shutdown open for as long as the client keeps it, which can be forever. Here a connection
/// that has sent nothing is closed at once, and any other is closed `grace` after the shutdown
/// began if it is still open then (a request that never ends, a WebSocket session). A connection
/// that sends nothing for `firstRequestTimeout` after it opened is closed too: the shutdown event
/// can reach a connection accepted during the shutdown before this handler is in its pipeline,
/// and a connection that never speaks serves no one anyway.
public struct QuiescingChannel<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value

    let base: Base
    let grace: TimeAmount
    let firstRequestTimeout: TimeAmount
    let screen: UpgradeScreen?
    let counter: ConnectionCounter?
    let protocolSwitch: ProtocolSwitch?
    let fastLane: FastLane?
    /// Whether this channel adds the connection's `ShutdownHandler` (a `NegotiatedChannel` in
    /// front adds it before the protocol is settled).
    var watchesShutdown = true

    /// `screen`: see `UnservedUpgradeFilter`; `counter` counts the open connections;
    /// `protocolSwitch` takes the upgrades other than WebSocket it claims; `fastLane` answers the
    /// requests it takes below Hummingbird.
    public init(
        _ base: Base, grace: TimeAmount = .seconds(30), firstRequestTimeout: TimeAmount = .seconds(20),
        screen: UpgradeScreen? = nil, counter: ConnectionCounter? = nil,
        protocolSwitch: ProtocolSwitch? = nil, fastLane: FastLane? = nil
    ) {
        self.fastLane = fastLane
        self.base = base
        self.grace = grace
        self.firstRequestTimeout = firstRequestTimeout
        self.screen = screen
        self.counter = counter
        self.protocolSwitch = protocolSwitch
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let grace = grace, firstRequestTimeout = firstRequestTimeout, screen = screen, counter = counter, protocolSwitch = protocolSwitch
        let fastLane = fastLane
        let watchesShutdown = watchesShutdown
        return channel.eventLoop.makeCompletedFuture {
            guard watchesShutdown else { return }
            try channel.pipeline.syncOperations.addHandler(ShutdownHandler(grace: grace, firstRequestTimeout: firstRequestTimeout, counter: counter))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            // Hummingbird's HTTP/1 channels have a request decoder; others are left as they are.
            if (try? channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)) != nil {
                // The filter goes in front of the fast lane: a claimed upgrade never reaches it.
                if let fastLane { try FastLaneHandler.install(on: channel, lane: fastLane) }
                try UnservedUpgradeFilter.install(on: channel, screen: screen, protocolSwitch: protocolSwitch)
            }
            return value
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with WebSocket upgrades (as `http1WebSocketUpgrade`), whose connections end at a
    /// graceful shutdown even if they never sent a request (`QuiescingChannel`).
    ///
    /// WebSocket frames may be up to `maxFrameSize` (Hummingbird's default is 16 KiB; kubectl
    /// writes up to 32 KiB of stdin or forwarded bytes per frame, and a Kubernetes API server
    /// takes them).
    /// `screen` (see `UnservedUpgradeFilter`) turns WebSocket upgrade requests it refuses into
    /// plain requests before `shouldUpgrade` sees them; `protocolSwitch` takes the other upgrades
    /// it claims (SPDY); `fastLane` answers the requests it takes below Hummingbird. With
    /// `http2`, a client that chooses HTTP/2 in its TLS handshake gets it (`NegotiatedChannel`;
    /// the TLS configuration must offer `NegotiatedChannel.negotiatedProtocols`).
    public static func quiescingHTTP1WebSocketUpgrade(
        maxFrameSize: Int = 1 << 20,
        screen: UpgradeScreen? = nil,
        counter: ConnectionCounter? = nil,
        protocolSwitch: ProtocolSwitch? = nil,
        fastLane: FastLane? = nil,
        http2: Bool = false,
        shouldUpgrade: @escaping @Sendable (HTTPRequest, any Channel, Logger) async throws
            -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            var http1 = QuiescingChannel(
                HTTP1WebSocketUpgradeChannel(
                    responder: responder, configuration: HTTP1WebSocketUpgradeChannel.Configuration(ws: WebSocketServerConfiguration(maxFrameSize: maxFrameSize)), shouldUpgrade: shouldUpgrade
                ),
                screen: screen, counter: counter, protocolSwitch: protocolSwitch, fastLane: fastLane
            )
            guard http2 else { return http1 }
            http1.watchesShutdown = false
            return NegotiatedChannel(http1: http1, http2: HTTP2Channel(responder: responder), counter: counter, grace: http1.grace)
        }
    }
}

/// Counts a server's open connections (those of a `QuiescingChannel` it is given to), and the
/// actions waiting on their clients' end (`ClientGone`).
public final class ConnectionCounter: Sendable {
    private let count = Atomic<Int>(0)
    private let waiting = Atomic<Int>(0)

    public init() {}

    public var open: Int { count.load(ordering: .relaxed) }
    /// Actions registered with `ClientGone.whenGone` that neither ran nor were cancelled.
    public var waitingOnClients: Int { waiting.load(ordering: .relaxed) }

    func opened() { count.add(1, ordering: .relaxed) }
    func closed() { count.subtract(1, ordering: .relaxed) }
    func waits(_ change: Int) { waiting.add(change, ordering: .relaxed) }
}

/// The end of the client's side of one connection, to act on while it matters: a stream that
/// may stay silent for minutes (a watch) ends when its client goes. `whenGone` registers an
/// action under a `ClientGoneRegistration`, which the stream cancels once it has ended another
/// way; a connection kept alive carries many watches one after another, and an action left
/// registered would stay with the connection for as long as it lives.
public struct ClientGone: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<ShutdownHandler>?
    private static let ids = Atomic<Int>(0)

    fileprivate init(channel: any Channel, handler: NIOLoopBound<ShutdownHandler>?) {
        self.channel = channel
        self.handler = handler
    }

    /// Runs `action` (on the connection's event loop) once the client is gone, at once if it
    /// already is, unless `registration` is cancelled first. The registration may be made (and
    /// handed to a stream's termination handler) before the action is armed with it.
    public func whenGone(_ registration: ClientGoneRegistration, _ action: @escaping @Sendable () -> Void) {
        guard let handler else {
            // Not a `QuiescingChannel` connection: only its close can be seen.
            channel.closeFuture.whenComplete { _ in if !registration.isCancelled { action() } }
            return
        }
        let id = Self.ids.add(1, ordering: .relaxed).newValue
        let eventLoop = channel.eventLoop
        guard registration.arm({ eventLoop.execute { handler.value.unwatch(id) } }) else { return }
        eventLoop.execute { handler.value.watch(id, action) }
    }
}

/// An action waiting on a client's end (`ClientGone.whenGone`); `cancel` drops it, and it then
/// never runs.
public final class ClientGoneRegistration: Sendable {
    private let state = Mutex<(cancelled: Bool, undo: (@Sendable () -> Void)?)>((false, nil))

    public init() {}

    public func cancel() {
        let undo = state.withLock { state in
            state.cancelled = true
            defer { state.undo = nil }
            return state.undo
        }
        undo?()
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Sets what `cancel` undoes; `false` when already cancelled.
    func arm(_ undo: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard !state.cancelled else { return false }
            state.undo = undo
            return true
        }
    }
}

/// The end of the client of `channel` (a connection of a `QuiescingChannel` server): it closed
/// its side of the connection, or the connection closed. A server cannot otherwise
/// tell while it streams an answer that may stay silent for minutes (a watch), because
/// Hummingbird keeps half-closed connections open for the answer; a Kubernetes API server (Go's
/// HTTP server) ends such a request when its client's side closes, and so does Canopy.
public func clientGone(_ channel: any Channel) async -> ClientGone {
    let handler = try? await channel.eventLoop.submit {
        NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ShutdownHandler.self), eventLoop: channel.eventLoop)
    }.get()
    return ClientGone(channel: channel, handler: handler)
}

/// Watches one connection's bytes, its end of input, and its server's shutdown event.
final class ShutdownHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let grace: TimeAmount
    private let firstRequestTimeout: TimeAmount
    private let counter: ConnectionCounter?
    private var receivedBytes = false
    /// Whether the client closed its side or the connection closed.
    private var gone = false
    /// Actions to run when it does (`ClientGone`), by registration.
    private var watchers: [Int: @Sendable () -> Void] = [:]

    init(grace: TimeAmount, firstRequestTimeout: TimeAmount, counter: ConnectionCounter?) {
        self.grace = grace
        self.firstRequestTimeout = firstRequestTimeout
        self.counter = counter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let counter {
            counter.opened()
            context.channel.closeFuture.whenComplete { _ in counter.closed() }
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: firstRequestTimeout) {
            if !self.receivedBytes { context.close(promise: nil) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        clientWent()
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientWent()
        context.fireChannelInactive()
    }

    func watch(_ id: Int, _ action: @escaping @Sendable () -> Void) {
        guard !gone else { return action() }
        watchers[id] = action
        counter?.waits(1)
    }

    func unwatch(_ id: Int) {
        if watchers.removeValue(forKey: id) != nil { counter?.waits(-1) }
    }

    private func clientWent() {
        guard !gone else { return }
        gone = true
        let actions = watchers.values
        counter?.waits(-watchers.count)
        watchers = [:]
        for action in actions { action() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedBytes = true
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent { clientWent() }
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        guard receivedBytes else {
            context.close(promise: nil)
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: grace) { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}
