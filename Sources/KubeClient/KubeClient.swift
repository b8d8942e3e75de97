import AsyncHTTPClient
import Foundation
import KubeAPI
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// An async client of one Kubernetes API server (or one KubeSim cluster, or Canopy's proxy).
///
/// Every call has a deadline. Reads are retried on 429, 5xx and broken connections with jittered
/// exponential backoff that honours `Retry-After`; writes are retried only when the server
/// refused them unprocessed (429) or the connection could not be made.
public final class KubeClient: Sendable {
    /// Tuning, with defaults in the comments.
    public struct Configuration: Sendable {
        /// Deadline of one call, retries included: 30 s.
        public var timeout: Duration = .seconds(30)
        /// Attempts after the first: 4.
        public var retries: Int = 4
        /// First backoff: 100 ms, doubled each retry, capped at 5 s, with ±50 % jitter.
        public var initialBackoff: Duration = .milliseconds(100)
        /// Requests are sent as this user and these groups (`Impersonate-User`, `Impersonate-Group`).
        public var impersonation: Impersonation?
        /// Connections kept open to the server: 16. Each watch holds one for as long as it runs,
        /// so a client carrying many watches (the kube proxy) needs many more.
        public var maxConnections = 16
        /// The most of one answer held (watches are read line by line instead): 64 MiB, far
        /// above a page of 500 of any object etcd keeps (1.5 MiB each at most, a few KiB
        /// typically). A cluster answering more is refused (`badResponse`, not retried) rather
        /// than let it grow the process every tenant shares.
        public var maxAnswerBytes = 64 << 20

        public init() {}
    }

    /// Who to act as.
    public struct Impersonation: Sendable, Equatable {
        public var user: String
        public var groups: [String]
        public init(user: String, groups: [String] = []) {
            self.user = user
            self.groups = groups
        }
    }

    public let connection: Kubeconfig.Connection
    public let configuration: Configuration
    /// Where requests go: the server's URL, or with `tls-server-name` the same URL naming that
    /// name instead of the host (see `init`).
    let requestBase: String
    let http: HTTPClient
    private let logger: Logger

    /// A client for `connection`. Call `shutdown()` when done.
    public init(connection: Kubeconfig.Connection, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "kube-client")) throws {
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
        let tls = try Self.tlsConfiguration(for: connection)
        var clientConfiguration = HTTPClient.Configuration(tlsConfiguration: tls)
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConnections)
        clientConfiguration.timeout = .init(connect: .seconds(5))
        // Kubernetes API servers speak HTTP/2 too, but KubeSim and Canopy's proxy serve HTTP/1.1;
        // a pool that starts on HTTP/2 and migrates back has crashed here (AsyncHTTPClient 1.37).
        clientConfiguration.httpVersion = .http1Only
        // No span per request: Canopy traces nothing, and the no-op tracer still cost a few
        // percent of the proxy's CPU.
        clientConfiguration.tracing.tracer = nil
        // `tls-server-name` (kubectl's): TLS sends that name and checks the certificate for it
        // while the connection still goes to the server's host. Requests name it as their host,
        // and the client is told where that host really is.
        var base = connection.server
        if let name = connection.tlsServerName, !name.isEmpty, var components = URLComponents(string: connection.server),
           components.scheme == "https", let host = components.host
        {
            components.host = name
            if let rewritten = components.string {
                base = rewritten
                clientConfiguration.dnsOverride[name] = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            }
        }
        requestBase = base
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    /// The TLS settings of a kubeconfig connection: its CA (or the system's roots), its client
    /// certificate, and `insecure-skip-tls-verify`.
    public static func tlsConfiguration(for connection: Kubeconfig.Connection) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = connection.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
            if case .clientCertificate(let certificate, let key) = connection.credential {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
        } catch {
            throw KubeError(.configuration, "the TLS material of the kubeconfig cannot be read: \(error)")
        }
        return tls
    }

    /// Closes the connections. A client that is released without it closes them on its own.
    public func shutdown() async throws { try await http.shutdown() }

    deinit {
        // Nothing can be in flight: every call holds the client, and a streamed body passed on
        // (the proxy's) holds it until it ends. A second shutdown just fails.
        http.shutdown { _ in }
    }

    /// A raw answer.
    public struct Response: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: Data
    }

    /// Sends one request to `path` (below the server URL, which may carry a prefix) and returns
    /// a 2xx answer; throws `KubeError` with the server's Status otherwise.
    public func send(
        _ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: Data? = nil,
        contentType: String = "application/json", accept: String = "application/json"
    ) async throws -> Response {
        let deadline = ContinuousClock.now + configuration.timeout
        var attempt = 0
        while true {
            do {
                return try await sendOnce(method, path, query: query, body: body, contentType: contentType, accept: accept, deadline: deadline)
            } catch let error as KubeError {
                let retryable = Self.isRetryable(error, method: method)
                guard retryable.retry, attempt < configuration.retries else { throw error }
                let backoff = retryable.after ?? jittered(configuration.initialBackoff * (1 << attempt))
                guard ContinuousClock.now + backoff < deadline else { throw error }
                logger.debug("retrying Kubernetes request", metadata: ["path": "\(path)", "attempt": "\(attempt + 1)", "error": "\(error)"])
                try await Task.sleep(for: backoff)
                attempt += 1
            }
        }
    }

    private func sendOnce(
        _ method: HTTPMethod, _ path: String, query: [String: String], body: Data?, contentType: String, accept: String,
        deadline: ContinuousClock.Instant
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url(path, query))
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        addIdentity(to: &request)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw KubeError(.timeout, "\(method) \(path) did not finish within \(configuration.timeout)") }
        let response: HTTPClientResponse
        let data: Data
        do {
            response = try await http.execute(request, timeout: .nanoseconds(Int64(remaining.components.seconds) * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000))
            data = Data(try await response.body.collect(upTo: configuration.maxAnswerBytes).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw KubeError(.badResponse, "\(method) \(connection.server)\(path) answered more than \(ByteSize.describe(configuration.maxAnswerBytes)), the most Canopy holds of one answer")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw KubeError(.timeout, "\(method) \(path) did not finish within \(configuration.timeout)")
        } catch let error as NIOSSLError {
            throw KubeError(.tls, "TLS with \(connection.server) failed (\(error)); check the kubeconfig's certificate-authority and client certificate")
        } catch let error as BoringSSLError {
            throw KubeError(.tls, "TLS with \(connection.server) failed (\(error)); check the kubeconfig's certificate-authority and client certificate")
        } catch let error as NIOSSLExtraError {
            throw KubeError(.tls, "TLS with \(connection.server) failed (\(error)); the certificate does not name the host: check the kubeconfig's server address or its tls-server-name")
        } catch {
            throw KubeError(.unreachable, "\(method) \(connection.server)\(path) failed: \(error)")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let status = (try? JSONDecoder().decode(Status.self, from: data))
                ?? Status(code: Int(response.status.code), reason: response.status.reasonPhrase, message: String(decoding: data.prefix(500), as: UTF8.self))
            var error = KubeError(.apiError, status.message ?? "HTTP \(response.status.code)", status: status)
            if let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init) {
                var details = status.details ?? Status.Details()
                details.retryAfterSeconds = retryAfter
                var withRetry = status
                withRetry.details = details
                error = KubeError(.apiError, error.message, status: withRetry)
            }
            throw error
        }
        // A server warns about what it accepted but did not keep or will stop serving (unknown
        // fields dropped, deprecated APIs): logged as client-go does, so that a field Canopy
        // writes and the cluster drops is seen.
        for warning in response.headers[canonicalForm: "warning"] {
            logger.warning("Kubernetes API server warned", metadata: ["server": "\(connection.server)", "method": "\(method)", "path": "\(path)", "warning": "\(warning)"])
        }
        return Response(status: Int(response.status.code), headers: response.headers, body: data)
    }

    /// A GET whose body is read as it arrives (watches, logs); no retries, no deadline but the
    /// server's own `timeoutSeconds`.
    func streamingResponse(_ path: String, query: [String: String]) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url(path, query))
        request.headers.add(name: "Accept", value: "application/json")
        addIdentity(to: &request)
        do {
            return try await http.execute(request, timeout: .hours(1))
        } catch {
            throw KubeError(.unreachable, "watch of \(connection.server)\(path) failed: \(error)")
        }
    }

    /// The credential (bearer or basic; client certificates travel in TLS) and impersonation.
    private func addIdentity(to request: inout HTTPClientRequest) {
        request.headers.add(name: "User-Agent", value: "canopy/0.1")
        addCredential(to: &request)
        if let impersonation = configuration.impersonation {
            request.headers.add(name: "Impersonate-User", value: impersonation.user)
            for group in impersonation.groups { request.headers.add(name: "Impersonate-Group", value: group) }
        }
    }

    /// This client's own credential; client certificates travel in TLS.
    func addCredential(to request: inout HTTPClientRequest) {
        if let authorization = authorizationHeader { request.headers.add(name: "Authorization", value: authorization) }
    }

    /// The `Authorization` value of this client's credential; `nil` when it travels in TLS (a
    /// client certificate) or there is none.
    public var authorizationHeader: String? {
        switch connection.credential {
        case .token(let token): "Bearer \(token)"
        case .basic(let username, let password): "Basic \(Data("\(username):\(password)".utf8).base64EncodedString())"
        case .clientCertificate, .none, .unsupported: nil
        }
    }

    private func url(_ path: String, _ query: [String: String]) -> String {
        guard !query.isEmpty else { return requestBase + path }
        var components = URLComponents()
        components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        let encoded = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B") ?? ""
        return requestBase + path + "?" + encoded
    }

    /// Whether to retry, and after how long when the server said so.
    private static func isRetryable(_ error: KubeError, method: HTTPMethod) -> (retry: Bool, after: Duration?) {
        let isRead = method == .GET || method == .HEAD
        switch error.code {
        case .unreachable:
            return (isRead || "\(error.message)".contains("connect"), nil)
        case .apiError:
            let code = error.httpCode ?? 0
            let after = error.status?.details?.retryAfterSeconds.map { Duration.seconds($0) }
            if code == 429 { return (true, after) }
            if (500...599).contains(code) { return (isRead, after) }
            return (false, nil)
        default:
            return (false, nil)
        }
    }

    private func jittered(_ base: Duration) -> Duration {
        let capped = min(base, .seconds(5))
        return capped * Double.random(in: 0.5...1.5)
    }
}
