import CanopyModel
import Foundation
import KubeAPI
import KubeClient
import Logging

/// What one pass over a cluster found and did.
public struct PassOutcome: Sendable {
    /// Creates, updates and deletes sent.
    public var writes = 0
    /// Writes left to the replica that leads (this one follows: see `Reconciler.setLeading`).
    public var deferred = 0
    /// Namespaces that are not as desired, with why.
    public var namespaceProblems: [String: NamespaceStatus] = [:]
    /// Cluster-scoped objects that could not be written.
    public var clusterProblems: [String] = []
    /// Canopy's quotas as they stood after the pass: as listed, or as the cluster answered the
    /// pass's write (usage and limits for the share planner). The listing alone would show the
    /// limits from before the pass's own writes, and overwrite what the watch reported since.
    var quotas: [ResourceQuota] = []
    /// Namespaces whose quota the cluster does not enforce yet (no `status.hard`: its quota
    /// controller has not taken it up), or enforces with no room for a pod while Canopy asks for
    /// some (the controller has not taken up the raise yet).
    var unenforced: Set<String> = []
    /// Namespaces whose role bindings were held back because their quota is not enforced yet.
    var withheld: Set<String> = []
    /// Of the namespaces not known to have their `default` ServiceAccount (or created by this
    /// pass): those seen with it, and those still without it (pods are refused there until the
    /// cluster creates it).
    var accounted: Set<String> = []
    var unaccounted: Set<String> = []
}

/// One reconciliation pass over one cluster: list what Canopy manages (by its label), diff it
/// against the desired objects, write only the difference.
///
/// A failure that concerns one object (refused, conflict) is recorded against its namespace and
/// the pass goes on; a failure that concerns the cluster (unreachable, timeout, credentials
/// refused) ends the pass by throwing, and the worker backs off.
final class ClusterSync {
    let client: KubeClient
    let desired: DesiredCluster
    let logger: Logger
    private(set) var outcome = PassOutcome()
    /// Desired namespaces whose contents must not be written (not ours, or being deleted).
    private var blocked: Set<String> = []
    /// Managed namespaces being deleted: their contents go with them.
    private var deleting: Set<String> = []
    /// Namespaces this pass created (again, if they were deleted behind Canopy's back).
    private var created: Set<String> = []

    /// Desired namespaces known to have their `default` ServiceAccount.
    let accounted: Set<String>
    /// Whether this replica writes, asked before each write, so that a pass under way when the
    /// replica stops leading writes nothing more; one that follows lists and compares only.
    let writes: @Sendable () -> Bool

    init(client: KubeClient, desired: DesiredCluster, accounted: Set<String> = [], writes: @escaping @Sendable () -> Bool = { true }, logger: Logger) {
        self.client = client
        self.desired = desired
        self.accounted = accounted
        self.writes = writes
        self.logger = logger
    }

    func run() async throws -> PassOutcome {
        // Every list at once: one round trip instead of seven.
        let client = client
        async let namespaces = Self.list(Namespace.self, client)
        async let clusterRoles = Self.list(ClusterRole.self, client)
        async let clusterRoleBindings = Self.list(ClusterRoleBinding.self, client)
        async let roleBindings = Self.list(RoleBinding.self, client)
        async let quotas = Self.list(ResourceQuota.self, client)
        async let limitRanges = Self.list(LimitRange.self, client)
        async let networkPolicies = Self.list(NetworkPolicy.self, client)
        let observedNamespaces = try await namespaces
        let observed = try await (clusterRoles, clusterRoleBindings, roleBindings, quotas, limitRanges, networkPolicies)
        let wanted = Set(desired.namespaces.compactMap(\.metadata.name))
        for namespace in observedNamespaces where !wanted.contains(namespace.metadata.name ?? "") && isOurs(namespace) {
            if namespace.metadata.annotations?[ManagedLabels.adopted] != "true" { deleting.insert(namespace.metadata.name ?? "") }
        }
        try await syncNamespaces(observed: observedNamespaces)
        try await sync(desired.clusterRoles, observed: observed.0)
        try await sync(desired.clusterRoleBindings, observed: observed.1)
        // A namespace's quota, limit range and network policy go in before its members get
        // access; a new namespace's role bindings wait until the cluster enforces its quota (a
        // real API server enforces a quota only once its quota controller has taken it up,
        // about a second after it is created: until then pods would be admitted without limit).
        // A follower's share planner may see other demand than the leader's: the limits are
        // the leader's to decide, so a follower compares only that the quota is there.
        outcome.quotas = try await sync(desired.quotas, observed: observed.3, keep: { !writes() || desired.pendingQuotas.contains($0.metadata.namespace ?? "") })
        try await sync(desired.limitRanges, observed: observed.4)
        try await sync(desired.networkPolicies, observed: observed.5)
        let notTakenUp = Set(outcome.quotas.filter { $0.status?.hard == nil }.compactMap(\.metadata.namespace))
        try await sync(desired.roleBindings, observed: observed.2, withhold: { notTakenUp.contains($0.metadata.namespace ?? "") })
        outcome.unenforced = notTakenUp.union(outcome.quotas.compactMap { quota in
            guard let namespace = quota.metadata.namespace, !desired.pendingQuotas.contains(namespace) else { return nil }
            return Self.leavesRoom(quota.spec?.hard) && !Self.leavesRoom(quota.status?.hard) ? namespace : nil
        })
        try await releaseNamespaces(observed: observedNamespaces)
        try await checkServiceAccounts(of: wanted.subtracting(accounted).union(created).subtracting(blocked))
        return outcome
    }

    /// Pods need their namespace's `default` ServiceAccount, which the cluster's controller-
    /// manager creates about a second after the namespace (until then a real API server refuses
    /// every pod: "error looking up service account"). One list of them, only while some
    /// namespace has not been seen with it; a cluster that does not let Canopy list service
    /// accounts is not waited for.
    private func checkServiceAccounts(of namespaces: Set<String>) async throws {
        guard !namespaces.isEmpty else { return }
        let named = FieldSelector([.init(path: "metadata.name", value: "default")])
        let present: Set<String>
        do {
            present = Set(try await client.list(ServiceAccount.self, fieldSelector: named).items.compactMap(\.metadata.namespace))
        } catch let error as KubeError where !Self.isClusterFailure(error) {
            logger.debug("service accounts not listed", metadata: ["error": "\(error.message)"])
            outcome.accounted = namespaces
            return
        }
        outcome.accounted = namespaces.intersection(present)
        outcome.unaccounted = namespaces.subtracting(present)
    }

    // MARK: Namespaces

    private func syncNamespaces(observed: [Namespace]) async throws {
        let byName = Dictionary(observed.map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        for namespace in desired.namespaces {
            let name = namespace.metadata.name ?? ""
            if let current = byName[name] {
                if current.metadata.deletionTimestamp != nil {
                    block(name, .pending("the namespace is being deleted in the cluster; it will be created again once it is gone"))
                } else if !namespace.isSatisfied(by: current), mayWrite(name) {
                    try await attempt(namespace: name) { try await patchLabels(of: namespace) }
                }
                continue
            }
            guard mayWrite(name) else { continue }
            do {
                _ = try await client.create(namespace)
                outcome.writes += 1
                created.insert(name)
            } catch let error as KubeError where error.httpCode == 409 {
                try await takeOver(namespace)
            } catch let error as KubeError where !Self.isClusterFailure(error) {
                block(name, .error("creating the namespace failed: \(error.message)"))
            }
        }
    }

    /// A desired namespace exists without Canopy's label: adopt it if the placement says so.
    private func takeOver(_ namespace: Namespace) async throws {
        let name = namespace.metadata.name ?? ""
        let current: Namespace
        do {
            current = try await client.get(Namespace.self, name)
        } catch let error as KubeError where error.httpCode == 404 {
            block(name, .pending("the namespace was just deleted; it will be created on the next pass"))
            return
        }
        if current.metadata.deletionTimestamp != nil {
            block(name, .pending("the namespace is being deleted in the cluster; it will be created again once it is gone"))
        } else if desired.adoptable.contains(name) {
            guard mayWrite(name) else { return }
            try await attempt(namespace: name) { try await patchLabels(of: namespace) }
            logger.info("adopted namespace", metadata: ["namespace": "\(name)"])
        } else {
            block(name, .error(
                "a namespace named \(name) already exists in the cluster and Canopy does not manage it; "
                    + "remove it, choose another name, or add it again with adopt: true to take it over"
            ))
        }
    }

    private func patchLabels(of namespace: Namespace) async throws {
        var metadata: [String: JSON] = ["labels": try JSON(encoding: namespace.metadata.labels ?? [:])]
        if let annotations = namespace.metadata.annotations { metadata["annotations"] = try JSON(encoding: annotations) }
        _ = try await client.mergePatch(Namespace.self, namespace.metadata.name ?? "", patch: .object(["metadata": .object(metadata)]))
        outcome.writes += 1
    }

    /// Namespaces Canopy manages that no placement wants: created ones are deleted (with all
    /// they hold); adopted ones are given back, without Canopy's labels.
    private func releaseNamespaces(observed: [Namespace]) async throws {
        let wanted = Set(desired.namespaces.compactMap(\.metadata.name))
        for namespace in observed where isOurs(namespace) {
            let name = namespace.metadata.name ?? ""
            guard !wanted.contains(name), namespace.metadata.deletionTimestamp == nil, mayWrite(nil) else { continue }
            if deleting.contains(name) {
                try await attempt(namespace: nil) {
                    try await client.delete(Namespace.self, name)
                    outcome.writes += 1
                }
            } else {
                let keys = [ManagedLabels.managedBy, ManagedLabels.tenant, ManagedLabels.project, ManagedLabels.podSecurityEnforce]
                let patch: JSON = .object(["metadata": .object([
                    "labels": .object(Dictionary(uniqueKeysWithValues: keys.map { ($0, JSON.null) })),
                    "annotations": .object([ManagedLabels.adopted: .null]),
                ])])
                try await attempt(namespace: nil) {
                    _ = try await client.mergePatch(Namespace.self, name, patch: patch)
                    outcome.writes += 1
                }
                logger.info("gave back adopted namespace", metadata: ["namespace": "\(name)"])
            }
        }
    }

    // MARK: Other kinds

    /// Writes `wanted` over `observed` (an existing object for which `keep` says so is left as it
    /// is); returns the objects as they stand after it: the cluster's answers to the writes, else
    /// as observed.
    /// `keep`: an existing object is left as it is. `withhold`: a missing object is not created
    /// yet (its namespace goes into `outcome.withheld`).
    @discardableResult
    private func sync<R: Reconcilable>(
        _ wanted: [R], observed: [R], keep: (R) -> Bool = { _ in false }, withhold: (R) -> Bool = { _ in false }
    ) async throws -> [R] {
        var byKey = Dictionary(observed.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var standing = byKey
        for object in wanted {
            let namespace = object.metadata.namespace
            if let namespace, blocked.contains(namespace) { continue }
            let current = byKey.removeValue(forKey: object.key)
            try await attempt(namespace: namespace) {
                if let current, current.metadata.deletionTimestamp == nil {
                    let replace = object.mustReplace(current), change = !keep(object) && !object.isSatisfied(by: current)
                    guard !(replace || change) || mayWrite(namespace) else { return }
                    if replace {
                        try await client.delete(R.self, current.metadata.name ?? "", namespace: namespace)
                        standing[object.key] = try await client.create(object)
                        outcome.writes += 2
                    } else if change {
                        if let patch = try object.patch(over: current) {
                            standing[object.key] = try await client.mergePatch(R.self, object.metadata.name ?? "", namespace: namespace, patch: patch)
                        } else {
                            standing[object.key] = try await client.update(object.applied(onto: current))
                        }
                        outcome.writes += 1
                    }
                } else if current == nil, let namespace, withhold(object) {
                    outcome.withheld.insert(namespace)
                } else if current == nil {
                    guard mayWrite(namespace) else { return }
                    do {
                        standing[object.key] = try await client.create(object)
                        outcome.writes += 1
                    } catch let error as KubeError where error.httpCode == 409 {
                        throw KubeError(.apiError, "\(R.typeKind) \(object.metadata.name ?? "") exists without Canopy's label; Canopy never changes such objects: delete it so that Canopy can create its own")
                    }
                }
            }
        }
        for leftover in byKey.values where isOurs(leftover) {
            let namespace = leftover.metadata.namespace
            if let namespace, deleting.contains(namespace) { continue }
            guard mayWrite(namespace) else { continue }
            try await attempt(namespace: namespace) {
                do {
                    try await client.delete(R.self, leftover.metadata.name ?? "", namespace: namespace)
                    outcome.writes += 1
                } catch let error as KubeError where error.httpCode == 404 {}
                standing[leftover.key] = nil
            }
        }
        return Array(standing.values)
    }

    // MARK: Helpers

    /// Whether quota limits leave room for a pod: some CPU and some memory (every pod asks for
    /// both, by itself or through the limit range's defaults).
    static func leavesRoom(_ limits: [String: Quantity]?) -> Bool {
        [QuotaResource.cpu, QuotaResource.memory].allSatisfy { (limits?[$0] ?? .zero) > .zero }
    }

    private static func list<R: KubeResource>(_ type: R.Type, _ client: KubeClient) async throws -> [R] {
        try await client.listAll(R.self, labelSelector: ManagedLabels.selector)
    }

    /// Whether an object labelled as Canopy's belongs to this cluster's tenant: another tenant's
    /// leftovers (a cluster released without cleanup) are never touched.
    private func isOurs(_ object: some KubeResource) -> Bool {
        let owner = object.metadata.labels?[ManagedLabels.tenant]
        return owner == nil || owner == desired.tenant
    }

    /// Whether a write may go ahead: always on the replica that leads. On one that follows it is
    /// left to the leader, and counted; its namespace waits for it (a namespace-less write only
    /// counts, as the cluster's state is the leader's to report).
    private func mayWrite(_ namespace: String?) -> Bool {
        guard !writes() else { return true }
        outcome.deferred += 1
        if let namespace, outcome.namespaceProblems[namespace] == nil {
            outcome.namespaceProblems[namespace] = .pending("waiting for the replica that writes to the clusters (this one follows)")
        }
        return false
    }

    private func block(_ namespace: String, _ status: NamespaceStatus) {
        blocked.insert(namespace)
        outcome.namespaceProblems[namespace] = status
    }

    /// Runs one write; an object-level refusal is recorded against its namespace (or the
    /// cluster), a cluster-level failure ends the pass.
    private func attempt(namespace: String?, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as KubeError where !Self.isClusterFailure(error) {
            logger.warning("reconcile write refused", metadata: ["namespace": "\(namespace ?? "-")", "error": "\(error.message)"])
            if let namespace {
                if outcome.namespaceProblems[namespace] == nil { outcome.namespaceProblems[namespace] = .error(error.message) }
            } else {
                outcome.clusterProblems.append(error.message)
            }
        }
    }

    /// Failures that say nothing about one object but about reaching the cluster.
    static func isClusterFailure(_ error: KubeError) -> Bool {
        switch error.code {
        case .unreachable, .timeout, .tls, .badResponse: return true
        default: return error.httpCode == 401 || (error.httpCode ?? 0) >= 500 || error.httpCode == 429
        }
    }
}
