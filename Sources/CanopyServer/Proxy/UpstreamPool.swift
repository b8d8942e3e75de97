import CanopyModel
import Foundation
import KubeClient
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Where one cluster's requests go, ready for the fast lane.
final class UpstreamTarget: Sendable {
    let cluster: ClusterID
    let version: Int
    let host: String
    let port: Int
    let sslContext: NIOSSLContext?
    /// The name TLS sends and checks: `tls-server-name`, else the host unless it is an address.
    let serverName: String?
    let hostHeader: String
    /// The server URL's own path, without its trailing `/`.
    let basePath: String
    let authorization: String?
    let server: String

    convenience init(cluster: Cluster, client: KubeClient) throws {
        try self.init(cluster: cluster.id, version: cluster.version, connection: client.connection, authorization: client.authorizationHeader)
    }

    init(cluster: ClusterID, version: Int, connection: Kubeconfig.Connection, authorization: String?) throws {
        guard let base = URLComponents(string: connection.server), let host = base.host else {
            throw KubeError(.configuration, "bad cluster address \(connection.server)")
        }
        let isTLS = base.scheme == "https"
        let address = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.cluster = cluster
        self.version = version
        self.host = address
        port = base.port ?? (isTLS ? 443 : 80)
        sslContext = isTLS ? try NIOSSLContext(configuration: KubeClient.tlsConfiguration(for: connection)) : nil
        let isAddress = (try? SocketAddress(ipAddress: address, port: 0)) != nil
        serverName = connection.tlsServerName.flatMap { $0.isEmpty ? nil : $0 } ?? (isAddress ? nil : address)
        hostHeader = base.port.map { "\(host):\($0)" } ?? host
        basePath = base.percentEncodedPath.hasSuffix("/") ? String(base.percentEncodedPath.dropLast()) : base.percentEncodedPath
        self.authorization = authorization
        server = connection.server
    }
}

/// The clusters' `UpstreamTarget`s, made once per cluster version from the proxy's client.
final class UpstreamTargets: Sendable {
    private let targets = Mutex<[ClusterID: (version: Int, target: UpstreamTarget?)]>([:])
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// The target of `cluster` when it is ready; when it is not, it is made in the background
    /// (the request goes the usual way meanwhile).
    func target(for cluster: Cluster, clients: ProxyClients) -> UpstreamTarget? {
        let (ready, start) = targets.withLock { targets -> (UpstreamTarget?, Bool) in
            if let entry = targets[cluster.id], entry.version >= cluster.version {
                return (entry.version == cluster.version ? entry.target : nil, false)
            }
            targets[cluster.id] = (cluster.version, nil)
            return (nil, true)
        }
        if start {
            let logger = logger
            Task {
                do {
                    let target = try UpstreamTarget(cluster: cluster, client: try await clients.client(for: cluster))
                    self.targets.withLock { targets in
                        if targets[cluster.id]?.version == cluster.version { targets[cluster.id] = (cluster.version, target) }
                    }
                } catch {
                    // Tried again by a later request; meanwhile `KubeProxy` answers (and reports).
                    logger.debug("no fast lane to the cluster", metadata: ["cluster": "\(cluster.name)", "error": "\(error)"])
                    self.targets.withLock { targets in
                        if targets[cluster.id]?.version == cluster.version { targets[cluster.id] = nil }
                    }
                }
            }
        }
        return ready
    }

    /// The target of `cluster`, made now if it is not ready (for streams, which cannot go another
    /// way): one TLS context per cluster version, whatever path uses it.
    func ready(for cluster: Cluster, clients: ProxyClients) async throws -> UpstreamTarget {
        if let ready = target(for: cluster, clients: clients) { return ready }
        let target = try UpstreamTarget(cluster: cluster, client: try await clients.client(for: cluster))
        targets.withLock { targets in
            if (targets[cluster.id]?.version ?? .min) <= cluster.version { targets[cluster.id] = (cluster.version, target) }
        }
        return target
    }
}

/// Idle connections to clusters, per cluster version and event loop (a connection serves
/// requests of its own event loop only, so nothing hops between threads). An idle connection is
/// closed after a minute.
final class UpstreamPool: Sendable {
    private struct Key: Hashable {
        let cluster: ClusterID
        let version: Int
        let eventLoop: ObjectIdentifier
    }

    private struct Idle: @unchecked Sendable {
        let channel: any Channel
        let expiry: Scheduled<Void>
    }

    private let idle = Mutex<(open: Bool, channels: [Key: [Idle]])>((true, [:]))
    static let idleTimeout: TimeAmount = .seconds(60)
    static let maxIdle = 128

    private func key(_ target: UpstreamTarget, _ eventLoop: any EventLoop) -> Key {
        Key(cluster: target.cluster, version: target.version, eventLoop: ObjectIdentifier(eventLoop))
    }

    /// An open idle connection to `target` on `eventLoop`, if there is one.
    func take(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> (any Channel)? {
        let key = key(target, eventLoop)
        while let found = idle.withLock({ $0.channels[key]?.popLast() }) {
            found.expiry.cancel()
            if found.channel.isActive { return found.channel }
        }
        return nil
    }

    /// Keeps `channel` (of `eventLoop`, done with its answer) for the next request.
    func put(_ channel: any Channel, _ target: UpstreamTarget, on eventLoop: any EventLoop) {
        let key = key(target, eventLoop)
        let id = ObjectIdentifier(channel)
        let expiry = eventLoop.scheduleTask(in: Self.idleTimeout) { [self] in
            let expired = idle.withLock { idle -> Bool in
                guard let index = idle.channels[key]?.firstIndex(where: { ObjectIdentifier($0.channel) == id }) else { return false }
                idle.channels[key]!.remove(at: index)
                return true
            }
            if expired { channel.close(promise: nil) }
        }
        let kept = idle.withLock { idle -> Bool in
            guard idle.open, idle.channels[key, default: []].count < Self.maxIdle else { return false }
            idle.channels[key, default: []].append(Idle(channel: channel, expiry: expiry))
            return true
        }
        if !kept {
            expiry.cancel()
            channel.close(promise: nil)
        }
    }

    /// Closes every idle connection, and from now on each one done with its answer.
    func close() {
        let closing = idle.withLock { idle in
            defer { idle = (false, [:]) }
            return idle.channels.values.flatMap { $0 }
        }
        for found in closing {
            found.expiry.cancel()
            found.channel.close(promise: nil)
        }
    }

    /// A new connection to `target` on `eventLoop`, ready for requests.
    static func connect(_ target: UpstreamTarget, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let context = target.sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: target.serverName))
                    }
                    try pipeline.addHandler(HTTPRequestEncoder())
                    try pipeline.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
                    try pipeline.addHandler(UpstreamLink())
                }
            }
            .connect(host: target.host, port: target.port)
    }
}
