import CanopyAuth
import CanopyCertificates
import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import HTTPServing
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// The Canopy server: store, snapshot, authentication and the HTTP API in one process.
public enum CanopyServer {
    /// What a running server tells its starter.
    public struct Ready: Sendable {
        /// The port it listens on (useful with port 0).
        public let port: Int
        /// The generated password of the first domain admin, on a first start without one given.
        public let generatedAdminPassword: String?
        /// The live services, for tests and the demo to reach into.
        public let services: APIServices
        /// The server's certificate (PEM) when it serves HTTPS; clients trust it as their CA.
        public let certificatePEM: String?
        /// `https` or `http`.
        public var scheme: String { certificatePEM == nil ? "http" : "https" }
        /// Starts a graceful shutdown (as SIGTERM would): `run` returns once in-flight requests
        /// are answered and the services have stopped.
        public let stop: @Sendable () async -> Void
    }

    /// Opens the store, brings its schema up to date, creates the first admin on an empty store,
    /// and serves until cancelled (or, with `handleSignals`, until SIGTERM/SIGINT), shutting down
    /// gracefully.
    public static func run(
        _ configuration: ServerConfiguration, logger: Logger, handleSignals: Bool = false,
        onReady: @escaping @Sendable (Ready) async -> Void = { _ in }
    ) async throws {
        let store = try await SQLStore.open(
            dataDirectory: configuration.dataDirectory, databaseURL: configuration.databaseURL, logger: logger
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            do {
                try await serve(configuration, store: store, logger: logger, handleSignals: handleSignals, onReady: onReady)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    private static func serve(
        _ configuration: ServerConfiguration, store: SQLStore, logger: Logger, handleSignals: Bool,
        onReady: @escaping @Sendable (Ready) async -> Void
    ) async throws {
        // Metrics made before the bootstrap would report to nowhere for good.
        _ = Metrics.registry
        try await store.migrate()
        let world = try await World(store: store)
        let hasher = PasswordHasher(cost: configuration.bcryptCost)
        let generated = try await Bootstrap.ensureDomainAdmin(world: world, hasher: hasher, configuredPassword: configuration.adminPassword)
        let secrets = try SecretBox.load(dataDirectory: configuration.dataDirectory)
        try await checkSecretKey(secrets, store: store)
        let directories = Directories(store: store, secrets: secrets, groupLifetime: configuration.directoryGroupLifetime, logger: logger)
        let authenticator = Authenticator(
            world: world, hasher: hasher, throttle: configuration.loginThrottle, directories: directories, logger: logger
        )
        let health = ClusterHealthMonitor(world: world, secrets: secrets, interval: configuration.clusterProbeInterval, logger: logger)
        let clients = ClusterClients(world: world, secrets: secrets, logger: logger)
        // With a shared database this replica writes to the clusters only once it holds the lease.
        let reconciler = Reconciler(
            options: configuration.reconciler, logger: logger, leading: configuration.databaseURL == nil, snapshots: { world.snapshots() }
        ) { cluster, options in
            try await clients.client(for: cluster, timeout: options.requestTimeout, retries: 2)
        }
        let services = APIServices(
            world: world, authenticator: authenticator, hasher: hasher, secrets: secrets, health: health, reconciler: reconciler,
            directories: directories, logger: logger, releaseHandover: configuration.reconcilerLeaseLifetime + .seconds(5)
        )
        let certificate = try configuration.tls
            ? ServerCertificate.loadOrCreate(in: configuration.dataDirectory, host: configuration.host) : nil
        let proxyClients = ProxyClients(
            clients: services.clusters, deadline: configuration.proxyDeadline, http2: configuration.clusterHTTP2,
            gatherLimit: configuration.proxyGatherLimit, gatherTotal: configuration.proxyGatherTotal, logger: logger
        )
        let router = buildRouter(services, certificatePEM: certificate?.certificatePEM, proxyClients: proxyClients)
        let kubeProxy = KubeProxy(services: services, clients: proxyClients)
        let upgrades = ProxyUpgrade(proxy: kubeProxy, logger: logger)
        let fastLane = ProxyFastLane(services: services, clients: proxyClients)
        let http: HTTPServerBuilder = .quiescingHTTP1WebSocketUpgrade(
            screen: upgrades.screen, counter: services.connections, protocolSwitch: ProxySPDY(proxy: kubeProxy, logger: logger).protocolSwitch,
            fastLane: fastLane.lane
        ) { head, channel, _ in
            await upgrades.decide(head, channel: channel)
        }
        let recorder = TokenUseRecorder(authenticator: authenticator, store: store, logger: logger)
        // Only a shared PostgreSQL database can have other replicas: they follow its change
        // feed, and take turns at writing to the clusters (each starts as a follower).
        var shared: [any Service] = []
        if configuration.databaseURL != nil {
            shared = [
                SnapshotRefresher(
                    world: world, authenticator: authenticator, reconciler: reconciler, logger: logger, interval: configuration.changeFeedInterval,
                    listens: configuration.changeNotifications
                ),
                ReconcilerLease(store: store, reconciler: reconciler, holder: ReconcilerLease.holderName(), logger: logger, lifetime: configuration.reconcilerLeaseLifetime),
                ReleaseDesk(store: store, reconciler: reconciler, logger: logger),
            ]
        }
        let shutdown = ShutdownHandle()
        let app = Application(
            router: router,
            server: try certificate.map { try .tls(http, tlsConfiguration: $0.serverTLSConfiguration()) } ?? http,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "canopy"),
            services: [recorder, health] + shared + [reconciler, fastLane],
            onServerRunning: { channel in
                await onReady(Ready(
                    port: channel.localAddress?.port ?? 0, generatedAdminPassword: generated, services: services,
                    certificatePEM: certificate?.certificatePEM, stop: { await shutdown.trigger() }
                ))
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(
            services: [app], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger
        ))
        shutdown.attach(group)
        try await group.run()
    }

    /// Every replica, and every start, must seal secrets with the same key: the first start
    /// stores a value sealed with its key, and a start whose key cannot open it stops here,
    /// before it could fail to open the cluster credentials, or seal ones the others cannot open.
    static func checkSecretKey(_ secrets: SecretBox, store: any Store) async throws {
        let expected = "canopy secret key check"
        let stored = try await store.setting("secret_key_check", storingIfAbsent: try secrets.seal(expected))
        guard (try? secrets.open(stored)) == expected else {
            throw AuthError(
                .secretKey,
                "the secret key (CANOPY_SECRET_KEY, else secret.key in the data folder) does not open this database's secrets: "
                    + "give every replica the same secret key, the one the first replica used"
            )
        }
    }

    /// Every route of the API, with error rendering, metrics and authentication in front.
    public static func buildRouter(_ services: APIServices, certificatePEM: String? = nil, proxyClients: ProxyClients? = nil) -> Router<CanopyRequestContext> {
        let router = Router(context: CanopyRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        OperationalRoutes(services: services, registry: Metrics.registry).register(on: router)
        KubeProxy(services: services, clients: proxyClients ?? ProxyClients(clients: services.clusters)).register(on: router)
        let api = router.group("api/v1")
        api.add(middleware: AuthenticationMiddleware(authenticator: services.authenticator))
        SessionRoutes(services: services).registerPublic(on: api)
        let authenticated = api.group(context: AuthenticatedContext.self)
        SessionRoutes(services: services).register(on: authenticated)
        PasswordRoutes(services: services).register(on: authenticated)
        TenantRoutes(services: services).register(on: authenticated)
        UserRoutes(services: services).register(on: authenticated)
        IdentityProviderRoutes(services: services).register(on: authenticated)
        AdminRoutes(services: services).register(on: authenticated)
        DomainUserRoutes(services: services).register(on: authenticated)
        ProjectRoutes(services: services).register(on: authenticated)
        ClusterRoutes(services: services).register(on: authenticated)
        NamespaceRoutes(services: services).register(on: authenticated)
        PoolRoutes(services: services).register(on: authenticated)
        MemberRoutes(services: services).register(on: authenticated)
        AuditRoutes(services: services).register(on: authenticated)
        KubeconfigRoutes(services: services, certificatePEM: certificatePEM).register(on: authenticated)
        QuotaRoutes(services: services).register(on: authenticated)
        ConsoleRoutes(services: services, secureCookies: certificatePEM != nil).register(on: router)
        return router
    }

    /// The process-wide Prometheus registry, bootstrapped into swift-metrics once.
    enum Metrics {
        static let registry: PrometheusCollectorRegistry = {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            return registry
        }()
    }
}

/// Lets code outside the service group start its graceful shutdown.
final class ShutdownHandle: Sendable {
    private let group = Mutex<ServiceGroup?>(nil)

    func attach(_ serviceGroup: ServiceGroup) { group.withLock { $0 = serviceGroup } }

    func trigger() async {
        guard let serviceGroup = group.withLock({ $0 }) else { return }
        await serviceGroup.triggerGracefulShutdown()
    }
}
