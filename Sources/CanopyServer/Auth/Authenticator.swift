import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Logging
import Synchronization

/// Turns credentials into identities: password sign-in (local accounts, then the tenant's
/// directories; with throttling) and bearer tokens.
///
/// Tokens are looked up by the SHA-256 of their text. Known tokens are cached in memory for
/// `cacheLifetime`, so most requests never touch the database; a revocation made by this process
/// takes effect at once, one made by another replica when this one reads it from the change feed
/// (`SnapshotRefresher`, about a second); a lookup that overlapped the revocation does not cache
/// the record it read, which may predate it.
public final class Authenticator: Sendable {
    /// How long a cached token record is trusted. Defaults to 10 seconds.
    public let cacheLifetime: TimeInterval
    /// Lifetime of tokens issued by sign-in. Defaults to 12 hours.
    public let sessionLifetime: TimeInterval

    private let world: World
    private let hasher: PasswordHasher
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private let cache = Mutex(TokenCache())
    private let pendingUses = Mutex<[TokenID: Date]>([:])
    private let throttle: LoginThrottle
    private let directories: Directories?
    /// With other replicas on the same database: applies what they committed, now (set by the
    /// replica's `SnapshotRefresher`; `nil` for a server alone on its database).
    private let replicaCatchUp = Mutex<(@Sendable (Authenticator) async throws -> Void)?>(nil)

    private struct CachedToken {
        let token: APIToken
        let tenantID: TenantID?
        let cachedAt: Date
    }

    /// Token records by the hash of their text, and how many times records were forgotten: a
    /// lookup during which one was may have read a record from before a revocation, so it does
    /// not cache what it read but reads again.
    private struct TokenCache {
        var entries: [String: CachedToken] = [:]
        var forgets = 0
    }

    public init(
        world: World, hasher: PasswordHasher, clock: @escaping @Sendable () -> Date = Date.init,
        throttle: LoginThrottle = LoginThrottle(), cacheLifetime: TimeInterval = 10, sessionLifetime: TimeInterval = 12 * 3600,
        directories: Directories? = nil, logger: Logger = Logger(label: "canopy.auth")
    ) {
        self.directories = directories
        self.logger = logger
        self.world = world
        self.hasher = hasher
        self.clock = clock
        self.throttle = throttle
        self.cacheLifetime = cacheLifetime
        self.sessionLifetime = sessionLifetime
    }

    public var now: Date { clock() }

    /// Has a sign-in or token whose user or tenant this replica's snapshot does not hold (yet)
    /// call `catchUp`, which applies the changes other replicas committed, before it is
    /// refused: a user created, or a first directory sign-in made, on another replica a moment
    /// ago (the change feed brings it within a second; a load balancer may send their next
    /// request here sooner).
    public func followReplicas(_ catchUp: @escaping @Sendable (Authenticator) async throws -> Void) {
        replicaCatchUp.withLock { $0 = catchUp }
    }

    /// Applies what other replicas committed, if there may be any; whether it did. A failure is
    /// logged, not thrown: the caller answers from the snapshot it has.
    private func catchUpWithReplicas() async -> Bool {
        guard let catchUp = replicaCatchUp.withLock({ $0 }) else { return false }
        do {
            try await catchUp(self)
            return true
        } catch {
            logger.warning("could not follow the change feed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// The identity behind a presented token, or `nil` when it is unknown, expired, revoked, or its
    /// user, tenant or account state no longer allows sign-in.
    public func identity(forToken text: String) async throws -> Identity? {
        guard text.hasPrefix(TokenSecret.prefix), text.utf8.count < 200 else { return nil }
        let hash = TokenSecret.hash(of: text)
        let now = clock()
        var cached = cache.withLock { $0.entries[hash] }
        if cached == nil || now.timeIntervalSince(cached!.cachedAt) > cacheLifetime {
            // A record read while a revocation was forgotten is read again (up to three times;
            // the last read answers this request without being cached).
            for _ in 0..<3 {
                let forgets = cache.withLock { $0.forgets }
                guard let found = try await world.store.token(hash: hash) else { return nil }
                cached = CachedToken(token: found.token, tenantID: found.tenantID, cachedAt: now)
                if keep(cached!, as: hash, unlessForgottenSince: forgets) { break }
            }
        }
        guard let entry = cached else { return nil }
        var found = activeUser(of: entry, at: now)
        // A valid token whose user this replica does not know yet: made on another one.
        if found == nil, entry.token.isUsable(at: now), world.snapshot.user(entry.token.userID, in: entry.tenantID) == nil,
           await catchUpWithReplicas() {
            found = activeUser(of: entry, at: now)
        }
        guard let user = found else { return nil }
        var groups: Set<String> = []
        if user.source == .ldap {
            guard let directories, let current = await directories.groups(of: user) else { return nil }
            groups = current
        }
        return used(entry, at: now, groups: groups)
    }

    /// The identity behind a presented token when it can be told at once, from what is cached:
    /// the token's record (fresh), and for a directory user their groups (fresh). `nil` when it
    /// cannot; `identity(forToken:)` then tells (and refuses what is to be refused).
    public func cachedIdentity(forToken text: String) -> Identity? {
        // Bytes, not characters: counting characters walks grapheme clusters, on every proxied GET.
        guard text.hasPrefix(TokenSecret.prefix), text.utf8.count < 200 else { return nil }
        let now = clock()
        guard let entry = cache.withLock({ $0.entries[TokenSecret.hash(of: text)] }), now.timeIntervalSince(entry.cachedAt) <= cacheLifetime,
              let user = activeUser(of: entry, at: now)
        else { return nil }
        var groups: Set<String> = []
        if user.source == .ldap {
            guard let current = directories?.cachedGroups(of: user) else { return nil }
            groups = current
        }
        return used(entry, at: now, groups: groups)
    }

    /// The user of a cached token record, when the token is usable and its user may sign in.
    private func activeUser(of entry: CachedToken, at now: Date) -> User? {
        guard entry.token.isUsable(at: now) else { return nil }
        let snapshot = world.snapshot
        guard isActive(userID: entry.token.userID, tenantID: entry.tenantID, in: snapshot) else { return nil }
        return snapshot.user(entry.token.userID, in: entry.tenantID)
    }

    /// Notes the token's use and gives the identity it stands for.
    private func used(_ entry: CachedToken, at now: Date, groups: Set<String>) -> Identity {
        pendingUses.withLock { $0[entry.token.id] = now }
        return Identity(userID: entry.token.userID, tenantID: entry.tenantID, tokenID: entry.token.id, groups: groups)
    }

    /// Checks a user name and password; returns the user on success.
    ///
    /// A local account is checked with its bcrypt hash. A name with no local account (or one
    /// that came from a directory) is checked with the tenant's identity providers, in order;
    /// a directory user signing in for the first time becomes a user with source `ldap`.
    /// Every failure — unknown tenant or user, wrong or empty password, disabled account,
    /// suspended tenant — throws the same `invalidCredentials` after the same bcrypt work, so
    /// neither the answer nor its timing tells whether an account exists. Five failures a minute
    /// for one user name or one source address answer `throttled` until the window passes (the
    /// failures are kept in the store: every replica on one database counts them together). A
    /// directory that cannot be asked throws its own error (503), which is not counted as a
    /// failure.
    public func signIn(tenant tenantName: String?, username: String, password: String, from address: String) async throws -> User {
        let now = clock()
        let keys = Self.throttleKeys(tenant: tenantName, username: username, address: address)
        let failures = try await checkThrottle(keys, at: now)
        let failed = { @Sendable () async throws -> AuthError in
            try await self.world.store.recordSignInFailure(keys, at: now, forgetBefore: self.throttle.windowStart(at: now))
            return AuthError(.invalidCredentials, "invalid user name or password")
        }
        var (tenant, existing) = account(tenant: tenantName, username: username)
        if (tenantName != nil && tenant == nil) || existing == nil, await catchUpWithReplicas() {
            // Perhaps made on another replica a moment ago.
            (tenant, existing) = account(tenant: tenantName, username: username)
        }
        guard tenantName == nil || tenant != nil else {
            _ = try await hasher.verify(password, against: nil)
            throw try await failed()
        }
        let hash = try await existing.flatMap { $0.source == .local ? $0 : nil }.asyncMap { try await world.store.passwordHash(of: $0.id) } ?? nil
        // An empty password never matches, but still costs a bcrypt verification.
        let verified = try await hasher.verify(password, against: hash)
        var user = existing
        if existing?.source != .local {
            // No local account by this name: ask the directories.
            guard !password.isEmpty, let directories else { throw try await failed() }
            guard let found = try await directories.authenticate(tenantID: tenant?.tenant.id, username: username, password: password) else { throw try await failed() }
            user = try await directoryUser(found, in: tenant, existing: existing)
            if let user { directories.remember(user.id, groups: found.groups) }
        } else if !(verified && !password.isEmpty) {
            throw try await failed()
        }
        guard let user else { throw try await failed() }
        if !isActive(userID: user.id, tenantID: user.tenantID, in: world.snapshot) {
            // Perhaps enabled again (or the tenant resumed) on another replica a moment ago.
            guard await catchUpWithReplicas(), isActive(userID: user.id, tenantID: user.tenantID, in: world.snapshot) else {
                throw try await failed()
            }
        }
        if failures[keys[0]] != nil { try await world.store.clearSignInFailures(of: keys[0]) }
        return user
    }

    /// The tenant named `tenantName` (when one is) and its user, or the domain's, called
    /// `username`, in the current snapshot. Directory users are stored under their name in lower
    /// case; local names are exact.
    private func account(tenant tenantName: String?, username: String) -> (TenantSnapshot?, User?) {
        let snapshot = world.snapshot
        let tenant = tenantName.flatMap { snapshot.tenant(named: $0) }
        if tenantName != nil && tenant == nil { return (nil, nil) }
        let exact = if let tenant { tenant.user(named: username) } else { snapshot.domainUser(named: username) }
        let folded = if let tenant { tenant.user(named: username.lowercased()) } else { snapshot.domainUser(named: username.lowercased()) }
        return (tenant, exact ?? folded.flatMap { $0.source == .ldap ? $0 : nil })
    }

    /// The sign-in throttle's keys: the user name in its tenant, and the source address. A name
    /// longer than any a user can have (a request may carry a megabyte of it) is kept as its hash.
    private static func throttleKeys(tenant: String?, username: String, address: String) -> [String] {
        let userKey = "user:\(tenant ?? "")/\(username)"
        return [userKey.utf8.count > 256 ? "user-sha256:\(TokenSecret.hash(of: userKey))" : userKey, "address:\(address)"]
    }

    /// The recent failures of `keys`; throws `throttled` when one of them has too many.
    private func checkThrottle(_ keys: [String], at now: Date) async throws -> [String: [Date]] {
        let failures = try await world.store.signInFailures(of: keys, since: throttle.windowStart(at: now))
        if let wait = throttle.retryAfter(failures: failures, at: now) {
            throw AuthError(.throttled, "too many failed sign-ins; try again in \(wait) seconds", retryAfter: wait)
        }
        return failures
    }

    /// Runs `check`, which tries a person's password some other way than a sign-in (a directory's
    /// test), under the sign-in throttle: refused while their name or the caller's address is
    /// throttled, and a wrong password counted as a failed sign-in of theirs, so the other way is
    /// no better for guessing passwords than signing in. `check` returns its result and whether
    /// the password was refused.
    public func throttled<T: Sendable>(
        tenant: String?, username: String, from address: String, _ check: () async throws -> (result: T, refused: Bool)
    ) async throws -> T {
        let now = clock()
        let keys = Self.throttleKeys(tenant: tenant, username: username, address: address)
        _ = try await checkThrottle(keys, at: now)
        let (result, refused) = try await check()
        if refused { try await world.store.recordSignInFailure(keys, at: now, forgetBefore: throttle.windowStart(at: now)) }
        return result
    }

    /// The Canopy user of a directory account: the existing one, or a new user with source
    /// `ldap` (created once, even when two first sign-ins race). `nil` when the directory's name
    /// cannot be a Canopy user name (a DNS label).
    private func directoryUser(_ found: DirectoryUser, in tenant: TenantSnapshot?, existing: User?) async throws -> User? {
        if let existing { return existing }
        let username = found.username.lowercased()
        guard (try? Validate.name(username, field: "username")) != nil else {
            logger.notice("directory account has a name that cannot be a Canopy user name", metadata: ["username": "\(found.username)"])
            return nil
        }
        let now = clock()
        let user = User(
            id: .random(), tenantID: tenant?.tenant.id, username: username, displayName: String(found.displayName.prefix(200)),
            email: found.email, source: .ldap, createdAt: now
        )
        let actor = tenant.map { "\($0.tenant.name)/\(username)" } ?? username
        let event = AuditEvent(
            at: now, actorID: user.id, actor: actor, tenantID: user.tenantID, projectID: nil,
            action: "user.create", target: "\(tenant.map { "tenants/\($0.tenant.name)/" } ?? "")users/\(username)", requestID: nil
        )
        do {
            try await world.commit { tx in
                try await tx.insert(user, passwordHash: nil)
                return World.Outcome(result: (), changes: [.userSaved(user)], audit: [event])
            }
            return user
        } catch let error as StoreError where error.code == .duplicate {
            // Another sign-in of the same person created it first (on another replica, this
            // one learns of it by catching up).
            let stored = { @Sendable in
                let snapshot = self.world.snapshot
                return tenant.flatMap { snapshot.tenant($0.tenant.id)?.user(named: username) } ?? (tenant == nil ? snapshot.domainUser(named: username) : nil)
            }
            if let user = stored() { return user }
            return await catchUpWithReplicas() ? stored() : nil
        }
    }

    /// Caches `entry` unless a record was forgotten since `forgets` (it may predate a revocation).
    private func keep(_ entry: CachedToken, as hash: String, unlessForgottenSince forgets: Int) -> Bool {
        let lifetime = cacheLifetime, now = entry.cachedAt
        return cache.withLock { cache in
            guard cache.forgets == forgets else { return false }
            // Keep the cache bounded: past 10,000 entries, drop the stale ones first.
            if cache.entries.count >= 10_000 { cache.entries = cache.entries.filter { now.timeIntervalSince($0.value.cachedAt) <= lifetime } }
            if cache.entries.count >= 10_000 { cache.entries.removeAll(keepingCapacity: true) }
            cache.entries[hash] = entry
            return true
        }
    }

    /// Forgets cached records of tokens that were revoked or deleted (here or, read from the
    /// change feed, by another replica); a lookup under way meanwhile reads the record again.
    public func forget(tokenIDs: Set<TokenID>) {
        cache.withLock { cache in
            cache.entries = cache.entries.filter { !tokenIDs.contains($0.value.token.id) }
            cache.forgets += 1
        }
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
