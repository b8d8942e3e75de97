import Foundation
import HTTPTypes
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// The cluster's side of one upgraded connection, and the two queues between it and the client.
///
/// Built on NIO's WebSocket client upgrader rather than a WebSocket client library so that the
/// connection is closed whatever the cluster answers: the client library Canopy used before
/// left it open when the cluster refused the upgrade (a Kubernetes API server keeps the
/// connection alive after its 403), one connection per refused `kubectl exec`.
final class UpstreamSession: Sendable {
    private let toCluster = AsyncStream<WebSocketMessage>.makeStream()
    private let fromCluster = AsyncStream<WebSocketMessage>.makeStream()
    private let opened = AsyncStream<Opening>.makeStream()

    /// How opening the cluster's side went.
    enum Opening: Sendable, Equatable {
        case accepted
        /// The cluster answered without upgrading, or did not answer within 10 seconds.
        case refused
        case failed(any Error)

        static func == (left: Opening, right: Opening) -> Bool {
            switch (left, right) {
            case (.accepted, .accepted), (.refused, .refused): true
            default: false
            }
        }
    }

    private enum Upgrade: Sendable {
        case webSocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case notUpgraded
    }

    private struct Connected: Sendable {
        let channel: any Channel
        let upgrade: EventLoopFuture<Upgrade>
    }

    /// Starts the WebSocket to `pathAndQuery` on the cluster of `target` (its address, Host
    /// header, base path, credential and TLS context, made once per cluster version) and says once
    /// the cluster accepted the upgrade, refused it, or could not be reached. With TLS, the
    /// target's server name (the kubeconfig's `tls-server-name`, else a cluster's name) is sent
    /// (SNI) and checked; a cluster known by its address is checked for that address, as on the
    /// plain proxy path.
    func connect(_ target: UpstreamTarget, pathAndQuery: String, headers: HTTPFields, logger: Logger) async -> Opening {
        let toCluster = toCluster, fromCluster = fromCluster, opened = opened
        Task {
            do {
                let connected = try await Self.open(target, pathAndQuery: pathAndQuery, headers: headers)
                switch try await connected.upgrade.get() {
                case .notUpgraded:
                    try? await connected.channel.close()
                    opened.continuation.yield(.refused)
                case .webSocket(let channel):
                    opened.continuation.yield(.accepted)
                    try await channel.executeThenClose { inbound, outbound in
                        try await Self.pump(inbound, outbound, toCluster: toCluster.stream, fromCluster: fromCluster.continuation)
                    }
                }
            } catch {
                logger.debug("upstream WebSocket ended", metadata: ["error": "\(error)"])
                opened.continuation.yield(.failed(error))
            }
            fromCluster.continuation.finish()
        }
        let deadline = Task {
            try await Task.sleep(for: .seconds(10))
            opened.continuation.yield(.refused)
        }
        defer { deadline.cancel() }
        var result = Opening.refused
        for await opening in opened.stream {
            result = opening
            break
        }
        // Nobody will relay a session given up on: if the cluster upgrades after the deadline,
        // its side is closed at once rather than left open.
        if result != .accepted { toCluster.continuation.finish() }
        return result
    }

    /// Closes the cluster's side of a session nobody will relay.
    func abandon() {
        toCluster.continuation.finish()
    }

    /// Passes messages both ways until either side closes.
    func relay(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        let toCluster = toCluster, fromCluster = fromCluster
        defer { toCluster.continuation.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // However the client's side ends (a close, or a connection gone without one, as
                // when kubectl is stopped), the cluster's side is closed, which ends the other
                // direction too: `waitForAll` waits for both even after one failed.
                defer { toCluster.continuation.finish() }
                for try await message in inbound.messages(maxSize: 16 << 20) { toCluster.continuation.yield(message) }
            }
            group.addTask {
                for await message in fromCluster.stream { try await outbound.write(message.frame) }
                try await outbound.close(.normalClosure, reason: nil)
            }
            // Until both directions are done: the cluster's last messages (the exit Status) come
            // after the client has stopped sending.
            try await group.waitForAll()
        }
    }

    /// Connects and sends the upgrade request; the future says whether the cluster upgraded.
    private static func open(_ target: UpstreamTarget, pathAndQuery: String, headers: HTTPFields) async throws -> Connected {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.basePath + pathAndQuery)
        head.headers.add(name: "Host", value: target.hostHeader)
        if let authorization = target.authorization { head.headers.add(name: "Authorization", value: authorization) }
        for field in headers { head.headers.add(name: field.name.rawName, value: field.value) }
        let request = head
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: target.host, port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext = target.sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: target.serverName)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 20, enableAutomaticErrorHandling: false) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            .webSocket(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel))
                        }
                    }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: request, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { .notUpgraded } }
                    )
                    var pipeline = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: configuration)
                    // The cluster may send its first frames in the same read as its 101 (port
                    // forwarding opens each port's channels at once): keep them.
                    pipeline.leftOverBytesStrategy = .forwardBytes
                    let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: pipeline)
                    return Connected(channel: channel, upgrade: upgrade)
                }
            }
    }

    /// The cluster's frames out as messages (pings answered), the client's messages in as masked
    /// frames. Ends when the cluster closes or goes; once the client's side has ended, the
    /// cluster is sent a close and given 5 seconds to answer it.
    private static func pump(
        _ inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, _ outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>,
        toCluster: AsyncStream<WebSocketMessage>, fromCluster: AsyncStream<WebSocketMessage>.Continuation
    ) async throws {
        enum Done { case cluster, client }
        try await withThrowingTaskGroup(of: Done.self) { group in
            group.addTask {
                var partial: (opcode: WebSocketOpcode, data: ByteBuffer)?
                for try await frame in inbound {
                    switch frame.opcode {
                    case .binary, .text, .continuation:
                        var data = frame.unmaskedData
                        if frame.opcode == .continuation {
                            guard partial != nil else { continue }
                            partial!.data.writeBuffer(&data)
                        } else {
                            partial = (frame.opcode, data)
                        }
                        guard frame.fin, let message = partial else { continue }
                        partial = nil
                        fromCluster.yield(message.opcode == .text ? .text(String(buffer: message.data)) : .binary(message.data))
                    case .ping:
                        try await outbound.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                    case .connectionClose:
                        return .cluster
                    default:
                        continue
                    }
                }
                return .cluster
            }
            group.addTask {
                for await message in toCluster {
                    let frame = switch message {
                    case .text(let text): WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(string: text))
                    case .binary(let buffer): WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: buffer)
                    }
                    try await outbound.write(frame)
                }
                var code = ByteBuffer()
                code.write(webSocketErrorCode: .normalClosure)
                try await outbound.write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code))
                return .client
            }
            while let done = try await group.next() {
                if done == .cluster { break }
                group.addTask {
                    try await Task.sleep(for: .seconds(5))
                    return .cluster
                }
            }
            group.cancelAll()
        }
    }
}
