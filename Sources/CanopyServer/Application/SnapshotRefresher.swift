import CanopyModel
import CanopyReconciler
import CanopyStore
import Logging
import ServiceLifecycle

/// Keeps this replica's snapshot in step with writes made by other replicas on the same
/// PostgreSQL database, by following the audit log as soon as the database announces a commit
/// (LISTEN/NOTIFY), every `interval` besides (the fallback while the listener is down), and at
/// once when the authenticator misses a user or tenant (one created on another replica a moment
/// ago).
struct SnapshotRefresher: Service {
    let world: World
    /// Forgets the tokens other replicas revoke (its cache would otherwise honour them for up
    /// to its lifetime).
    let authenticator: Authenticator
    /// Learns of the quota refusals other replicas' proxies saw (demand for the share planner).
    let reconciler: Reconciler
    let logger: Logger
    /// Defaults to one second.
    var interval: Duration = .seconds(1)
    /// Whether to follow on the database's announcements too.
    var listens = true

    init(world: World, authenticator: Authenticator, reconciler: Reconciler, logger: Logger, interval: Duration = .seconds(1), listens: Bool = true) {
        self.world = world
        self.authenticator = authenticator
        self.reconciler = reconciler
        self.logger = logger
        self.interval = interval
        self.listens = listens
        // Captures no authenticator: it is handed in (it holds the closure).
        authenticator.followReplicas { [world, reconciler, logger] authenticator in
            try await Self.follow(world: world, authenticator: authenticator, reconciler: reconciler, logger: logger)
        }
    }

    func run() async throws {
        let (notices, notice) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            if listens && world.store.notifiesChanges {
                group.addTask { await listen { notice.yield() } }
                group.addTask { await follow(notices) }
            }
            group.addTask { await poll() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Calls `heard` on each commit the database announces; when the connection is lost,
    /// listens again after `interval` (the regular reading covers the gap).
    private func listen(_ heard: @escaping @Sendable () -> Void) async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await world.store.listenForChanges { heard() } }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                logger.warning("lost the database's change notices; listening again (the change feed is read every \(interval) meanwhile)", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Reads the feed on the notices heard, at most once per 50 ms: a reading covers every commit
    /// before it (and reads the last thousand entries), so notices arriving meanwhile — one per
    /// write on a busy database — are taken together rather than each costing a reading.
    private func follow(_ notices: AsyncStream<Void>) async {
        for await _ in notices {
            do {
                try await Self.follow(world: world, authenticator: authenticator, reconciler: reconciler, logger: logger)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not follow the change feed on a notice; the regular reading will", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func poll() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await Self.follow(world: world, authenticator: authenticator, reconciler: reconciler, logger: logger)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not follow the change feed; retrying", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Applies what other replicas committed since the last look: the snapshot, the tokens they
    /// revoked (forgotten by the cache) and the quota refusals their proxies saw. Whoever reads
    /// the feed (this service, or a sign-in that missed a user) does all three, since an entry
    /// is read once.
    static func follow(world: World, authenticator: Authenticator, reconciler: Reconciler, logger: Logger) async throws {
        let found = try await world.catchUp()
        let revoked = Set(found.compactMap(Self.revokedToken))
        if !revoked.isEmpty { authenticator.forget(tokenIDs: revoked) }
        reportQuotaRefusals(in: found, world: world, reconciler: reconciler)
        if !found.isEmpty { logger.debug("applied changes from other replicas", metadata: ["events": "\(found.count)"]) }
    }

    /// Quota refusals another replica's proxy recorded in the audit log: demand here too, so the
    /// replica that writes the limits plans with every replica's refusals.
    private static func reportQuotaRefusals(in entries: [FeedEntry], world: World, reconciler: Reconciler) {
        let snapshot = world.snapshot
        for entry in entries where entry.action.hasPrefix("kube.") {
            guard let refusal = KubeProxy.quotaRefusal(inAuditTarget: entry.target), let tenantID = entry.tenantID,
                  let cluster = snapshot.tenants[tenantID]?.cluster(named: refusal.cluster)
            else { continue }
            reconciler.reportQuotaRefusal(cluster: cluster.id, namespace: refusal.namespace, message: refusal.message)
        }
    }

    /// The token a feed entry revoked (`token.revoke` of `tokens/<id>`), if it is one.
    static func revokedToken(_ entry: FeedEntry) -> TokenID? {
        guard entry.action == SessionRoutes.revokeAction, entry.target.hasPrefix("tokens/") else { return nil }
        return TokenID(String(entry.target.dropFirst("tokens/".count)))
    }
}
