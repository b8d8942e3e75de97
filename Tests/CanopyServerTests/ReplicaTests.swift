import Foundation
import Testing
import TestSupport

/// Two replicas on one PostgreSQL database see each other's writes, and keep isolation.
@Suite struct ReplicaTests {
    @Test func aReplicaSeesWritesMadeByAnother() async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        try await TestServer.with(databaseURL: database) { first in
            try await TestServer.with(databaseURL: database) { second in
                let provider = try await first.login("admin", TestServer.adminPassword)
                try Fixture.expect(await first.request(.POST, "/api/v1/tenants", token: provider, json: [
                    "name": "acme", "mode": "msp", "admin": ["username": "boss", "password": Fixture.password],
                ]), 201)
                // The second replica learns of the tenant and its admin through the change feed.
                let providerOnSecond = try await second.login("admin", TestServer.adminPassword)
                _ = try await eventually { () -> Int in
                    let status = try await second.request(.GET, "/api/v1/tenants/acme", token: providerOnSecond).status
                    guard status == 200 else { throw TestFailure("not yet: \(status)") }
                    return status
                }
                let admin = try await second.login(tenant: "acme", "boss", Fixture.password)
                try Fixture.expect(await second.request(.POST, "/api/v1/tenants/acme/projects", token: admin, json: ["name": "web"]), 201)
                let adminOnFirst = try await first.login(tenant: "acme", "boss", Fixture.password)
                let names = try await eventually { () -> [String] in
                    let items = try await first.request(.GET, "/api/v1/tenants/acme/projects", token: adminOnFirst).items.compactMap { $0["name"] as? String }
                    guard items == ["web"] else { throw TestFailure("not yet: \(items)") }
                    return items
                }
                #expect(names == ["web"])
                // A tenant deleted on one replica disappears on the other, tokens included.
                try Fixture.expect(await first.request(.DELETE, "/api/v1/tenants/acme", token: provider), 204)
                let gone = try await eventually { () -> Int in
                    let status = try await second.request(.GET, "/api/v1/whoami", token: admin).status
                    guard status == 401 else { throw TestFailure("still \(status)") }
                    return status
                }
                #expect(gone == 401)
            }
        }
    }

    /// A token revoked on one replica is refused by the other within the change feed's
    /// interval, although that replica had just cached it (its cache trusts a record for 10 s).
    @Test func aTokenRevokedOnOneReplicaIsRefusedByTheOtherAtOnce() async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        try await TestServer.with(databaseURL: database) { first in
            try await TestServer.with(databaseURL: database) { second in
                let kept = try await first.login("admin", TestServer.adminPassword)
                let issued = try await first.request(.POST, "/api/v1/tokens", token: kept, json: ["description": "automation"])
                try Fixture.expect(issued, 201)
                let id = try #require(issued.object["id"] as? String), token = try #require(issued.object["token"] as? String)
                // The second replica caches the token's record on its first use.
                try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: token), 200)
                let revokedAt = ContinuousClock.now
                try Fixture.expect(await first.request(.DELETE, "/api/v1/tokens/\(id)", token: kept), 204)
                let status = try await eventually(within: .seconds(6)) { () -> Int in
                    let status = try await second.request(.GET, "/api/v1/whoami", token: token).status
                    guard status == 401 else { throw TestFailure("still \(status) after \(ContinuousClock.now - revokedAt)") }
                    return status
                }
                #expect(status == 401)
                // Only that token: the other one still works there.
                try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: kept), 200)
            }
        }
    }

    /// Failed sign-ins count together on every replica: five wrong passwords spread over two
    /// replicas block the sixth attempt on either (each replica counted only its own before).
    @Test func failedSignInsAreCountedAcrossReplicas() async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        try await TestServer.with(databaseURL: database) { first in
            try await TestServer.with(databaseURL: database) { second in
                let wrong: [String: Any] = ["username": "admin", "password": "wrong-password"]
                for index in 0..<5 {
                    let replica = index % 2 == 0 ? first : second
                    try Fixture.expect(await replica.request(.POST, "/api/v1/login", json: wrong), 401)
                }
                for replica in [first, second] {
                    let blocked = try await replica.request(.POST, "/api/v1/login", json: ["username": "admin", "password": TestServer.adminPassword])
                    #expect(blocked.status == 429, "\(blocked.status) \(blocked.text)")
                }
            }
        }
    }

    /// Retries `body` for up to `limit` (five seconds unless told).
    private func eventually<T>(within limit: Duration = .seconds(5), _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                return try await body()
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
