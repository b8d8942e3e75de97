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

    /// Retries `body` for up to five seconds.
    private func eventually<T>(_ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            do {
                return try await body()
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
