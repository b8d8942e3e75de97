import CanopyStore
import Foundation
import Logging

/// Which database a test runs on. PostgreSQL is the server that `scripts/test` starts and names
/// in `CANOPY_TEST_POSTGRES_URL`; each test gets a database of its own.
public enum TestBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// `nil` for SQLite; for PostgreSQL the URL of a newly created, empty database.
    public func freshDatabaseURL() async throws -> String? {
        guard self == .postgres else { return nil }
        guard let base = ProcessInfo.processInfo.environment["CANOPY_TEST_POSTGRES_URL"] else {
            throw TestFailure("CANOPY_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL")
        }
        let name = "canopy_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        let admin = try PostgresBackend(url: base, logger: Logger(label: "test-postgres"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await admin.run() }
            try await admin.withDatabase { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
            group.cancelAll()
        }
        guard var components = URLComponents(string: base) else { throw TestFailure("bad CANOPY_TEST_POSTGRES_URL") }
        components.path = "/" + name
        return components.string
    }

    /// Opens a migrated store on this backend; `body` runs while its connections are live.
    public func withStore<T: Sendable>(_ body: @Sendable (SQLStore) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try await SQLStore.open(
            dataDirectory: directory.path, databaseURL: try await freshDatabaseURL(), logger: Logger(label: "test-store")
        )
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await store.run()
                return nil
            }
            try await store.migrate()
            let result = try await body(store)
            group.cancelAll()
            return result
        }
    }
}
