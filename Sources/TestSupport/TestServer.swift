import AsyncHTTPClient
import CanopyServer
import CanopyReconciler
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A real Canopy server on a free loopback port, with its store in a temporary folder (SQLite)
/// or a fresh PostgreSQL database, for the length of one test.
public struct TestServer: Sendable {
    /// The domain admin's password in every test server.
    public static let adminPassword = "admin-password-1"

    public let baseURL: String
    public let services: APIServices
    /// The server's certificate when it serves HTTPS.
    public let certificatePEM: String?

    /// Reconciler settings for tests: short backoff, deadlines and restart delays.
    public static var fastReconciler: Reconciler.Options {
        var options = Reconciler.Options()
        options.initialBackoff = .milliseconds(200)
        options.maxBackoff = .seconds(1)
        options.requestTimeout = .seconds(2)
        options.watchRestartDelay = .milliseconds(200)
        options.tick = .milliseconds(50)
        return options
    }

    /// Runs `body` against a fresh server; stops the server afterwards. `logs` keeps what the
    /// server logs (else only critical messages are logged, and dropped).
    public static func with<T: Sendable>(
        backend: TestBackend = .sqlite, tls: Bool = false, dataDirectory: String? = nil, databaseURL shared: String? = nil,
        clusterProbeInterval: Duration = .seconds(15), reconciler: Reconciler.Options = TestServer.fastReconciler,
        configure: @Sendable (inout ServerConfiguration) -> Void = { _ in }, logs: LogRecorder? = nil,
        _ body: @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let databaseURL = if let shared { shared } else { try await backend.freshDatabaseURL() }
        let configuration = ServerConfiguration(
            dataDirectory: dataDirectory ?? directory.path, databaseURL: databaseURL, host: "127.0.0.1", port: 0,
            bcryptCost: 4, adminPassword: adminPassword, tls: tls
        )
        let configured = {
            var copy = configuration
            copy.clusterProbeInterval = clusterProbeInterval
            copy.reconciler = reconciler
            configure(&copy)
            return copy
        }()
        let logger = logs?.logger ?? { var logger = Logger(label: "canopy-test"); logger.logLevel = .critical; return logger }()
        let (readyStream, readyContinuation) = AsyncStream<CanopyServer.Ready>.makeStream()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                // A server that fails to start ends the wait for it, so its error is seen, not a hang.
                defer { readyContinuation.finish() }
                try await CanopyServer.run(configured, logger: logger) { ready in readyContinuation.yield(ready) }
                return nil
            }
            guard let ready = await readyStream.first(where: { _ in true }) else {
                _ = try await group.next()
                throw TestFailure("the server stopped before it was ready")
            }
            let server = TestServer(
                baseURL: "\(ready.scheme)://127.0.0.1:\(ready.port)", services: ready.services, certificatePEM: ready.certificatePEM
            )
            // Stop gracefully: cancelling a NIO server with connections still queued trips a
            // precondition in NIOAsyncWriter.
            do {
                let result = try await body(server)
                await ready.stop()
                try await group.waitForAll()
                return result
            } catch {
                await ready.stop()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Sends one request and returns the status and parsed JSON body.
    public func request(
        _ method: HTTPMethod, _ path: String, token: String? = nil, json: Any? = nil, rawBody: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> TestResponse {
        try await TestClient(baseURL: baseURL, trusting: certificatePEM).request(method, path, token: token, json: json, rawBody: rawBody, headers: headers)
    }

    /// Signs in and returns the token; fails the test if sign-in fails.
    public func login(tenant: String? = nil, _ username: String, _ password: String) async throws -> String {
        try await TestClient(baseURL: baseURL, trusting: certificatePEM).login(tenant: tenant, username, password)
    }
}

/// HTTP calls to a Canopy server, as tests make them.
public struct TestClient: Sendable {
    public let baseURL: String
    /// A CA certificate (PEM) to trust for HTTPS; `nil` uses the system's roots.
    public let trustedPEM: String?

    /// Deadline of each request.
    public var timeout: TimeAmount

    public init(baseURL: String, trusting trustedPEM: String? = nil, timeout: TimeAmount = .seconds(30)) {
        self.baseURL = baseURL
        self.trustedPEM = trustedPEM
        self.timeout = timeout
    }

    /// Sends one request and returns the status and parsed JSON body.
    public func request(
        _ method: HTTPMethod, _ path: String, token: String? = nil, json: Any? = nil, rawBody: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> TestResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        } else if let rawBody {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: rawBody))
        }
        guard let trustedPEM else {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 << 20)
            return TestResponse(status: Int(response.status.code), headers: response.headers, data: Data(body.readableBytesView))
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(trustedPEM.utf8)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 << 20)
            try await client.shutdown()
            return TestResponse(status: Int(response.status.code), headers: response.headers, data: Data(body.readableBytesView))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Signs in and returns the token; fails the test if sign-in fails.
    public func login(tenant: String? = nil, _ username: String, _ password: String) async throws -> String {
        var body: [String: Any] = ["username": username, "password": password]
        if let tenant { body["tenant"] = tenant }
        let response = try await request(.POST, "/api/v1/login", json: body)
        guard response.status == 200, let token = response.object["token"] as? String else {
            throw TestFailure("sign-in of \(username) failed: \(response.status) \(response.text)")
        }
        return token
    }
}

/// A response as tests read it.
public struct TestResponse: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let data: Data

    public init(status: Int, headers: HTTPHeaders, data: Data) {
        self.status = status
        self.headers = headers
        self.data = data
    }

    public var text: String { String(decoding: data, as: UTF8.self) }
    /// The body as a JSON object (empty when it is not one).
    public var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:] }
    /// `items` of a list answer.
    public var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
    /// The error body's `code`.
    public var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
    public var errorMessage: String? { (object["error"] as? [String: Any])?["message"] as? String }
    public var errorField: String? { (object["error"] as? [String: Any])?["field"] as? String }
}

/// A test precondition that did not hold.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A folder under the system's temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
