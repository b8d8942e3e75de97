import Foundation
import Testing
import TestSupport

/// A user's tokens seen and revoked one at a time by whoever may change the user (`GET|DELETE
/// …/users/{u}/tokens[/{id}]`, a tenant's and the domain's): a leaked kubeconfig token ends
/// without signing the user out everywhere.
@Suite struct UserTokensTests {
    @Test func aTenantAdminRevokesOneOfAMembersTokens() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let admin = fixture.tokens["coke-admin"], session = fixture.tokens["coke-pm"]
            let issued = try Fixture.expect(await server.request(.POST, "/api/v1/tokens", token: session, json: ["description": "ci pipeline"]), 201).object
            let id = try #require(issued["id"] as? String), automation = try #require(issued["token"] as? String)

            // The admin sees the session and the automation token (a kubeconfig's would be listed
            // too: it is one more such token), never a secret.
            let listed = try Fixture.expect(await server.request(.GET, "/api/v1/tenants/coke/users/pm/tokens", token: admin), 200)
            #expect(listed.items.count == 2, "\(listed.text)")
            #expect(listed.items.contains { $0["id"] as? String == id && $0["description"] as? String == "ci pipeline" })
            #expect(listed.items.allSatisfy { $0["token"] == nil && $0["revokedAt"] == nil })
            #expect(!listed.text.contains(automation))
            // The same list the member gets for their own.
            let own = try await server.request(.GET, "/api/v1/tokens", token: session).items.compactMap { $0["id"] as? String }
            #expect(Set(own) == Set(listed.items.compactMap { $0["id"] as? String }))

            try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke/users/pm/tokens/\(id)", token: admin), 204)
            // Refused from its next request; the member's other tokens keep working.
            #expect(try await server.request(.GET, "/api/v1/whoami", token: automation).status == 401)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: session).status == 200)
            let after = try await server.request(.GET, "/api/v1/tenants/coke/users/pm/tokens", token: admin).items
            #expect(after.first { $0["id"] as? String == id }?["revokedAt"] is String)
            #expect(after.filter { $0["revokedAt"] == nil }.count == 1)
            // Again: the same answer, nothing more revoked.
            try Fixture.expect(await server.request(.DELETE, "/api/v1/tenants/coke/users/pm/tokens/\(id)", token: admin), 204)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: session).status == 200)

            // A token is revoked only under its own user: another user's id, or none, is a 404.
            let admins = try await server.request(.GET, "/api/v1/tenants/coke/users/boss/tokens", token: admin).items
            let adminsOwn = try #require(admins.first?["id"] as? String)
            #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/users/pm/tokens/\(adminsOwn)", token: admin).status == 404)
            #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/users/pm/tokens/no-such-token", token: admin).status == 404)
            #expect(try await server.request(.DELETE, "/api/v1/tenants/coke/users/nobody/tokens/\(id)", token: admin).status == 404)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: admin).status == 200)
            // Another tenant's admin, asking with a token id of this tenant, learns nothing.
            let other = try await server.request(.DELETE, "/api/v1/tenants/coke/users/pm/tokens/\(id)", token: fixture.tokens["pepsi-admin"])
            #expect(other.status == 404 && other.errorCode == "not_found")
            // A weaker role of the same tenant is refused; the member may revoke their own here too.
            #expect(try await server.request(.GET, "/api/v1/tenants/coke/users/pm/tokens", token: fixture.tokens["coke-pa"]).status == 403)
            #expect(try await server.request(.GET, "/api/v1/tenants/coke/users/pm/tokens", token: session).status == 200)

            // In the audit log: the admin revoked the member's token.
            let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: admin).items
            let entry = try #require(audit.first { $0["action"] as? String == "token.revoke" && $0["target"] as? String == "tokens/\(id)" })
            #expect(entry["actor"] as? String == "coke/boss")
        }
    }

    /// The domain's users: a service provider sees and revokes another administrator's tokens;
    /// a domain user their own.
    @Test func aProviderRevokesOneOfADomainUsersTokens() async throws {
        try await TestServer.with { server in
            let provider = try await server.login("admin", TestServer.adminPassword)
            try Fixture.expect(await server.request(.POST, "/api/v1/users", token: provider, json: ["username": "ops", "password": "ops-password-1"]), 201)
            let ops = try await server.login("ops", "ops-password-1")
            let issued = try Fixture.expect(await server.request(.POST, "/api/v1/tokens", token: ops, json: ["description": "backup job"]), 201).object
            let id = try #require(issued["id"] as? String), automation = try #require(issued["token"] as? String)
            let listed = try Fixture.expect(await server.request(.GET, "/api/v1/users/ops/tokens", token: provider), 200).items
            #expect(listed.compactMap { $0["description"] as? String }.contains("backup job"))
            #expect(try await server.request(.GET, "/api/v1/users/ops/tokens", token: ops).items.count == listed.count)
            // Ops is no administrator: another's tokens are not theirs to see.
            #expect(try await server.request(.GET, "/api/v1/users/admin/tokens", token: ops).status == 403)
            try Fixture.expect(await server.request(.DELETE, "/api/v1/users/ops/tokens/\(id)", token: provider), 204)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: automation).status == 401)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: ops).status == 200)
            #expect(try await server.request(.DELETE, "/api/v1/users/admin/tokens/\(id)", token: provider).status == 404)
        }
    }
}
