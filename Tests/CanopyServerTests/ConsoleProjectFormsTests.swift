import Foundation
import KubeAPI
import Testing
import TestSupport

/// The project page's forms over HTTP: members added and removed, namespaces placed, by those
/// who may, with the API's refusals on the page.
@Suite struct ConsoleProjectFormsTests {
    @Test func projectAdminsAddAndRemoveMembersThroughTheProjectPage() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let browser = try ConsoleClient(server)
            defer { browser.close() }
            let projectAdmin = try #require(fixture.tokens["coke-pa"]), tenantAdmin = try #require(fixture.tokens["coke-admin"])
            let page = "/ui/tenants/coke/projects/marketing", members = "/ui/tenants/coke/projects/marketing/members"
            @Sendable func grants() async throws -> [String: (id: String, role: String)] {
                let list = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/members", token: tenantAdmin)
                return Dictionary(uniqueKeysWithValues: list.items.map { (($0["user"] as? String) ?? "group:\($0["group"] as? String ?? "")", ($0["id"] as! String, $0["role"] as! String)) })
            }
            let before = try await grants()
            let adminPage = try await browser.send(.GET, page, cookie: projectAdmin)
            #expect(adminPage.text.contains("id=\"add-member\""))
            #expect(!adminPage.text.contains("<option value=\"admin\">"), "a Project Admin names members and viewers only")
            #expect(adminPage.text.contains("\(members)/\(before["pm"]!.id)/remove") && !adminPage.text.contains("\(members)/\(before["pa"]!.id)/remove"))
            #expect(try await browser.send(.GET, page, cookie: tenantAdmin).text.contains("<option value=\"admin\">"))
            let viewerPage = try await browser.send(.GET, page, cookie: fixture.tokens["coke-pv"])
            #expect(!viewerPage.text.contains("id=\"add-member\"") && !viewerPage.text.contains("/remove"))

            // Those who may not manage the members: refused before the form is read.
            for (caller, status) in [("coke-pv", 403), ("coke-pm", 403), ("coke-sales-pa", 404), ("pepsi-admin", 404), ("provider", 404)] {
                let answer = try await browser.send(.POST, members, cookie: fixture.tokens[caller], form: ["who": "pm", "kind": "user", "role": "viewer"])
                #expect(answer.status == status, "\(caller)")
                let removal = try await browser.send(.POST, "\(members)/\(before["pm"]!.id)/remove", cookie: fixture.tokens[caller])
                #expect(removal.status == status, "\(caller) removing")
            }

            // Added, and there in the API and the audit log.
            let added = try await browser.send(.POST, members, cookie: projectAdmin, form: ["who": " sales-pa ", "kind": "user", "role": "viewer"])
            #expect(added.status == 303 && added.headers.first(name: "location") == page)
            #expect(try await grants()["sales-pa"]?.role == "viewer")
            #expect(try await browser.send(.GET, page, cookie: projectAdmin).text.contains("<td>sales-pa</td><td>viewer</td>"))
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke&project=marketing", cookie: projectAdmin).text.contains("<td>member.create</td>"))
            let group = try await browser.send(.POST, members, cookie: projectAdmin, form: ["who": "designers", "kind": "group", "role": "member"])
            #expect(group.status == 303)
            #expect(try await grants()["group:designers"]?.role == "member")

            // Refused: the page again, with the API's message, its status, and what was typed.
            for (form, status, message) in [
                (["who": "nobody", "kind": "user", "role": "member"], 422, "no user named &#39;nobody&#39; in this tenant"),
                (["who": "pm", "kind": "user", "role": "viewer"], 409, "already a member of this project"),
                (["who": "boss", "kind": "user", "role": "admin"], 403, "you are not allowed to do this"),
                (["who": "x", "kind": "user", "role": "owner"], 400, "role must be one of"),
            ] {
                let refused = try await browser.send(.POST, members, cookie: projectAdmin, form: form)
                #expect(refused.status == status, "\(form)")
                #expect(refused.text.contains("id=\"form-error\"") && refused.text.contains(message), "\(form): \(refused.text)")
                #expect(refused.text.contains("value=\"\(form["who"]!)\""))
            }
            #expect(try await browser.send(.POST, members, cookie: projectAdmin, form: ["who": "pm", "kind": "robot", "role": "viewer"]).status == 400)
            #expect(try await grants().count == before.count + 2, "nothing refused was granted")
            #expect(try await browser.send(.POST, members, cookie: projectAdmin, form: ["who": "pm", "kind": "user", "role": "viewer"], origin: "http://evil.example").status == 403)

            // Removed; a Project Admin's membership is the tenant admin's to remove.
            let removed = try await browser.send(.POST, "\(members)/\(before["pm"]!.id)/remove", cookie: projectAdmin)
            #expect(removed.status == 303)
            #expect(try await grants()["pm"] == nil)
            #expect(try await browser.send(.POST, "\(members)/\(before["pa"]!.id)/remove", cookie: projectAdmin).status == 403)
            #expect(try await browser.send(.POST, "\(members)/no-such-grant/remove", cookie: projectAdmin).status == 404)
            #expect(try await grants()["pa"] != nil)
        }
    }

    @Test func projectAdminsPlaceNamespacesThroughTheProjectPage() async throws {
        try await ConsoleClient.withConsole { sim, server, fixture, browser in
            let projectAdmin = try #require(fixture.tokens["coke-pa"])
            let page = "/ui/tenants/coke/projects/marketing", form = "/ui/tenants/coke/projects/marketing/namespaces"
            let adminPage = try await browser.send(.GET, page, cookie: projectAdmin)
            #expect(adminPage.text.contains("<option value=\"cloud\">cloud</option><option value=\"onprem\">onprem</option></select>"), "the tenant's clusters, not another tenant's")
            #expect(!(try await browser.send(.GET, page, cookie: fixture.tokens["coke-pm"])).text.contains("id=\"add-namespace\""))

            let added = try await browser.send(.POST, form, cookie: projectAdmin, form: ["cluster": "onprem", "name": "marketing-qa"])
            #expect(added.status == 303 && added.headers.first(name: "location") == page)
            let listed = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/namespaces", token: projectAdmin)
            #expect(listed.items.contains { $0["name"] as? String == "marketing-qa" && $0["cluster"] as? String == "onprem" })
            try await eventually(within: 30, "the namespace is in the cluster") { try await PlacementTests.exists(PlacementTests.client(sim, "onprem"), "marketing-qa") }
            #expect(try await browser.send(.GET, page, cookie: projectAdmin).text.contains("<td>onprem</td><td>marketing-qa</td>"))

            for (fields, status, message) in [
                (["cluster": "onprem", "name": "Not_A_Label"], 422, "name must be a DNS label"),
                (["cluster": "onprem", "name": "kube-public"], 422, "is a system namespace"),
                (["cluster": "west", "name": "marketing-west"], 422, "cluster &#39;west&#39; is not one of this tenant&#39;s clusters"),
                (["cluster": "onprem", "name": "marketing-qa"], 409, "is already placed on cluster"),
            ] {
                let refused = try await browser.send(.POST, form, cookie: projectAdmin, form: fields)
                #expect(refused.status == status, "\(fields)")
                #expect(refused.text.contains("id=\"namespace-error\"") && refused.text.contains(message), "\(fields): \(refused.text)")
                #expect(refused.text.contains("value=\"\(fields["name"]!)\"") && !refused.text.contains("id=\"form-error\""))
            }
            #expect(try await browser.send(.POST, form, cookie: projectAdmin, body: "name=only").status == 400)
            for (caller, status) in [("coke-pv", 403), ("coke-pm", 403), ("coke-sales-pa", 404), ("pepsi-admin", 404), ("provider", 404)] {
                let answer = try await browser.send(.POST, form, cookie: fixture.tokens[caller], form: ["cluster": "onprem", "name": "by-\(caller)"])
                #expect(answer.status == status, "\(caller)")
            }
            #expect(try await browser.send(.POST, form, cookie: projectAdmin, form: ["cluster": "onprem", "name": "cross-site"], origin: "http://evil.example").status == 403)
            let after = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/namespaces", token: projectAdmin)
            #expect(after.items.count == listed.items.count, "nothing refused was placed")
        }
    }

    /// A namespace that already exists on the cluster without Canopy's label: the form refuses
    /// it (the API's 409, on the page) unless its adopt box is ticked; adopted, it keeps what was
    /// in it and becomes the project's.
    @Test func projectAdminsAdoptAnExistingNamespaceByTickingItsBox() async throws {
        try await ConsoleClient.withConsole { sim, server, fixture, browser in
            let projectAdmin = try #require(fixture.tokens["coke-pa"])
            let onprem = try PlacementTests.client(sim, "onprem")
            _ = try await onprem.create(Namespace(metadata: ObjectMeta(name: "legacy", labels: ["team": "old"])))
            let page = "/ui/tenants/coke/projects/marketing", form = "/ui/tenants/coke/projects/marketing/namespaces"
            #expect(try await browser.send(.GET, page, cookie: projectAdmin).text.contains("id=\"namespace-adopt\""))

            let refused = try await browser.send(.POST, form, cookie: projectAdmin, form: ["cluster": "onprem", "name": "legacy"])
            #expect(refused.status == 409 && refused.text.contains("id=\"namespace-error\"") && refused.text.contains("Canopy does not manage it"), "\(refused.status) \(refused.text)")
            let adopted = try await browser.send(.POST, form, cookie: projectAdmin, form: ["cluster": "onprem", "name": "legacy", "adopt": "true"])
            #expect(adopted.status == 303 && adopted.headers.first(name: "location") == page, "\(adopted.status) \(adopted.text)")
            let placed = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/namespaces", token: projectAdmin).items
            #expect(placed.contains { $0["name"] as? String == "legacy" && $0["adopted"] as? Bool == true }, "\(placed)")
            #expect(try await browser.send(.GET, "/ui/audit?tenant=coke", cookie: fixture.tokens["coke-admin"]).text.contains("<td>namespace.adopt</td>"))
            try await eventually(within: 30, "the adopted namespace carries Canopy's label and keeps its own") {
                let labels = try await onprem.get(Namespace.self, "legacy").metadata.labels ?? [:]
                return labels["team"] == "old" && labels["canopy.io/project"] == "marketing"
            }
        }
    }
}
