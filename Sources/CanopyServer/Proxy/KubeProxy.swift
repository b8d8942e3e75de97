import AsyncHTTPClient
import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import HummingbirdCore
import KubeAPI
import KubeClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `/k8s/clusters/{tenant}/{cluster}/…`: the authenticating kube proxy.
///
/// It authenticates the Canopy token, resolves the caller's access to the cluster from the
/// snapshot (404, as for a cluster that does not exist, when they have none), drops whatever
/// credential and `Impersonate-*` headers the client sent, and forwards the request with the
/// cluster's credentials and the caller's impersonated identity, streaming the answer back. The
/// cluster's own RBAC and admission decide. Lists that a project user could never get from the
/// cluster are answered the way they expect: `namespaces` filtered to theirs, and cluster-wide
/// lists of namespaced resources (`kubectl get pods -A`) gathered from their namespaces.
struct KubeProxy: Sendable {
    let services: APIServices
    let clients: ProxyClients

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options]

    func register(on router: Router<CanopyRequestContext>) {
        for method in Self.methods {
            router.on("k8s/clusters/{tenant}/{cluster}/**", method: method) { request, context in
                await handle(request, context)
            }
        }
    }

    func handle(_ request: Request, _ context: CanopyRequestContext) async -> Response {
        do {
            return try await proxy(request, context)
        } catch {
            return ProxyStatus(for: error, logger: services.logger).response
        }
    }

    /// Who is calling and what they may reach on the cluster: 401 for a missing or bad token,
    /// 404 for a cluster out of their reach.
    func caller(authorization: String?, tenantName: String, clusterName: String) async throws
        -> (principal: Principal, tenant: TenantSnapshot, cluster: Cluster, access: ProxyAccess)
    {
        guard let token = Self.bearerToken(authorization), let identity = try await services.authenticator.identity(forToken: token) else {
            throw ProxyStatus.unauthorized
        }
        let snapshot = services.world.snapshot
        guard let principal = snapshot.principal(userID: identity.userID, tenantID: identity.tenantID, groups: identity.groups) else {
            throw ProxyStatus.unauthorized
        }
        guard let tenant = snapshot.tenant(named: tenantName), let cluster = tenant.cluster(named: clusterName),
              let access = ProxyAccess.resolve(principal, tenant: tenant, cluster: cluster)
        else { throw ProxyStatus.notFound }
        return (principal, tenant, cluster, access)
    }

    private func proxy(_ request: Request, _ context: CanopyRequestContext) async throws -> Response {
        let tenantName = try context.parameters.require("tenant"), clusterName = try context.parameters.require("cluster")
        let (principal, tenant, cluster, access) = try await caller(
            authorization: request.headers[.authorization], tenantName: tenantName, clusterName: clusterName
        )

        let prefix = "/k8s/clusters/\(tenantName)/\(clusterName)"
        let path = String(request.uri.path.dropFirst(prefix.count))
        let target = KubePath(path.isEmpty ? "/" : path)
        let query = request.uri.query.map { "?" + $0 } ?? ""
        let client = try await clients.client(for: cluster)
        let headers = Self.forwardedHeaders(request.headers)
        let impersonation = KubeClient.Impersonation(user: access.user, groups: access.groups)

        // A watch may stay silent for minutes: it ends when its client goes, not at the next event.
        let isWatch = target.isWatch(request.uri)
        let clientGone = isWatch ? await HTTPServing.clientGone(context.channel) : nil
        if request.method == .get, !access.isAdmin {
            if target.isNamespaceCollection {
                return try await NamespaceListFilter(client: client, allowed: access.namespaces, deadline: clients.deadline, limit: clients.gatherLimit, pool: clients.gatherPool, holder: tenant.tenant.id.rawValue)
                    .respond(path: path, query: query, headers: headers, isWatch: isWatch, clientGone: clientGone)
            }
            if let (root, resource) = target.clusterWideResource,
               await clients.scopes.isNamespaced(resource, root: root, cluster: cluster, client: client) {
                let fanOut = FanOut(client: client, impersonation: impersonation, deadline: clients.deadline, gatherLimit: clients.gatherLimit, pool: clients.gatherPool, holder: tenant.tenant.id.rawValue)
                return if let clientGone {
                    try await fanOut.respondWatch(target: target, query: query, namespaces: access.namespaces.sorted(), headers: headers, clientGone: clientGone)
                } else {
                    try await fanOut.respond(target: target, query: query, namespaces: access.namespaces.sorted(), headers: headers)
                }
            }
        }

        // The client's body is relayed until the cluster's answer has been read whole: a cluster
        // may answer before it has read the body (413 for one too large), and stopping the upload
        // while its answer is still arriving fails that answer too (CancellationError, then 503).
        let body = RequestBodyRelay(of: request)
        let response: HTTPClientResponse
        do {
            response = try await client.forward(
                HTTPMethod(rawValue: request.method.rawValue), pathAndQuery: path + query, headers: headers, body: body?.upload,
                impersonation: impersonation, timeout: clients.deadline
            )
        } catch {
            await body?.stop()
            throw error
        }
        do {
            let isWrite = [.post, .put, .patch, .delete].contains(request.method)
            if response.status == .forbidden, request.method != .delete, let namespace = target.namespaceOfObject {
                let (answer, requested) = try await refusal(response, cluster: cluster, namespace: namespace)
                if isWrite {
                    try await audit(
                        request.method, target: target, status: 403, quotaRequest: requested, principal: principal, tenant: tenant, cluster: cluster,
                        requestID: context.requestID
                    )
                }
                await body?.stop()
                return answer
            }
            if isWrite {
                try await audit(request.method, target: target, status: Int(response.status.code), principal: principal, tenant: tenant, cluster: cluster, requestID: context.requestID)
            }
            return try await Self.streamed(response, client: client, waitForFirstBytes: !isWatch, clientGone: clientGone, upload: body)
        } catch {
            await body?.stop()
            throw error
        }
    }

    /// A write the cluster refused: passed on as it is; a refusal by Canopy's quota also tells
    /// the share planner that this namespace wants more (a re-plan follows at once), and returns
    /// what was requested (`requests.cpu=500m,…`) for the audit event, through which the other
    /// replicas on the database learn of it too.
    private func refusal(_ response: HTTPClientResponse, cluster: Cluster, namespace: String) async throws -> (Response, String?) {
        let body = try await response.body.collect(upTo: 1 << 20)
        let text = String(buffer: body)
        var requested: String?
        if Reconciler.refusedByCanopyQuota(text) {
            services.reconciler.reportQuotaRefusal(cluster: cluster.id, namespace: namespace, message: text)
            requested = Reconciler.requestedList(in: text)
        }
        var fields = HTTPFields()
        for (name, value) in response.headers where !Self.hopByHop.contains(name.lowercased()) {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return (Response(status: .forbidden, headers: fields, body: ResponseBody(byteBuffer: body)), requested)
    }

    /// The token of a `Bearer` authorization (the scheme in any case), without the spaces or
    /// tabs around it. Read byte by byte: this runs for every proxied request.
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let bytes = header.utf8
        guard bytes.count > 7, zip(bytes.prefix(7), "bearer ".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let rest = bytes.dropFirst(7)
        guard let first = rest.firstIndex(where: { !isBlank($0) }), let last = rest.lastIndex(where: { !isBlank($0) }) else { return nil }
        return String(decoding: rest[first...last], as: UTF8.self)
    }

    /// The client's headers minus those `isClientOnly`.
    static func forwardedHeaders(_ fields: HTTPFields) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for field in fields where !isClientOnly(field.name.canonicalName) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        return headers
    }

    /// Whether a header of the client's request (`name` lowercased) stays with Canopy: the
    /// client's credentials and any impersonation (Canopy's replace them), and hop-by-hop headers
    /// (Canopy sets its own). Every proxied path (the router's, the fast lane's, SPDY streams)
    /// forwards the rest; a stream keeps `Connection` and `Upgrade` (`keepingUpgrade`).
    static func isClientOnly(_ name: String, keepingUpgrade: Bool = false) -> Bool {
        if name == "authorization" || name == "cookie" || name.hasPrefix("impersonate-") { return true }
        if keepingUpgrade, name == "connection" || name == "upgrade" { return false }
        return hopByHop.contains(name)
    }

    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"]

    /// The cluster's answer, its body passed through as it arrives. With `waitForFirstBytes`
    /// (everything but watches) the first bytes are awaited before the status goes out, so that a
    /// cluster failing before it says anything is a 503, not a truncated 200; such an answer ends
    /// on its own, so it is read by the writing task itself (no task or queue in between: this is
    /// the path of every GET), with the cluster's `Content-Length` kept. A watch is read by a task
    /// of its own (`UpstreamBody`).
    /// `upload`, the client's body still being relayed, is stopped once the answer has been read.
    static func streamed(
        _ response: HTTPClientResponse, client: KubeClient, waitForFirstBytes: Bool = false, clientGone: ClientGone? = nil,
        upload: RequestBodyRelay? = nil
    ) async throws -> Response {
        var fields = HTTPFields()
        for (name, value) in response.headers where !hopByHop.contains(name.lowercased()) {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        let status = HTTPResponse.Status(code: Int(response.status.code))
        guard waitForFirstBytes else {
            let body = UpstreamBody(response, client: client)
            return Response(status: status, headers: fields, body: ResponseBody { writer in
                defer { if let upload { Task { await upload.stop() } } }
                for try await chunk in body.rest(until: clientGone) { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
        }
        let reader = BoundedBodyReader(response, client: client)
        let first: ByteBuffer?
        do {
            first = try await reader.next()
        } catch {
            throw KubeError(.unreachable, "the cluster stopped answering: \(error)")
        }
        // Kept only with bytes to send: an answer to HEAD announces a length it does not carry.
        let length = first == nil ? nil : response.headers.first(name: "content-length").flatMap { Int($0) }
        return Response(status: status, headers: fields, body: ResponseBody(contentLength: length) { writer in
            do {
                if let first {
                    try await writer.write(first)
                    while let chunk = try await reader.next() { try await writer.write(chunk) }
                }
            } catch {
                await upload?.stop()
                throw error
            }
            await upload?.stop()
            try await writer.finish(nil)
        })
    }
}

/// The part of a proxied URL below the cluster: what kind of request it is.
struct KubePath: Sendable {
    let path: String
    let segments: [Substring]

    init(_ path: String) {
        self.path = path
        // Split as bytes (`/` is ASCII): far cheaper than splitting characters, on every request.
        segments = path.utf8.split(separator: UInt8(ascii: "/")).map { Substring($0) }
    }

    /// The namespace of a namespaced object or collection (`/api/v1/namespaces/web/pods` → `web`).
    var namespaceOfObject: String? {
        guard let index = segments.firstIndex(of: "namespaces"), index + 2 < segments.count else { return nil }
        return String(segments[index + 1])
    }

    /// `/api/v1/namespaces`
    var isNamespaceCollection: Bool { segments == ["api", "v1", "namespaces"] }

    /// The resource of a collection at cluster scope (`/api/v1/pods`, `/apis/apps/v1/deployments`).
    var clusterWideResource: (root: String, resource: String)? {
        if segments.count == 3, segments[0] == "api" { return ("/api/\(segments[1])", String(segments[2])) }
        if segments.count == 4, segments[0] == "apis" { return ("/apis/\(segments[1])/\(segments[2])", String(segments[3])) }
        return nil
    }

    func isWatch(_ uri: HummingbirdCore.URI) -> Bool {
        let value = uri.queryParameters["watch"].map(String.init) ?? ""
        return value == "true" || value == "1"
    }
}

/// A Kubernetes `Status` answer from the proxy itself.
struct ProxyStatus: Error {
    let code: Int
    let reason: String
    let message: String
    /// Seconds for the client to wait before it tries again (`Retry-After`), for 429.
    var retryAfter: Int?

    init(_ code: Int, _ reason: String, _ message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    /// What the client is told when proxying fails with `error`: a `ProxyStatus` as it is; 503
    /// for a cluster that cannot be reached (or whose certificate does not verify); 500 for
    /// anything else, which is logged.
    init(for error: any Error, logger: Logger) {
        switch error {
        case let status as ProxyStatus: self = status
        case let error as KubeError: self = .unreachable(error.message)
        case let error where ProxyUpgrade.isTLSFailure(error):
            self.init(503, "ServiceUnavailable", "the cluster's serving certificate could not be verified: \(error)")
        case let error as ChannelError: self = .unreachable("\(error)")
        case let error as IOError: self = .unreachable("\(error)")
        case let error as NIOConnectionError: self = .unreachable("\(error)")
        // The cluster's connection ended inside its answer.
        case let error as HTTPParserError: self = .unreachable("\(error)")
        default:
            logger.error("proxy failure", metadata: ["error": "\(error)"])
            self.init(500, "InternalError", "Canopy could not proxy the request")
        }
    }

    /// A cluster that cannot be reached, for `reason`.
    static func unreachable(_ reason: String) -> ProxyStatus {
        ProxyStatus(503, "ServiceUnavailable", "the cluster cannot be reached through Canopy: \(reason)")
    }

    static let unauthorized = ProxyStatus(401, "Unauthorized", "Unauthorized")
    /// What a cluster the caller cannot see answers: the same as one that does not exist.
    static let notFound = ProxyStatus(404, "NotFound", "the server could not find the requested resource")

    /// The `Status` as JSON, written as a Kubernetes server writes it (`/` not escaped).
    var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return (try? encoder.encode(Status(code: code, reason: reason, message: message))) ?? Data()
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: code), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json)))
    }
}

/// One long-lived client per cluster for the proxy: pooled connections, no per-request TLS
/// handshake.
public final class ProxyClients: Sendable {
    private let clients: ClusterClients
    private let cache = Mutex<[ClusterID: (version: Int, client: Task<KubeClient, any Error>)]>([:])
    /// The longest a proxied request may take, on every path (`ServerConfiguration.proxyDeadline`).
    let deadline: TimeAmount
    /// Each cluster's address, credential and TLS context, ready for the fast lane and streams.
    let targets: UpstreamTargets
    /// Whether the fast lane offers HTTP/2 to clusters (`ServerConfiguration.clusterHTTP2`).
    let http2: Bool
    /// Which resources each cluster serves namespaced (for lists across namespaces).
    let scopes = ResourceScopes()
    /// `ServerConfiguration.proxyGatherLimit`.
    let gatherLimit: Int
    /// What all lists being gathered at once may hold (`ServerConfiguration.proxyGatherTotal`).
    let gatherPool: GatherPool

    init(
        clients: ClusterClients, deadline: Duration = .seconds(2 * 3600), http2: Bool = false, gatherLimit: Int = 64 << 20,
        gatherTotal: Int = 256 << 20, logger: Logger = Logger(label: "canopy.proxy")
    ) {
        self.clients = clients
        self.deadline = TimeAmount(deadline)
        self.http2 = http2
        self.gatherLimit = gatherLimit
        gatherPool = GatherPool(total: gatherTotal, listLimit: gatherLimit)
        targets = UpstreamTargets(logger: logger)
    }

    /// The cluster's client; concurrent first calls share one (each client is a connection pool:
    /// a second one would be dropped at once, and dropping a client shuts its pool down).
    func client(for cluster: Cluster) async throws -> KubeClient {
        let clients = clients
        let creation = cache.withLock { cache -> Task<KubeClient, any Error> in
            if let cached = cache[cluster.id], cached.version == cluster.version { return cached.client }
            // Every watch through the proxy holds a connection to the cluster for as long as it runs.
            let creation = Task { try await clients.client(for: cluster, timeout: .seconds(30), retries: 0, maxConnections: 10_000) }
            cache[cluster.id] = (cluster.version, creation)
            return creation
        }
        do {
            return try await creation.value
        } catch {
            cache.withLock { cache in
                if cache[cluster.id]?.version == cluster.version { cache[cluster.id] = nil }
            }
            throw error
        }
    }
}
