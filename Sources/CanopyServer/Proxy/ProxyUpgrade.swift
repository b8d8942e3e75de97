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

/// WebSocket upgrades through the kube proxy: `kubectl exec`, `attach` and `port-forward` speak
/// the Kubernetes channel protocols (`v5.channel.k8s.io`, …) over a WebSocket.
///
/// The upgrade is decided before Hummingbird's router sees the request: the caller is resolved
/// exactly as for any proxied request, then a WebSocket to the cluster is opened with the
/// cluster's credentials, the caller's impersonated identity and the client's first offered
/// subprotocol. Only once the cluster has accepted is the client's connection upgraded, and from
/// then on every message is passed through unchanged, both ways, until either side closes.
///
/// Refusals (no token, a cluster out of reach, the cluster's own 403 or 404) of a channel
/// protocol (`exec`, `attach`) are sent the way those protocols report errors: the connection is
/// upgraded, the `Status` goes out on the error channel (3) and the connection closes; `kubectl`
/// shows it as `Error from server (…)`. kubectl's port-forward (a SPDY session tunnelled in the
/// WebSocket, `SPDY/3.1+portforward.k8s.io`) is refused before the upgrade instead, as a plain
/// request; kubectl then falls back to a plain SPDY upgrade (`ProxySPDY`), which gets the
/// cluster's own refusal.
struct ProxyUpgrade: Sendable {
    let proxy: KubeProxy

    typealias Decision = ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>

    func decide(_ head: HTTPRequest, logger: Logger) async -> Decision {
        guard let fullPath = head.path, fullPath.hasPrefix("/k8s/clusters/") else { return .dontUpgrade }
        let offered = head.headerFields[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        guard let chosen = offered.first(where: { $0 == "v5.channel.k8s.io" }) ?? offered.first else { return .dontUpgrade }
        let upgrade = { (handler: @escaping WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>) -> Decision in
            .upgrade([.secWebSocketProtocol: chosen], handler)
        }
        do {
            let session = try await open(head, fullPath: fullPath, subprotocol: chosen, logger: logger)
            return upgrade { inbound, outbound, _ in try await session.relay(inbound, outbound) }
        } catch {
            // kubectl's port-forward tunnels SPDY in the WebSocket and would read a Status sent
            // after the upgrade as its own bytes: it is refused before any upgrade instead, as a
            // real server does. kubectl then falls back to a plain SPDY upgrade, which the
            // cluster refuses with its own Status (`ProxySPDY` passes it on), and prints that.
            guard chosen.hasSuffix(".channel.k8s.io") else { return .dontUpgrade }
            let status = ProxyStatus(for: error, logger: logger)
            return upgrade { inbound, outbound, _ in try await Self.refuse(status, inbound, outbound) }
        }
    }

    /// Resolves the caller and opens the cluster's side; throws the `ProxyStatus` to refuse with.
    private func open(_ head: HTTPRequest, fullPath: String, subprotocol: String, logger: Logger) async throws -> UpstreamSession {
        let parts = fullPath.split(separator: "/", maxSplits: 4, omittingEmptySubsequences: true)
        guard parts.count >= 4 else { throw ProxyStatus.notFound }
        let tenantName = String(parts[2]), clusterName = String(parts[3])
        let (principal, tenant, cluster, access) = try await proxy.caller(
            authorization: head.headerFields[.authorization], tenantName: tenantName, clusterName: clusterName
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

    /// The channel protocols' way to fail: the `Status` on the error channel, then close.
    /// The client is given up to 2 seconds to close after reading the Status (kubectl does at
    /// once): a close sent right behind the Status, in the same packet as the 101, was now and
    /// then never seen by a client built on NIO's upgrade handler, which then waited for good.
    static func refuse(_ status: ProxyStatus, _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        var message = ByteBuffer(bytes: [3])
        message.writeBytes(status.json)
        try await outbound.write(.binary(message))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for try await _ in inbound.messages(maxSize: 1 << 16) {} }
            group.addTask { try await Task.sleep(for: .seconds(2)) }
            try await group.next()
            group.cancelAll()
        }
        try await outbound.close(.normalClosure, reason: nil)
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
