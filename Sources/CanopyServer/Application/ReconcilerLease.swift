import CanopyReconciler
import CanopyStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Takes turns with the other replicas on one PostgreSQL database at writing to the clusters:
/// the replica that holds the `reconciler` lease writes, the others follow (`Reconciler.setLeading`).
///
/// The holder renews the lease every third of its `lifetime`; another replica takes it once it
/// has not been renewed for `lifetime` by that replica's clock. The holder stops writing a third
/// of the lifetime before its lease could have expired (measured from when it asked), so clocks
/// may differ by up to that much — and it stops then even while a claim hangs (a database that
/// does not answer), by a watch of its own. A replica stopping gives the lease up, and another
/// takes it on its next claim.
struct ReconcilerLease: Service {
    static let name = "reconciler"

    let store: any Store
    let reconciler: Reconciler
    /// This replica, as the lease names it: host, process and a random part.
    let holder: String
    let logger: Logger
    /// How long a lease lasts unrenewed (`ServerConfiguration.reconcilerLeaseLifetime`).
    let lifetime: Duration
    private var renewal: Duration { lifetime / 3 }
    private var margin: Duration { lifetime / 3 }

    static func holderName() -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8).lowercased())"
    }

    func run() async throws {
        let writesUntil = WriteDeadline()
        await withDiscardingTaskGroup { group in
            group.addTask { await self.stepDownInTime(writesUntil) }
            await claimAndRenew(writesUntil)
            group.cancelAll()
        }
        let held = writesUntil.until.withLock { until in
            defer { until = nil }
            return until != nil
        }
        reconciler.setLeading(false)
        guard held else { return }
        do {
            try await store.releaseLease(Self.name, of: holder)
        } catch {
            logger.warning("could not give the reconciler lease up; another replica takes it when it expires", metadata: ["error": "\(error)"])
        }
    }

    /// Claims the lease (renews it, once held) every `renewal` until the graceful shutdown.
    private func claimAndRenew(_ writesUntil: WriteDeadline) async {
        var lastHolder: String?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let asked = ContinuousClock.now
            do {
                let now = Date()
                let claim = try await store.claimLease(Self.name, for: holder, until: now + Self.seconds(lifetime), now: now)
                writesUntil.until.withLock { until in
                    let deadline = asked + lifetime - margin
                    until = claim.holder == holder && ContinuousClock.now < deadline ? deadline : nil
                    reconciler.setLeading(until != nil)
                }
                if claim.holder != lastHolder {
                    logger.info("the reconciler lease changed hands", metadata: ["holder": "\(claim.holder)", "self": "\(holder)"])
                    lastHolder = claim.holder
                }
            } catch is CancellationError {
                break
            } catch {
                logger.warning("could not claim or renew the reconciler lease; retrying", metadata: ["error": "\(error)"])
            }
            let pause = renewal
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
    }

    /// Stops this replica writing when its lease is past due: a renewal that failed, or that
    /// still waits on the database, must not leave it writing while another replica takes over.
    private func stepDownInTime(_ writesUntil: WriteDeadline) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            writesUntil.until.withLock { until in
                guard let deadline = until, ContinuousClock.now >= deadline else { return }
                until = nil
                reconciler.setLeading(false)
                logger.warning("the reconciler lease was not renewed in time; this replica stops writing to the clusters")
            }
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }
}

/// Until when this replica may write to the clusters; `nil` while it follows.
private final class WriteDeadline: Sendable {
    let until = Mutex<ContinuousClock.Instant?>(nil)
}
