import CanopyModel
import Foundation
import HTTPServing
import HTTPTypes
import KubeAPI
import KubeClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// SPDY upgrades through the kube proxy: `kubectl exec`, `attach` and `port-forward` before
/// kubectl v1.31, or when told not to use WebSockets, ask for `Upgrade: SPDY/3.1`.
///
/// Such a request never reaches the router (`HTTPServing.ProtocolSwitch`). The caller is resolved
/// as for any proxied request; then the same request is sent to the cluster on a connection of
/// its own, with the cluster's credentials and the caller's impersonated identity in place of
/// whatever credential and `Impersonate-*` headers the client sent. When the cluster switches
/// protocols its `101` goes to the client and from then on the two connections are joined byte
/// for byte (`ByteGlue`) until either closes. Any other answer (the cluster's 403 or 404, or 400
/// "Upgrade request required") is passed to the client as it is, and both connections close:
/// nothing more may travel on a connection that carries the cluster's credentials.
///
/// Only stream subresources of pods are taken this way; any other request asking for a SPDY
/// upgrade is answered as the same request without it (`HTTPServing.UnservedUpgradeFilter`),
/// so that it cannot go around the filtered views.
struct ProxySPDY: Sendable {
    let proxy: KubeProxy
    let logger: Logger

    static let subresources: Set<Substring> = ["exec", "attach", "portforward"]

    var protocolSwitch: ProtocolSwitch {
        ProtocolSwitch(claims: { head, _ in Self.claims(head) }, take: { head, connection in
            Task { await relay(head, connection) }
        })
    }

    /// `/k8s/clusters/{tenant}/{cluster}/api/v1/namespaces/{ns}/pods/{pod}/{exec|attach|portforward}`,
    /// without a body (a stream request has none; one that declares a body is answered as a
    /// plain request, so nothing is read and dropped).
    static func claims(_ head: HTTPRequestHead) -> Bool {
        let length = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        guard length == 0, head.headers.first(name: "transfer-encoding") == nil else { return false }
        let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", k8s, clusters, t, c, api, v1, namespaces, ns, pods, pod, subresource
        return parts.count == 12 && parts[0].isEmpty && parts[1] == "k8s" && parts[2] == "clusters" && parts[5] == "api"
            && parts[6] == "v1" && parts[7] == "namespaces" && parts[9] == "pods" && !parts[10].isEmpty && subresources.contains(parts[11])
    }

    private func relay(_ head: HTTPRequestHead, _ connection: SwitchingConnection) async {
        do {
            try await open(head, connection)
        } catch {
            let status = ProxyStatus(for: error, logger: logger)
            let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status.code), headers: ["Content-Type": "application/json"])
            connection.answer(head, body: ByteBuffer(bytes: status.json))
        }
    }

    /// Resolves the caller, sends the request to the cluster and joins or answers; throws the
    /// `ProxyStatus` to refuse with.
    private func open(_ head: HTTPRequestHead, _ connection: SwitchingConnection) async throws {
        let parts = head.uri.split(separator: "/", maxSplits: 4, omittingEmptySubsequences: true)
        let tenantName = String(parts[2]), clusterName = String(parts[3])
        let (principal, tenant, cluster, access) = try await proxy.caller(
            authorization: head.headers.first(name: "authorization"), tenantName: tenantName, clusterName: clusterName
        )
        let pathAndQuery = String(head.uri.dropFirst("/k8s/clusters/\(tenantName)/\(clusterName)".count))
        let target = KubePath(String(pathAndQuery.split(separator: "?", maxSplits: 1).first ?? ""))
        // The cluster's address, credential and TLS context, made once per cluster version.
        let destination = try await proxy.clients.targets.ready(for: cluster, clients: proxy.clients)

        var request = HTTPRequestHead(version: .http1_1, method: head.method, uri: destination.basePath + pathAndQuery)
        for (name, value) in head.headers where !KubeProxy.isClientOnly(name.lowercased(), keepingUpgrade: true) { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Host", value: destination.hostHeader)
        request.headers.add(name: "Content-Length", value: "0")
        if let authorization = destination.authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.headers.add(name: "Impersonate-User", value: access.user)
        for group in access.groups { request.headers.add(name: "Impersonate-Group", value: group) }

        let method = HTTPRequest.Method(head.method.rawValue) ?? .post
        let upstream: ClusterExchange
        do {
            upstream = try await ClusterExchange.send(
                request, host: destination.host, port: destination.port, sslContext: destination.sslContext, serverName: destination.serverName,
                on: connection.eventLoop
            )
        } catch {
            // Audited with the code the client gets (503 for a cluster down, 504 for no answer).
            let code = (error as? ProxyStatus)?.code ?? 503
            try? await proxy.audit(method, target: target, status: code, principal: principal, tenant: tenant, cluster: cluster, requestID: nil)
            throw error
        }
        try? await proxy.audit(method, target: target, status: Int(upstream.head.status.code), principal: principal, tenant: tenant, cluster: cluster, requestID: nil)
        guard upstream.head.status == .switchingProtocols else {
            upstream.channel.close(promise: nil)
            var answer = upstream.head
            for name in KubeProxy.hopByHop { answer.headers.remove(name: name) }
            connection.answer(answer, body: upstream.body)
            return
        }
        let channel = upstream.channel
        do {
            try await connection.eventLoop.submit {
                let (clientSide, clusterSide) = ByteGlue.pair()
                try connection.switchProtocols(upstream.head, to: clientSide)
                try ClusterExchange.switchProtocols(channel, to: clusterSide)
            }.get()
        } catch {
            // The client went while the cluster was answering.
            channel.close(promise: nil)
            throw error
        }
        logger.debug("SPDY stream joined", metadata: ["cluster": "\(cluster.name)", "path": "\(pathAndQuery)"])
    }
}

/// One request to a cluster on a connection of its own, whose answer is either a switch of
/// protocols (the connection is then kept for raw bytes) or a whole response (up to 1 MiB).
struct ClusterExchange: Sendable {
    let channel: any Channel
    let head: HTTPResponseHead
    let body: ByteBuffer

    /// Connects on `eventLoop` (the client's, so that the two can be joined), sends `request`,
    /// and waits up to 10 seconds for the answer. With TLS, the cluster is checked for
    /// `serverName` (the kubeconfig's `tls-server-name`, also sent as SNI) when given, else for its
    /// name (sent as SNI) or its address (no SNI).
    static func send(
        _ request: HTTPRequestHead, host: String, port: Int, sslContext: NIOSSLContext?, serverName: String? = nil, on eventLoop: any EventLoop
    ) async throws -> ClusterExchange {
        let address = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let isAddress = (try? SocketAddress(ipAddress: address, port: 0)) != nil
        let answer = eventLoop.makePromise(of: (HTTPResponseHead, ByteBuffer).self)
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName ?? (isAddress ? nil : address)))
                    }
                    try pipeline.addHandler(HTTPRequestEncoder())
                    try pipeline.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
                    try pipeline.addHandler(AnswerReader(answer: answer))
                }
            }
            .connect(host: address, port: port).get()
        channel.writeAndFlush(HTTPClientRequestPart.head(request), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = eventLoop.scheduleTask(in: .seconds(10)) {
            try? channel.pipeline.syncOperations.handler(type: AnswerReader.self).fail(
                ProxyStatus(504, "Timeout", "the cluster did not answer the stream request within 10 seconds")
            )
            channel.close(promise: nil)
        }
        do {
            let (head, body) = try await answer.futureResult.get()
            deadline.cancel()
            return ClusterExchange(channel: channel, head: head, body: body)
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw error
        }
    }

    /// Leaves a connection whose answer switched protocols to `handler`, which reads and writes
    /// raw bytes from then on, starting with any that came with the answer. On the event loop.
    static func switchProtocols(_ channel: any Channel, to handler: ByteGlue) throws {
        let pipeline = channel.pipeline.syncOperations
        // The encoder goes first: the handler may write raw bytes as soon as it is added.
        pipeline.removeHandler(context: try pipeline.context(handlerType: HTTPRequestEncoder.self), promise: nil)
        let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPResponseDecoder>.self)
        try pipeline.addHandler(handler, position: .after(decoder.handler))
        pipeline.removeHandler(context: decoder, promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: AnswerReader.self), promise: nil)
    }
}

/// Reads the cluster's answer: the head of a `101` at once, any other with its body.
private final class AnswerReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let answer: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var answered = false

    init(answer: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let head) where head.status == .switchingProtocols:
            answered = true
            answer.succeed((head, ByteBuffer()))
        case .head(let head):
            self.head = head
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= 1 << 20 else {
                fail(ProxyStatus(502, "BadGateway", "the cluster's answer to the stream request is over 1 MiB"))
                return context.close(promise: nil)
            }
            body.writeBuffer(&part)
        case .end:
            guard let head else { return }
            answered = true
            answer.succeed((head, body))
        }
    }

    /// Ends the wait for an answer with `error`, unless it has ended.
    func fail(_ error: any Error) {
        guard !answered else { return }
        answered = true
        answer.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ProxyStatus(503, "ServiceUnavailable", "the cluster closed the connection before answering the stream request"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }
}
