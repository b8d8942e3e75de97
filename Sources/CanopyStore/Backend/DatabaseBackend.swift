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
}
