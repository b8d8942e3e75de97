import CanopyModel
import Dispatch
import HTTPServing
import Metrics
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The kube proxy's fast lane: plain GETs answered on the client connection's event loop, with
/// no task, router or async HTTP client in between (`HTTPServing.FastLane`).
///
/// It takes a request only when everything needed is at hand at once: a GET with no body, not a
/// watch, on a path that is never filtered (not `namespaces` and not a cluster-wide list), with a
/// bearer token whose record is cached and fresh (`Authenticator.cachedIdentity`), a caller who
/// may reach the cluster, and that cluster's connection details ready. Anything else (including
/// every refusal: 401, 404) goes the usual way through `KubeProxy`, which answers it and fills
/// the caches the next request finds here. What the lane forwards is what `KubeProxy` forwards:
/// the client's headers without its credentials, `Impersonate-*` and hop-by-hop headers, plus the
/// cluster's credential and the caller's impersonated identity; the answer streams back as it
/// comes, with back-pressure, and the cluster failing before its answer begins is a 503.
struct ProxyFastLane: Service {
    let services: APIServices
    let clients: ProxyClients
    let pool: UpstreamPool
    let deadlines: LaneDeadlines
    var metrics: FastLaneMetrics { services.fastLane }

    init(services: APIServices, clients: ProxyClients) {
        self.services = services
        self.clients = clients
        pool = UpstreamPool()
        deadlines = LaneDeadlines(deadline: clients.deadline)
    }

    /// Closes the connections to clusters at a graceful shutdown.
    func run() async throws {
        try? await gracefulShutdown()
        pool.close()
    }

    var lane: FastLane {
        FastLane { head, channel in take(head, eventLoop: channel.eventLoop) }
    }

    /// The exchange that answers `head`, or `nil` to leave it to `KubeProxy`.
    func take(_ head: HTTPRequestHead, eventLoop: any EventLoop) -> FastProxyExchange? {
        guard head.method == .GET, head.version == .http1_1, head.isKeepAlive,
              head.headers.first(name: "content-length").map({ $0 == "0" }) ?? true, !head.headers.contains(name: "transfer-encoding"),
              // An interim `100 Continue` would end the exchange early and leave the final answer
              // on a pooled connection; such a request goes the usual way.
              !head.headers.contains(name: "expect")
        else { return nil }
        // The URI is read as bytes (every delimiter is ASCII): this runs for every request.
        let uri = head.uri, bytes = uri.utf8, slash = UInt8(ascii: "/")
        guard bytes.starts(with: Self.prefix.utf8) else { return nil }
        let queryStart = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        // A watch (in any spelling of its parameter) goes the usual way: it ends with its client.
        if queryStart != bytes.endIndex, Self.occurs(Self.watch, in: bytes[queryStart...]) { return nil }
        let tenantStart = bytes.index(bytes.startIndex, offsetBy: Self.prefix.utf8.count)
        guard let tenantEnd = bytes[tenantStart..<queryStart].firstIndex(of: slash) else { return nil }
        let clusterStart = bytes.index(after: tenantEnd)
        let clusterEnd = bytes[clusterStart..<queryStart].firstIndex(of: slash) ?? queryStart
        let tenantName = uri[tenantStart..<tenantEnd], clusterName = uri[clusterStart..<clusterEnd]
        let path = uri[clusterEnd..<queryStart], query = uri[queryStart...]
        // Escapes and dot segments are left to `KubeProxy`, which decides on the decoded path.
        guard !tenantName.isEmpty, !clusterName.isEmpty, !bytes[clusterEnd...].contains(UInt8(ascii: "%")), !Self.occurs(Self.dotSegment, in: path.utf8)
        else { return nil }
        let target = KubePath(String(path))
        // Collections at cluster scope go the usual way: some are filtered or gathered per caller.
        guard !target.isNamespaceCollection, target.clusterWideResource == nil else { return nil }

        guard let token = KubeProxy.bearerToken(head.headers.first(name: "authorization")),
              let identity = services.authenticator.cachedIdentity(forToken: token)
        else { return nil }
        let snapshot = services.world.snapshot
        guard let principal = snapshot.principal(userID: identity.userID, tenantID: identity.tenantID, groups: identity.groups),
              let tenant = snapshot.tenant(named: String(tenantName)), let cluster = tenant.cluster(named: String(clusterName)),
              let access = ProxyAccess.resolve(principal, tenant: tenant, cluster: cluster),
              let upstream = clients.targets.target(for: cluster, clients: clients)
        else { return nil }

        var request = HTTPRequestHead(version: .http1_1, method: .GET, uri: upstream.basePath + (path.isEmpty ? "/" : path) + query)
        for (name, value) in head.headers where !KubeProxy.isClientOnly(name.lowercased()) { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Host", value: upstream.hostHeader)
        if let credential = upstream.authorization { request.headers.add(name: "Authorization", value: credential) }
        request.headers.add(name: "Impersonate-User", value: access.user)
        for group in access.groups { request.headers.add(name: "Impersonate-Group", value: group) }
        return FastProxyExchange(request: request, upstream: upstream, pool: pool, eventLoop: eventLoop, metrics: metrics, deadlines: deadlines)
    }

    static let prefix = "/k8s/clusters/"
    private static let watch = Array("watch".utf8), dotSegment = Array("/.".utf8)

    /// Whether `needle` occurs in `bytes`: a plain scan (the generic `contains` of a collection in
    /// another, from _StringProcessing, was 8 % of Canopy's CPU in the GET benchmark).
    static func occurs(_ needle: [UInt8], in bytes: Substring.UTF8View) -> Bool {
        guard let first = needle.first else { return true }
        var from = bytes.startIndex
        while let found = bytes[from...].firstIndex(of: first) {
            if bytes[found...].starts(with: needle) { return true }
            from = bytes.index(after: found)
        }
        return false
    }

}

/// The request metrics Hummingbird's `MetricsMiddleware` records for the proxy's route, recorded
/// for the fast lane's requests too, so `/metrics` counts every proxied request.
/// `canopy.proxy.fast_lane_requests` counts them apart.
final class FastLaneMetrics: Sendable {
    private let byStatus = Mutex<[Int: (counter: Counter, timer: Metrics.Timer)]>([:])
    private let total = Atomic<Int>(0)
    private let counter = Counter(label: "canopy.proxy.fast_lane_requests")
    static let route = "/k8s/clusters/{tenant}/{cluster}/**"

    private let abandonedCount = Atomic<Int>(0), connections = Atomic<Int>(0), openConnections = Atomic<Int>(0)
    private let streamCount = Atomic<Int>(0), openStreamCount = Atomic<Int>(0)

    /// The requests this process's fast lane answered.
    var answered: Int { total.load(ordering: .relaxed) }
    /// Requests whose client left before their answer ended.
    var abandoned: Int { abandonedCount.load(ordering: .relaxed) }
    /// Connections the lane opened to clusters, and how many of them are open.
    var connected: Int { connections.load(ordering: .relaxed) }
    var open: Int { openConnections.load(ordering: .relaxed) }
    /// HTTP/2 streams the lane opened to clusters (a request each), and how many are open.
    var streams: Int { streamCount.load(ordering: .relaxed) }
    var openStreams: Int { openStreamCount.load(ordering: .relaxed) }

    func abandon() { abandonedCount.add(1, ordering: .relaxed) }

    func connected(_ channel: any Channel) {
        connections.add(1, ordering: .relaxed)
        openConnections.add(1, ordering: .relaxed)
        channel.closeFuture.whenComplete { _ in self.openConnections.subtract(1, ordering: .relaxed) }
    }

    func streamOpened(_ stream: any Channel) {
        streamCount.add(1, ordering: .relaxed)
        openStreamCount.add(1, ordering: .relaxed)
        stream.closeFuture.whenComplete { _ in self.openStreamCount.subtract(1, ordering: .relaxed) }
    }

    func record(status: Int, since start: UInt64) {
        total.add(1, ordering: .relaxed)
        self.counter.increment()
        let (counter, timer) = byStatus.withLock { cache in
            if let found = cache[status] { return found }
            let dimensions = [("http.route", Self.route), ("http.request.method", "GET"), ("http.response.status_code", "\(status)")]
            let made = (Counter(label: "hb.requests", dimensions: dimensions), Metrics.Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds))
            cache[status] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
    }
}
