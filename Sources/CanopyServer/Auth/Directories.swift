import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Logging
import Synchronization

/// The LDAP side of sign-in: one `LDAPDirectory` (with its connection pool) per identity
/// provider, and the directory groups of signed-in users, cached for `groupLifetime`.
///
/// A directory user's groups are read at each sign-in. After `groupLifetime`, the next request
/// with one of their tokens looks the user up again (service bind, user search, group search):
/// an account deleted from the directory, or excluded by the user filter (disabled), loses access
/// then, and a changed group membership takes effect. When no directory answers, the user's
/// tokens are refused (401) until one does: a directory outage never extends access.
public final class Directories: Sendable {
    /// How long groups read from the directory are trusted. Defaults to 5 minutes.
    public let groupLifetime: TimeInterval
    private let store: any Store
    private let secrets: SecretBox
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private let open = Mutex<[IdentityProviderID: (version: Int, directory: LDAPDirectory)]>([:])
    private let groups = Mutex<[UserID: (groups: Set<String>, readAt: Date)]>([:])

    public init(store: any Store, secrets: SecretBox, groupLifetime: TimeInterval = 300, clock: @escaping @Sendable () -> Date = Date.init, logger: Logger) {
        self.store = store
        self.secrets = secrets
        self.groupLifetime = groupLifetime
        self.clock = clock
        self.logger = logger
    }

    /// The settings of a stored provider as the LDAP client takes them.
    static func configuration(of provider: IdentityProvider, bindPassword: String) -> DirectoryConfiguration {
        DirectoryConfiguration(
            urls: provider.urls, bindDN: provider.bindDN, bindPassword: bindPassword, userBaseDN: provider.userBaseDN,
            userFilter: provider.userFilter, groupBaseDN: provider.groupBaseDN, groupFilter: provider.groupFilter,
            groupNameAttribute: provider.groupNameAttribute, startTLS: provider.startTLS, caPEM: provider.caPEM,
            nestedGroupDepth: provider.nestedGroupDepth
        )
    }

    /// The client of a stored provider, reused while the provider's version is unchanged.
    func directory(for provider: IdentityProvider, sealedBindPassword: String) throws -> LDAPDirectory {
        if let cached = open.withLock({ $0[provider.id] }), cached.version == provider.version { return cached.directory }
        let configuration = Self.configuration(of: provider, bindPassword: try secrets.open(sealedBindPassword))
        let directory = try LDAPDirectory(configuration: configuration, logger: logger)
        let replaced = open.withLock { open in
            defer { open[provider.id] = (provider.version, directory) }
            return open[provider.id]?.directory
        }
        if let replaced { Task { await replaced.shutdown() } }
        return directory
    }

    /// Closes the client of a deleted or changed provider.
    func forget(_ id: IdentityProviderID) {
        if let removed = open.withLock({ $0.removeValue(forKey: id) }) { Task { await removed.directory.shutdown() } }
    }

    /// Checks the password with the tenant's providers in order; the first that accepts it wins.
    /// `nil` when none does. Throws the directory's error when none accepted and at least one
    /// could not be asked (so an outage is a 503, not a wrong password).
    func authenticate(tenantID: TenantID?, username: String, password: String) async throws -> DirectoryUser? {
        var outage: AuthError?
        for stored in try await store.identityProviders(of: tenantID) {
            do {
                let directory = try directory(for: stored.provider, sealedBindPassword: stored.sealedBindPassword)
                return try await directory.authenticate(username: username, password: password)
            } catch let error as AuthError where error.code == .invalidCredentials {
                continue
            } catch let error as AuthError {
                logger.warning("directory sign-in failed", metadata: ["provider": "\(stored.provider.name)", "error": "\(error.message)"])
                outage = outage ?? error
            }
        }
        if let outage { throw outage }
        return nil
    }

    /// Records the groups read at sign-in.
    func remember(_ user: UserID, groups names: [String]) {
        let now = clock()
        groups.withLock { $0[user] = (Set(names), now) }
    }

    /// The directory groups of `user` if they were read less than `groupLifetime` ago.
    func cachedGroups(of user: User) -> Set<String>? {
        guard let cached = groups.withLock({ $0[user.id] }), clock().timeIntervalSince(cached.readAt) < groupLifetime else { return nil }
        return cached.groups
    }

    /// The directory groups of `user`, from the cache while fresh, else read again. `nil` when the
    /// directory no longer knows the user, or cannot be asked.
    func groups(of user: User) async -> Set<String>? {
        if let cached = cachedGroups(of: user) { return cached }
        do {
            for stored in try await store.identityProviders(of: user.tenantID) {
                let directory = try directory(for: stored.provider, sealedBindPassword: stored.sealedBindPassword)
                if let found = try await directory.lookup(username: user.username) {
                    remember(user.id, groups: found.groups)
                    return Set(found.groups)
                }
            }
            logger.notice("directory user no longer found; refusing their tokens", metadata: ["user": "\(user.username)"])
        } catch {
            logger.warning("cannot refresh a directory user's groups; refusing their tokens", metadata: ["user": "\(user.username)", "error": "\(error)"])
        }
        groups.withLock { _ = $0.removeValue(forKey: user.id) }
        return nil
    }
}
