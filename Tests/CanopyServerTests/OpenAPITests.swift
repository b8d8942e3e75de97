import CanopyServer
import Foundation
import KubeSim
import Testing
import TestSupport

@Suite struct OpenAPITests {
    @Test func everyRouteIsInTheDocumentAndEveryOperationIsARoute() async throws {
        try await TestServer.with { server in
            let router = CanopyServer.buildRouter(server.services)
            let all = Set(router.routes.map { route -> String in
                let path = route.path.description.split(separator: "/").map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
                return "\(route.method.rawValue) /\(path)"
            })
            // The kube proxy serves the Kubernetes API (each cluster describes it at /openapi),
            // not Canopy's: every method, under one catch-all.
            let proxy = all.filter { $0.contains(" /k8s/") }
            #expect(proxy == Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].map { "\($0) /k8s/clusters/{tenant}/{cluster}/**" }))
            // The console's pages are HTML for browsers, not operations of the API.
            let console = all.filter { $0.contains(" /ui") }
            #expect(console == [
                "GET /ui", "GET /ui/login", "POST /ui/login", "POST /ui/logout", "GET /ui/tenants/{tenant}", "GET /ui/tenants/{tenant}/projects/{project}",
                "GET /ui/tenants/{tenant}/clusters/{cluster}", "GET /ui/tokens", "POST /ui/tokens", "POST /ui/tokens/{id}/revoke", "GET /ui/audit",
                "POST /ui/tenants/{tenant}/projects/{project}/members", "POST /ui/tenants/{tenant}/projects/{project}/members/{id}/remove",
                "POST /ui/tenants/{tenant}/projects/{project}/namespaces", "GET /ui/tenants/{tenant}/users",
                "POST /ui/tenants/{tenant}/projects", "POST /ui/tenants/{tenant}/users", "POST /ui/tenants", "POST /ui/tenants/{tenant}/clusters",
                "POST /ui/tenants/{tenant}/projects/{project}/namespaces/{cluster}/{name}/remove", "POST /ui/tenants/{tenant}/clusters/{cluster}/remove",
                "POST /ui/tenants/{tenant}/admins", "POST /ui/tenants/{tenant}/admins/{id}/remove",
                "POST /ui/tenants/{tenant}/users/{user}/state", "POST /ui/tenants/{tenant}/users/{user}/remove",
                "POST /ui/tenants/{tenant}/projects/{project}/settings", "POST /ui/tenants/{tenant}/settings", "POST /ui/tenants/{tenant}/remove",
                "POST /ui/password",
                "GET /ui/tenants/{tenant}/directories", "POST /ui/tenants/{tenant}/directories", "POST /ui/tenants/{tenant}/directories/{id}/test",
                "POST /ui/tenants/{tenant}/directories/{id}/remove", "GET /ui/directories", "POST /ui/directories", "POST /ui/directories/{id}/test",
                "POST /ui/directories/{id}/remove", "GET /ui/tenants/{tenant}/users/{user}", "POST /ui/tenants/{tenant}/users/{user}",
                "GET /ui/tenants/{tenant}/directories/{id}", "POST /ui/tenants/{tenant}/directories/{id}", "GET /ui/directories/{id}", "POST /ui/directories/{id}",
                "GET /ui/users", "POST /ui/users", "POST /ui/users/{user}/state", "POST /ui/users/{user}/remove", "POST /ui/admins", "POST /ui/admins/{id}/remove",
                "GET /ui/users/{user}", "POST /ui/users/{user}",
                "POST /ui/tenants/{tenant}/users/{user}/tokens/{id}/revoke", "POST /ui/users/{user}/tokens/{id}/revoke",
            ])
            let routes = all.subtracting(proxy).subtracting(console)
            let document = OpenAPIDocument.bundled.operations
            #expect(routes.subtracting(document).isEmpty, "routes missing from openapi.yaml: \(routes.subtracting(document).sorted())")
            #expect(document.subtracting(routes).isEmpty, "operations without a route: \(document.subtracting(routes).sorted())")
            let served = try await server.request(.GET, "/api/v1/openapi.yaml")
            #expect(served.status == 200 && served.text.contains("openapi: 3.1.0"))
        }
    }

    @Test func operationalEndpointsAnswer() async throws {
        try await TestServer.with { server in
            #expect(try await server.request(.GET, "/healthz").status == 200)
            #expect(try await server.request(.GET, "/readyz").status == 200)
            _ = try await server.request(.GET, "/healthz")
            let metrics = try await server.request(.GET, "/metrics")
            #expect(metrics.status == 200 && metrics.text.contains("hb_requests") && metrics.text.contains("canopy_reconciler_leading"))
        }
    }
}

/// Answers match the document: every field the server sends is declared in the operation's
/// response schema, with its type.
@Suite struct ResponseSchemaTests {
    @Test func successAnswersMatchTheirDeclaredSchemas() async throws {
        try await TestServer.with { server in
            let fixture = try await Fixture.build(server)
            let admin = fixture.tokens["coke-admin"]!
            let created = try await server.request(.POST, "/api/v1/tokens", token: admin, json: ["description": "x"])
            let calls: [(String, String, String, String?, [String: Any]?)] = [
                ("GET", "/api/v1/whoami", "/api/v1/whoami", admin, nil),
                ("GET", "/api/v1/tokens", "/api/v1/tokens", admin, nil),
                ("GET", "/api/v1/tenants", "/api/v1/tenants", fixture.tokens["provider"], nil),
                ("GET", "/api/v1/tenants/coke", "/api/v1/tenants/{tenant}", admin, nil),
                ("GET", "/api/v1/tenants/coke/users", "/api/v1/tenants/{tenant}/users", admin, nil),
                ("GET", "/api/v1/tenants/coke/users/pm", "/api/v1/tenants/{tenant}/users/{user}", admin, nil),
                ("GET", "/api/v1/tenants/coke/admins", "/api/v1/tenants/{tenant}/admins", admin, nil),
                ("GET", "/api/v1/tenants/coke/projects", "/api/v1/tenants/{tenant}/projects", fixture.tokens["coke-pm"], nil),
                ("GET", "/api/v1/tenants/coke/projects/marketing", "/api/v1/tenants/{tenant}/projects/{project}", fixture.tokens["coke-pa"], nil),
                ("GET", "/api/v1/tenants/coke/projects/marketing/members", "/api/v1/tenants/{tenant}/projects/{project}/members", admin, nil),
                ("GET", "/api/v1/audit?tenant=coke", "/api/v1/audit", admin, nil),
                ("POST", "/api/v1/tenants/coke/projects", "/api/v1/tenants/{tenant}/projects", admin, ["name": "web", "caps": ["cpu": "2"]]),
                ("PATCH", "/api/v1/tenants/coke/users/pm", "/api/v1/tenants/{tenant}/users/{user}", admin, ["email": "pm@example.com"]),
                ("GET", "/api/v1/users", "/api/v1/users", fixture.tokens["provider"], nil),
                ("GET", "/api/v1/users/admin", "/api/v1/users/{user}", fixture.tokens["provider"], nil),
                ("POST", "/api/v1/users", "/api/v1/users", fixture.tokens["provider"], ["username": "ops", "password": "ops-password-1"]),
                ("POST", "/api/v1/admins", "/api/v1/admins", fixture.tokens["provider"], ["user": "ops"]),
                ("GET", "/api/v1/admins", "/api/v1/admins", fixture.tokens["provider"], nil),
                ("GET", "/api/v1/tenants/coke/users/pm/tokens", "/api/v1/tenants/{tenant}/users/{user}/tokens", admin, nil),
                ("GET", "/api/v1/users/admin/tokens", "/api/v1/users/{user}/tokens", fixture.tokens["provider"], nil),
            ]
            #expect(created.status == 201)
            #expect(OpenAPIDocument.bundled.responseMismatch(Array(created.data), operation: "POST /api/v1/tokens") == nil)
            for (method, path, template, token, body) in calls {
                let response = try await server.request(.init(rawValue: method), path, token: token, json: body)
                #expect((200...201).contains(response.status), "\(method) \(path): \(response.status)")
                let mismatch = OpenAPIDocument.bundled.responseMismatch(Array(response.data), operation: "\(method) \(template)")
                #expect(mismatch == nil, "\(mismatch ?? "")")
            }
            let login = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "pv", "password": Fixture.password])
            #expect(OpenAPIDocument.bundled.responseMismatch(Array(login.data), operation: "POST /api/v1/login") == nil)
        }
    }

    @Test func clusterAndNamespaceAnswersMatchTheirDeclaredSchemas() async throws {
        try await TestKubeSim.with(clusters: ["onprem"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]!
                let calls: [(String, String, String, [String: Any]?)] = [
                    ("POST", "/api/v1/tenants/coke/clusters", "/api/v1/tenants/{tenant}/clusters", ["name": "onprem", "kubeconfig": sim.kubeconfig("onprem")]),
                    ("POST", "/api/v1/tenants/coke/projects/marketing/namespaces", "/api/v1/tenants/{tenant}/projects/{project}/namespaces", ["cluster": "onprem", "name": "mkt"]),
                    ("POST", "/api/v1/tenants/coke/projects", "/api/v1/tenants/{tenant}/projects", ["name": "web", "podSecurity": "restricted", "placements": [["cluster": "onprem", "namespaces": ["web"]]]]),
                    ("GET", "/api/v1/tenants/coke/projects/marketing/namespaces", "/api/v1/tenants/{tenant}/projects/{project}/namespaces", nil),
                    ("GET", "/api/v1/tenants/coke/projects/web", "/api/v1/tenants/{tenant}/projects/{project}", nil),
                    ("PATCH", "/api/v1/tenants/coke/projects/web", "/api/v1/tenants/{tenant}/projects/{project}", ["podSecurity": "baseline"]),
                    ("GET", "/api/v1/tenants/coke/clusters", "/api/v1/tenants/{tenant}/clusters", nil),
                    ("GET", "/api/v1/tenants/coke/clusters/onprem", "/api/v1/tenants/{tenant}/clusters/{cluster}", nil),
                    ("DELETE", "/api/v1/tenants/coke/clusters/onprem?cascade=true", "/api/v1/tenants/{tenant}/clusters/{cluster}", nil),
                ]
                for (method, path, template, body) in calls {
                    if method == "DELETE" {
                        try await eventually(within: 3, "reconciled") {
                            let cluster = try await server.request(.GET, "/api/v1/tenants/coke/clusters/onprem", token: admin)
                            return (cluster.object["reconcile"] as? [String: Any])?["state"] as? String == "Synced"
                        }
                    }
                    let response = try await server.request(.init(rawValue: method), path, token: admin, json: body)
                    #expect((200...201).contains(response.status), "\(method) \(path): \(response.status) \(response.text)")
                    let mismatch = OpenAPIDocument.bundled.responseMismatch(Array(response.data), operation: "\(method) \(template)")
                    #expect(mismatch == nil, "\(method) \(path): \(mismatch ?? "")")
                }
            }
        }
    }

    @Test func identityProviderAnswersMatchTheirDeclaredSchemas() async throws {
        try await TestDirectory.with { directory in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                let admin = fixture.tokens["coke-admin"]!
                let base = "/api/v1/tenants/{tenant}/identity-providers"
                let calls: [(String, String, String, String?, [String: Any]?)] = [
                    ("POST", "/api/v1/tenants/coke/identity-providers", base, admin, DirectorySignInTests.provider(directory)),
                    ("GET", "/api/v1/tenants/coke/identity-providers", base, admin, nil),
                    ("GET", "/api/v1/tenants/coke/identity-providers/corp", base + "/{id}", admin, nil),
                    ("PATCH", "/api/v1/tenants/coke/identity-providers/corp", base + "/{id}", admin, ["nestedGroupDepth": 2]),
                    ("POST", "/api/v1/tenants/coke/identity-providers/corp/test", base + "/{id}/test", admin, ["username": "alice", "password": "alice-pw"]),
                    ("POST", "/api/v1/tenants/coke/identity-providers/corp/test", base + "/{id}/test", admin, ["username": "alice", "password": "x"]),
                    ("POST", "/api/v1/identity-providers", "/api/v1/identity-providers", fixture.tokens["provider"], DirectorySignInTests.provider(directory)),
                    ("GET", "/api/v1/identity-providers", "/api/v1/identity-providers", fixture.tokens["provider"], nil),
                ]
                for (method, path, template, token, body) in calls {
                    let response = try await server.request(.init(rawValue: method), path, token: token, json: body)
                    #expect((200...201).contains(response.status), "\(method) \(path): \(response.status) \(response.text)")
                    let mismatch = OpenAPIDocument.bundled.responseMismatch(Array(response.data), operation: "\(method) \(template)")
                    #expect(mismatch == nil, "\(method) \(path): \(mismatch ?? "")")
                }
                let login = try await server.request(.POST, "/api/v1/login", json: ["tenant": "coke", "username": "alice", "password": "alice-pw"])
                #expect(login.status == 200)
                #expect(OpenAPIDocument.bundled.responseMismatch(Array(login.data), operation: "POST /api/v1/login") == nil)
                let token = login.object["token"] as? String
                let whoami = try await server.request(.GET, "/api/v1/whoami", token: token)
                #expect(OpenAPIDocument.bundled.responseMismatch(Array(whoami.data), operation: "GET /api/v1/whoami") == nil)
            }
        }
    }
}
