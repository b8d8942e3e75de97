import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// Bad inputs get the right code, a clear message, and change nothing.
@Suite struct InputTests {
    @Test func badBodiesAreRefusedAndLoseNothing() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let admin = fixture.tokens["coke-admin"]!
            let path = "/api/v1/tenants/coke/projects"
            let before = try await server.request(.GET, path, token: admin).items.count

            let malformed = try await server.request(.POST, path, token: admin, rawBody: #"{"name": "x",,}"#)
            #expect(malformed.status == 400 && malformed.errorCode == "malformed")
            #expect(malformed.errorMessage?.contains("column") == true, "the position is named: \(malformed.text)")

            let unknown = try await server.request(.POST, path, token: admin, json: ["name": "ok", "colour": "red"])
            #expect(unknown.status == 400 && unknown.errorField == "colour")

            let nestedUnknown = try await server.request(.POST, path, token: admin, json: ["name": "ok", "caps": ["cpu": "1", "gpu": "2"]])
            #expect(nestedUnknown.status == 400 && nestedUnknown.errorField == "caps.gpu")

            let wrongType = try await server.request(.POST, path, token: admin, json: ["name": 42])
            #expect(wrongType.status == 400 && wrongType.errorField == "name")

            let missing = try await server.request(.POST, path, token: admin, json: ["displayName": "x"])
            #expect(missing.status == 400 && missing.errorField == "name")

            let notALabel = try await server.request(.POST, path, token: admin, json: ["name": "Not_A_Label"])
            #expect(notALabel.status == 422 && notALabel.errorField == "name")

            let badQuantity = try await server.request(.POST, path, token: admin, json: ["name": "ok", "caps": ["cpu": "-1"]])
            #expect(badQuantity.status == 400 && badQuantity.errorField == "caps.cpu")

            let huge = try await server.request(.POST, path, token: admin, rawBody: "{\"name\": \"" + String(repeating: "a", count: 1_100_000) + "\"}")
            #expect(huge.status == 413 && huge.errorCode == "too_large", "\(huge.status) \(huge.text)")

            let empty = try await server.request(.POST, path, token: admin, rawBody: "")
            #expect(empty.status == 400)

            let notObject = try await server.request(.POST, path, token: admin, rawBody: "[1, 2]")
            #expect(notObject.status == 400)

            let duplicate = try await server.request(.POST, path, token: admin, json: ["name": "marketing"])
            #expect(duplicate.status == 409 && duplicate.errorField == "name")

            let badMode = try await server.request(.POST, "/api/v1/tenants", token: fixture.tokens["provider"], json: [
                "name": "fanta", "mode": "franchise", "admin": ["username": "boss", "password": Fixture.password],
            ])
            #expect(badMode.status == 400 && badMode.errorField == "mode")

            let after = try await server.request(.GET, path, token: admin).items.count
            #expect(after == before)
            let routeMissing = try await server.request(.GET, "/api/v1/nothing-here", token: admin)
            #expect(routeMissing.status == 404 && routeMissing.errorCode == "not_found")
        }
    }

    @Test func sameNamesInDifferentTenantsDoNotLeak() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            // Both tenants already hold a user "pm" and a project "marketing": names are per tenant.
            let created = try await server.request(.POST, "/api/v1/tenants/pepsi/projects", token: fixture.tokens["pepsi-admin"], json: ["name": "only-in-pepsi"])
            #expect(created.status == 201)
            let again = try await server.request(.POST, "/api/v1/tenants/coke/projects", token: fixture.tokens["coke-admin"], json: ["name": "only-in-pepsi"])
            #expect(again.status == 201)
        }
    }

    @Test func concurrentUpdatesWithTheSameVersionOneWins() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let admin = fixture.tokens["coke-admin"]!
            let path = "/api/v1/tenants/coke/projects/marketing"
            let version = try #require(try await server.request(.GET, path, token: admin).object["version"] as? Int)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await server.request(.PATCH, path, token: admin, json: ["displayName": "writer \(index)", "version": version]).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1)
            #expect(statuses.filter { $0 == 409 }.count == 7)
            let after = try await server.request(.GET, path, token: admin).object
            #expect(after["version"] as? Int == version + 1)
        }
    }

    @Test func repeatedFailedSignInsAreThrottled() async throws {
        try await TestServer.with { server in
            _ = try await Fixture.build(server)
            for _ in 0..<5 {
                let response = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": "wrong-password"])
                #expect(response.status == 401)
            }
            let blocked = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pm", "password": Fixture.password])
            #expect(blocked.status == 429)
            #expect(Int(blocked.headers["Retry-After"].first ?? "") ?? 0 > 0)
        }
    }

    @Test func failedSignInsLookAlike() async throws {
        try await TestServer.with { server in
            _ = try await Fixture.build(server)
            let attempts: [[String: Any]] = [
                ["tenant": "coke", "username": "pm", "password": "wrong-password"],
                ["tenant": "coke", "username": "nobody", "password": "wrong-password"],
                ["tenant": "nowhere", "username": "pm", "password": "wrong-password"],
                ["tenant": "coke", "username": "pv", "password": ""],
            ]
            var messages = Set<String>()
            for attempt in attempts {
                let response = try await server.request(.POST, "/api/v1/login", json: attempt)
                #expect(response.status == 401)
                messages.insert(response.errorMessage ?? "")
            }
            #expect(messages.count == 1)
        }
    }

    @Test func revokedTokensStopAtOnceAndTokensAreShownOnce() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let session = fixture.tokens["coke-pm"]!
            let issued = try await server.request(.POST, "/api/v1/tokens", token: session, json: ["description": "ci", "ttlSeconds": 3600])
            #expect(issued.status == 201)
            let token = try #require(issued.object["token"] as? String)
            let id = try #require(issued.object["id"] as? String)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: token).status == 200)
            let listed = try await server.request(.GET, "/api/v1/tokens", token: session)
            #expect(!listed.text.contains(token))
            #expect(listed.items.contains { $0["id"] as? String == id })
            // Someone else's token id is invisible.
            #expect(try await server.request(.DELETE, "/api/v1/tokens/\(id)", token: fixture.tokens["coke-pv"]).status == 404)
            #expect(try await server.request(.DELETE, "/api/v1/tokens/\(id)", token: session).status == 204)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: token).status == 401)
            #expect(try await server.request(.POST, "/api/v1/tokens", token: session, json: ["ttlSeconds": 5]).status == 400)
        }
    }

    @Test func disabledUsersAndSuspendedTenantsLoseAccess() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let pm = fixture.tokens["coke-pm"]!
            #expect(try await server.request(.PATCH, "/api/v1/tenants/coke/users/pm", token: fixture.tokens["coke-admin"], json: ["disabled": true]).status == 200)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: pm).status == 401)
            let pv = fixture.tokens["coke-pv"]!
            #expect(try await server.request(.PATCH, "/api/v1/tenants/coke", token: fixture.tokens["provider"], json: ["state": "suspended"]).status == 200)
            #expect(try await server.request(.GET, "/api/v1/whoami", token: pv).status == 401)
            let login = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pa", "password": Fixture.password])
            #expect(login.status == 401)
        }
    }
}
