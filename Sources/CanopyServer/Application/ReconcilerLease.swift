import CanopyReconciler
import CanopyStore
import Foundation
import Logging
import ServiceLifecycle

/// Takes turns with the other replicas on one PostgreSQL database at writing to the clusters:
/// the replica that holds the `reconciler` lease writes, the others follow (`Reconciler.setLeading`).
///
/// The holder renews the lease every `renewal`; another replica takes it once it has not been
/// renewed for `lifetime` by that replica's clock. The holder stops writing `margin` before its
/// lease could have expired (measured from when it asked), so clocks may differ by up to that
/// much. A replica stopping gives the lease up, and another takes it on its next claim.
struct ReconcilerLease: Service {
    static let name = "reconciler"

    let store: any Store
    let reconciler: Reconciler
    /// This replica, as the lease names it: host, process and a random part.
    let holder: String
    let logger: Logger
    /// How long a lease lasts unrenewed (`ServerConfiguration.reconcilerLeaseLifetime`); it is
    /// renewed every third of that, and its holder stops writing a third before it ends.
    let lifetime: Duration
    private var renewal: Duration { lifetime / 3 }
    private var margin: Duration { lifetime / 3 }

    static func holderName() -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(UUID().uuidString.prefix(8).lowercased())"
    }

    func run() async throws {
        var heldUntil: ContinuousClock.Instant?
        var lastHolder: String?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let asked = ContinuousClock.now
            do {
                let now = Date()
                let claim = try await store.claimLease(Self.name, for: holder, until: now + Self.seconds(lifetime), now: now)
                heldUntil = claim.holder == holder ? asked + lifetime - margin : nil
                if claim.holder != lastHolder {
                    logger.info("the reconciler lease changed hands", metadata: ["holder": "\(claim.holder)", "self": "\(holder)"])
                    lastHolder = claim.holder
                }
            } catch is CancellationError {
                break
            } catch {
                logger.warning("could not claim or renew the reconciler lease; retrying", metadata: ["error": "\(error)"])
            }
            // A lease not renewed in time is given up here before another replica can take it.
            if let until = heldUntil, ContinuousClock.now >= until { heldUntil = nil }
            reconciler.setLeading(heldUntil != nil)
            var pause = renewal
            if let until = heldUntil { pause = min(pause, max(.zero, until - ContinuousClock.now)) }
            let wait = pause
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
        reconciler.setLeading(false)
        if heldUntil != nil {
            do {
                try await store.releaseLease(Self.name, of: holder)
            } catch {
                logger.warning("could not give the reconciler lease up; another replica takes it when it expires", metadata: ["error": "\(error)"])
            }
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        TimeInterval(duration.components.seconds) + TimeInterval(duration.components.attoseconds) / 1e18
    }
}
