import CanopyModel
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SQLKit
import SQLiteNIO

/// The store over SQL: SQLite (embedded, the default) or PostgreSQL.
public final class SQLStore: Store {
    private let backend: any DatabaseBackend
    private let writes = AsyncLock()
    private let logger: Logger

    public init(backend: any DatabaseBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    /// Opens the store named by `databaseURL` (`postgres://…`), or SQLite in `dataDirectory`.
    public static func open(dataDirectory: String, databaseURL: String?, logger: Logger) async throws -> SQLStore {
        if let databaseURL {
            return SQLStore(backend: try PostgresBackend(url: databaseURL, logger: logger), logger: logger)
        }
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("canopy.sqlite").path
        return SQLStore(backend: try await SQLiteBackend(path: path, logger: logger), logger: logger)
    }

    public func run() async throws { try await backend.run() }

    public var notifiesChanges: Bool { backend.notifiesChanges }

    public func listenForChanges(_ onChange: @escaping @Sendable () async -> Void) async throws {
        try await backend.listenForChanges(onChange)
    }

    public func ping() async throws {
        try await mapErrors { try await backend.withDatabase { db in try await db.raw("SELECT 1 AS one").run() } }
    }

    public func migrate() async throws {
        let steps = Migrations.steps(dialect: backend.dialectName)
        try await backend.withDatabase { db in
            try await db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)").run()
        }
        let applied = try await backend.withDatabase { db in
            try await db.raw("SELECT version FROM schema_migrations").all().map { try $0.decode(column: "version", as: Int.self) }
        }
        let newest = applied.max() ?? 0
        guard newest <= steps.count else {
            throw StoreError(.corrupt, "the database is at schema version \(newest), newer than this Canopy (\(steps.count)); upgrade Canopy")
        }
        for (index, statements) in steps.enumerated() where index + 1 > newest {
            let version = index + 1
            try await backend.withTransaction { db in
                for statement in statements { try await db.raw("\(unsafeRaw: statement)").run() }
                try await db.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: version), \(bind: Rows.millis(Date())))").run()
            }
            logger.info("applied schema migration", metadata: ["version": "\(version)"])
        }
    }

    public func write<T: Sendable>(
        _ body: @Sendable (StoreTransaction) async throws -> T, onCommit: @Sendable (T) -> Void
    ) async throws -> T {
        try await writes.withLock {
            let result = try await mapErrors {
                try await backend.withTransaction { db in try await body(StoreTransaction(db: db)) }
            }
            onCommit(result)
            return result
        }
    }

    public func loadSnapshot() async throws -> Snapshot {
        try await mapErrors {
            try await backend.withDatabase { db in
                let sequence = try await db.raw("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit").first()?
                    .decode(column: "seq", as: Int64.self) ?? 0
                let tenants = try await db.raw("SELECT * FROM tenants").all().map(Rows.tenant)
                let users = try await db.raw("SELECT * FROM users").all().map(Rows.user)
                let projects = try await db.raw("SELECT * FROM projects").all().map(Rows.project)
                let grants = try await db.raw("SELECT * FROM grants").all().map(Rows.grant)
                let clusters = try await db.raw("SELECT * FROM clusters").all().map(Rows.cluster)
                let namespaces = try await db.raw("SELECT * FROM namespaces").all().map(Rows.namespace)
                return Self.assemble(
                    sequence: sequence, tenants: tenants, users: users, projects: projects, grants: grants, clusters: clusters,
                    namespaces: namespaces
                )
            }
        }
    }

    public func auditSequences(after sequence: Int64) async throws -> [FeedEntry] {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("SELECT seq, tenant_id, action, target FROM audit WHERE seq > \(bind: sequence) ORDER BY seq LIMIT 10000").all().map { row in
                    let tenant = try row.decode(column: "tenant_id", as: String.self)
                    return FeedEntry(
                        sequence: try row.decode(column: "seq", as: Int64.self), tenantID: tenant.isEmpty ? nil : TenantID(tenant),
                        action: try row.decode(column: "action", as: String.self), target: try row.decode(column: "target", as: String.self)
                    )
                }
            }
        }
    }

    static func assemble(sequence: Int64, tenants: [Tenant], users: [User], projects: [Project], grants: [Grant], clusters: [Cluster], namespaces: [ProjectNamespace] = []) -> Snapshot {
        let namespacesByTenant = Dictionary(grouping: namespaces, by: \.tenantID)
        let clustersByTenant = Dictionary(grouping: clusters.filter { $0.tenantID != nil }, by: { $0.tenantID! })
        let usersByTenant = Dictionary(grouping: users.filter { $0.tenantID != nil }, by: { $0.tenantID! })
        let projectsByTenant = Dictionary(grouping: projects, by: \.tenantID)
        let grantsByTenant = Dictionary(grouping: grants.filter { $0.tenantID != nil }, by: { $0.tenantID! })
        let tenantSnapshots = tenants.map { tenant in
            TenantSnapshot(
                tenant: tenant,
                users: Dictionary(uniqueKeysWithValues: (usersByTenant[tenant.id] ?? []).map { ($0.id, $0) }),
                projects: Dictionary(uniqueKeysWithValues: (projectsByTenant[tenant.id] ?? []).map { ($0.id, $0) }),
                grants: Dictionary(uniqueKeysWithValues: (grantsByTenant[tenant.id] ?? []).map { ($0.id, $0) }),
                clusters: Dictionary(uniqueKeysWithValues: (clustersByTenant[tenant.id] ?? []).map { ($0.id, $0) }),
                namespaces: Dictionary(uniqueKeysWithValues: (namespacesByTenant[tenant.id] ?? []).map { ($0.id, $0) })
            )
        }
        return Snapshot(
            sequence: sequence, tenants: tenantSnapshots, domainUsers: users.filter { $0.tenantID == nil },
            domainGrants: grants.filter { $0.tenantID == nil }, poolClusters: clusters.filter { $0.tenantID == nil }
        )
    }

    public func clusterCredentials(of id: ClusterID) async throws -> String? {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("SELECT credentials FROM clusters WHERE id = \(bind: id.rawValue)").first()?
                    .decode(column: "credentials", as: String.self)
            }
        }
    }

    public func identityProviders(of tenantID: TenantID?) async throws -> [(provider: IdentityProvider, sealedBindPassword: String)] {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("""
                    SELECT * FROM identity_providers WHERE tenant_id = \(bind: tenantID?.rawValue ?? "") ORDER BY created_at, id
                    """).all().map(Rows.identityProvider)
            }
        }
    }

    public func passwordHash(of userID: UserID) async throws -> String? {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("SELECT password_hash FROM users WHERE id = \(bind: userID.rawValue)").first()?
                    .decode(column: "password_hash", as: String?.self)
            }
        }
    }

    public func token(hash: String) async throws -> (token: APIToken, tenantID: TenantID?)? {
        try await mapErrors {
            try await backend.withDatabase { db in
                guard let row = try await db.raw("SELECT * FROM tokens WHERE hash = \(bind: hash)").first() else { return nil }
                let tenant = try row.decode(column: "tenant_id", as: String.self)
                return (try Rows.token(row), tenant.isEmpty ? nil : TenantID(tenant))
            }
        }
    }

    public func tokens(of userID: UserID) async throws -> [APIToken] {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("SELECT * FROM tokens WHERE user_id = \(bind: userID.rawValue) ORDER BY created_at DESC, id")
                    .all().map(Rows.token)
            }
        }
    }

    public func recordTokenUse(_ uses: [TokenID: Date]) async throws {
        guard !uses.isEmpty else { return }
        try await write { tx in
            for (id, date) in uses {
                try await tx.db.raw("UPDATE tokens SET last_used_at = \(bind: Rows.millis(date)) WHERE id = \(bind: id.rawValue)").run()
            }
        }
    }

    public func signInFailures(of keys: [String], since: Date) async throws -> [String: [Date]] {
        guard !keys.isEmpty else { return [:] }
        return try await mapErrors {
            try await backend.withDatabase { db in
                let rows = try await db.raw("""
                    SELECT key, at FROM sign_in_failures WHERE key IN (\(binds: keys)) AND at >= \(bind: Rows.millis(since)) ORDER BY at
                    """).all()
                var failures: [String: [Date]] = [:]
                for row in rows {
                    let at = try row.decode(column: "at", as: Int64.self)
                    failures[try row.decode(column: "key", as: String.self), default: []].append(Rows.date(at))
                }
                return failures
            }
        }
    }

    public func recordSignInFailure(_ keys: [String], at date: Date, forgetBefore: Date) async throws {
        try await write { tx in
            try await tx.db.raw("DELETE FROM sign_in_failures WHERE at < \(bind: Rows.millis(forgetBefore))").run()
            for key in keys {
                try await tx.db.raw("INSERT INTO sign_in_failures (key, at) VALUES (\(bind: key), \(bind: Rows.millis(date)))").run()
            }
        }
    }

    public func clearSignInFailures(of key: String) async throws {
        try await write { tx in
            try await tx.db.raw("DELETE FROM sign_in_failures WHERE key = \(bind: key)").run()
        }
    }

    public func setting(_ name: String, storingIfAbsent value: String) async throws -> String {
        try await write { tx in
            try await tx.db.raw("INSERT INTO settings (name, value) VALUES (\(bind: name), \(bind: value)) ON CONFLICT (name) DO NOTHING").run()
            guard let row = try await tx.db.raw("SELECT value FROM settings WHERE name = \(bind: name)").first() else {
                throw StoreError(.unavailable, "the setting \(name) vanished while it was written")
            }
            return try row.decode(column: "value", as: String.self)
        }
    }

    public func claimLease(_ name: String, for holder: String, until expiresAt: Date, now: Date) async throws -> (holder: String, expiresAt: Date) {
        try await write { tx in
            // One statement, so two replicas claiming at once cannot both win.
            try await tx.db.raw("""
                INSERT INTO leases (name, holder, expires_at) VALUES (\(bind: name), \(bind: holder), \(bind: Rows.millis(expiresAt)))
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE leases.holder = excluded.holder OR leases.expires_at < \(bind: Rows.millis(now))
                """).run()
            guard let row = try await tx.db.raw("SELECT holder, expires_at FROM leases WHERE name = \(bind: name)").first() else {
                throw StoreError(.unavailable, "the lease \(name) vanished while it was claimed")
            }
            return (try row.decode(column: "holder", as: String.self), Rows.date(try row.decode(column: "expires_at", as: Int64.self)))
        }
    }

    public func releaseLease(_ name: String, of holder: String) async throws {
        try await write { tx in
            try await tx.db.raw("DELETE FROM leases WHERE name = \(bind: name) AND holder = \(bind: holder)").run()
        }
    }

    public func requestRelease(_ request: ReleaseRequest) async throws {
        try await write { tx in
            let forgotten = Rows.millis(request.requestedAt.addingTimeInterval(-3600))
            try await tx.db.raw("DELETE FROM cluster_releases WHERE requested_at < \(bind: forgotten)").run()
            try await tx.db.raw("""
                INSERT INTO cluster_releases (id, cluster_id, action, timeout_ms, requested_at, start_by, state)
                VALUES (\(bind: request.id), \(bind: request.cluster.rawValue), \(bind: request.action.rawValue),
                  \(bind: Self.millis(request.timeout)), \(bind: Rows.millis(request.requestedAt)), \(bind: Rows.millis(request.startBy)), 'requested')
                """).run()
        }
    }

    public func pendingReleases() async throws -> [ReleaseRequest] {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("SELECT * FROM cluster_releases WHERE state = 'requested' ORDER BY requested_at, id").all().map(Self.releaseRequest)
            }
        }
    }

    public func releaseRequest(_ id: String) async throws -> ReleaseRequest? {
        try await mapErrors {
            try await backend.withDatabase { db in
                try await db.raw("SELECT * FROM cluster_releases WHERE id = \(bind: id)").first().map(Self.releaseRequest)
            }
        }
    }

    public func takeRelease(_ id: String) async throws -> Bool {
        try await write { tx in
            try await tx.db.raw("UPDATE cluster_releases SET state = 'working' WHERE id = \(bind: id) AND state = 'requested' RETURNING id")
                .first() != nil
        }
    }

    public func finishRelease(_ id: String, _ state: ReleaseRequest.State) async throws -> Bool {
        let (name, writes, message): (String, Int, String) = switch state {
        case .done(let writes): ("done", writes, "")
        case .failed(let message): ("failed", 0, message)
        case .requested: ("requested", 0, "")
        case .working: ("working", 0, "")
        }
        return try await write { tx in
            try await tx.db.raw("""
                UPDATE cluster_releases SET state = \(bind: name), writes = \(bind: writes), message = \(bind: message)
                WHERE id = \(bind: id) AND state = 'working' RETURNING id
                """).first() != nil
        }
    }

    public func withdrawRelease(_ id: String) async throws -> ReleaseRequest? {
        try await write { tx in
            try await tx.db.raw("DELETE FROM cluster_releases WHERE id = \(bind: id) RETURNING *").first().map(Self.releaseRequest)
        }
    }

    private static func millis(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    private static func releaseRequest(_ row: any SQLRow) throws -> ReleaseRequest {
        let action = try row.decode(column: "action", as: String.self)
        let state: ReleaseRequest.State = switch try row.decode(column: "state", as: String.self) {
        case "working": .working
        case "done": .done(writes: Int(try row.decode(column: "writes", as: Int64.self)))
        case "failed": .failed(try row.decode(column: "message", as: String.self))
        default: .requested
        }
        return ReleaseRequest(
            id: try row.decode(column: "id", as: String.self), cluster: ClusterID(try row.decode(column: "cluster_id", as: String.self)),
            action: ReleaseRequest.Action(rawValue: action) ?? .release,
            timeout: .milliseconds(try row.decode(column: "timeout_ms", as: Int64.self)),
            requestedAt: Rows.date(try row.decode(column: "requested_at", as: Int64.self)),
            startBy: Rows.date(try row.decode(column: "start_by", as: Int64.self)), state: state
        )
    }

    public func audit(_ query: AuditQuery) async throws -> [AuditEvent] {
        guard !query.scopes.isEmpty, query.projectIDs?.isEmpty != true else { return [] }
        return try await mapErrors {
            try await backend.withDatabase { db in
                var sql: SQLQueryString = "SELECT * FROM audit WHERE tenant_id IN (\(binds: query.scopes.map { $0?.rawValue ?? "" }))"
                if let projects = query.projectIDs { sql.appendInterpolation(unsafeRaw: " AND project_id IN ("); sql.appendInterpolation(binds: projects.map(\.rawValue)); sql.appendInterpolation(unsafeRaw: ")") }
                if let before = query.beforeSequence { sql.appendInterpolation(unsafeRaw: " AND seq < "); sql.appendInterpolation(bind: before) }
                sql.appendInterpolation(unsafeRaw: " ORDER BY seq DESC LIMIT \(max(1, min(query.limit, 1000)))")
                return try await db.raw(sql).all().map(Rows.audit)
            }
        }
    }

    private func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch where Self.isDatabaseFailure(error) {
            throw StoreError(.unavailable, "the database failed", underlying: error)
        }
    }

    /// Errors of the database drivers and the network under them; anything else (a caller's own
    /// error thrown inside `write`) passes through unchanged.
    private static func isDatabaseFailure(_ error: any Error) -> Bool {
        switch error {
        case is SQLiteError, is PSQLError, is ChannelError, is IOError: true
        default: false
        }
    }
}
