import CanopyModel
import CanopyStore
import Foundation

/// A store that passes every call to a real one below; tests subclass it to hold or fail one
/// kind of call (a fault put between Canopy and a real database, not a stand-in for it).
class InterposedStore: Store, @unchecked Sendable {
    let base: SQLStore

    init(_ base: SQLStore) { self.base = base }

    func migrate() async throws { try await base.migrate() }
    func write<T: Sendable>(_ body: @Sendable (StoreTransaction) async throws -> T, onCommit: @Sendable (T) -> Void) async throws -> T {
        try await base.write(body, onCommit: onCommit)
    }
    func loadSnapshot() async throws -> Snapshot { try await base.loadSnapshot() }
    func auditSequences(after sequence: Int64) async throws -> [FeedEntry] { try await base.auditSequences(after: sequence) }
    var notifiesChanges: Bool { base.notifiesChanges }
    func listenForChanges(_ onChange: @escaping @Sendable () async -> Void) async throws { try await base.listenForChanges(onChange) }
    func clusterCredentials(of id: ClusterID) async throws -> String? { try await base.clusterCredentials(of: id) }
    func identityProviders(of tenantID: TenantID?) async throws -> [(provider: IdentityProvider, sealedBindPassword: String)] {
        try await base.identityProviders(of: tenantID)
    }
    func passwordHash(of userID: UserID) async throws -> String? { try await base.passwordHash(of: userID) }
    func token(hash: String) async throws -> (token: APIToken, tenantID: TenantID?)? { try await base.token(hash: hash) }
    func tokens(of userID: UserID) async throws -> [APIToken] { try await base.tokens(of: userID) }
    func signInFailures(of keys: [String], since: Date) async throws -> [String: [Date]] { try await base.signInFailures(of: keys, since: since) }
    func recordSignInFailure(_ keys: [String], at date: Date, forgetBefore: Date) async throws {
        try await base.recordSignInFailure(keys, at: date, forgetBefore: forgetBefore)
    }
    func clearSignInFailures(of key: String) async throws { try await base.clearSignInFailures(of: key) }
    func recordTokenUse(_ uses: [TokenID: Date]) async throws { try await base.recordTokenUse(uses) }
    func setting(_ name: String, storingIfAbsent value: String) async throws -> String { try await base.setting(name, storingIfAbsent: value) }
    func claimLease(_ name: String, for holder: String, until expiresAt: Date, now: Date) async throws -> (holder: String, expiresAt: Date) {
        try await base.claimLease(name, for: holder, until: expiresAt, now: now)
    }
    func releaseLease(_ name: String, of holder: String) async throws { try await base.releaseLease(name, of: holder) }
    func requestRelease(_ request: ReleaseRequest) async throws { try await base.requestRelease(request) }
    func pendingReleases() async throws -> [ReleaseRequest] { try await base.pendingReleases() }
    func releaseRequest(_ id: String) async throws -> ReleaseRequest? { try await base.releaseRequest(id) }
    func takeRelease(_ id: String) async throws -> Bool { try await base.takeRelease(id) }
    func finishRelease(_ id: String, _ state: ReleaseRequest.State) async throws -> Bool { try await base.finishRelease(id, state) }
    func withdrawRelease(_ id: String) async throws -> ReleaseRequest? { try await base.withdrawRelease(id) }
    func audit(_ query: AuditQuery) async throws -> [AuditEvent] { try await base.audit(query) }
    func ping() async throws { try await base.ping() }
    func run() async throws { try await base.run() }
}
