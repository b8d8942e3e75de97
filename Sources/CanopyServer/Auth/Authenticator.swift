import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Logging
import Synchronization

/// Turns credentials into identities: password sign-in (with throttling) and bearer tokens.
///
/// Tokens are looked up by the SHA-256 of their text. Known tokens are cached in memory for
/// `cacheLifetime`, so most requests never touch the database; a revocation made by this process
/// takes effect at once, one made by another replica within `cacheLifetime`.
public final class Authenticator: Sendable {
    /// How long a cached token record is trusted. Defaults to 10 seconds.
    public let cacheLifetime: TimeInterval
    /// Lifetime of tokens issued by sign-in. Defaults to 12 hours.
    public let sessionLifetime: TimeInterval

    private let world: World
    private let hasher: PasswordHasher
    private let clock: @Sendable () -> Date
    private let cache = Mutex<[String: CachedToken]>([:])
    private let pendingUses = Mutex<[TokenID: Date]>([:])
    private let throttle: Mutex<LoginThrottle>

    private struct CachedToken {
        let token: APIToken
        let tenantID: TenantID?
        let cachedAt: Date
    }

    public init(
        world: World, hasher: PasswordHasher, clock: @escaping @Sendable () -> Date = Date.init,
        throttle: LoginThrottle = LoginThrottle(), cacheLifetime: TimeInterval = 10, sessionLifetime: TimeInterval = 12 * 3600
    ) {
        self.world = world
        self.hasher = hasher
        self.clock = clock
        self.throttle = Mutex(throttle)
        self.cacheLifetime = cacheLifetime
        self.sessionLifetime = sessionLifetime
    }

    public var now: Date { clock() }

    /// The identity behind a presented token, or `nil` when it is unknown, expired, revoked, or its
    /// user, tenant or account state no longer allows sign-in.
    public func identity(forToken text: String) async throws -> Identity? {
        guard text.hasPrefix(TokenSecret.prefix), text.count < 200 else { return nil }
        let hash = TokenSecret.hash(of: text)
        let now = clock()
        var cached = cache.withLock { $0[hash] }
        if cached == nil || now.timeIntervalSince(cached!.cachedAt) > cacheLifetime {
            guard let found = try await world.store.token(hash: hash) else { return nil }
            cached = CachedToken(token: found.token, tenantID: found.tenantID, cachedAt: now)
            let lifetime = cacheLifetime
            cache.withLock { cache in
                // Keep the cache bounded: past 10,000 entries, drop the stale ones first.
                if cache.count >= 10_000 { cache = cache.filter { now.timeIntervalSince($0.value.cachedAt) <= lifetime } }
                if cache.count >= 10_000 { cache.removeAll(keepingCapacity: true) }
                cache[hash] = cached
            }
        }
        guard let entry = cached, entry.token.isUsable(at: now) else { return nil }
        guard isActive(userID: entry.token.userID, tenantID: entry.tenantID, in: world.snapshot) else { return nil }
        pendingUses.withLock { $0[entry.token.id] = now }
        return Identity(userID: entry.token.userID, tenantID: entry.tenantID, tokenID: entry.token.id, groups: [])
    }

    /// Checks a user name and password; returns the user on success.
    ///
    /// Every failure — unknown tenant or user, wrong password, disabled account, suspended tenant —
    /// throws the same `invalidCredentials` after the same bcrypt work, so neither the answer nor
    /// its timing tells whether an account exists. Five failures a minute for one user name or one
    /// source address answer `throttled` until the window passes.
    public func signIn(tenant tenantName: String?, username: String, password: String, from address: String) async throws -> User {
        let now = clock()
        let keys = ["user:\(tenantName ?? "")/\(username)", "address:\(address)"]
        if let wait = throttle.withLock({ $0.retryAfter(for: keys, at: now) }) {
            throw AuthError(.throttled, "too many failed sign-ins; try again in \(wait) seconds", retryAfter: wait)
        }
        let snapshot = world.snapshot
        let user: User? = if let tenantName {
            snapshot.tenant(named: tenantName)?.user(named: username)
        } else {
            snapshot.domainUser(named: username)
        }
        let hash = try await user.flatMap { $0.source == .local ? $0 : nil }.asyncMap { try await world.store.passwordHash(of: $0.id) } ?? nil
        // An empty password never matches, but still costs a bcrypt verification.
        let verified = try await hasher.verify(password, against: hash)
        let matches = verified && !password.isEmpty
        guard matches, let user, isActive(userID: user.id, tenantID: user.tenantID, in: snapshot) else {
            throttle.withLock { $0.recordFailure(for: keys, at: now) }
            throw AuthError(.invalidCredentials, "invalid user name or password")
        }
        throttle.withLock { $0.recordSuccess(for: [keys[0]]) }
        return user
    }

    /// Forgets cached records of tokens that were revoked or deleted in this process.
    public func forget(tokenIDs: Set<TokenID>) {
        cache.withLock { cache in cache = cache.filter { !tokenIDs.contains($0.value.token.id) } }
    }

    /// Hands over the last-used times gathered since the previous call (to be written in a batch).
    public func takeTokenUses() -> [TokenID: Date] {
        pendingUses.withLock { uses in
            defer { uses = [:] }
            return uses
        }
    }

    private func isActive(userID: UserID, tenantID: TenantID?, in snapshot: Snapshot) -> Bool {
        guard let user = snapshot.user(userID, in: tenantID), !user.disabled else { return false }
        guard let tenantID else { return true }
        return snapshot.tenant(tenantID)?.tenant.state == .active
    }
}

extension Optional {
    /// `map` for async transforms.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
