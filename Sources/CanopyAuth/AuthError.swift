/// Every failure of sign-in and token handling.
public struct AuthError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Wrong user name or password, unknown user, or disabled account: deliberately one code,
        /// so that no answer reveals whether an account exists.
        public static let invalidCredentials = Code("invalidCredentials")
        /// Too many failures recently; try again after `retryAfter` seconds.
        public static let throttled = Code("throttled")
        /// The token is unknown, expired or revoked.
        public static let invalidToken = Code("invalidToken")
        /// The key for secrets at rest is missing or malformed, or a sealed secret does not open.
        public static let secretKey = Code("secretKey")
        /// No directory server answered in time (connection refused, timed out or closed).
        public static let directoryUnavailable = Code("directoryUnavailable")
        /// TLS with the directory failed: its certificate is not signed by the configured CA, or
        /// does not name the server.
        public static let directoryTLS = Code("directoryTLS")
        /// The directory answers, but the provider's settings do not work with it (service bind
        /// refused, base DN missing, malformed filter, StartTLS refused).
        public static let directoryMisconfigured = Code("directoryMisconfigured")

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// For `throttled`: whole seconds until a new attempt may succeed.
    public let retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }
}
