import Foundation
import Testing
import TestSupport
@testable import CanopyServer

/// The console's audit log, 200 entries a page, older pages linked.
@Suite struct ConsoleAuditPagesTests {
    static func rows(_ page: String) -> Int { page.components(separatedBy: "<tr><td>").count - 1 }

    @Test func theAuditLogPagesThroughEveryEntryOnce() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let admin = try #require(fixture.tokens["coke-admin"])
            for index in 0..<205 {
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/admins", token: admin, json: ["group": "g\(index)"]), 201)
            }
            // The API's log, newest first: what the pages must show, in order, each entry once.
            let targets = try await server.request(.GET, "/api/v1/audit?tenant=coke&limit=1000", token: admin).items.compactMap { $0["target"] as? String }
            let total = targets.count
            #expect(total > 205 && total <= 400, "\(total)")
            func shown(_ page: String) -> [String] { page.matches(of: /<td><code>([^<]*)<\/code><\/td><\/tr>/).map { String($0.1) } }

            let first = try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: admin)
            #expect(first.status == 200 && Self.rows(first.text) == 200 && !first.text.contains("id=\"newest\""))
            let link = try #require(first.text.firstMatch(of: /<a href="([^"]+)" id="older">/)?.1)
            let older = String(link).replacingOccurrences(of: "&amp;", with: "&")
            #expect(older.hasPrefix("/ui/audit?tenant=coke&before="), "\(older)")
            let second = try await browser.send(.GET, older, cookie: admin)
            #expect(second.status == 200 && Self.rows(second.text) == total - 200, "\(Self.rows(second.text)) of \(total)")
            #expect(!second.text.contains("id=\"older\"") && second.text.contains("<a href=\"/ui/audit?tenant=coke\" id=\"newest\">"))
            #expect(shown(first.text) == Array(targets.prefix(200)))
            #expect(shown(second.text) == Array(targets.dropFirst(200)))

            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke&before=soon", cookie: admin).status == 400)
            #expect(try await browser.send(.GET, older, cookie: fixture.tokens["pepsi-admin"]).status == 404, "another tenant's log stays hidden on every page")
        }
    }
}
