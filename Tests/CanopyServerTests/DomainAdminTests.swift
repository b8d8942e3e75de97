import Foundation
import Testing
import TestSupport

/// The domain's own users and administrators (`/users`, `/admins`): a service provider names
/// others; the domain always keeps an administrator who is a user.
@Suite struct DomainAdminTests {
    @Test func aProviderNamesAnotherAdministratorWhoThenActsAsOne() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let admin = fixture.tokens["provider"]
            let created = try Fixture.expect(
                await server.request(.POST, "/api/v1/users", token: admin, json: ["username": "ops", "password": "ops-password-1", "displayName": "Operations"]), 201)
            #expect(created.object["tenant"] == nil && created.object["source"] as? String == "local")
            // A domain user without a grant signs in to nothing.
            let ops = try await server.login("ops", "ops-password-1")
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ops).object["serviceProvider"] as? Bool == false)
            #expect(try await server.request(.GET, "/api/v1/tenants", token: ops).items.isEmpty)
            #expect(try await server.request(.GET, "/api/v1/admins", token: ops).status == 403)
            // Their own account they may read; another's not.
            #expect(try await server.request(.GET, "/api/v1/users/ops", token: ops).status == 200)
            #expect(try await server.request(.GET, "/api/v1/users/admin", token: ops).status == 403)

            let grant = try Fixture.expect(await server.request(.POST, "/api/v1/admins", token: admin, json: ["user": "ops"]), 201).object
            #expect(grant["user"] as? String == "ops" && grant["role"] as? String == "service-provider")
            // The same token, at once: the grant is read from the snapshot on every request.
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ops).object["serviceProvider"] as? Bool == true)
            #expect(try await server.request(.GET, "/api/v1/tenants", token: ops).items.compactMap { $0["name"] as? String } == ["coke", "pepsi"])
            let admins = try await server.request(.GET, "/api/v1/admins", token: ops).items
            #expect(admins.compactMap { $0["user"] as? String } == ["admin", "ops"])

            // Bad requests, each with its own answer, and nothing changed by them.
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, json: ["user": "ops"]).status == 409)
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, json: ["user": "nobody"]).status == 422)
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, json: ["user": "ops", "group": "x"]).status == 422)
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, json: ["group": ""]).status == 422)
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, json: ["user": 7]).status == 400)
            #expect(try await server.request(.POST, "/api/v1/users", token: admin, json: ["username": "ops", "password": "ops-password-2"]).status == 409)
            #expect(try await server.request(.POST, "/api/v1/users", token: admin, json: ["username": "Bad Name", "password": "ops-password-2"]).status == 422)
            #expect(try await server.request(.POST, "/api/v1/users", token: admin, json: ["username": "x2", "password": "short"]).status == 422)
            #expect(try await server.request(.POST, "/api/v1/users", token: admin, json: ["username": "x3", "password": "ops-password-2", "role": "root"]).status == 400)
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, rawBody: "{\"user\": ").status == 400)
            #expect(try await server.request(.POST, "/api/v1/admins", token: admin, rawBody: "{\"user\": \"" + String(repeating: "a", count: 2_000_000) + "\"}").status == 413)
            // A tenant user of the same name is another person: the domain's name stays free.
            #expect(try await server.request(.GET, "/api/v1/users/pm", token: admin).status == 404)
            #expect(try await server.request(.GET, "/api/v1/admins", token: admin).items.count == 2)

            // A disabled administrator does not count as the one the domain keeps.
            #expect(try await server.request(.PATCH, "/api/v1/users/ops", token: admin, json: ["disabled": true]).status == 200)
            let alone = try #require(try await server.request(.GET, "/api/v1/admins", token: admin).items.first { $0["user"] as? String == "admin" }?["id"] as? String)
            #expect(try await server.request(.DELETE, "/api/v1/admins/\(alone)", token: admin).status == 409)
            #expect(try await server.request(.PATCH, "/api/v1/users/ops", token: admin, json: ["disabled": false]).status == 200)

            // The new administrator takes the first one's grant away; the last user grant stays.
            let first = try #require(admins.first { $0["user"] as? String == "admin" }?["id"] as? String)
            let own = try #require(admins.first { $0["user"] as? String == "ops" }?["id"] as? String)
            #expect(try await server.request(.DELETE, "/api/v1/admins/\(first)", token: ops).status == 204)
            #expect(try await server.request(.GET, "/api/v1/tenants", token: admin).items.isEmpty)
            let group = try Fixture.expect(await server.request(.POST, "/api/v1/admins", token: ops, json: ["group": "platform-team"]), 201).object
            #expect(group["group"] as? String == "platform-team")
            // A group is not enough: its members may all be gone, or their directory down.
            let last = try await server.request(.DELETE, "/api/v1/admins/\(own)", token: ops)
            #expect(last.status == 409 && last.text.contains("who is a user"), "\(last.text)")
            let deleteLast = try await server.request(.DELETE, "/api/v1/users/ops", token: ops)
            #expect(deleteLast.status == 409, "\(deleteLast.text)")
            // Whoever it is, no one deletes themselves, nor disables themselves.
            #expect(try await server.request(.PATCH, "/api/v1/users/ops", token: ops, json: ["disabled": true]).status == 403)
            let version = try #require(try await server.request(.GET, "/api/v1/users/ops", token: ops).object["version"] as? Int)
            let renamed = try Fixture.expect(await server.request(.PATCH, "/api/v1/users/ops", token: ops, json: ["displayName": "Ops team", "version": version]), 200)
            #expect(renamed.object["displayName"] as? String == "Ops team")
            #expect(try await server.request(.PATCH, "/api/v1/users/ops", token: ops, json: ["displayName": "Stale", "version": version]).status == 409)

            // The domain's users: the first administrator is still one, without a role now.
            let users = try await server.request(.GET, "/api/v1/users", token: ops).items
            #expect(users.compactMap { $0["username"] as? String } == ["admin", "ops"])
            #expect(try await server.request(.DELETE, "/api/v1/users/admin", token: ops).status == 204)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: admin).status == 401)

            // Every change is in the domain's audit.
            let audit = try await server.request(.GET, "/api/v1/audit", token: ops).items.compactMap { $0["action"] as? String }
            for action in ["user.create", "admin.create", "admin.delete", "user.update", "user.delete"] {
                #expect(audit.contains(action), "\(action) not in \(audit)")
            }
        }
    }

    /// Two administrators taking each other's grant away at the same moment: one of them stays.
    @Test func twoAdministratorsRemovingEachOtherAtOnceLeaveOne() async throws {
        try await TestServer.with { server in
            let admin = try await server.login("admin", TestServer.adminPassword)
            for round in 0..<5 {
                let name = "ops-\(round)"
                try Fixture.expect(await server.request(.POST, "/api/v1/users", token: admin, json: ["username": name, "password": "ops-password-1"]), 201)
                try Fixture.expect(await server.request(.POST, "/api/v1/admins", token: admin, json: ["user": name]), 201)
                let other = try await server.login(name, "ops-password-1")
                let grants = try await server.request(.GET, "/api/v1/admins", token: admin).items
                let adminGrant = try #require(grants.first { $0["user"] as? String == "admin" }?["id"] as? String)
                let otherGrant = try #require(grants.first { $0["user"] as? String == name }?["id"] as? String)
                async let first = server.request(.DELETE, "/api/v1/admins/\(otherGrant)", token: admin)
                async let second = server.request(.DELETE, "/api/v1/admins/\(adminGrant)", token: other)
                let statuses = try await [first.status, second.status].sorted()
                // The later one is refused: 403 when the first had already taken its sender's
                // role, 409 when both were past that check and the write lock decided.
                #expect(statuses == [204, 403] || statuses == [204, 409], "round \(round): \(statuses)")
                let survivor = try await server.request(.GET, "/api/v1/whoami", token: admin).object["serviceProvider"] as? Bool == true ? admin : other
                let remaining = try await server.request(.GET, "/api/v1/admins", token: survivor).items.compactMap { $0["user"] as? String }
                #expect(remaining.count == 1, "round \(round): \(remaining)")
                // The next round starts from `admin` again.
                if survivor == other {
                    try Fixture.expect(await server.request(.POST, "/api/v1/admins", token: other, json: ["user": "admin"]), 201)
                    let again = try #require(try await server.request(.GET, "/api/v1/admins", token: admin).items.first { $0["user"] as? String == name }?["id"] as? String)
                    try Fixture.expect(await server.request(.DELETE, "/api/v1/admins/\(again)", token: admin), 204)
                }
            }
        }
    }
}
