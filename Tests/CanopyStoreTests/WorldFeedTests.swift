import CanopyModel
import CanopyStore
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// Two replicas' worlds on one PostgreSQL database, each following the other through the change
/// feed as fast as it can: a replica's own commits are in its snapshot the moment they return,
/// whatever its feed reader swaps in meanwhile, and the other replica's commits arrive.
@Suite struct WorldFeedTests {
    @Test func ownCommitsStayInTheSnapshotWhileTheFeedIsFollowed() async throws {
        try await Self.withTwoWorlds { a, b in
            let rounds = 60
            let followers = Task {
                await withTaskGroup(of: Void.self) { readers in
                    for world in [a, b] {
                        readers.addTask {
                            while !Task.isCancelled { _ = try? await world.catchUp() }
                        }
                    }
                }
            }
            defer { followers.cancel() }
            try await withThrowingTaskGroup(of: [String].self) { writers in
                for (world, prefix) in [(a, "a"), (b, "b")] {
                    writers.addTask {
                        var lost: [String] = []
                        for index in 0..<rounds {
                            try await Self.createTenant("\(prefix)\(index)", in: world)
                            // Every tenant this replica made so far, at once and a moment later.
                            for check in 0..<2 {
                                if check == 1 { try await Task.sleep(for: .milliseconds(3)) }
                                let snapshot = world.snapshot
                                for made in 0...index {
                                    let name = "\(prefix)\(made)", part = snapshot.tenant(named: name)
                                    if part?.user(named: "boss") == nil || part?.grants.isEmpty != false { lost.append(name) }
                                }
                            }
                        }
                        return Array(Set(lost)).sorted()
                    }
                }
                for try await lost in writers { #expect(lost.isEmpty, "own commits missing from the snapshot after them: \(lost)") }
            }
            try await eventually(within: 5, "each replica has every tenant, each with its admin") {
                [a, b].allSatisfy { world in
                    let tenants = world.snapshot.tenants.values
                    return tenants.count == 2 * rounds && tenants.allSatisfy { $0.user(named: "boss") != nil && $0.grants.count == 1 }
                }
            }
        }
    }

    /// Several readers of the feed at once (a replica's refresher, sign-ins that missed a user)
    /// each get an event once: the revocations and quota refusals they carry are acted on once.
    @Test func concurrentCatchUpsHandEachEventOutOnce() async throws {
        try await Self.withTwoWorlds { a, b in
            let handed = Handed()
            let readers = Task {
                await withTaskGroup(of: Void.self) { readers in
                    for _ in 0..<4 {
                        readers.addTask {
                            while !Task.isCancelled {
                                guard let found = try? await b.catchUp() else { continue }
                                handed.sequences.withLock { $0 += found.map(\.sequence) }
                            }
                        }
                    }
                }
            }
            let tenants = 40
            for index in 0..<tenants { try await Self.createTenant("t\(index)", in: a) }
            // Two events per tenant.
            try await eventually(within: 10, "every event handed out") { handed.sequences.withLock { Set($0).count } == 2 * tenants }
            readers.cancel()
            await readers.value
            let sequences = handed.sequences.withLock { $0 }
            #expect(sequences.count == Set(sequences).count, "handed out more than once: \(sequences.count - Set(sequences).count)")
            #expect(b.snapshot.tenants.count == tenants)
        }
    }

    /// Two worlds, as two replicas have, on a fresh PostgreSQL database.
    static func withTwoWorlds(_ body: @Sendable (World, World) async throws -> Void) async throws {
        guard let url = try await TestBackend.postgres.freshDatabaseURL() else { return }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try await SQLStore.open(dataDirectory: directory.path, databaseURL: url, logger: Logger(label: "feed-test"))
        let second = try await SQLStore.open(dataDirectory: directory.path, databaseURL: url, logger: Logger(label: "feed-test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            group.addTask { try await second.run() }
            try await first.migrate()
            try await body(try await World(store: first), try await World(store: second))
            group.cancelAll()
        }
    }

    /// The sequences the readers were handed.
    private final class Handed: Sendable {
        let sequences = Mutex<[Int64]>([])
    }

    /// As `POST /api/v1/tenants` does: the tenant, its first admin and their grant, in one commit
    /// with a domain-level and a tenant-level audit event.
    static func createTenant(_ name: String, in world: World) async throws {
        let now = Date()
        let tenant = Tenant(id: .random(), name: name, displayName: name, mode: .msp, createdAt: now)
        let admin = User(id: .random(), tenantID: tenant.id, username: "boss", createdAt: now)
        let grant = Grant(id: .random(), tenantID: tenant.id, projectID: nil, role: .tenantAdmin, subject: .user(admin.id), createdAt: now)
        try await world.commit { tx in
            try await tx.insert(tenant)
            try await tx.insert(admin, passwordHash: "x")
            try await tx.insert(grant)
            return World.Outcome(result: (), changes: [.tenantSaved(tenant), .userSaved(admin), .grantSaved(grant)], audit: [
                AuditEvent(at: now, actorID: nil, actor: "test", tenantID: nil, projectID: nil, action: "tenant.create", target: "tenants/\(name)", requestID: nil),
                AuditEvent(at: now, actorID: nil, actor: "test", tenantID: tenant.id, projectID: nil, action: "admin.create", target: "tenants/\(name)/admins/\(grant.id)", requestID: nil),
            ])
        }
    }
}
