import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import KubeAPI
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// `exec` and `attach` on a simulated pod over a WebSocket (`v5.channel.k8s.io`, what kubectl
/// uses since v1.31): the pod is an echo — every message on stdin (channel 0) comes back on stdout
/// (channel 1); when the client closes stdin (`255, 0`) the server sends a `Success` Status on the
/// error channel (3) and closes. Enough for tests that bytes cross a proxy both ways unchanged.
///
/// `portforward` is in `SimPortForward`.
///
/// The upgrade is decided before the router: only a request that would succeed (known token,
/// `create` on `pods/exec` (`pods/portforward`) for the caller or whom they impersonate, the pod
/// exists, the client offers the protocol) is upgraded; anything else goes on to the router,
/// which answers with the refusal (`401`, `403`, `404`) or `400 Upgrade request required`.
enum SimExec {
    static let channelProtocol = "v5.channel.k8s.io"

    /// Upgrades `head` to an echo session when it would succeed; see the type's comment.
    static func decide(_ api: SimAPI, _ head: HTTPRequest, _ channel: any Channel) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let certificate: [UInt8]? = try? await channel.pipeline.handler(type: NIOSSLServerHandler.self).map { handler -> [UInt8]? in
            handler.peerCertificate.flatMap { try? $0.toDERBytes() }
        }.get()
        guard let subprotocol = acceptedProtocol(api, head, peerCertificate: certificate ?? nil) else { return .dontUpgrade }
        let ports = SimPortForward.ports(in: head.path ?? "")
        let session: WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context> = switch subprotocol {
        case SimPortForward.tunnelProtocol: { inbound, outbound, context in try await SimPortForward.tunnel(inbound, outbound, logger: context.logger) }
        case SimPortForward.channelProtocol: { inbound, outbound, _ in try await SimPortForward.forward(ports, inbound, outbound) }
        default: { inbound, outbound, _ in try await echo(inbound, outbound) }
        }
        let sim = api.sim
        return .upgrade([.secWebSocketProtocol: subprotocol]) { inbound, outbound, context in
            sim.streamOpened(on: channel)
            defer { sim.streamClosed(on: channel) }
            try await session(inbound, outbound, context)
        }
    }

    /// Whether a WebSocket upgrade of `head` would be accepted, decided on the event loop before
    /// the upgrade machinery sees it: a refused one is then answered as a plain request, with
    /// the `Status` a real API server sends before upgrading (403 naming `pods/exec`, 404, 401,
    /// or 400 "Upgrade request required" for a subprotocol it does not speak), on a connection
    /// kept open, rather than Hummingbird's bare 400 and close.
    static func screen(_ api: SimAPI) -> UpgradeScreen {
        { head, channel in
            channel.eventLoop.makeSucceededFuture(acceptedProtocol(api, request(head), peerCertificate: peerCertificate(channel)) != nil)
        }
    }

    /// `head` as the request Hummingbird's handlers see.
    static func request(_ head: HTTPRequestHead) -> HTTPRequest {
        var fields = HTTPFields()
        for header in head.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return HTTPRequest(method: HTTPRequest.Method(head.method.rawValue) ?? .get, scheme: "https", authority: nil, path: head.uri, headerFields: fields)
    }

    /// The client certificate of `channel`'s TLS connection, if it presented one; on the event loop.
    static func peerCertificate(_ channel: any Channel) -> [UInt8]? {
        let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        return handler?.peerCertificate.flatMap { try? $0.toDERBytes() }
    }

    /// The subprotocol `head` would be upgraded with, or nil when the sim refuses the stream.
    private static func acceptedProtocol(_ api: SimAPI, _ head: HTTPRequest, peerCertificate: [UInt8]?) -> String? {
        let offered = head.headerFields[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let path = head.path ?? ""
        let subprotocol: String? =
            if !path.split(separator: "?", maxSplits: 1)[0].hasSuffix("/portforward") { offered.contains(channelProtocol) ? channelProtocol : nil }
            else if offered.contains(SimPortForward.tunnelProtocol) { SimPortForward.tunnelProtocol }
            else if offered.contains(SimPortForward.channelProtocol), !SimPortForward.ports(in: path).isEmpty { SimPortForward.channelProtocol }
            else { nil }
        guard let subprotocol, allowsStream(api, head, peerCertificate: peerCertificate) else { return nil }
        return subprotocol
    }

    /// Whether the caller of `head` may open the stream it asks for: a known token or client
    /// certificate, `create` on the subresource for them (or whom they impersonate), an existing pod.
    /// A cluster made unreachable (`Faults.unreachableUntil`) opens none: the request goes on to the
    /// router, which drops the connection as it does every request then.
    static func allowsStream(_ api: SimAPI, _ head: HTTPRequest, peerCertificate: [UInt8]?) -> Bool {
        guard let path = head.path, path.hasPrefix("/clusters/") else { return false }
        let parts = path.split(separator: "?", maxSplits: 1)[0].split(separator: "/").map(String.init)
        guard parts.count > 2, let cluster = api.sim.clusters[parts[1]] else { return false }
        if let down = cluster.faults.unreachableUntil, down > Date() { return false }
        let request = Request(head: head, body: .init(buffer: ByteBuffer()))
        do {
            let user = try api.authenticate(request, cluster: cluster, peerCertificate: peerCertificate)
            try SimRequest(cluster: cluster, user: user, request: request, path: Array(parts.dropFirst(2))).authorizeStream()
        } catch {
            return false
        }
        return true
    }

    private static func echo(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        for try await message in inbound.messages(maxSize: 1 << 20) {
            guard case .binary(var buffer) = message, let stream = buffer.readInteger(as: UInt8.self) else { continue }
            switch stream {
            case 0:
                var reply = ByteBuffer(bytes: [1])
                reply.writeBuffer(&buffer)
                try await outbound.write(.binary(reply))
            case 255:
                var status = ByteBuffer(bytes: [3])
                status.writeString(#"{"metadata":{},"status":"Success"}"#)
                try await outbound.write(.binary(status))
                try await outbound.close(.normalClosure, reason: nil)
                return
            default:
                continue  // resize events and the like
            }
        }
    }
}
