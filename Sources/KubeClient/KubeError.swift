import KubeAPI

/// Every failure of a Kubernetes call, with the API server's `Status` when it sent one.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The server answered with an error status (see `status`).
        public static let apiError = Code("apiError")
        /// The server could not be reached, or the connection broke.
        public static let unreachable = Code("unreachable")
        /// TLS failed: the server's certificate is not trusted, or ours was refused. Not retried.
        public static let tls = Code("tls")
        /// The call did not finish before its deadline.
        public static let timeout = Code("timeout")
        /// The answer could not be read.
        public static let badResponse = Code("badResponse")
        /// The client is configured in a way that cannot work (kubeconfig, TLS material).
        public static let configuration = Code("configuration")

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// The server's Status for `apiError`.
    public let status: Status?

    public init(_ code: Code, _ message: String, status: Status? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    /// The HTTP status code the server answered, for `apiError`.
    public var httpCode: Int? { status?.code }
    /// The Status reason (`NotFound`, `Conflict`, …), for `apiError`.
    public var reason: String? { status?.reason }

    public var description: String {
        status.map { "\(code): \($0.code) \($0.reason ?? "") \($0.message ?? message)" } ?? "\(code): \(message)"
    }
}
