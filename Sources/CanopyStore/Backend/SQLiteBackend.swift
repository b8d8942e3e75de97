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
            // IMMEDIATE takes the write lock at once, so a transaction never fails half-way on
            // upgrading a read lock.
            try await connection.sql().runInTransaction(begin: "BEGIN IMMEDIATE", body)
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
