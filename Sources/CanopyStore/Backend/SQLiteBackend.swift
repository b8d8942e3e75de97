import Foundation
import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite in one file with write-ahead logging: the embedded default store.
///
/// One connection, guarded by a lock, serves every query: SQLite allows one writer at a time
/// anyway, and the server answers reads from its in-memory snapshot, so the database sees
/// mostly writes. `synchronous=FULL` makes every answered commit survive a crash of the process
/// or the machine.
public final class SQLiteBackend: DatabaseBackend {
    public let dialectName = "sqlite"
    private let connection: SQLiteConnection
    private let lock = AsyncLock()

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String, logger: Logger) async throws {
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let db = connection.sql()
            for pragma in ["journal_mode = WAL", "synchronous = FULL", "busy_timeout = 5000", "foreign_keys = ON"] {
                try await db.raw("PRAGMA \(unsafeRaw: pragma)").run()
            }
        } catch {
            throw StoreError(.unavailable, "cannot open SQLite database at \(path)", underlying: error)
        }
    }

    public func withTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lock.withLock {
            let db = connection.sql()
            try await db.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lock.withLock { try await body(connection.sql()) }
    }

    public func run() async throws {
        await waitUntilCancelled()
        // The future-based close is not cut short by the cancellation that got us here.
        try await connection.close().get()
    }
}
