import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One LDAP directory: signs users in (service bind, user search, user bind), finds their groups
/// (paged, optionally nested), and keeps a few connections open between sign-ins.
///
/// Servers are tried in the configured order starting with the last one that answered; a server
/// that cannot be reached costs at most `connectTimeout`. Every failure is an `AuthError`:
/// `invalidCredentials` for anything the user got wrong (never saying what), and
/// `directoryUnavailable`, `directoryTLS` or `directoryMisconfigured` for the directory's side.
public actor LDAPDirectory {
    public let configuration: DirectoryConfiguration
    private let urls: [LDAPURL]
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup
    private let logger: Logger
    private var idle: [LDAPConnection] = []
    private var preferred = 0

    public init(configuration: DirectoryConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "ldap")) throws {
        try configuration.validate()
        self.configuration = configuration
        self.urls = try configuration.urls.map { try LDAPURL($0) }
        self.group = group
        self.logger = logger
        if urls.contains(where: \.secure) || configuration.startTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caPEM = configuration.caPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
            }
            self.tls = try NIOSSLContext(configuration: tls)
        } else {
            self.tls = nil
        }
    }

    /// Checks `password` for `username` and returns the account with its groups.
    ///
    /// An empty password is refused before any bind: LDAP treats a simple bind with a DN and no
    /// password as an anonymous bind, which succeeds.
    public func authenticate(username: String, password: String) async throws -> DirectoryUser {
        guard !password.isEmpty, !username.isEmpty else { throw Self.invalid }
        return try await withConnection { connection in
            try await self.bindService(connection)
            guard let entry = try await self.findUser(username, on: connection) else { throw Self.invalid }
            let bound = try await connection.send(.bind(dn: entry.dn, password: password))
            guard case .bind(let result) = bound.last, result.isSuccess else {
                if case .bind(let result) = bound.last, result.code != LDAPResult.invalidCredentials {
                    self.logger.notice("directory refused a user bind", metadata: ["dn": "\(entry.dn)", "result": "\(result.summary)"])
                }
                throw Self.invalid
            }
            // The connection is now bound as the user; searches for groups run as the service.
            try await self.bindService(connection)
            return try await self.user(from: entry, username: username, on: connection)
        }
    }

    /// The account of `username` as the directory shows it now, or `nil` when the user filter no
    /// longer finds it (deleted or disabled). No password is checked.
    public func lookup(username: String) async throws -> DirectoryUser? {
        try await withConnection { connection in
            try await self.bindService(connection)
            guard let entry = try await self.findUser(username, on: connection) else { return nil }
            return try await self.user(from: entry, username: username, on: connection)
        }
    }

    /// Runs a sign-in step by step and reports each step's outcome precisely (for the
    /// provider's test endpoint; never for sign-in, whose errors must not tell what failed).
    public func test(username: String, password: String) async -> DirectoryTestReport {
        var report = DirectoryTestReport()
        func step(_ name: String, _ ok: Bool, _ detail: String) { report.steps.append(.init(step: name, ok: ok, detail: detail)) }
        let connection: LDAPConnection
        do {
            connection = try await connect()
            report.server = connection.url.description
            step("connect", true, "connected to \(connection.url)\(configuration.startTLS ? " with StartTLS" : "")")
        } catch {
            step("connect", false, (error as? AuthError)?.message ?? "\(error)")
            return report
        }
        defer { connection.close() }
        do {
            try await bindService(connection)
            step("serviceBind", true, configuration.bindDN.isEmpty ? "anonymous" : "bound as \(configuration.bindDN)")
            guard let entry = try await findUser(username, on: connection) else {
                step("userSearch", false, "no single entry under \(configuration.userBaseDN) matches \(configuration.userFilter) for \(username) (none, or several)")
                return report
            }
            report.userDN = entry.dn
            step("userSearch", true, "found \(entry.dn)")
            if password.isEmpty {
                step("userBind", false, "an empty password is refused before any bind")
                return report
            }
            let bound = try await connection.send(.bind(dn: entry.dn, password: password))
            guard case .bind(let result) = bound.last, result.isSuccess else {
                let summary = if case .bind(let result) = bound.last { result.summary } else { "no answer" }
                step("userBind", false, "the directory refused the password: \(summary)")
                return report
            }
            step("userBind", true, "password accepted")
            try await bindService(connection)
            let user = try await user(from: entry, username: username, on: connection)
            report.groups = user.groups
            step("groupSearch", true, user.groups.isEmpty ? "no groups under \(configuration.groupBaseDN)" : "\(user.groups.count) group(s)")
        } catch {
            let name = report.steps.count == 1 ? "serviceBind" : report.userDN == nil ? "userSearch" : "groupSearch"
            step(name, false, (error as? AuthError)?.message ?? "\(error)")
        }
        return report
    }

    /// Closes the idle connections.
    public func shutdown() {
        for connection in idle { connection.close() }
        idle = []
    }

    private static let invalid = AuthError(.invalidCredentials, "invalid user name or password")

    // MARK: Steps

    private func bindService(_ connection: LDAPConnection) async throws {
        let answer = try await connection.send(.bind(dn: configuration.bindDN, password: configuration.bindPassword))
        guard case .bind(let result) = answer.last, result.isSuccess else {
            let summary = if case .bind(let result) = answer.last { result.summary } else { "no answer" }
            throw AuthError(.directoryMisconfigured, "\(connection.url) refused the service account \(configuration.bindDN): \(summary); check bindDN and bindPassword")
        }
    }

    /// The single entry the user filter finds, or `nil` for none or several (an ambiguous
    /// filter must not let one person sign in as another).
    private func findUser(_ username: String, on connection: LDAPConnection) async throws -> LDAPEntry? {
        let filter = try filled(configuration.userFilter, ["username": username])
        let search = LDAPSearch(base: configuration.userBaseDN, filter: filter, attributes: ["cn", "displayName", "mail"], sizeLimit: 2)
        let answer = try await connection.send(.search(search))
        guard case .searchDone(let done, _) = answer.last else { throw AuthError(.directoryUnavailable, "\(connection.url) ended a search without a result") }
        let entries = answer.compactMap { if case .searchEntry(let entry) = $0 { entry } else { nil } }
        switch done.code {
        case LDAPResult.success, LDAPResult.sizeLimitExceeded: break
        case 32: throw AuthError(.directoryMisconfigured, "the user base DN \(configuration.userBaseDN) does not exist on \(connection.url)")
        default: throw AuthError(.directoryMisconfigured, "searching users on \(connection.url) failed: \(done.summary)")
        }
        if entries.count > 1 {
            logger.warning("user filter matches several entries; refusing sign-in", metadata: ["username": "\(username)"])
            return nil
        }
        return entries.first
    }

    private func user(from entry: LDAPEntry, username: String, on connection: LDAPConnection) async throws -> DirectoryUser {
        DirectoryUser(
            dn: entry.dn, username: username,
            displayName: entry.values("displayName").first ?? entry.values("cn").first ?? "",
            email: entry.values("mail").first, groups: try await groups(of: entry.dn, username: username, on: connection)
        )
    }

    /// The names of the groups `dn` belongs to, following nested groups `nestedGroupDepth` levels
    /// up and never visiting a group twice (cycles end).
    private func groups(of dn: String, username: String, on connection: LDAPConnection) async throws -> [String] {
        var names = Set<String>()
        var visited = Set<DistinguishedName>()
        var frontier = [dn]
        for level in 0...configuration.nestedGroupDepth {
            var next: [String] = []
            for member in frontier {
                let filter = try filled(configuration.groupFilter, ["dn": member, "username": level == 0 ? username : ""])
                for entry in try await pagedSearch(base: configuration.groupBaseDN, filter: filter, attributes: [configuration.groupNameAttribute], on: connection) {
                    guard let key = try? DistinguishedName(entry.dn), visited.insert(key).inserted else { continue }
                    names.formUnion(entry.values(configuration.groupNameAttribute))
                    next.append(entry.dn)
                }
            }
            frontier = next
            if frontier.isEmpty { break }
        }
        return names.sorted()
    }

    private func pagedSearch(base: String, filter: LDAPFilter, attributes: [String], on connection: LDAPConnection) async throws -> [LDAPEntry] {
        var entries: [LDAPEntry] = []
        var cookie: [UInt8] = []
        repeat {
            let control = try LDAPControl.pagedResults(size: configuration.pageSize, cookie: cookie)
            let answer = try await connection.send(.search(LDAPSearch(base: base, filter: filter, attributes: attributes)), controls: [control])
            guard case .searchDone(let done, let controls) = answer.last else { throw AuthError(.directoryUnavailable, "\(connection.url) ended a search without a result") }
            if done.code == 32 { throw AuthError(.directoryMisconfigured, "the group base DN \(base) does not exist on \(connection.url)") }
            guard done.isSuccess else { throw AuthError(.directoryMisconfigured, "searching groups on \(connection.url) failed: \(done.summary)") }
            entries += answer.compactMap { if case .searchEntry(let entry) = $0 { entry } else { nil } }
            cookie = try controls.first { $0.oid == LDAPControl.pagedResultsOID }?.pagedResultsCookie() ?? []
        } while !cookie.isEmpty
        return entries
    }

    private func filled(_ template: String, _ values: [String: String]) throws -> LDAPFilter {
        do { return try LDAPFilter.fill(template, with: values) } catch {
            throw AuthError(.directoryMisconfigured, "\(error)")
        }
    }

    // MARK: Connections

    /// Runs `body` on a pooled connection. A pooled connection the server has closed meanwhile
    /// (a restart) is replaced once; a connection that failed is closed, never pooled again.
    private func withConnection<T: Sendable>(_ body: @Sendable (LDAPConnection) async throws -> T) async throws -> T {
        var reused = true
        while true {
            let connection: LDAPConnection
            if let pooled = idle.popLast() {
                connection = pooled
            } else {
                connection = try await connect()
                reused = false
            }
            do {
                let result = try await body(connection)
                release(connection)
                return result
            } catch let error as AuthError where error.code == .invalidCredentials {
                release(connection)
                throw error
            } catch let error as AuthError where error.code == .directoryUnavailable && reused {
                connection.close()
                reused = false
                logger.debug("pooled directory connection failed; reconnecting", metadata: ["error": "\(error.message)"])
                continue
            } catch {
                connection.close()
                throw error
            }
        }
    }

    private func release(_ connection: LDAPConnection) {
        if connection.isActive, idle.count < configuration.poolSize {
            idle.append(connection)
        } else {
            connection.close()
        }
    }

    /// A new connection to the first server that answers, starting with the preferred one.
    private func connect() async throws -> LDAPConnection {
        var failures: [String] = []
        for offset in 0..<urls.count {
            let index = (preferred + offset) % urls.count
            do {
                let connection = try await LDAPConnection.open(
                    urls[index], tls: tls, startTLS: configuration.startTLS, connectTimeout: configuration.connectTimeout,
                    operationTimeout: configuration.operationTimeout, group: group
                )
                preferred = index
                return connection
            } catch let error as AuthError where error.code == .directoryUnavailable {
                failures.append(error.message)
            }
        }
        throw AuthError(.directoryUnavailable, "no directory server answered: " + failures.joined(separator: "; "))
    }
}
