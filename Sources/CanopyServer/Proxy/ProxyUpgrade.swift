import CanopyModel
import Foundation
import HTTPTypes
import HummingbirdWebSocket
import KubeAPI
import KubeClient
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// WebSocket upgrades through the kube proxy: `kubectl exec`, `attach` and `port-forward` speak
/// the Kubernetes channel protocols (`v5.channel.k8s.io`, …) over a WebSocket.
///
/// The upgrade is decided before Hummingbird sees the request (`screen`, run by the connection's
/// `UnservedUpgradeFilter`): the caller is resolved exactly as for any proxied request, then a
/// WebSocket to the cluster is opened with the cluster's credentials, the caller's impersonated
/// identity and the client's first offered subprotocol. Only once the cluster has accepted is the
/// client's connection upgraded (`decide` takes the opened session), and from then on every
/// message is passed through unchanged, both ways, until either side closes.
///
/// Every refusal (no token, a cluster out of reach, the cluster's own 403 or 404) is answered
/// before any upgrade, as a plain request, as a real API server answers: the screen removes the
/// upgrade, and the router forwards the same request and passes on the cluster's `Status` (or
/// answers Canopy's own 401, 404 or 503), on a connection kept open. kubectl treats a WebSocket
/// upgrade refused so as an upgrade failure, falls back to a plain SPDY upgrade (`ProxySPDY`),
/// is refused there the same way and prints it as `Error from server (Forbidden): …`.
/// (Refusing after the upgrade, with the `Status` on the error channel, was tried first:
/// kubectl's WebSocket executor could read that message before it had set up its streams, drop
/// it as `Unknown stream id 3`, and exit 0. Leaving the refusal to Hummingbird gives a bare 400.)
final class ProxyUpgrade: Sendable {
    let proxy: KubeProxy
    let logger: Logger
    /// Sessions opened by `screen`, by the client's connection, until `decide` takes them.
    private let opened = Mutex<[ObjectIdentifier: (session: UpstreamSession, subprotocol: String)]>([:])

    init(proxy: KubeProxy, logger: Logger) {
        self.proxy = proxy
        self.logger = logger
    }

    typealias Decision = ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>

    /// Whether the WebSocket upgrade `head` asks for on `channel` is to be made: true once the
    /// cluster has accepted its side (kept for `decide`); false for anything else, which is then
    /// answered as a plain request.
    func screen(_ head: HTTPRequestHead, _ channel: any Channel) -> EventLoopFuture<Bool> {
        let promise = channel.eventLoop.makePromise(of: Bool.self)
        let key = ObjectIdentifier(channel)
        promise.completeWithTask {
            let offered = head.headers[canonicalForm: "sec-websocket-protocol"].map(String.init)
            guard let stream = await self.stream(head.uri, offered: offered, authorization: head.headers.first(name: "authorization")) else { return false }
            self.opened.withLock { $0[key] = stream }
            // A connection gone before Hummingbird asked for it leaves no session open.
            channel.closeFuture.whenComplete { _ in self.opened.withLock { $0.removeValue(forKey: key) }?.session.abandon() }
            return true
        }
        return promise.futureResult
    }

    /// Upgrades to the session `screen` opened for `channel`. An upgrade that was not the
    /// connection's first request (one pipelined behind a GET the fast lane answered) was not
    /// screened: it is opened here, and a refusal is Hummingbird's bare 400 (kubectl then falls
    /// back to SPDY, which is refused with the cluster's `Status`).
    func decide(_ head: HTTPRequest, channel: any Channel) async -> Decision {
        var stream = opened.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        if stream == nil, let path = head.path {
            let offered = head.headerFields[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",").map(String.init) }
            stream = await self.stream(path, offered: offered, authorization: head.headerFields[.authorization])
        }
        guard let (session, subprotocol) = stream else { return .dontUpgrade }
        return .upgrade([.secWebSocketProtocol: subprotocol]) { inbound, outbound, _ in try await session.relay(inbound, outbound) }
    }

    /// The cluster's side of the stream `fullPath` asks for, opened in the first offered
    /// subprotocol (`v5.channel.k8s.io` when offered); nil when it is not a stream of the proxy or
    /// was refused (logged).
    private func stream(_ fullPath: String, offered: [String], authorization: String?) async -> (session: UpstreamSession, subprotocol: String)? {
        let offered = offered.map { $0.trimmingCharacters(in: .whitespaces) }
        guard fullPath.hasPrefix("/k8s/clusters/"), let chosen = offered.first(where: { $0 == "v5.channel.k8s.io" }) ?? offered.first else { return nil }
        do {
            return (try await open(authorization: authorization, fullPath: fullPath, subprotocol: chosen, logger: logger), chosen)
        } catch {
            logger.debug("stream refused before the upgrade", metadata: ["path": "\(fullPath.prefix(200))", "error": "\(error)"])
            return nil
        }
    }

    /// Resolves the caller and opens the cluster's side; throws the `ProxyStatus` to refuse with.
    private func open(authorization: String?, fullPath: String, subprotocol: String, logger: Logger) async throws -> UpstreamSession {
        let parts = fullPath.split(separator: "/", maxSplits: 4, omittingEmptySubsequences: true)
        guard parts.count >= 4 else { throw ProxyStatus.notFound }
        let tenantName = String(parts[2]), clusterName = String(parts[3])
        let (principal, tenant, cluster, access) = try await proxy.caller(
            authorization: authorization, tenantName: tenantName, clusterName: clusterName
        )
        let pathAndQuery = String(fullPath.dropFirst("/k8s/clusters/\(tenantName)/\(clusterName)".count))
        let target = KubePath(String(pathAndQuery.split(separator: "?", maxSplits: 1).first ?? ""))
        let client = try await proxy.clients.client(for: cluster)
        let impersonation = KubeClient.Impersonation(user: access.user, groups: access.groups)
        var headers = HTTPFields()
        headers[HTTPField.Name("Impersonate-User")!] = impersonation.user
        for group in impersonation.groups { headers.append(HTTPField(name: HTTPField.Name("Impersonate-Group")!, value: group)) }
        headers[.secWebSocketProtocol] = subprotocol
        let server = client.connection.server
        let upstream = try await proxy.clients.targets.ready(for: cluster, clients: proxy.clients)
        let session = UpstreamSession()
        let opened = await session.connect(upstream, pathAndQuery: pathAndQuery, headers: headers, logger: logger)
        if case .failed(let error) = opened, Self.isTLSFailure(error) {
            throw ProxyStatus(503, "ServiceUnavailable", "the cluster's serving certificate could not be verified for \(URL(string: server)?.host ?? server): \(error)")
        }
        guard opened == .accepted else {
            // Audited with the code the client gets: the cluster's refusal, or 503 when it is down.
            let refusal = await Self.refusal(client: client, pathAndQuery: pathAndQuery, impersonation: impersonation)
            try? await proxy.audit(.post, target: target, status: refusal.code, principal: principal, tenant: tenant, cluster: cluster, requestID: nil)
            throw refusal
        }
        try? await proxy.audit(.post, target: target, status: 101, principal: principal, tenant: tenant, cluster: cluster, requestID: nil)
        return session
    }

    /// Why the cluster did not accept a stream: it is asked the same URL without an upgrade, and
    /// its `Status` is the answer; a cluster that cannot be reached is a 503.
    private static func refusal(client: KubeClient, pathAndQuery: String, impersonation: KubeClient.Impersonation) async -> ProxyStatus {
        do {
            let answer = try await client.forward(.GET, pathAndQuery: pathAndQuery, headers: HTTPHeaders(), body: nil, impersonation: impersonation, timeout: .seconds(10))
            let body = try await answer.body.collect(upTo: 1 << 20)
            if let status = try? JSONDecoder().decode(Status.self, from: Data(body.readableBytesView)), status.code >= 400 {
                return ProxyStatus(status.code, status.reason ?? "Failure", status.message ?? "the cluster refused the stream")
            }
            return ProxyStatus(502, "BadGateway", "the cluster did not accept the stream (HTTP \(answer.status.code))")
        } catch let error as KubeError {
            return .unreachable(error.message)
        } catch {
            return .unreachable("\(error)")
        }
    }

    /// Whether the upstream connection failed in TLS (the certificate, mostly).
    static func isTLSFailure(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }
}

extension WebSocketMessage {
    /// The message as the frame to write.
    var frame: WebSocketOutboundWriter.OutboundFrame {
        switch self {
        case .text(let text): .text(text)
        case .binary(let buffer): .binary(buffer)
        }
    }
}
