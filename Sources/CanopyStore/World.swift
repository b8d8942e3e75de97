import CanopyModel
import Foundation
import Synchronization

/// The store together with the snapshot that mirrors it: the one way to change the tenancy graph.
///
/// `commit` writes a change and its audit events in one transaction and then swaps in the
/// snapshot with the change applied. Commits are serialized (the store's write lock), so the
/// snapshot applies changes in exactly the order the database committed them.
public final class World: Sendable {
    public let store: any Store
    private let current: Mutex<Snapshot>

    /// Loads the snapshot from `store`.
    public init(store: any Store) async throws {
        self.store = store
        current = Mutex(try await store.loadSnapshot())
    }

    /// The snapshot as of the latest commit.
    public var snapshot: Snapshot { current.withLock { $0 } }

    /// What a commit produced: the caller's result, the changes for the snapshot, and the audit
    /// events that record them.
    public struct Outcome<T: Sendable>: Sendable {
        public var result: T
        public var changes: [Change]
        public var audit: [AuditEvent]

        public init(result: T, changes: [Change], audit: [AuditEvent]) {
            self.result = result
            self.changes = changes
            self.audit = audit
        }
    }

    /// Runs `body` in a transaction, appends its audit events, commits, and applies its changes
    /// to the snapshot (after the commit, before the next commit starts).
    public func commit<T: Sendable>(_ body: @Sendable (StoreTransaction) async throws -> Outcome<T>) async throws -> T {
        let committed = try await store.write({ tx in
            let outcome = try await body(tx)
            var sequence: Int64 = 0
            for event in outcome.audit { sequence = try await tx.append(event) }
            return Committed(outcome: outcome, sequence: sequence)
        }, onCommit: { committed in
            self.current.withLock { snapshot in
                for change in committed.outcome.changes {
                    snapshot = snapshot.applying(change, sequence: committed.sequence)
                }
            }
        })
        return committed.outcome.result
    }

    /// Re-reads the whole snapshot from the store (after changes made by another replica).
    public func reload() async throws {
        let fresh = try await store.loadSnapshot()
        current.withLock { $0 = fresh }
    }
}

private struct Committed<T: Sendable>: Sendable {
    let outcome: World.Outcome<T>
    let sequence: Int64
}
