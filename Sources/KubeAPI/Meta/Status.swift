/// The API server's error body (and the result of some deletes): `kind: Status`.
///
/// The static constructors produce exactly the messages a real API server writes (see
/// shared/REAL-CLUSTER.md), so that KubeSim and Canopy's proxy answer as a cluster would.
public struct Status: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    /// What is known about the object an error concerns.
    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?

        public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [Cause]? = nil, retryAfterSeconds: Int? = nil) {
            self.name = name
            self.group = group
            self.kind = kind
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    /// One field-level cause of an `Invalid` error.
    public struct Cause: Codable, Sendable, Hashable {
        public var reason: String?
        public var message: String?
        public var field: String?

        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public var kind: String = "Status"
    public var apiVersion: String = "v1"
    public var metadata: ListMeta = ListMeta()
    /// `Success` or `Failure`.
    public var status: String?
    public var message: String?
    /// Machine-readable reason: `NotFound`, `AlreadyExists`, `Conflict`, `Forbidden`, `Invalid`,
    /// `Unauthorized`, `Gone`, `TooManyRequests`, `InternalError`, `ServiceUnavailable`, `Expired`.
    public var reason: String?
    public var details: Details?
    public var code: Int

    public init(code: Int, reason: String?, message: String?, details: Details? = nil, status: String = "Failure") {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.status = status
    }

    public var description: String { "\(code) \(reason ?? ""): \(message ?? "")" }

    /// `pods "nope" not found`
    public static func notFound(_ resource: String, _ name: String, group: String = "") -> Status {
        Status(code: 404, reason: "NotFound", message: "\(qualified(resource, group)) \"\(name)\" not found",
               details: Details(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }

    /// `namespaces "tenant-a" already exists`
    public static func alreadyExists(_ resource: String, _ name: String, group: String = "") -> Status {
        Status(code: 409, reason: "AlreadyExists", message: "\(qualified(resource, group)) \"\(name)\" already exists",
               details: Details(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }

    /// The optimistic-concurrency conflict of an update naming a stale resourceVersion.
    public static func conflict(_ resource: String, _ name: String, group: String = "") -> Status {
        Status(code: 409, reason: "Conflict",
               message: "Operation cannot be fulfilled on \(qualified(resource, group)) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
               details: Details(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }

    /// RBAC refusal, in the three wordings of a real server (named object, namespaced, cluster scope).
    public static func forbidden(
        user: String, verb: String, resource: String, subresource: String? = nil, group: String, namespace: String?, name: String? = nil
    ) -> Status {
        let subject = name.map { "\(qualified(resource, group)) \"\($0)\"" } ?? qualified(resource, group)
        let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        let named = resource + (subresource.map { "/\($0)" } ?? "")
        return Status(
            code: 403, reason: "Forbidden",
            message: "\(subject) is forbidden: User \"\(user)\" cannot \(verb) resource \"\(named)\" in API group \"\(group)\" \(scope)",
            details: Details(name: name, group: group.isEmpty ? nil : group, kind: resource)
        )
    }

    /// A refusal by admission (quota, pod security): `pods "big2" is forbidden: <reason>`.
    public static func admissionForbidden(_ resource: String, _ name: String, reason: String, group: String = "") -> Status {
        Status(code: 403, reason: "Forbidden", message: "\(qualified(resource, group)) \"\(name)\" is forbidden: \(reason)",
               details: Details(name: name, group: group.isEmpty ? nil : group, kind: resource))
    }

    /// `Pod "x" is invalid: spec.containers: Required value`; the kind is qualified by its group
    /// in the message as a real server does (`Deployment.apps "x" is invalid: …`), not in details.
    public static func invalid(kind: String, _ name: String, causes: [Cause], group: String = "") -> Status {
        // Each message once, as Go's aggregated errors print them; the causes keep every one.
        var seen: Set<String> = []
        let texts = causes.map { "\($0.field ?? ""): \($0.message ?? "")" }.filter { seen.insert($0).inserted }
        let text = texts.joined(separator: ", ")
        let list = texts.count > 1 ? "[\(text)]" : text
        return Status(code: 422, reason: "Invalid", message: "\(qualified(kind, group)) \"\(name)\" is invalid: \(list)",
                      details: Details(name: name, group: group.isEmpty ? nil : group, kind: kind, causes: causes))
    }

    /// `Unauthorized`, as a real server answers a bad or missing token.
    public static let unauthorized = Status(code: 401, reason: "Unauthorized", message: "Unauthorized")

    /// 410 for a watch or list continuing from a resourceVersion that is too old.
    public static func gone(_ message: String = "too old resource version") -> Status {
        Status(code: 410, reason: "Expired", message: message)
    }

    /// `resource.group`, or just `resource` for the core group.
    static func qualified(_ resource: String, _ group: String) -> String {
        group.isEmpty ? resource : "\(resource).\(group)"
    }
}
