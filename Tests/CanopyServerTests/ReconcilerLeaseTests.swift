import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import KubeClient
import Logging
import Synchronization
import Testing
import TestSupport
@testable import CanopyServer

/// The lease's safety: a writer that cannot renew stops writing before another replica can take
/// the lease, whether its renewals fail or hang (a database that does not answer).
@Suite struct ReconcilerLeaseTests {
    /// Services stop in reverse order, so the lease and the clean-up desk outlive the reconciler:
    /// once it has stopped it writes nothing, takes no lead when the lease is renewed meanwhile,
    /// and a clean-up asked of it is refused as a follower's is (the desk hands it back for the
    /// next writer; before, it failed with "no reconciler runs for this cluster").
    @Test func aStoppedReconcilerTakesNoLeadAndNoCleanUp() async throws {
        let reconciler = Reconciler(logger: Logger(label: "lease-test"), leading: true, snapshots: { AsyncStream { $0.finish() } }) { _, _ in
            throw KubeError(.configuration, "no clusters in this test")
        }
        #expect(reconciler.isLeading)
        try await reconciler.run()
        #expect(!reconciler.isLeading)
        reconciler.setLeading(true)
        #expect(!reconciler.isLeading)
        do {
            _ = try await reconciler.release(ClusterID("c"), timeout: .seconds(1))
            Issue.record("a stopped reconciler released a cluster")
        } catch let error as KubeError {
            #expect(error.message == Reconciler.follows, "\(error)")
        }
    }

    @Test(arguments: [false, true])
    func aWriterThatCannotRenewStopsWritingBeforeAnotherCanTakeOver(hanging: Bool) async throws {
        try await TestBackend.sqlite.withStore { base in
            let store = StalledLeaseStore(base)
            let reconciler = Reconciler(logger: Logger(label: "lease-test"), leading: false, snapshots: { AsyncStream { $0.finish() } }) { _, _ in
                throw KubeError(.configuration, "no clusters in this test")
            }
            let lease = ReconcilerLease(store: store, reconciler: reconciler, holder: "a", logger: Logger(label: "lease-test"), lifetime: .milliseconds(1500))
            let running = Task { try await lease.run() }
            defer { running.cancel() }
            try await eventually(within: 5, "the replica writes") { reconciler.isLeading }
            store.stall(hanging: hanging)
            // Once the claims stall, the replica stops writing within the lease's lifetime…
            let stoppedAt = try await eventually(within: 3, "the replica stops writing") { !reconciler.isLeading }
            #expect(stoppedAt < 1.5)
            // …while its lease still stands, so no other replica could be writing yet.
            let now = Date()
            #expect(try await base.claimLease(ReconcilerLease.name, for: "b", until: now + 15, now: now).holder == "a")
            // Once it has expired, another replica takes it.
            try await Task.sleep(for: .milliseconds(1600))
            let later = Date()
            #expect(try await base.claimLease(ReconcilerLease.name, for: "b", until: later + 15, now: later).holder == "b")
            #expect(!reconciler.isLeading)
        }
    }
}

/// A store whose lease claims, once stalled, fail or never answer.
private final class StalledLeaseStore: InterposedStore, @unchecked Sendable {
    private let mode = Mutex<Bool?>(nil)

    /// From now on claims hang (`hanging`) or fail.
    func stall(hanging: Bool) { mode.withLock { $0 = hanging } }

    override func claimLease(_ name: String, for holder: String, until expiresAt: Date, now: Date) async throws -> (holder: String, expiresAt: Date) {
        switch mode.withLock({ $0 }) {
        case true?:
            try await Task.sleep(for: .seconds(3600))
            throw CancellationError()
        case false?:
            throw StoreError(.unavailable, "the database does not answer")
        case nil:
            return try await base.claimLease(name, for: holder, until: expiresAt, now: now)
        }
    }
}
