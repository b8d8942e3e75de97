/// Every failure of the store, with a code callers switch on and context for the logs.
///
/// New codes can be added without breaking callers: codes are static constants, not enum cases.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The object does not exist.
        public static let notFound = Code("notFound")
        /// A unique name is already taken in its scope.
        public static let duplicate = Code("duplicate")
        /// The update named a version that is no longer current.
        public static let staleVersion = Code("staleVersion")
        /// The database could not be reached or answered with an error.
        public static let unavailable = Code("unavailable")
        /// The database holds something the code cannot read (a newer schema, a bad row).
        public static let corrupt = Code("corrupt")

        public var description: String { name }
    }

    public let code: Code
    /// What happened, for logs (never shown to API clients verbatim).
    public let message: String
    public let underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        underlying.map { "\(code): \(message) (\($0))" } ?? "\(code): \(message)"
    }
}
