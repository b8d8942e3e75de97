import CanopyModel
import Foundation
import KubeAPI
import KubeClient
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Keeps every tenant cluster holding exactly the objects the snapshot asks for.
///
/// It follows the snapshot: each new one is rendered per cluster (only tenants whose part
/// changed are rendered again) and handed to that cluster's worker, which writes the
/// difference. One worker per cluster, so a slow or failing cluster never delays the others.
public final class Reconciler: Service, Sendable {
    public struct Options: Sendable {
        /// A full pass even without any change (a backstop for missed watch events): 2 min.
        public var resync: Duration = .seconds(120)
        /// First retry after a failure, doubled per failure up to `maxBackoff`: 1 s, 60 s.
        public var initialBackoff: Duration = .seconds(1)
        public var maxBackoff: Duration = .seconds(60)
        /// Deadline of one request to a cluster: 10 s.
        public var requestTimeout: Duration = .seconds(10)
        /// Pause before watches that ended are opened again: 2 s.
        public var watchRestartDelay: Duration = .seconds(2)
        /// How often due retries and resyncs are looked for: 250 ms.
        public var tick: Duration = .milliseconds(250)
        /// How often every tenant is planned again even without a change (demand ages out of
        /// its window with time alone): once per demand window, 60 s.
        public var replanEverything: Duration = DemandTracker.window

        public init() {}
    }

    /// Opens a client for a cluster (its credentials live in the store).
    public typealias Connector = @Sendable (Cluster, Options) async throws -> KubeClient

    private let snapshots: @Sendable () -> AsyncStream<Snapshot>
    private let connector: Connector
    let options: Options
    let logger: Logger
    let state = Mutex(State())
    let quotaWake: AsyncStream<Void>.Continuation
    private let quotaWakeups: AsyncStream<Void>

    struct State {
        var workers: [ClusterID: (worker: ClusterWorker, task: Task<Void, Never>)] = [:]
        /// The tenant parts rendered last, to skip tenants that did not change.
        var rendered: [TenantID: ObjectIdentifier] = [:]
        /// Clusters being released: they want nothing.
        var releasing: Set<ClusterID> = []
        var latest: Snapshot?
        /// Whether this replica writes to the clusters (see `setLeading`).
        var leading = true
        /// Set when `run` ends: no worker starts and no lead is taken after it.
        var stopped = false
        /// Quota planning: observations, demand, targets, plans.
        var ledger = QuotaLedger()
    }

    /// `leading`: whether this replica starts out writing to the clusters (see `setLeading`).
    public init(
        options: Options = Options(), logger: Logger, leading: Bool = true, snapshots: @escaping @Sendable () -> AsyncStream<Snapshot>,
        connector: @escaping Connector
    ) {
        self.options = options
        self.logger = logger
        self.snapshots = snapshots
        self.connector = connector
        (quotaWakeups, quotaWake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.leading = leading }
        leadingGauge.record(leading ? 1 : 0)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.balance(self.quotaWakeups) }
                group.addTask { await self.replanEverythingPeriodically() }
                for await snapshot in self.snapshots() {
                    if Task.isCancelled { break }
                    self.apply(snapshot)
                }
                group.cancelAll()
            }
        }
        // Stopped, this replica writes nothing more: a clean-up another replica hands over now, or
        // one under way, goes back for the next writer (`ReleaseDesk`) instead of failing with
        // "no reconciler runs" while the lease is still held (services stop in reverse order, so
        // the lease and the desk outlive the reconciler; a CLI delete sent as the writer stopped
        // failed so), and a renewal meanwhile starts no workers again.
        let (workers, wasLeading) = state.withLock { state in
            defer { state.workers = [:] }
            let wasLeading = state.leading
            state.leading = false
            state.stopped = true
            return (Array(state.workers.values), wasLeading)
        }
        if wasLeading { leadingGauge.record(0) }
        for (worker, task) in workers {
            task.cancel()
            await task.value
            await worker.shutdown()
        }
    }

    /// Renders the clusters of every tenant that changed and hands the results to the workers;
    /// starts workers for new clusters and stops those of clusters that are gone. Without a
    /// snapshot, the latest is rendered again.
    func apply(_ new: Snapshot? = nil) {
        let stopped = state.withLock { state -> [(ClusterWorker, Task<Void, Never>)] in
            guard !state.stopped, let snapshot = new ?? state.latest else { return [] }
            state.latest = snapshot
            var present: Set<ClusterID> = []
            for (tenantID, tenant) in snapshot.tenants {
                present.formUnion(tenant.clusters.keys)
                let identity = ObjectIdentifier(tenant)
                let changed = state.rendered[tenantID] != identity
                state.rendered[tenantID] = identity
                if changed { state.ledger.changedTenants.insert(tenantID) }
                for cluster in tenant.clusters.values {
                    let isNew = state.workers[cluster.id] == nil
                    if isNew { state.workers[cluster.id] = start(cluster) }
                    guard changed || isNew, let worker = state.workers[cluster.id]?.worker else { continue }
                    worker.setDesired(Renderer.render(
                        tenant: tenant, cluster: cluster.id, releasing: state.releasing.contains(cluster.id), quotas: state.ledger.targets[cluster.id] ?? [:]
                    ))
                }
            }
            state.rendered = state.rendered.filter { snapshot.tenants[$0.key] != nil }
            state.releasing.formIntersection(present)
            let gone = state.workers.keys.filter { !present.contains($0) }
            return gone.compactMap { state.workers.removeValue(forKey: $0) }.map { ($0.worker, $0.task) }
        }
        quotaWake.yield()
        for (worker, task) in stopped {
            logger.info("cluster left the snapshot; its worker stops", metadata: ["cluster": "\(worker.clusterName)"])
            task.cancel()
            Task { await task.value; await worker.shutdown() }
        }
    }

    private func start(_ cluster: Cluster) -> (worker: ClusterWorker, task: Task<Void, Never>) {
        let connector = connector
        let options = options
        let id = cluster.id
        let worker = ClusterWorker(
            cluster: cluster, options: options, logger: logger, observe: { [weak self] in self?.observe(id, $0) }, leads: { [weak self] in self?.isLeading ?? false }
        ) {
            try await connector(cluster, options)
        }
        return (worker, Task { await worker.run() })
    }

    // MARK: Leading

    /// Whether this replica writes to the clusters. Replicas sharing a database take turns by a
    /// lease, so that only one writes (two would undo each other's quota limits, in an order that
    /// can pass a cap, and bring back objects the other removed until their snapshots agree).
    /// One that follows runs everything else: it lists and watches the clusters, plans, and
    /// reports status, with what waits for a write shown as waiting for the leader.
    public var isLeading: Bool { state.withLock { $0.leading } }

    /// 1 while this replica writes to the clusters, in `/metrics`. Made with the reconciler (a
    /// handle made before the metrics system is bootstrapped reports to nowhere for good).
    private let leadingGauge = Gauge(label: "canopy_reconciler_leading")

    /// Makes this replica lead or follow. On taking the lead every tenant is planned again and
    /// every cluster gets a pass at once (a follower's plans were never written).
    public func setLeading(_ leading: Bool) {
        let changed = state.withLock { state -> Bool in
            // A stopped reconciler takes no lead (the lease is renewed until its own shutdown).
            guard state.leading != leading, !(leading && state.stopped) else { return false }
            state.leading = leading
            if leading {
                // The clusters hold the last leader's limits, not this replica's plans (never
                // written): as after a restart, the next re-plan starts from what they hold, so
                // that it lowers before it raises against those. Until then the workers keep
                // every quota as it is.
                state.ledger.targets = [:]
                state.ledger.unconfirmed = [:]
                state.ledger.everythingChanged = true
                state.rendered = [:]
            }
            return true
        }
        guard changed else { return }
        leadingGauge.record(leading ? 1 : 0)
        logger.notice(leading ? "this replica now writes to the clusters" : "this replica follows: another writes to the clusters")
        if leading { apply() }
    }

    // MARK: Status

    /// Where the reconciliation of a cluster stands; `nil` for a cluster without a worker.
    public func status(of cluster: ClusterID) -> ClusterSyncStatus? {
        state.withLock { $0.workers[cluster]?.worker }?.status
    }

    /// Where one project namespace stands in its cluster.
    public func namespaceStatus(_ name: String, on cluster: ClusterID) -> NamespaceStatus {
        guard let worker = state.withLock({ $0.workers[cluster]?.worker }) else {
            return .pending("the cluster's reconciler has not started yet")
        }
        return worker.namespaceStatus(name)
    }

    // MARK: Release

    /// Removes everything Canopy manages from a cluster (its namespaces too, except adopted ones,
    /// which are given back) and waits until a pass confirms it, up to `timeout`. On failure the
    /// cluster goes back to wanting its objects. The outcome is the confirming pass's, with the
    /// writes of every pass since the release began (a pass woken by it may have done the work
    /// before the one that confirms).
    public func release(_ cluster: ClusterID, timeout: Duration) async throws -> PassOutcome {
        guard isLeading else { throw KubeError(.configuration, Self.follows) }
        let started = state.withLock { state -> (worker: ClusterWorker, writes: Int)? in
            state.releasing.insert(cluster)
            guard let worker = state.workers[cluster]?.worker, let tenant = state.latest.flatMap({ Self.owner(of: cluster, in: $0) }) else {
                return nil
            }
            let writes = worker.status.writes
            worker.setDesired(Renderer.render(tenant: tenant, cluster: cluster, releasing: true))
            return (worker, writes)
        }
        guard let (worker, writesBefore) = started else { throw KubeError(.configuration, "no reconciler runs for this cluster") }
        let deadline = ContinuousClock.now + timeout
        do {
            while true {
                var outcome = try await worker.converge(timeout: deadline - ContinuousClock.now)
                if let problem = outcome.clusterProblems.first ?? outcome.namespaceProblems.values.first?.message {
                    throw KubeError(.apiError, problem)
                }
                // A pass that held back writes (this replica stopped leading while it ran) has
                // not cleaned the cluster up, though it ended well: never report that as done
                // (the cluster would be forgotten with Canopy's objects still in it). Leading
                // again, the next pass does it; no longer leading, the caller hands it over.
                if outcome.deferred > 0 {
                    guard isLeading else { throw KubeError(.configuration, Self.follows) }
                    guard ContinuousClock.now < deadline else { throw KubeError(.timeout, "the cluster was not cleaned up within \(timeout)") }
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                outcome.writes = max(outcome.writes, worker.status.writes - writesBefore)
                return outcome
            }
        } catch {
            abandonRelease(cluster)
            throw error
        }
    }

    /// Gives a cluster back its desired objects after a release that will not be completed.
    public func abandonRelease(_ cluster: ClusterID) {
        state.withLock { state in
            state.releasing.remove(cluster)
            guard let worker = state.workers[cluster]?.worker, let tenant = state.latest.flatMap({ Self.owner(of: cluster, in: $0) }) else {
                return
            }
            worker.setDesired(Renderer.render(tenant: tenant, cluster: cluster, quotas: state.ledger.targets[cluster] ?? [:]))
        }
    }

    /// Why a follower does not do what only the replica that writes to the clusters can.
    public static let follows = "this replica does not write to the clusters: another replica on the same database does (it holds the reconciler lease); try again, or send the request to that replica"

    static func owner(of cluster: ClusterID, in snapshot: Snapshot) -> TenantSnapshot? {
        snapshot.tenants.values.first { $0.clusters[cluster] != nil }
    }

    /// Runs a pass on a cluster now and waits for it (tests, the CLI's `--wait`).
    public func converge(_ cluster: ClusterID, timeout: Duration) async throws -> PassOutcome {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let worker = state.withLock({ $0.workers[cluster]?.worker }) {
                return try await worker.converge(timeout: deadline - ContinuousClock.now)
            }
            guard ContinuousClock.now < deadline else { throw KubeError(.configuration, "no reconciler runs for this cluster") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
