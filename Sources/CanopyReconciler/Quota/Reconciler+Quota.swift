import CanopyModel
import Foundation
import KubeAPI
import KubeClient
import Logging

/// Live quota enforcement: the share planner re-plans whenever usage, capacity, demand or the
/// snapshot moves, and the new hard limits reach the clusters in two steps — every lowered limit
/// first (confirmed written), then every raised one — so that at no moment do the limits in the
/// clusters add up past a cap. Each cluster's own quota admission, atomic per namespace, then
/// refuses anything beyond them: two namespaces or two clusters growing at once cannot overshoot.
extension Reconciler {
    /// What the planner last worked from and decided for one tenant, with what the clusters
    /// last showed (for the usage and allocation views).
    public struct QuotaState: Sendable {
        public var tree: PlanTree
        public var plan: Plan
        /// Per cluster and namespace: the quota's hard limits and usage as last seen.
        public var observed: [ClusterID: [String: (hard: [String: Quantity], used: [String: Quantity])]]
        /// Per cluster: whether its nodes were seen (else capacity is the one recorded at import).
        public var nodesSeen: Set<ClusterID>
    }

    /// The last plan of a tenant; `nil` before the first one.
    public func quotaState(of tenant: TenantID) -> QuotaState? {
        state.withLock { state in
            guard let (tree, plan) = state.ledger.plans[tenant] else { return nil }
            let clusters = Set(tree.capacity.keys.map { ClusterID($0) })
            var observed: [ClusterID: [String: (hard: [String: Quantity], used: [String: Quantity])]] = [:]
            for cluster in clusters {
                observed[cluster] = (state.ledger.quotas[cluster] ?? [:]).mapValues { ($0.hard, $0.used) }
            }
            return QuotaState(tree: tree, plan: plan, observed: observed, nodesSeen: clusters.filter { state.ledger.nodes[$0] != nil })
        }
    }

    /// A pod refused by a project namespace's quota (seen by the proxy): its requests count as
    /// demand there, and a re-plan follows. `message` is the cluster's refusal
    /// (`… exceeded quota: canopy-quota, requested: requests.cpu=500m,…, used: …, limited: …`).
    public func reportQuotaRefusal(cluster: ClusterID, namespace: String, message: String) {
        let requested = Self.requestedAmounts(in: message)
        guard !requested.isEmpty else { return }
        let now = ContinuousClock.now
        state.withLock { state in
            for (resource, amount) in requested {
                state.ledger.demand.record(refused: amount, of: resource, in: namespace, on: cluster, at: now)
            }
            state.ledger.changedClusters.insert(cluster)
        }
        logger.debug("quota refusal", metadata: ["cluster": "\(cluster)", "namespace": "\(namespace)"])
        quotaWake.yield()
    }

    /// Whether a cluster's refusal is Canopy's own quota's (`exceeded quota: canopy-quota, …`).
    /// Only room in that quota is Canopy's to give: a refusal by another quota in the namespace
    /// (one the cluster's administrator or a policy engine added) is passed on as it is and is
    /// no demand, for growing Canopy's quota would not let the pod in.
    public static func refusedByCanopyQuota(_ message: String) -> Bool {
        message.contains("exceeded quota: \(DesiredCluster.quotaName),")
    }

    /// The `requested:` list of a quota refusal as the cluster wrote it (`requests.cpu=500m,…`).
    public static func requestedList(in message: String) -> String? {
        guard let start = message.range(of: "requested: ") else { return nil }
        return message[start.upperBound...].prefix { $0 != " " }.trimmingCharacters(in: CharacterSet(charactersIn: ","))
    }

    /// The `requested:` list of a quota refusal, in planner units.
    static func requestedAmounts(in message: String) -> [String: Int64] {
        guard let list = requestedList(in: message) else { return [:] }
        var result: [String: Int64] = [:]
        for pair in list.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let quantity = try? Quantity(parsing: String(parts[1])) else { continue }
            let resource = String(parts[0])
            result[resource] = PlanUnits.amount(quantity, resource, roundingUp: true)
        }
        return result
    }

    /// Records what a worker saw; a change that matters to the plan wakes the balancer.
    func observe(_ cluster: ClusterID, _ observation: ClusterObservation) {
        if case .refusal(let namespace, let message) = observation {
            return reportQuotaRefusal(cluster: cluster, namespace: namespace, message: message)
        }
        let now = ContinuousClock.now
        let changed = state.withLock { state -> Bool in
            switch observation {
            case .quotas(let quotas):
                // A cluster's first pass, or its first since it failed: its limits are no
                // longer frozen (nothing else would say so until the next full re-plan).
                let news = state.ledger.seen.insert(cluster).inserted || state.ledger.failing.contains(cluster)
                return quotas.reduce(news) { state.ledger.observe($1, on: cluster, at: now) || $0 }
            case .quota(let event):
                guard let namespace = event.object.metadata.namespace else { return false }
                if event.type == "DELETED" { return state.ledger.quotas[cluster]?.removeValue(forKey: namespace) != nil }
                return state.ledger.observe(event.object, on: cluster, at: now)
            case .node(let event):
                let name = event.object.metadata.name ?? ""
                var nodes = state.ledger.nodes[cluster] ?? [:]
                let before = nodes[name]
                nodes[name] = event.type == "DELETED" ? nil : (event.object.status?.allocatable ?? [:])
                let appeared = state.ledger.nodes[cluster] == nil
                state.ledger.nodes[cluster] = nodes
                return appeared || before != nodes[name]
            case .refusal:
                return false
            }
        }
        guard changed else { return }
        state.withLock { _ = $0.ledger.changedClusters.insert(cluster) }
        quotaWake.yield()
    }

    /// How many plans were made for `tenant` since the start (each re-plan plans only the
    /// tenants whose inputs changed).
    public func planCount(of tenant: TenantID) -> Int {
        state.withLock { $0.ledger.planCounts[tenant] ?? 0 }
    }

    /// Demand ages out of its window with time alone: once per window every tenant is planned.
    func replanEverythingPeriodically() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: options.replanEverything) } catch { return }
            state.withLock { $0.ledger.everythingChanged = true }
            quotaWake.yield()
        }
    }

    /// Re-plans after each wake-up until cancelled.
    func balance(_ wakeups: AsyncStream<Void>) async {
        for await _ in wakeups {
            if Task.isCancelled { break }
            do {
                try await rebalance()
            } catch is CancellationError {
                break
            } catch {
                // Which plans were written is not known: the retry plans everything.
                state.withLock { $0.ledger.everythingChanged = true }
                logger.warning("quota re-plan not applied; retrying", metadata: ["error": "\(ClusterWorker.describe(error))"])
                try? await Task.sleep(for: options.initialBackoff)
                quotaWake.yield()
            }
        }
    }

    /// One re-plan: every tenant whose inputs changed (`QuotaLedger.changedTenants` and
    /// `changedClusters`) and whose clusters have all been seen (or are unreachable, then
    /// planned around) is planned; lowered limits are written and confirmed before raised ones.
    /// A tenant not ready yet stays marked for the next re-plan.
    func rebalance() async throws {
        let now = ContinuousClock.now
        let steps = state.withLock { state -> (lowered: Targets, final: Targets)? in
            guard let snapshot = state.latest else { return nil }
            let failing = Set(state.workers.filter { $0.value.worker.status.state == .failing }.keys)
            state.ledger.changedClusters.formUnion(failing.symmetricDifference(state.ledger.failing))
            state.ledger.failing = failing
            let everything = state.ledger.everythingChanged
            state.ledger.everythingChanged = false
            var next = state.ledger.targets
            var trees: [(tree: PlanTree, frozen: Set<ClusterID>)] = []
            for tenant in snapshot.tenants.values {
                let clusters = Set(tenant.clusters.keys)
                guard !clusters.isEmpty, clusters.allSatisfy({ state.ledger.seen.contains($0) || failing.contains($0) }) else {
                    if everything { state.ledger.changedTenants.insert(tenant.tenant.id) }
                    continue
                }
                let changed = everything || state.ledger.plans[tenant.tenant.id] == nil
                    || state.ledger.changedTenants.contains(tenant.tenant.id) || !clusters.isDisjoint(with: state.ledger.changedClusters)
                guard changed else { continue }
                state.ledger.changedTenants.remove(tenant.tenant.id)
                state.ledger.changedClusters.subtract(clusters)
                let frozen = failing.intersection(clusters)
                let tree = state.ledger.tree(for: tenant, frozen: frozen, at: now)
                let plan = SharePlanner.plan(tree)
                trees.append((tree, frozen))
                state.ledger.plans[tenant.tenant.id] = (tree, plan)
                state.ledger.planCounts[tenant.tenant.id, default: 0] += 1
                // A failing cluster keeps what was last asked of it: the plan counted its limits
                // at the higher of that and what was seen, so the lower one is safe to keep, and
                // writing the higher back would only be undone once it answers.
                for cluster in clusters.subtracting(frozen) { next[cluster] = [:] }
                for (key, hard) in plan.hard where !frozen.contains(ClusterID(key.cluster)) {
                    next[ClusterID(key.cluster), default: [:]][key.name] = hard.dictionary
                }
            }
            // Marks of tenants and clusters that left the snapshot go with them.
            state.ledger.changedTenants.formIntersection(snapshot.tenants.keys)
            state.ledger.changedClusters.formIntersection(snapshot.tenants.values.flatMap(\.clusters.keys))
            let current = state.ledger.effectiveTargets
            let final = Self.keepingComfortableLimits(next, current: current, trees: trees)
            return (Self.lowest(current, final), final)
        }
        guard let steps else { return }
        logger.debug("quota re-plan", metadata: [
            "failing": "\(state.withLock { $0.ledger.failing.map(\.rawValue).sorted() })",
            "lowered": "\(Self.describe(steps.lowered))", "final": "\(Self.describe(steps.final))",
        ])
        try await write(steps.lowered, confirm: true)
        try await write(steps.final, confirm: false)
    }

    typealias Targets = [ClusterID: [String: [String: Int64]]]

    /// `cluster/namespace=cpu` pairs, for the debug log.
    static func describe(_ targets: Targets) -> String {
        targets.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap { cluster, namespaces in
            namespaces.sorted { $0.key < $1.key }.map { "\(cluster.rawValue)/\($0.key)=\($0.value[QuotaResource.cpu].map(String.init) ?? "-")" }
        }.joined(separator: " ")
    }

    /// Sets `targets` and renders the clusters whose limits change. With `confirm` (the lowered
    /// step), waits until every cluster holding unconfirmed lowered limits — these and any an
    /// earlier re-plan left — has written them (throws if one could not, or not in time: the
    /// retry waits on the same passes, so a slow cluster is not started over).
    private func write(_ targets: Targets, confirm: Bool) async throws {
        let waits = state.withLock { state -> [(ClusterID, ClusterWorker, Int, Set<String>)] in
            for (cluster, hard) in targets where state.ledger.targets[cluster] != hard {
                let before = state.ledger.targets[cluster] ?? [:]
                state.ledger.targets[cluster] = hard
                guard let worker = state.workers[cluster]?.worker, let snapshot = state.latest, let tenant = Self.owner(of: cluster, in: snapshot) else { continue }
                let generation = worker.setDesired(Renderer.render(tenant: tenant, cluster: cluster, releasing: state.releasing.contains(cluster), quotas: hard))
                // Only a limit really lowered needs confirming (a new namespace's first pass,
                // with its many creates, need not be waited for before it is sized).
                let lowered = Set(hard.filter { Self.lowers($0.value, below: before[$0.key]) }.keys)
                if confirm, state.leading, !lowered.isEmpty {
                    state.ledger.unconfirmed[cluster] = (generation, lowered.union(state.ledger.unconfirmed[cluster]?.namespaces ?? []))
                }
            }
            // A follower writes nothing, so there is nothing to confirm.
            guard confirm, state.leading else { return [] }
            state.ledger.unconfirmed = state.ledger.unconfirmed.filter { state.workers[$0.key] != nil }
            return state.ledger.unconfirmed.compactMap { cluster, entry in
                guard let worker = state.workers[cluster]?.worker, !state.ledger.failing.contains(cluster) else { return nil }
                return (cluster, worker, entry.generation, entry.namespaces)
            }
        }
        let timeout = options.requestTimeout * 2
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (cluster, worker, generation, namespaces) in waits {
                group.addTask {
                    let outcome = try await worker.confirm(generation: generation, timeout: timeout)
                    if let namespace = outcome.namespaceProblems.keys.filter({ namespaces.contains($0) }).sorted().first {
                        throw KubeError(.apiError, "the quota of \(namespace) could not be lowered: \(outcome.namespaceProblems[namespace]?.message ?? "")")
                    }
                    try await self.inForce(namespaces, on: cluster, timeout: timeout)
                    self.state.withLock { state in
                        if state.ledger.unconfirmed[cluster]?.generation == generation { state.ledger.unconfirmed[cluster] = nil }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Waits until the API server of `cluster` enforces the lowered limits of `namespaces`: a
    /// real one admits against a quota's `status.hard`, which its quota controller takes up from
    /// the spec about a second after the write. What the watches and passes last showed answers at
    /// once when it is in force; otherwise the quotas still waited for are read afresh, at once
    /// and then every 100 ms (what was last shown may not include the confirming pass yet, and a
    /// pass's own writes answer with the status from before the controller's update).
    private func inForce(_ namespaces: Set<String>, on cluster: ClusterID, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        guard let worker = state.withLock({ $0.workers[cluster]?.worker }) else { return }
        var waiting = state.withLock { $0.ledger.notInForce(namespaces, on: cluster) }
        var reads = 0
        while !waiting.isEmpty {
            if reads > 0 { try await Task.sleep(for: .milliseconds(100)) }
            reads += 1
            // A read that fails (a slow cluster) is tried again until the deadline.
            let read = (try? await worker.enforcedQuotas(in: waiting)) ?? [:]
            waiting = state.withLock { $0.ledger.notInForce(Set(waiting), on: cluster) { read[$0] ?? nil } }
            guard waiting.isEmpty || ContinuousClock.now < deadline else {
                throw KubeError(.timeout, "the lowered quota of \(waiting.joined(separator: ", ")) on \(cluster.rawValue) is not enforced after \(timeout): the cluster's quota controller has not taken it up (is kube-controller-manager running?)")
            }
        }
    }

    /// Whether `limits` are below `before` for some resource (or bound one it left unbounded);
    /// limits where there were none (after a restart: the clusters' own) count as lowered.
    static func lowers(_ limits: [String: Int64], below before: [String: Int64]?) -> Bool {
        guard let before else { return true }
        return limits.contains { resource, amount in before[resource].map { amount < $0 } ?? true }
    }

    /// Per namespace and resource, the lower of two targets (a resource missing from one side
    /// is unbounded there). A namespace without a current limit holds nothing yet: it stays
    /// unsized (its quota at zero limits, its status `Pending`) until the raise.
    static func lowest(_ current: Targets, _ next: Targets) -> Targets {
        var result = next
        for (cluster, namespaces) in next {
            for (namespace, hard) in namespaces {
                guard let now = current[cluster]?[namespace] else {
                    result[cluster]?[namespace] = nil
                    continue
                }
                var merged = hard
                for (resource, amount) in now { merged[resource] = min(amount, hard[resource] ?? amount) }
                result[cluster]?[namespace] = merged
            }
        }
        return result
    }
}

extension QuotaLedger {
    /// The limits in force: what Canopy asked for, else (after a restart) what the clusters show.
    /// A quota still unsized (the zero limits written before the planner's first word) is no
    /// limit in force: its namespace stays unsized until the raise, not sized at zero.
    var effectiveTargets: Reconciler.Targets {
        var result = targets
        for (cluster, namespaces) in quotas {
            for (namespace, observed) in namespaces where result[cluster]?[namespace] == nil && observed.hard != Renderer.unsizedQuota {
                var hard: [String: Int64] = [:]
                for (resource, value) in observed.hard { hard[resource] = PlanUnits.amount(value, resource, roundingUp: true) }
                result[cluster, default: [:]][namespace] = hard
            }
        }
        return result
    }
}
