import NIOCore
import NIOHTTP1

/// Lets a request asking for an upgrade the server cannot make (anything but `websocket`, such
/// as `SPDY/3.1`) be answered as a plain request.
///
/// NIO's typed upgrade handler (swift-nio 2.101) drops such a request: it takes the head while it
/// looks for an upgrader, finds none, and hands the connection to the HTTP handlers without it,
/// so the client waits for an answer that never comes (kubectl falling back to SPDY saw the
/// connection close). Only a connection's first request goes through the upgrade handler, so
/// this handler rewrites the first head, removing the `Upgrade` header and its `Connection` token
/// when none of its protocols is `websocket`, and then leaves the pipeline. The request is then
/// answered as the same request without an upgrade (Kubernetes answers one for `exec` or
/// `portforward` with its `Status`: the refusal, or 400 "Upgrade request required").
///
/// A server may also pass `screen`, which sees a WebSocket upgrade request first: when its future
/// answers false the upgrade is removed the same way, so that the request is answered as a plain
/// one (KubeSim and Canopy's proxy refuse a stream they would not accept with the `Status` a
/// real API server sends, on a connection kept open, instead of Hummingbird's bare 400 and
/// close). While the screen decides, the request's parts are held (at most a few: an upgrade
/// request has no body), and passed on in order once it has.
///
/// With a `ProtocolSwitch`, a first request asking for another upgrade that the switch claims is
/// kept from Hummingbird altogether and handed to the switch once it has ended; the filter then
/// stays in the pipeline for the connection's life (`SwitchingConnection`).
/// Decides whether a WebSocket upgrade request is to be upgraded; see `UnservedUpgradeFilter`.
public typealias UpgradeScreen = @Sendable (HTTPRequestHead, any Channel) -> EventLoopFuture<Bool>

final class UnservedUpgradeFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias Screen = UpgradeScreen

    private let screen: Screen?
    private let protocolSwitch: ProtocolSwitch?
    /// The claimed request, until it has ended and been handed over.
    private var claimed: HTTPRequestHead?
    /// The parts that came after a request being screened, until the screen has decided.
    private var held: [HTTPServerRequestPart]?

    init(screen: Screen?, protocolSwitch: ProtocolSwitch?) {
        self.screen = screen
        self.protocolSwitch = protocolSwitch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let head = claimed {
            // A claimed request's body (there is none for a stream) is dropped; its end hands it over.
            if case .end = part {
                protocolSwitch?.take(head, SwitchingConnection(context: context))
            }
            return
        }
        if held != nil {
            held?.append(part)
            // An upgrade request has no body: a client sending on while the screen decides is
            // not one to wait for.
            if (held?.count ?? 0) > 64 { context.close(promise: nil) }
            return
        }
        guard case .head(let head) = part else { return context.fireChannelRead(data) }
        let protocols = head.headers[canonicalForm: "upgrade"].map { $0.lowercased() }
        let webSocket = protocols.contains { $0.hasPrefix("websocket") }
        if !protocols.isEmpty, !webSocket, let protocolSwitch, protocolSwitch.claims(head, context.channel) {
            claimed = head
            return
        }
        guard webSocket, let screen else { return pass(head, upgrading: webSocket, context: context) }
        held = []
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        screen(head, context.channel).hop(to: context.eventLoop).whenComplete { result in
            let (filter, context) = bound.value
            filter.pass(head, upgrading: (try? result.get()) == true, context: context)
        }
    }

    /// Passes `head` on (without its upgrade unless `upgrading`), then the parts held behind it,
    /// and leaves the pipeline.
    private func pass(_ head: HTTPRequestHead, upgrading: Bool, context: ChannelHandlerContext) {
        let parts = held ?? []
        held = nil
        guard context.channel.isActive else { return }
        var head = head
        if !upgrading {
            head.headers.remove(name: "upgrade")
            let connection = head.headers[canonicalForm: "connection"].filter { $0.lowercased() != "upgrade" }.map(String.init)
            head.headers.remove(name: "connection")
            for token in connection { head.headers.add(name: "connection", value: token) }
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
        for part in parts { context.fireChannelRead(wrapInboundOut(part)) }
        if !parts.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// A claimed connection (or one gone while its request was screened) never gives Hummingbird
    /// a request, so NIO's upgrade handler behind this one would fail its result when the
    /// connection is torn down, and Hummingbird would log that as an error. Told first that the
    /// input ended, it gives up quietly instead.
    func channelInactive(context: ChannelHandlerContext) {
        if claimed != nil || held != nil { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.fireChannelInactive()
    }

    /// Puts the filter right after the HTTP request decoder of `channel`'s pipeline.
    static func install(on channel: any Channel, screen: Screen?, protocolSwitch: ProtocolSwitch?) throws {
        let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try channel.pipeline.syncOperations.addHandler(UnservedUpgradeFilter(screen: screen, protocolSwitch: protocolSwitch), position: .after(decoder.handler))
    }
}
