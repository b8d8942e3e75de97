import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import KubeClient
import Logging
import ServiceLifecycle

/// Cleaning a cluster up — removing what Canopy manages from it before it is forgotten — is the
/// work of the replica that writes to the clusters. Asked on another replica (one behind the same
/// load balancer, say), the clean-up is handed to that one through the database and the answer
/// awaited, so that any replica can delete a cluster or a tenant.
struct ClusterReleases: Sendable {
    let store: any Store
    let reconciler: Reconciler
    let logger: Logger
    /// How long a request waits for a writer to take it: a lease lifetime and a little, so that
    /// a takeover after the writer stops is waited for.
    let handover: Duration
    var poll: Duration = .milliseconds(100)

    /// A clean-up done: the writes it took, and, when the writer was another replica, its
    /// request, still in the store with its outcome. The caller withdraws it in the transaction
    /// that forgets the cluster (`collect`), so that the writer learns the outcome was used only
    /// once the cluster is really forgotten: a requester that stops in between (a crash, a
    /// failed commit) leaves the request to the writer's wait, after which the cluster gets its
    /// objects back (before, the request was withdrawn on reading, and such a cluster stayed
    /// stripped on the writer).
    struct Released: Sendable {
        let cluster: ClusterID
        let writes: Int
        /// The request another replica carried out; `nil` when this replica did the clean-up.
        let requestID: String?
    }

    /// In the transaction that forgets `released`'s cluster: withdraws its request. Throws 503
    /// when the writer no longer holds it: its wait for this requester ran out and the cluster
    /// got its objects back, so it must not be forgotten now (the caller's transaction rolls
    /// back; a retry cleans it up again).
    static func collect(_ released: Released, in tx: StoreTransaction) async throws {
        guard let id = released.requestID, try await !tx.withdrawRelease(id) else { return }
        throw APIError(
            .serviceUnavailable, code: "unavailable",
            message: "the replica that writes to the clusters gave cluster \(released.cluster.rawValue) its objects back before this "
                + "replica could forget it (it waited too long for the outcome); retry the delete"
        )
    }

    /// Gives `released`'s cluster its objects back when what was to forget it did not happen
    /// (its transaction failed): its request, if any, is withdrawn and the writer told.
    func undo(_ released: Released) async {
        if let id = released.requestID { _ = try? await store.withdrawRelease(id) }
        await abandon(released.cluster)
    }

    /// Removes Canopy's objects from `cluster` and waits until a pass confirms it, up to `timeout`
    /// once started. Throws `KubeError` as `Reconciler.release` does.
    func release(_ cluster: ClusterID, timeout: Duration) async throws -> Released {
        if reconciler.isLeading {
            do {
                return Released(cluster: cluster, writes: try await reconciler.release(cluster, timeout: timeout).writes, requestID: nil)
            } catch let error as KubeError where !reconciler.isLeading && error.message == Reconciler.follows {
                // The lead went elsewhere between the look and the release: hand it over.
            }
        }
        let now = Date()
        let request = ReleaseRequest(
            cluster: cluster, action: .release, timeout: timeout, requestedAt: now, startBy: now.addingTimeInterval(Self.seconds(handover))
        )
        try await store.requestRelease(request)
        logger.info("handed a cluster's clean-up to the replica that writes to the clusters", metadata: ["cluster": "\(cluster)"])
        let deadline = ContinuousClock.now + handover + timeout + .seconds(2)
        do {
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: poll)
                guard let current = try await store.releaseRequest(request.id) else { break }
                // Done: left in the store for the caller to withdraw as it forgets the cluster.
                if case .done(let writes) = current.state { return Released(cluster: cluster, writes: writes, requestID: request.id) }
                if current.state.isFinished { break }
            }
        } catch {
            // The caller went away (or the database did): the writer's outcome has nowhere to
            // go, and a writer that finds the request withdrawn gives the cluster its objects back.
            let store = self.store
            Task { _ = try? await store.withdrawRelease(request.id) }
            throw error
        }
        switch try await store.withdrawRelease(request.id)?.state {
        case .done(let writes): return Released(cluster: cluster, writes: writes, requestID: nil)
        case .failed(let message): throw KubeError(.apiError, message)
        case .working:
            throw KubeError(.timeout, "the replica that writes to the clusters did not finish the clean-up within \(timeout)")
        case .requested, nil:
            throw KubeError(
                .unreachable,
                "no replica that writes to the clusters took the clean-up within \(handover): is one running, and can it reach the database?"
            )
        }
    }

    /// Gives a cluster back its objects after a release that will not be completed (on the
    /// writer: here, or asked through the database without waiting).
    func abandon(_ cluster: ClusterID) async {
        if reconciler.isLeading { return reconciler.abandonRelease(cluster) }
        let now = Date()
        let request = ReleaseRequest(
            cluster: cluster, action: .abandon, timeout: .seconds(1), requestedAt: now, startBy: now.addingTimeInterval(Self.seconds(handover))
        )
        do {
            try await store.requestRelease(request)
        } catch {
            logger.warning("could not ask the writer to give a cluster back its objects", metadata: ["cluster": "\(cluster)", "error": "\(error)"])
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// On the replica that writes to the clusters: takes the clean-ups other replicas hand over
/// (`ClusterReleases`) and records how each went. Runs on every replica of a shared database;
/// only the writer takes anything.
struct ReleaseDesk: Service {
    let store: any Store
    let reconciler: Reconciler
    let logger: Logger
    var interval: Duration = .milliseconds(200)

    func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if reconciler.isLeading {
                    do {
                        for request in try await store.pendingReleases() where request.startBy > Date() {
                            guard try await store.takeRelease(request.id) else { continue }
                            group.addTask { await handle(request) }
                        }
                    } catch is CancellationError {
                        break
                    } catch {
                        logger.warning("could not read the clean-ups asked by other replicas; retrying", metadata: ["error": "\(error)"])
                    }
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        }
    }

    func handle(_ request: ReleaseRequest) async {
        // Taken, then the lead went elsewhere (a late renewal under load, say): the request goes
        // back for the next writer rather than failing with "this replica does not write".
        guard reconciler.isLeading else { return await handBack(request) }
        switch request.action {
        case .abandon:
            reconciler.abandonRelease(request.cluster)
            _ = try? await store.withdrawRelease(request.id)
        case .release:
            logger.info("cleaning a cluster up for another replica", metadata: ["cluster": "\(request.cluster)"])
            let outcome: ReleaseRequest.State
            do {
                outcome = .done(writes: try await reconciler.release(request.cluster, timeout: request.timeout).writes)
            } catch {
                // `release` has given the cluster its objects back already; a clean-up cut short
                // by the lead going elsewhere is the next writer's to do again.
                if !reconciler.isLeading { return await handBack(request) }
                outcome = .failed((error as? KubeError)?.message ?? "\(error)")
            }
            guard case .done = outcome else {
                _ = try? await store.finishRelease(request.id, outcome)
                return
            }
            // Done: the requester reads it (withdrawing the request) and forgets the cluster. One
            // that stopped waiting, or never reads it (gone), forgets nothing, so the cluster
            // gets its objects back.
            let delivered = (try? await store.finishRelease(request.id, outcome)) == true
            let read = delivered ? await collected(request) : false
            if !read {
                logger.notice("a cluster's clean-up finished but its requester stopped waiting; the cluster keeps Canopy's objects", metadata: [
                    "cluster": "\(request.cluster)",
                ])
                reconciler.abandonRelease(request.cluster)
            }
        }
    }

    /// Puts a taken request back (`working → requested`) for the replica that writes next; its
    /// requester goes on waiting until its start-by time, as for any request not taken yet.
    private func handBack(_ request: ReleaseRequest) async {
        logger.notice("this replica stopped writing to the clusters while cleaning a cluster up; left for the next writer", metadata: [
            "cluster": "\(request.cluster)",
        ])
        _ = try? await store.finishRelease(request.id, .requested)
    }

    /// Whether the requester withdraws a finished request before it stops waiting (its deadline
    /// is `startBy + timeout` and 2 s by its clock; 10 s here leave room for clocks that differ);
    /// past that, the request is withdrawn here. When the database cannot tell, the requester is
    /// assumed to have read it: giving objects back to a cluster being forgotten would leave them
    /// there for good.
    private func collected(_ request: ReleaseRequest) async -> Bool {
        let deadline = request.startBy.addingTimeInterval(ClusterReleases.seconds(request.timeout) + 10)
        do {
            while Date() < deadline {
                guard try await store.releaseRequest(request.id) != nil else { return true }
                try await Task.sleep(for: interval)
            }
            return try await store.withdrawRelease(request.id) == nil
        } catch {
            return true
        }
    }
}
