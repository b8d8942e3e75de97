import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import TestSupport

/// An HTTP client as a browser's page would use one: no redirects followed, cookies sent only
/// when given, forms url-encoded, and the server's own `Origin` on every unsafe request unless
/// told otherwise.
struct ConsoleClient {
    let baseURL: String
    let client: HTTPClient

    init(_ server: TestServer) throws {
        baseURL = server.baseURL
        var tls = TLSConfiguration.makeClientConfiguration()
        if let pem = server.certificatePEM { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))) }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls, redirectConfiguration: .disallow))
    }

    func close() { try? client.syncShutdown() }

    static let keep = "same"

    func send(
        _ method: HTTPMethod, _ path: String, cookie: String? = nil, form: [String: String]? = nil, json: [String: String]? = nil,
        body: String? = nil, origin: String? = ConsoleClient.keep, headers: [(String, String)] = []
    ) async throws -> TestResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let cookie { request.headers.add(name: "Cookie", value: "canopy_session=\(cookie)") }
        if method != .GET, let origin { request.headers.add(name: "Origin", value: origin == Self.keep ? baseURL : origin) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let form {
            var components = URLComponents()
            components.queryItems = form.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: components.percentEncodedQuery ?? ""))
        } else if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        } else if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, data: Data(bytes.readableBytesView))
    }

    /// The session token a response's `Set-Cookie` gives.
    static func sessionCookie(in response: TestResponse) -> String? {
        guard let header = response.headers.first(name: "set-cookie"), header.hasPrefix("canopy_session=") else { return nil }
        let value = header.dropFirst("canopy_session=".count).prefix { $0 != ";" }
        return value.isEmpty ? nil : String(value)
    }

    /// `text` as the console's templates write it into a page (HTML-escaped).
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }
}

extension ConsoleClient {
    /// The fixture's world with its clusters imported, and a console client.
    static func withConsole(_ body: @Sendable (TestKubeSim, TestServer, Fixture, ConsoleClient) async throws -> Void) async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with { server in
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                let browser = try ConsoleClient(server)
                defer { browser.close() }
                try await body(sim, server, fixture, browser)
            }
        }
    }
}
