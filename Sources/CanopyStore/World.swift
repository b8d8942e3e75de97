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
    private let feed = Mutex(FeedState())
    private let observers = Mutex<[UUID: AsyncStream<Snapshot>.Continuation]>([:])

    /// How far this process has followed the audit log (the change feed).
    private struct FeedState {
        /// The highest sequence number reflected in the snapshot.
        var cursor: Int64 = 0
        /// Sequence numbers at or below `cursor` (within `window`) already reflected: events that
        /// another replica commits late, below the cursor, are still caught.
        var seen: Set<Int64> = []

        mutating func record(_ sequences: some Sequence<Int64>) {
            seen.formUnion(sequences)
            cursor = max(cursor, seen.max() ?? cursor)
            seen = seen.filter { $0 > cursor - World.window }
        }
    }

    /// How far behind the cursor late commits are still looked for.
    static let window: Int64 = 1000

    /// Loads the snapshot from `store`.
    public init(store: any Store) async throws {
        self.store = store
        let snapshot = try await store.loadSnapshot()
        current = Mutex(snapshot)
        feed.withLock { $0.cursor = snapshot.sequence }
    }

    /// The snapshot as of the latest commit.
    public var snapshot: Snapshot { current.withLock { $0 } }

    /// The current snapshot, then each newer one as changes are applied. A slow reader skips
    /// intermediate snapshots (only the newest waits), which suits level-triggered consumers such
    /// as the reconciler. The stream ends when the reader stops iterating.
    public func snapshots() -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream<Snapshot>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        observers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.observers.withLock { $0.removeValue(forKey: id) } }
        continuation.yield(snapshot)
        return stream
    }

    private func publish() {
        let latest = snapshot
        for continuation in observers.withLock({ Array($0.values) }) { continuation.yield(latest) }
    }

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
            var sequences: [Int64] = []
            for event in outcome.audit { sequences.append(try await tx.append(event)) }
            return Committed(outcome: outcome, sequences: sequences)
        }, onCommit: { committed in
            let sequence = committed.sequences.max() ?? 0
            self.current.withLock { snapshot in
                for change in committed.outcome.changes {
                    snapshot = snapshot.applying(change, sequence: sequence)
                }
                snapshot = snapshot.advanced(to: sequence)
            }
            self.feed.withLock { $0.record(committed.sequences) }
        })
        publish()
        return committed.outcome.result
    }

    /// Follows the audit log for changes committed by other replicas sharing the database and
    /// reloads what they touched: the tenants named by new events, and the domain level (tenant
    /// records, domain users) for domain-level events. Returns the new events (for what the
    /// snapshot does not hold: a token revoked there is forgotten by this process's caches).
    ///
    /// The reload runs under the store's write lock, so no local commit can fall between reading
    /// and swapping in the fresh parts; and callers at once (the replica's refresher, a sign-in
    /// that missed a user) each get an event once: which ones are new is settled under the lock.
    @discardableResult
    public func catchUp() async throws -> [FeedEntry] {
        let from = feed.withLock { max(0, $0.cursor - Self.window) }
        let events = try await store.auditSequences(after: from)
        let candidates = feed.withLock { state in events.filter { !state.seen.contains($0.sequence) } }
        guard !candidates.isEmpty else { return [] }
        let reload = try await store.write({ tx in
            let fresh = self.feed.withLock { state in candidates.filter { !state.seen.contains($0.sequence) } }
            guard !fresh.isEmpty else { return Reload(fresh: [], domain: nil, parts: [:]) }
            let domain = fresh.contains { $0.tenantID == nil } ? try await tx.loadDomain() : nil
            let appeared = Set(domain?.tenants.map(\.id) ?? []).subtracting(self.snapshot.tenants.keys)
            var parts: [TenantID: TenantSnapshot?] = [:]
            for id in Set(fresh.compactMap(\.tenantID)).union(appeared) { parts[id] = try await tx.loadTenant(id) }
            return Reload(fresh: fresh, domain: domain, parts: parts)
        }, onCommit: { reload in
            guard !reload.fresh.isEmpty else { return }
            self.current.withLock { snapshot in
                if let domain = reload.domain {
                    snapshot = snapshot.replacingDomain(tenants: domain.tenants, users: domain.users, grants: domain.grants, poolClusters: domain.poolClusters)
                }
                for (id, part) in reload.parts { snapshot = snapshot.replacingTenant(id, with: part) }
                snapshot = snapshot.advanced(to: reload.fresh.map(\.sequence).max() ?? 0)
            }
            self.feed.withLock { $0.record(reload.fresh.map(\.sequence)) }
        })
        if !reload.fresh.isEmpty { publish() }
        return reload.fresh
    }

    /// Re-reads the whole snapshot from the store (after changes made by another replica).
    public func reload() async throws {
        let fresh = try await store.loadSnapshot()
        current.withLock { $0 = fresh }
        publish()
    }
}

private struct Committed<T: Sendable>: Sendable {
    let outcome: World.Outcome<T>
    let sequences: [Int64]
}

private struct Reload: Sendable {
    /// The events not applied before (by this process's commits or another catch-up).
    let fresh: [FeedEntry]
    let domain: DomainRecords?
    let parts: [TenantID: TenantSnapshot?]
}

/// One event of the change feed other replicas write: where it sits in the audit log, the tenant
/// it touched (`nil` for the domain level), and what it did to what.
public struct FeedEntry: Sendable, Equatable {
    public var sequence: Int64
    public var tenantID: TenantID?
    public var action: String
    public var target: String

    public init(sequence: Int64, tenantID: TenantID?, action: String, target: String) {
        self.sequence = sequence
        self.tenantID = tenantID
        self.action = action
        self.target = target
    }
}
