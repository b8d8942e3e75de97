import Testing
import TestSupport
@testable import CanopyServer

/// The project page's settings form: caps and per-cluster reservations and caps, through the
/// API's own `ProjectRoutes.update`.
@Suite struct ConsoleProjectSettingsTests {
    static func project(_ server: TestServer, _ token: String) async throws -> [String: Any] {
        try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing", token: token).object
    }

    static func placements(_ project: [String: Any]) -> [String: [String: Any]] {
        Dictionary(uniqueKeysWithValues: ((project["placements"] as? [[String: Any]]) ?? []).compactMap { item in
            (item["cluster"] as? String).map { ($0, item) }
        })
    }

    @Test func tenantAdminsSetCapsAndReservationsOnTheProjectPage() async throws {
        try await ConsoleClient.withConsole { _, server, fixture, browser in
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/projects/marketing", form = "/ui/tenants/coke/projects/marketing/settings"
            let shown = try await browser.send(.GET, page, cookie: admin).text
            #expect(shown.contains("id=\"project-settings\"") && shown.contains("name=\"reservedCPU_onprem\"") && shown.contains("name=\"capMemory_cloud\""))
            #expect(!shown.contains("reservedCPU_west"), "another tenant's cluster is not offered")
            for caller in ["coke-pa", "coke-pm", "coke-pv"] {
                #expect(!(try await browser.send(.GET, page, cookie: fixture.tokens[caller])).text.contains("id=\"project-settings\""), "\(caller)")
            }

            let fields = [
                "displayName": "Marketing EU", "cpu": "64", "memory": "256Gi",
                "reservedCPU_onprem": "10", "reservedMemory_onprem": "12.5%", "capCPU_onprem": "", "capMemory_onprem": "",
                "reservedCPU_cloud": "", "reservedMemory_cloud": "", "capCPU_cloud": "2", "capMemory_cloud": "4Gi",
            ]
            let saved = try await browser.send(.POST, form, cookie: admin, form: fields)
            #expect(saved.status == 303 && saved.headers.first(name: "location") == page, "\(saved.status) \(saved.text)")
            var project = try await Self.project(server, admin)
            #expect(project["displayName"] as? String == "Marketing EU")
            let caps = project["caps"] as? [String: Any]
            #expect(caps?["cpu"] as? String == "64" && caps?["memory"] as? String == "256Gi")
            var placements = Self.placements(project)
            let onprem = placements["onprem"]?["reservation"] as? [String: Any]
            #expect(onprem?["cpuPercent"] as? Double == 10 && onprem?["memoryPercent"] as? Double == 12.5, "\(placements)")
            #expect(placements["onprem"]?["caps"] == nil)
            let cloud = placements["cloud"]?["caps"] as? [String: Any]
            #expect(cloud?["cpu"] as? String == "2" && cloud?["memory"] as? String == "4Gi" && placements["cloud"]?["reservation"] == nil, "\(placements)")
            let after = try await browser.send(.GET, page, cookie: admin).text
            #expect(after.contains("name=\"reservedMemory_onprem\" value=\"12.50\"") && after.contains("name=\"capCPU_cloud\" value=\"2\""))
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin).text.contains("<td>project.update</td>"))

            // Refusals: the page again with the API's message and what was typed; nothing saved.
            try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke/projects/sales", token: admin, json: [
                "placements": [["cluster": "onprem", "reservation": ["cpuPercent": 85]]],
            ]), 200)
            for (changed, status, message) in [
                (["reservedCPU_onprem": "150"], 422, "a reservation is a percentage from 0 to 100"),
                (["reservedCPU_onprem": "lots"], 422, "the CPU reservation on &#39;onprem&#39; is not a number"),
                (["reservedCPU_onprem": "nan"], 422, "a reservation is a percentage from 0 to 100"),
                (["reservedCPU_onprem": "16"], 422, "reservations of cluster &#39;onprem&#39; would sum to 101% of its CPU"),
                (["cpu": "eight"], 400, "caps.cpu must be a non-negative Kubernetes quantity"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: admin, form: fields.merging(changed) { $1 })
                #expect(refused.status == status && refused.text.contains("id=\"settings-error\"") && refused.text.contains(message), "\(changed): \(refused.status) \(refused.text)")
                let (key, value) = try #require(changed.first)
                #expect(refused.text.contains("name=\"\(key)\" value=\"\(value)\"") || refused.text.contains("id=\"settings-\(key)\" value=\"\(value)\""), "\(changed): what was typed is kept")
            }
            #expect(try await browser.send(.POST, form, cookie: admin, body: "cpu=1").status == 400)
            #expect(try await browser.send(.POST, form, cookie: admin, form: fields, origin: "http://evil.example").status == 403)

            // Everyone else gets what the API's PATCH answers them, and nothing changes.
            for (caller, status) in [("coke-pa", 403), ("coke-pm", 403), ("coke-pv", 403), ("coke-sales-pa", 404), ("pepsi-admin", 404), ("provider", 404)] {
                let token = fixture.tokens[caller]
                let console = try await browser.send(.POST, form, cookie: token, form: fields.merging(["cpu": "1000"]) { $1 })
                let api = try await server.request(.PATCH, "/api/v1/tenants/coke/projects/marketing", token: token, json: ["caps": ["cpu": "1000"]])
                #expect(console.status == status && api.status == status, "\(caller): console \(console.status), API \(api.status)")
            }
            project = try await Self.project(server, admin)
            #expect((project["caps"] as? [String: Any])?["cpu"] as? String == "64")
            #expect((Self.placements(project)["onprem"]?["reservation"] as? [String: Any])?["cpuPercent"] as? Double == 10)

            // Emptied fields clear what they set.
            let cleared = try await browser.send(.POST, form, cookie: admin, form: fields.merging([
                "cpu": "", "memory": "", "reservedCPU_onprem": "", "reservedMemory_onprem": "", "capCPU_cloud": "", "capMemory_cloud": "",
            ]) { $1 })
            #expect(cleared.status == 303, "\(cleared.status) \(cleared.text)")
            project = try await Self.project(server, admin)
            placements = Self.placements(project)
            #expect(project["caps"] == nil && placements["onprem"] == nil && placements["cloud"] == nil, "\(project)")
        }
    }

    /// The version a page's settings form carries (its hidden field).
    static func version(in page: String) throws -> String {
        let marker = "name=\"version\" value=\""
        let start = try #require(page.range(of: marker), "the form carries the project's version").upperBound
        return String(page[start...].prefix { $0 != "\"" })
    }

    @Test func aSaveFromAPageDrawnBeforeSomeoneElsesChangeIsRefusedNotApplied() async throws {
        try await ConsoleClient.withConsole { _, server, fixture, browser in
            let admin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/projects/marketing", form = "/ui/tenants/coke/projects/marketing/settings"
            let drawn = try Self.version(in: try await browser.send(.GET, page, cookie: admin).text)
            #expect(drawn == String(try #require(try await Self.project(server, admin)["version"] as? Int)))
            // Someone else saves after the page was drawn.
            try Fixture.expect(await server.request(.PATCH, "/api/v1/tenants/coke/projects/marketing", token: admin, json: ["caps": ["cpu": "32"]]), 200)

            let fields = ["displayName": "", "cpu": "8", "memory": "", "version": drawn]
            let stale = try await browser.send(.POST, form, cookie: admin, form: fields)
            #expect(stale.status == 409 && stale.text.contains("id=\"settings-error\"") && stale.text.contains("someone else changed this project"), "\(stale.status) \(stale.text)")
            #expect(stale.text.contains("id=\"settings-cpu\" value=\"8\""), "what was typed is kept")
            #expect((try await Self.project(server, admin)["caps"] as? [String: Any])?["cpu"] as? String == "32", "the other change stands")
            // The refused page carries the current version: saving it again applies what was typed.
            let current = try Self.version(in: stale.text)
            #expect(current != drawn)
            let again = try await browser.send(.POST, form, cookie: admin, form: fields.merging(["version": current]) { $1 })
            #expect(again.status == 303, "\(again.status) \(again.text)")
            #expect((try await Self.project(server, admin)["caps"] as? [String: Any])?["cpu"] as? String == "8")
            #expect(try await browser.send(.POST, form, cookie: admin, form: fields.merging(["version": "seven"]) { $1 }).status == 400)
        }
    }
}
