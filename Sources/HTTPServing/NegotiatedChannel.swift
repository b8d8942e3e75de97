import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOTLS

/// The HTTP versions a TLS handshake may choose (ALPN names), preferred first.
public enum NegotiatedHTTP {
    public static let protocols = ["h2", "http/1.1"]
}

/// A TLS server child channel that speaks HTTP/2 or HTTP/1.1, as the client's handshake chose
/// (ALPN): what a Kubernetes API server (Go's HTTP server) offers. HTTP/1.1 connections get
/// `http1` (with its upgrades: WebSocket and SPDY exist only there), HTTP/2 connections
/// Hummingbird's HTTP/2 channel, one stream per request. A client that names no protocol gets
/// HTTP/1.1.
///
/// The TLS handler in front must offer `NegotiatedHTTP.protocols` (ALPN). Every connection is
/// counted by `counter` and closed `grace` after a graceful shutdown began (at once if it sent
/// nothing), like `QuiescingChannel`'s, whose own watch `http1` must leave out.
public struct NegotiatedChannel<HTTP1: ServerChildChannel>: ServerChildChannel {
    public struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1.Value, HTTP2Channel.Value>>
        public let channel: any Channel
    }

    let http1: HTTP1
    let http2: HTTP2Channel
    let counter: ConnectionCounter?
    let grace: TimeAmount

    public init(http1: HTTP1, http2: HTTP2Channel, counter: ConnectionCounter?, grace: TimeAmount = .seconds(30)) {
        self.http1 = http1
        self.http2 = http2
        self.counter = counter
        self.grace = grace
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let http1 = http1, http2 = http2, counter = counter, grace = grace
        return channel.eventLoop.makeCompletedFuture {
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<NIONegotiatedHTTPVersion<HTTP1.Value, HTTP2Channel.Value>> { result in
                switch result {
                case .negotiated("h2"):
                    return http2.setup(channel: channel, logger: logger).map { .http2($0) }
                case .negotiated("http/1.1"), .fallback:
                    return http1.setup(channel: channel, logger: logger).map { .http1_1($0) }
                case .negotiated:
                    return channel.close().flatMap { channel.eventLoop.makeFailedFuture(NIOHTTP2Errors.invalidALPNToken()) }
                }
            }
            try channel.pipeline.syncOperations.addHandler(negotiation)
            // Whichever protocol follows, the connection is counted and ends at a graceful
            // shutdown (at once if it never sent a request, as one that stops at its handshake).
            try channel.pipeline.syncOperations.addHandler(ShutdownHandler(grace: grace, firstRequestTimeout: .seconds(20), counter: counter))
            return Value(negotiated: negotiation.protocolNegotiationResult, channel: channel)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
            case .http2(let connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("connection ended before its protocol was settled", metadata: ["error": "\(error)"])
        }
    }
}
