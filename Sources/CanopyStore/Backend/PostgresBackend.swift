import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through PostgresNIO's connection pool: for several replicas sharing one database.
public final class PostgresBackend: DatabaseBackend {
    public let dialectName = "postgresql"
    private let client: PostgresClient
    private let logger: Logger

    /// Connects to `url` (`postgres://user:password@host:port/database`); connections open lazily
    /// once `run()` is running.
    public init(url: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
              let host = components.host, !host.isEmpty
        else {
            throw StoreError(.unavailable, "the database URL must look like postgres://user:password@host:5432/database")
        }
        let database = String(components.path.drop { $0 == "/" })
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: .disable
        )
        // Eight for queries, and the one `listenForChanges` holds for as long as the replica runs.
        configuration.options.maximumConnections = 9
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    public func withTransaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            // READ COMMITTED suffices: every update names the version it expects, which the row
            // lock makes atomic, and in-process writes are serialized by the store.
            try await connection.sql(logger: logger).runInTransaction(begin: "BEGIN", body)
        }
    }

    public func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in try await body(connection.sql(logger: logger)) }
    }

    public func run() async throws {
        await client.run()
    }

    public var notifiesChanges: Bool { true }

    /// Holds one of the pool's connections for as long as it listens (the pool has one more
    /// than queries need for it).
    public func listenForChanges(_ onChange: @escaping @Sendable () async -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: changeChannel) { notifications in
                for try await _ in notifications { await onChange() }
            }
        }
    }
}
