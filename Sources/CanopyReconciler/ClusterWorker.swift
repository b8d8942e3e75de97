import CanopyModel
import Foundation
import KubeAPI
import KubeClient
import Logging
import Metrics
import Synchronization

/// What a worker sees of a cluster that the share planner needs.
enum ClusterObservation: Sendable {
    /// Canopy's quotas as a pass listed them.
    case quotas([ResourceQuota])
    /// A change to one of Canopy's quotas (its usage moved, or it was written).
    case quota(WatchEvent<ResourceQuota>)
    /// A node added, changed or removed (capacity).
    case node(WatchEvent<Node>)
    /// A controller's pod refused by a namespace's quota (a `FailedCreate` event).
    case refusal(namespace: String, message: String)
}

/// Converges one cluster: a pass whenever the desired objects change, a watched object drifts,
/// a retry is due, or the resync interval passes. Failures back off (capped, exponential) and
/// concern this cluster only: every cluster has its own worker.
final class ClusterWorker: Sendable {
    let clusterID: ClusterID
    let clusterName: String
    let connect: @Sendable () async throws -> KubeClient
    let observe: @Sendable (ClusterObservation) -> Void
    /// Whether this replica writes to the clusters now (it leads); asked before each write.
    let leads: @Sendable () -> Bool
    let options: Reconciler.Options
    let logger: Logger
    let wake: AsyncStream<Void>.Continuation
    let wakeups: AsyncStream<Void>
    let state: Mutex<State>
    // Made with the worker, not once per process: a handle made before the metrics system is
    // bootstrapped reports to nowhere for good (a test that ran a worker before any server
    // started lost these from every later server's `/metrics`).
    private let writesCounter = Counter(label: "canopy_reconciler_writes_total")
    private let passesCounter = Counter(label: "canopy_reconciler_passes_total")
    private let failuresCounter = Counter(label: "canopy_reconciler_failures_total")

    struct State {
        var desired = DesiredCluster()
        var fingerprint = Data()
        var client: KubeClient?
        var status = ClusterSyncStatus()
        /// Namespace problems of the last pass that reached the cluster.
        var problems: [String: NamespaceStatus] = [:]
        /// Desired namespaces as of the last pass that reached the cluster.
        var synced: Set<String> = []
        /// Those of them whose quota the share planner had not sized yet (zero limits).
        var unsized: Set<String> = []
        /// Those of them whose quota was sized with no room for a pod.
        var roomless: Set<String> = []
        /// Those of them whose quota the cluster does not enforce as asked yet, and those whose
        /// members' role bindings wait for that (see `PassOutcome`).
        var unenforced: Set<String> = []
        var withheld: Set<String> = []
        /// Those of them seen with their `default` ServiceAccount, and those still without it.
        var accounted: Set<String> = []
        var unaccounted: Set<String> = []
        var backoff: Duration = .zero
        var nextRetry: ContinuousClock.Instant?
        var lastPass: ContinuousClock.Instant?
        var lastOutcome: Result<PassOutcome, any Error>?
        /// Bumped by each change of the desired objects; a pass works from one generation.
        var generation = 0
        /// The generation the pass behind `lastOutcome` worked from.
        var outcomeGeneration = -1
        var running = false
    }

    init(
        cluster: Cluster, options: Reconciler.Options, logger: Logger, observe: @escaping @Sendable (ClusterObservation) -> Void = { _ in },
        leads: @escaping @Sendable () -> Bool = { true }, connect: @escaping @Sendable () async throws -> KubeClient
    ) {
        clusterID = cluster.id
        clusterName = cluster.name
        self.connect = connect
        self.observe = observe
        self.leads = leads
        self.options = options
        var logger = logger
        logger[metadataKey: "cluster"] = "\(cluster.name)"
        self.logger = logger
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state = Mutex(State())
    }

    /// Sets what the cluster should hold; a pass follows if it changed. Returns the generation
    /// of the desired objects, for `confirm(generation:timeout:)`.
    @discardableResult
    func setDesired(_ desired: DesiredCluster) -> Int {
        let fingerprint = desired.fingerprint
        let (changed, generation) = state.withLock { state in
            guard state.fingerprint != fingerprint else { return (false, state.generation) }
            state.desired = desired
            state.fingerprint = fingerprint
            state.status.desiredObjects = desired.count
            state.generation += 1
            return (true, state.generation)
        }
        if changed { wake.yield() }
        return generation
    }

    /// Asks for a pass soon.
    func poke() { wake.yield() }

    var status: ClusterSyncStatus { state.withLock { $0.status } }

    /// The status of one of this cluster's project namespaces.
    func namespaceStatus(_ name: String) -> NamespaceStatus {
        state.withLock { state in
            if state.status.state == .failing {
                return .error("cannot reach the cluster: \(state.status.lastError ?? "unknown error"); retrying with backoff")
            }
            if let problem = state.problems[name] { return problem }
            guard state.synced.contains(name) else { return .pending("waiting for the next reconcile pass") }
            // Ready means pods can be admitted: not while the quota still holds zero limits.
            if state.unsized.contains(name) { return .pending("waiting for the share planner to size its quota") }
            if state.roomless.contains(name) {
                return .pending("its quota has no room for a pod yet: the share planner makes room when a pod asks, as far as the project's share allows")
            }
            if state.withheld.contains(name) {
                return .pending("waiting for the cluster's quota controller to take up its quota; its members get access then")
            }
            if state.unenforced.contains(name) { return .pending("waiting for the cluster's quota controller to enforce its quota's limits") }
            if state.unaccounted.contains(name) {
                return .pending("waiting for the cluster to create its default ServiceAccount (pods are refused until then)")
            }
            return .ready
        }
    }

    /// Runs a pass now (or as soon as the running one ends) and waits for one that started after
    /// this call, up to `timeout`.
    func converge(timeout: Duration) async throws -> PassOutcome {
        // A pass already running started before this call: wait for the one after it.
        let required = state.withLock { state in
            state.nextRetry = nil
            return state.status.passes + (state.running ? 2 : 1)
        }
        wake.yield()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let finished = state.withLock { state in state.status.passes >= required ? state.lastOutcome : nil }
            if let finished { return try finished.get() }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw KubeError(.timeout, "the cluster did not converge within \(timeout)")
    }

    /// Waits, up to `timeout`, for a pass that worked from desired objects of `generation` or
    /// later. A clean pass that already did is enough: a wait that timed out and is asked again
    /// goes on from where it was instead of starting over (a loaded cluster's passes may each
    /// take longer than one wait). Otherwise a pass is asked for now.
    func confirm(generation: Int, timeout: Duration) async throws -> PassOutcome {
        let (start, done) = state.withLock { state -> (Int, PassOutcome?) in
            if state.outcomeGeneration >= generation, case .success(let outcome)? = state.lastOutcome,
                outcome.namespaceProblems.isEmpty, outcome.clusterProblems.isEmpty {
                return (state.status.passes, outcome)
            }
            state.nextRetry = nil
            return (state.status.passes, nil)
        }
        if let done { return done }
        wake.yield()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let finished = state.withLock { state in
                state.status.passes > start && state.outcomeGeneration >= generation ? state.lastOutcome : nil
            }
            if let finished { return try finished.get() }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw KubeError(.timeout, "the cluster did not write its quotas within \(timeout)")
    }

    /// Runs until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.passes() }
            group.addTask { await self.timer() }
            group.addTask { await self.watches() }
        }
        state.withLock { $0.client = nil }
    }

    // MARK: Passes

    private func passes() async {
        for await _ in wakeups {
            if Task.isCancelled { break }
            let (desired, generation, accounted, waiting) = state.withLock { state in
                let waiting = state.status.state == .failing && (state.nextRetry.map { ContinuousClock.now < $0 } ?? false)
                if !waiting { state.running = true }
                return (state.desired, state.generation, state.accounted, waiting)
            }
            if waiting { continue }
            let result: Result<PassOutcome, any Error>
            do {
                let client = try await client()
                result = .success(try await ClusterSync(client: client, desired: desired, accounted: accounted, writes: leads, logger: logger).run())
            } catch is CancellationError {
                break
            } catch {
                result = .failure(error)
            }
            record(result, desired: desired, generation: generation)
        }
    }

    /// The limits the cluster enforces now (`status.hard`) on Canopy's quota in each of
    /// `namespaces`, read afresh; `nil` for a quota missing or not yet taken up.
    func enforcedQuotas(in namespaces: [String]) async throws -> [String: [String: Quantity]?] {
        let client = try await client()
        var result: [String: [String: Quantity]?] = [:]
        for namespace in namespaces {
            do {
                result[namespace] = try await client.get(ResourceQuota.self, DesiredCluster.quotaName, namespace: namespace).status?.hard
            } catch let error as KubeError where error.httpCode == 404 {
                result[namespace] = .some(nil)
            }
        }
        return result
    }

    private func client() async throws -> KubeClient {
        if let client = state.withLock({ $0.client }) { return client }
        let client = try await connect()
        state.withLock { $0.client = client }
        return client
    }

    private func record(_ result: Result<PassOutcome, any Error>, desired: DesiredCluster, generation: Int) {
        passesCounter.increment()
        let now = ContinuousClock.now
        // The planner learns the quotas as the pass left them before anyone waiting on the pass
        // (`confirm`) sees it end: a lowering's confirmation then finds them at once.
        if case .success(let outcome) = result { observe(.quotas(outcome.quotas)) }
        state.withLock { state in
            state.status.passes += 1
            state.running = false
            state.outcomeGeneration = generation
            state.lastPass = now
            state.lastOutcome = result
            switch result {
            case .success(let outcome):
                state.status.writes += outcome.writes
                state.status.state = .synced
                state.status.lastSync = Date()
                state.problems = outcome.namespaceProblems
                state.synced = Set(desired.namespaces.compactMap(\.metadata.name))
                state.unsized = desired.pendingQuotas
                state.roomless = desired.roomlessQuotas
                state.unenforced = outcome.unenforced
                state.withheld = outcome.withheld
                state.accounted = state.accounted.subtracting(outcome.unaccounted).union(outcome.accounted).intersection(state.synced)
                state.unaccounted = outcome.unaccounted
                // Held-back role bindings are retried like a problem (and sooner when the quota
                // watch sees the quota taken up), as is a look for missing service accounts.
                let troubled = !outcome.namespaceProblems.isEmpty || !outcome.clusterProblems.isEmpty || !outcome.withheld.isEmpty
                    || !outcome.unaccounted.isEmpty
                state.status.lastError = outcome.clusterProblems.first
                if troubled, outcome.writes == 0, outcome.deferred > 0, outcome.clusterProblems.isEmpty {
                    // A follower waiting for the leader's writes looks again at the first
                    // backoff's pace, without growing it: the wait is the leader's, not a fault.
                    state.backoff = .zero
                    state.nextRetry = now + options.initialBackoff
                    state.status.nextAttempt = Date().addingTimeInterval(Self.seconds(options.initialBackoff))
                } else if troubled {
                    state.backoff = nextBackoff(state.backoff)
                    state.nextRetry = now + state.backoff
                    state.status.nextAttempt = Date().addingTimeInterval(Self.seconds(state.backoff))
                } else {
                    state.backoff = .zero
                    state.nextRetry = nil
                    state.status.nextAttempt = nil
                }
            case .failure(let error):
                state.status.state = .failing
                state.status.lastError = Self.describe(error)
                state.backoff = nextBackoff(state.backoff)
                state.nextRetry = now + state.backoff
                state.status.nextAttempt = Date().addingTimeInterval(Self.seconds(state.backoff))
            }
        }
        switch result {
        case .success(let outcome):
            if outcome.writes > 0 {
                writesCounter.increment(by: outcome.writes)
                logger.info("reconciled", metadata: ["writes": "\(outcome.writes)"])
            }
        case .failure(let error):
            failuresCounter.increment()
            logger.warning("reconcile pass failed", metadata: ["error": "\(Self.describe(error))"])
        }
    }

    private func nextBackoff(_ current: Duration) -> Duration {
        current == .zero ? options.initialBackoff : min(current * 2, options.maxBackoff)
    }

    static func describe(_ error: any Error) -> String {
        (error as? KubeError)?.message ?? "\(error)"
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    // MARK: Timer

    /// Pokes a pass when a retry is due or the resync interval has passed.
    private func timer() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: options.tick)
            let now = ContinuousClock.now
            let due = state.withLock { state in
                if let retry = state.nextRetry, now >= retry {
                    state.nextRetry = nil
                    return true
                }
                if let last = state.lastPass, now - last >= options.resync { return true }
                return false
            }
            if due { wake.yield() }
        }
    }

}

extension ClusterWorker {
    /// Stops the worker's client.
    func shutdown() async {
        let client = state.withLock { state -> KubeClient? in
            defer { state.client = nil }
            return state.client
        }
        try? await client?.shutdown()
    }
}
