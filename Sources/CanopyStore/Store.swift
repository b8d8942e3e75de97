import CanopyModel
import Foundation

/// What the rest of Canopy needs from persistent storage. One implementation, `SQLStore`, runs
/// over SQLite or PostgreSQL; the contract test suite runs against both.
public protocol Store: Sendable {
    /// Brings the schema up to date; safe to call on every start.
    func migrate() async throws
    /// Runs `body` as one transaction. Writes are serialized: `onCommit` runs after the commit and
    /// before the next write starts, so it sees commits in their true order.
    func write<T: Sendable>(
        _ body: @Sendable (StoreTransaction) async throws -> T, onCommit: @Sendable (T) -> Void
    ) async throws -> T
    /// The whole tenancy graph, as of the newest audit event.
    func loadSnapshot() async throws -> Snapshot
    /// Sequence numbers, tenants, actions and targets of audit events after `sequence`, oldest
    /// first (at most 10,000).
    func auditSequences(after sequence: Int64) async throws -> [FeedEntry]
    /// Whether commits by other processes on the database are announced (PostgreSQL).
    var notifiesChanges: Bool { get }
    /// Calls `onChange` on each commit that appended to the audit log, by any process on the
    /// database, until cancelled or the connection fails (then it throws).
    func listenForChanges(_ onChange: @escaping @Sendable () async -> Void) async throws
    /// The sealed kubeconfig of an imported cluster.
    func clusterCredentials(of id: ClusterID) async throws -> String?
    /// The identity providers of a tenant (or of the domain, for `nil`), oldest first, each with
    /// its sealed bind password.
    func identityProviders(of tenantID: TenantID?) async throws -> [(provider: IdentityProvider, sealedBindPassword: String)]
    /// The bcrypt hash of a local user's password.
    func passwordHash(of userID: UserID) async throws -> String?
    /// A token's record by the SHA-256 hash of its secret, with the tenant of its user.
    func token(hash: String) async throws -> (token: APIToken, tenantID: TenantID?)?
    /// Every token of one user, newest first.
    func tokens(of userID: UserID) async throws -> [APIToken]
    /// Records when tokens were last used (batched; losing a few on a crash is acceptable).
    func recordTokenUse(_ uses: [TokenID: Date]) async throws
    /// Failed sign-ins for each of `keys` (the sign-in throttle's keys) at or after `since`,
    /// oldest first; keys without any are left out.
    func signInFailures(of keys: [String], since: Date) async throws -> [String: [Date]]
    /// Records one failed sign-in against each of `keys`, and forgets every failure before
    /// `forgetBefore` (those the throttle no longer counts).
    func recordSignInFailure(_ keys: [String], at date: Date, forgetBefore: Date) async throws
    /// Forgets the failed sign-ins of `key` (after a successful one).
    func clearSignInFailures(of key: String) async throws
    /// The setting `name`; when it has none yet, `value` is stored first (the first replica's
    /// value is every later one's).
    func setting(_ name: String, storingIfAbsent value: String) async throws -> String
    /// Takes the lease `name` for `holder` until `expiresAt` when it is free, expired at `now`, or
    /// already `holder`'s (a renewal); returns who holds it afterwards and until when.
    func claimLease(_ name: String, for holder: String, until expiresAt: Date, now: Date) async throws -> (holder: String, expiresAt: Date)
    /// Gives the lease `name` up if `holder` has it (a replica stopping), so another takes it at once.
    func releaseLease(_ name: String, of holder: String) async throws
    /// Stores a new clean-up request (and forgets those requested over an hour before `request`).
    func requestRelease(_ request: ReleaseRequest) async throws
    /// The requests no writer has taken yet, oldest first.
    func pendingReleases() async throws -> [ReleaseRequest]
    /// One request as it stands; `nil` once withdrawn.
    func releaseRequest(_ id: String) async throws -> ReleaseRequest?
    /// Moves a request from `requested` to `working`; false when it was not waiting (taken by
    /// another, or withdrawn).
    func takeRelease(_ id: String) async throws -> Bool
    /// Records how a taken request went; false when its requester withdrew it meanwhile.
    func finishRelease(_ id: String, _ state: ReleaseRequest.State) async throws -> Bool
    /// Deletes a request (its requester is done with it, or stops waiting) and returns it as it
    /// stood then.
    func withdrawRelease(_ id: String) async throws -> ReleaseRequest?
    /// Audit events in a scope, newest first.
    func audit(_ query: AuditQuery) async throws -> [AuditEvent]
    /// Answers when the database answers a trivial query; throws `unavailable` otherwise.
    func ping() async throws
    /// Holds the database connections until cancelled.
    func run() async throws
}

extension Store {
    /// Runs `body` as one transaction.
    public func write<T: Sendable>(_ body: @Sendable (StoreTransaction) async throws -> T) async throws -> T {
        try await write(body, onCommit: { _ in })
    }
}

/// Which audit events to read.
public struct AuditQuery: Sendable {
    /// Tenants whose events to include (`nil` means "no tenant", i.e. domain-level events).
    public var scopes: [TenantID?]
    /// When set, only events about these projects.
    public var projectIDs: [ProjectID]?
    /// Only events older than this sequence number (for paging).
    public var beforeSequence: Int64?
    /// At most this many events; defaults to 100.
    public var limit: Int

    public init(scopes: [TenantID?], projectIDs: [ProjectID]? = nil, beforeSequence: Int64? = nil, limit: Int = 100) {
        self.scopes = scopes
        self.projectIDs = projectIDs
        self.beforeSequence = beforeSequence
        self.limit = limit
    }
}
