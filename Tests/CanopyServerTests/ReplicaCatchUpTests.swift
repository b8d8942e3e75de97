import CanopyServer
import Foundation
import Testing
import TestSupport

/// A replica that does not know a user or tenant yet (made on another replica a moment ago: a
/// load balancer may send the next request anywhere) reads the change feed at once rather than
/// refuse the sign-in or token. Here the second replica's own reading of the feed is ten minutes
/// apart, so what it knows it learnt that way.
@Suite struct ReplicaCatchUpTests {
    @Test func aUserMadeOnOneReplicaSignsInOnTheOtherAtOnce() async throws {
        try await Self.withReplicas { first, second in
            let provider = try await first.login("admin", TestServer.adminPassword)
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants", token: provider, json: [
                "name": "acme", "mode": "enterprise", "admin": ["username": "boss", "password": Fixture.password],
            ]), 201)
            // The tenant and its admin, at once.
            let boss = try await second.login(tenant: "acme", "boss", Fixture.password)
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants/acme/users", token: boss, json: ["username": "dev", "password": Fixture.password]), 201)
            // A token issued on the first for a user the second has not heard of.
            let dev = try await first.login(tenant: "acme", "dev", Fixture.password)
            let whoami = try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: dev), 200)
            #expect((whoami.object["user"] as? [String: Any])?["username"] as? String == "dev")
            // Still refused: a user that does not exist, and a wrong password.
            #expect(try await second.request(.POST, "/api/v1/login", json: ["tenant": "acme", "username": "nobody", "password": Fixture.password]).status == 401)
            #expect(try await second.request(.POST, "/api/v1/login", json: ["tenant": "acme", "username": "dev", "password": "wrong-password-1"]).status == 401)
            // Disabled, then enabled again on the first: the second, which saw the disabling,
            // lets them in at once when it is undone.
            try Fixture.expect(await first.request(.PATCH, "/api/v1/tenants/acme/users/dev", token: boss, json: ["disabled": true]), 200)
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants/acme/users", token: boss, json: ["username": "ops", "password": Fixture.password]), 201)
            _ = try await second.login(tenant: "acme", "ops", Fixture.password)
            #expect(try await second.request(.POST, "/api/v1/login", json: ["tenant": "acme", "username": "dev", "password": Fixture.password]).status == 401)
            try Fixture.expect(await first.request(.PATCH, "/api/v1/tenants/acme/users/dev", token: boss, json: ["disabled": false]), 200)
            _ = try await second.login(tenant: "acme", "dev", Fixture.password)
        }
    }

    /// What such a sign-in reads from the feed is acted on as the replica's own reading would:
    /// a token revoked on the first replica, which the second had cached, is refused there at
    /// once (not after its cache's 10 s).
    @Test func aRevocationReadBySuchASignInIsHonoured() async throws {
        try await Self.withReplicas { first, second in
            let provider = try await first.login("admin", TestServer.adminPassword)
            let issued = try Fixture.expect(await first.request(.POST, "/api/v1/tokens", token: provider, json: ["description": "automation"]), 201)
            let id = try #require(issued.object["id"] as? String), token = try #require(issued.object["token"] as? String)
            try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: token), 200)
            try Fixture.expect(await first.request(.DELETE, "/api/v1/tokens/\(id)", token: provider), 204)
            try Fixture.expect(await first.request(.POST, "/api/v1/users", token: provider, json: ["username": "ops", "password": Fixture.password]), 201)
            _ = try await second.login("ops", Fixture.password)
            #expect(try await second.request(.GET, "/api/v1/whoami", token: token).status == 401)
        }
    }

    /// With the database's change notices (the default), a replica reads the feed as soon as
    /// another commits: a token the second had cached, revoked on the first, is refused on the
    /// second within moments though nothing else happens there and its own reading is ten
    /// minutes apart (before, up to its reading's interval).
    @Test func aRevocationIsHeardByTheOtherReplicaAtOnce() async throws {
        try await Self.withReplicas(notices: true) { first, second in
            let provider = try await first.login("admin", TestServer.adminPassword)
            let issued = try Fixture.expect(await first.request(.POST, "/api/v1/tokens", token: provider, json: ["description": "automation"]), 201)
            let id = try #require(issued.object["id"] as? String), token = try #require(issued.object["token"] as? String)
            try Fixture.expect(await second.request(.GET, "/api/v1/whoami", token: token), 200)
            try Fixture.expect(await first.request(.DELETE, "/api/v1/tokens/\(id)", token: provider), 204)
            try await eventually(within: 3, "the revocation honoured on the second replica") {
                try await second.request(.GET, "/api/v1/whoami", token: token).status == 401
            }
            // A tenant made on the first is in the second's snapshot without a sign-in asking.
            try Fixture.expect(await first.request(.POST, "/api/v1/tenants", token: provider, json: [
                "name": "acme", "mode": "enterprise", "admin": ["username": "boss", "password": Fixture.password],
            ]), 201)
            let other = try await second.login("admin", TestServer.adminPassword)
            try await eventually(within: 3, "the tenant listed on the second replica") {
                let tenants = try await second.request(.GET, "/api/v1/tenants", token: other)
                return tenants.items.contains { $0["name"] as? String == "acme" }
            }
        }
    }

    /// Two replicas on a fresh PostgreSQL database; the second reads the feed by itself only
    /// every ten minutes (once as it starts), and without `notices` hears no commits announced.
    static func withReplicas(notices: Bool = false, _ body: @Sendable (TestServer, TestServer) async throws -> Void) async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        let shared = try TemporaryDirectory()
        defer { shared.remove() }
        try await TestServer.with(dataDirectory: shared.path, databaseURL: database, configure: ReplicaTests.quickLease) { first in
            try await TestServer.with(dataDirectory: shared.path, databaseURL: database, configure: { configuration in
                ReplicaTests.quickLease(&configuration)
                configuration.changeFeedInterval = .seconds(600)
                configuration.changeNotifications = notices
            }) { second in
                try await body(first, second)
            }
        }
    }
}
