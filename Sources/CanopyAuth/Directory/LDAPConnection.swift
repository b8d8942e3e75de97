import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// `ldap://host[:port]` or `ldaps://host[:port]` (RFC 4516, without DN or query parts).
public struct LDAPURL: Sendable, Hashable, CustomStringConvertible {
    public let secure: Bool
    public let host: String
    public let port: Int

    /// Parses `text`; throws `AuthError.directoryMisconfigured` naming what is wrong.
    public init(_ text: String) throws {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("ldaps://") {
            secure = true
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("ldap://") {
            secure = false
            rest = text.dropFirst(7)
        } else {
            throw AuthError(.directoryMisconfigured, "\(text) is not an ldap:// or ldaps:// URL")
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !authority.contains("/"), !authority.contains("?") else {
            throw AuthError(.directoryMisconfigured, "\(text) must name only a host and port (base DNs are set separately)")
        }
        var host = String(authority)
        var port = secure ? 636 : 389
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()) else { throw AuthError(.directoryMisconfigured, "\(text) has a malformed port") }
                port = number
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let number = Int(authority[authority.index(after: colon)...]) else {
                throw AuthError(.directoryMisconfigured, "\(text) has a malformed port")
            }
            port = number
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw AuthError(.directoryMisconfigured, "\(text) needs a host and a port from 1 to 65535") }
        self.host = host
        self.port = port
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(secure ? "ldaps" : "ldap")://\(shownHost):\(port)"
    }

    /// The name to send in TLS's SNI and to check the certificate against; `nil` for an IP
    /// address, which NIOSSL then checks against the certificate's IP entries.
    var tlsServerName: String? {
        let isIP = (try? SocketAddress(ipAddress: host, port: port)) != nil
        return isIP ? nil : host
    }
}

/// One connection to a directory server: requests are written with increasing message ids and
/// their answers gathered by id, so several operations may be in flight at once.
final class LDAPConnection: Sendable {
    let url: LDAPURL
    private let channel: any Channel
    private let operationTimeout: Duration
    private let nextMessageID = Atomic<Int>(1)

    private init(url: LDAPURL, channel: any Channel, operationTimeout: Duration) {
        self.url = url
        self.channel = channel
        self.operationTimeout = operationTimeout
    }

    var isActive: Bool { channel.isActive }

    /// Opens a connection, with TLS from the start for `ldaps://` and after the StartTLS
    /// operation when `startTLS` is set.
    static func open(
        _ url: LDAPURL, tls: NIOSSLContext?, startTLS: Bool, connectTimeout: Duration, operationTimeout: Duration,
        group: any EventLoopGroup
    ) async throws -> LDAPConnection {
        let serverName = url.tlsServerName
        let handshake = group.any().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000 + connectTimeout.components.attoseconds / 1_000_000_000))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if url.secure, let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(done: handshake))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LDAPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(LDAPClientHandler())
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: url.host, port: url.port).get()
        } catch {
            handshake.succeed()
            throw AuthError(.directoryUnavailable, "\(url) cannot be reached: \(Self.describe(error))")
        }
        let connection = LDAPConnection(url: url, channel: channel, operationTimeout: operationTimeout)
        if url.secure, tls != nil { try await connection.awaitHandshake(handshake) } else { handshake.succeed() }
        if startTLS, !url.secure, let tls {
            let answer = try await connection.send(.startTLS)
            guard case .extended(let result) = answer.last, result.isSuccess else {
                connection.close()
                throw AuthError(.directoryMisconfigured, "\(url) refused StartTLS: \(answer.last.map { "\($0)" } ?? "no answer")")
            }
            let upgraded = channel.eventLoop.makePromise(of: Void.self)
            try await channel.eventLoop.submit {
                let ssl = try NIOSSLClientHandler(context: tls, serverHostname: serverName)
                try channel.pipeline.syncOperations.addHandler(ssl, position: .first)
                try channel.pipeline.syncOperations.addHandler(TLSHandshakeWaiter(done: upgraded), position: .after(ssl))
            }.get()
            try await connection.awaitHandshake(upgraded)
        }
        return connection
    }

    /// Waits for the TLS handshake, so a refused certificate is reported as such (and not as
    /// the closed connection that follows it), within the operation timeout.
    private func awaitHandshake(_ done: EventLoopPromise<Void>) async throws {
        let url = self.url
        let timeout = operationTimeout
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
            done.fail(AuthError(.directoryUnavailable, "\(url) did not finish the TLS handshake within \(timeout)"))
        }
        defer { timer.cancel() }
        do {
            try await done.futureResult.get()
        } catch {
            close()
            throw (error as? AuthError) ?? Self.translate(error, url: url)
        }
    }

    /// Sends `request` and returns every message of its answer, the final one last. Fails after
    /// the operation timeout (closing the connection, whose state is then unknown).
    func send(_ request: LDAPRequest, controls: [LDAPControl] = []) async throws -> [LDAPResponse] {
        let id = nextMessageID.add(1, ordering: .relaxed).oldValue
        let bytes = try LDAPCodec.encode(messageID: id, request, controls: controls)
        if case .unbind = request {
            try? await channel.writeAndFlush(LDAPOutbound(messageID: id, bytes: bytes, answer: nil)).get()
            return []
        }
        let answer = channel.eventLoop.makePromise(of: [LDAPResponse].self)
        let url = self.url
        let timeout = operationTimeout
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) {
            answer.fail(AuthError(.directoryUnavailable, "\(url) did not answer within \(timeout)"))
            channel.close(promise: nil)
        }
        answer.futureResult.whenComplete { _ in timer.cancel() }
        channel.writeAndFlush(LDAPOutbound(messageID: id, bytes: bytes, answer: answer)).whenFailure { answer.fail($0) }
        do {
            return try await answer.futureResult.get()
        } catch let error as AuthError {
            throw error
        } catch {
            throw Self.translate(error, url: url)
        }
    }

    /// Sends an unbind and closes.
    func close() {
        let channel = self.channel
        if channel.isActive {
            let bytes = (try? LDAPCodec.encode(messageID: nextMessageID.add(1, ordering: .relaxed).oldValue, .unbind)) ?? []
            channel.writeAndFlush(LDAPOutbound(messageID: 0, bytes: bytes, answer: nil)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// TLS failures become `directoryTLS` (the certificate was refused, or the handshake failed);
    /// everything else on the wire is `directoryUnavailable`.
    static func translate(_ error: any Error, url: LDAPURL) -> AuthError {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return AuthError(.directoryTLS, "TLS with \(url) failed: \(describe(error)); check the CA certificate and the server's name")
        }
        if let error = error as? LDAPProtocolError {
            return AuthError(.directoryUnavailable, "\(url) sent a message Canopy cannot read: \(error)")
        }
        return AuthError(.directoryUnavailable, "\(url): \(describe(error))")
    }

    static func describe(_ error: any Error) -> String {
        if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first {
            return describe(first.error)
        }
        if let io = error as? IOError { return io.description }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return "the connection timed out"
            case .ioOnClosedChannel, .alreadyClosed, .eof: return "the connection was closed"
            default: return "\(channel)"
            }
        }
        return "\(error)"
    }
}

/// Completes its promise when the TLS handshake before it in the pipeline is done, or fails it
/// with the handshake's error.
final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private let done: EventLoopPromise<Void>

    init(done: EventLoopPromise<Void>) { self.done = done }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            done.succeed()
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

/// A request on its way to the handler, with the promise its answer completes.
struct LDAPOutbound: Sendable {
    let messageID: Int
    let bytes: [UInt8]
    let answer: EventLoopPromise<[LDAPResponse]>?
}

/// Cuts the byte stream into whole BER messages (at most 16 MiB each).
struct LDAPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    static let maximumMessage = 16 << 20

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = try LDAPCodec.frameLength(buffer.readableBytesView) else { return .needMoreData }
        guard length <= Self.maximumMessage else { throw LDAPProtocolError("a message of \(length) bytes") }
        guard let bytes = buffer.readBytes(length: length) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(bytes))
        return .continue
    }
}

/// Matches answers to requests by message id.
final class LDAPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = [UInt8]
    typealias OutboundIn = LDAPOutbound
    typealias OutboundOut = ByteBuffer

    private var pending: [Int: (answer: EventLoopPromise<[LDAPResponse]>, messages: [LDAPResponse])] = [:]
    private var failure: (any Error)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outbound = unwrapOutboundIn(data)
        if let answer = outbound.answer {
            if let failure {
                answer.fail(failure)
                promise?.fail(failure)
                return
            }
            pending[outbound.messageID] = (answer, [])
        }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: outbound.bytes)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            let (id, response) = try LDAPCodec.decode(unwrapInboundIn(data))
            guard let response else { return }
            guard id != 0 else {
                // An unsolicited notification: the server is about to close the connection.
                failAll(LDAPProtocolError("the server announced it is closing the connection"))
                context.close(promise: nil)
                return
            }
            guard var entry = pending[id] else { return }
            entry.messages.append(response)
            if response.isFinal {
                pending[id] = nil
                entry.answer.succeed(entry.messages)
            } else {
                pending[id] = entry
            }
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ChannelError.eof)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        if failure == nil { failure = error }
        let waiting = pending
        pending = [:]
        for entry in waiting.values { entry.answer.fail(failure ?? error) }
    }
}
