import SQLKit

/// The SQL engine under the store: SQLite in a file (the default) or PostgreSQL.
public protocol DatabaseBackend: Sendable {
    /// `sqlite` or `postgresql`, for the few statements that differ.
    var dialectName: String { get }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func withTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body` with a connection outside any explicit transaction (single reads).
    func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T

    /// Keeps the backend's connections alive until cancelled; then closes them.
    func run() async throws

    /// Whether other processes' commits can be heard (`listenForChanges`): PostgreSQL's
    /// LISTEN/NOTIFY. SQLite has one process only.
    var notifiesChanges: Bool { get }

    /// Calls `onChange` each time a transaction that appended to the audit log commits, in any
    /// process on the database, until cancelled or the connection fails (then it throws).
    func listenForChanges(_ onChange: @escaping @Sendable () async -> Void) async throws
}

extension DatabaseBackend {
    public var notifiesChanges: Bool { false }
    public func listenForChanges(_ onChange: @escaping @Sendable () async -> Void) async throws {}
}

/// The channel on which commits that appended to the audit log are announced (PostgreSQL).
let changeChannel = "canopy_feed"

extension SQLDatabase {
    /// Runs `body` between `begin` and `COMMIT` on this one connection; rolls back if it throws.
    func runInTransaction<T: Sendable>(begin: String, _ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await raw("\(unsafeRaw: begin)").run()
        do {
            let result = try await body(self)
            try await raw("COMMIT").run()
            return result
        } catch {
            try? await raw("ROLLBACK").run()
            throw error
        }
    }
}
