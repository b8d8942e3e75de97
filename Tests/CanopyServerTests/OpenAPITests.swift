import CanopyServer
import Foundation
import Testing
import TestSupport

@Suite struct OpenAPITests {
    @Test func everyRouteIsInTheDocumentAndEveryOperationIsARoute() async throws {
        try await TestServer.with { server in
            let router = CanopyServer.buildRouter(server.services)
            let routes = Set(router.routes.map { route -> String in
                let path = route.path.description.split(separator: "/").map { part in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
                return "\(route.method.rawValue) /\(path)"
            })
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
            #expect(metrics.status == 200 && metrics.text.contains("hb_requests"))
        }
    }
}
