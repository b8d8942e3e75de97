import Foundation
import KubeAPI
import KubeClient
import Logging

/// The worker's watches: every managed kind, nodes and quota refusals; a drift pokes a pass.
extension ClusterWorker {
    /// Watches every managed kind and pokes a pass when an object drifts from what is desired
    /// or disappears. Watches start once a client exists and restart after failures.
    func watches() async {
        while !Task.isCancelled {
            guard let client = state.withLock({ $0.client }) else {
                try? await Task.sleep(for: options.tick)
                continue
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.watch(Namespace.self, client, \.namespaces) }
                group.addTask { await self.watch(ClusterRole.self, client, \.clusterRoles) }
                group.addTask { await self.watch(ClusterRoleBinding.self, client, \.clusterRoleBindings) }
                group.addTask { await self.watch(RoleBinding.self, client, \.roleBindings) }
                group.addTask { await self.watch(ResourceQuota.self, client, \.quotas) }
                group.addTask { await self.watch(LimitRange.self, client, \.limitRanges) }
                group.addTask { await self.watch(NetworkPolicy.self, client, \.networkPolicies) }
                group.addTask { await self.watchNodes(client) }
                group.addTask { await self.watchRefusals(client) }
                // One watch failing restarts them all.
                await group.next()
                group.cancelAll()
            }
            try? await Task.sleep(for: options.watchRestartDelay)
        }
    }

    func watch<R: Reconcilable>(_ type: R.Type, _ client: KubeClient, _ objects: KeyPath<DesiredCluster, [R]> & Sendable) async {
        do {
            try await client.watch(R.self, labelSelector: ManagedLabels.selector) { event in
                if let quotaEvent = event as? WatchEvent<ResourceQuota> {
                    self.observe(.quota(quotaEvent))
                    // Taken up by the cluster's quota controller: what waited for that goes on.
                    let namespace = quotaEvent.object.metadata.namespace ?? ""
                    if self.state.withLock({ $0.unenforced.contains(namespace) }) { self.wake.yield() }
                }
                if self.drifted(event, objects) { self.wake.yield() }
            }
        } catch is CancellationError {
        } catch {
            logger.debug("watch ended", metadata: ["kind": "\(R.typeKind)", "error": "\(Self.describe(error))"])
        }
    }

    /// Follows the cluster's nodes: capacity for the share planner.
    func watchNodes(_ client: KubeClient) async {
        do {
            try await client.watch(Node.self) { event in self.observe(.node(event)) }
        } catch is CancellationError {
        } catch {
            logger.debug("node watch ended", metadata: ["error": "\(Self.describe(error))"])
        }
    }

    /// Follows `FailedCreate` events: a ReplicaSet (or Job, StatefulSet…) whose pod Canopy's quota
    /// refused inside the cluster, where the proxy does not see it. Events older than the demand
    /// window (listed again when the watch starts) are ignored.
    func watchRefusals(_ client: KubeClient) async {
        let failedCreate = FieldSelector([.init(path: "reason", value: "FailedCreate")])
        do {
            try await client.watch(KubeEvent.self, fieldSelector: failedCreate) { event in
                guard event.type != "DELETED", let message = event.object.message, Reconciler.refusedByCanopyQuota(message),
                      let namespace = event.object.metadata.namespace ?? event.object.involvedObject?.namespace
                else { return }
                if let time = event.object.lastTimestamp.flatMap({ try? Date($0, strategy: .iso8601) }),
                   Date().timeIntervalSince(time) > ClusterWorker.seconds(DemandTracker.window) {
                    return
                }
                self.observe(.refusal(namespace: namespace, message: message))
            }
        } catch is CancellationError {
        } catch {
            logger.debug("event watch ended", metadata: ["error": "\(Self.describe(error))"])
        }
    }

    /// Whether an event shows a difference from the desired state: a desired object deleted or
    /// changed, or a managed object that should not exist.
    func drifted<R: Reconcilable>(_ event: WatchEvent<R>, _ objects: KeyPath<DesiredCluster, [R]>) -> Bool {
        let key = event.object.key
        let wanted = state.withLock { $0.desired[keyPath: objects].first { $0.key == key } }
        if event.type == "DELETED" { return wanted != nil }
        guard let wanted else { return true }
        return event.object.metadata.deletionTimestamp != nil || !wanted.isSatisfied(by: event.object)
    }
}
