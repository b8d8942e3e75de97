import CanopyStore
import Logging
import ServiceLifecycle

/// Keeps this replica's snapshot in step with writes made by other replicas on the same
/// PostgreSQL database, by following the audit log every `interval`.
struct SnapshotRefresher: Service {
    let world: World
    let logger: Logger
    /// Defaults to one second.
    var interval: Duration = .seconds(1)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let found = try await world.catchUp()
                if found > 0 { logger.debug("applied changes from other replicas", metadata: ["events": "\(found)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not follow the change feed; retrying", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
