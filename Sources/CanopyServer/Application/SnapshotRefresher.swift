import CanopyModel
import CanopyReconciler
import CanopyStore
import Logging
import ServiceLifecycle

/// Keeps this replica's snapshot in step with writes made by other replicas on the same
/// PostgreSQL database, by following the audit log every `interval`.
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

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let found = try await world.catchUp()
                let revoked = Set(found.compactMap(Self.revokedToken))
                if !revoked.isEmpty { authenticator.forget(tokenIDs: revoked) }
                reportQuotaRefusals(in: found)
                if !found.isEmpty { logger.debug("applied changes from other replicas", metadata: ["events": "\(found.count)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not follow the change feed; retrying", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Quota refusals another replica's proxy recorded in the audit log: demand here too, so the
    /// replica that writes the limits plans with every replica's refusals.
    private func reportQuotaRefusals(in entries: [FeedEntry]) {
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
