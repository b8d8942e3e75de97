import CanopyStore
import Logging
import ServiceLifecycle

/// Writes tokens' last-used times in batches (every `interval`, and once more at shutdown), so
/// that authenticating a request never waits for a database write.
struct TokenUseRecorder: Service {
    let authenticator: Authenticator
    let store: any Store
    let logger: Logger
    /// Defaults to 30 seconds.
    var interval: Duration = .seconds(30)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            await flush()
        }
        await flush()
    }

    private func flush() async {
        let uses = authenticator.takeTokenUses()
        do {
            try await store.recordTokenUse(uses)
        } catch {
            logger.warning("could not record token use", metadata: ["error": "\(error)", "tokens": "\(uses.count)"])
        }
    }
}
