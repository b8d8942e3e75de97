/// What an access review asks about: a verb on a resource, or on a non-resource URL.
public struct ResourceAttributes: Codable, Sendable, Hashable {
    public var namespace: String?
    public var verb: String?
    public var group: String?
    public var version: String?
    public var resource: String?
    public var subresource: String?
    public var name: String?

    public init(namespace: String? = nil, verb: String, group: String = "", resource: String, subresource: String? = nil, name: String? = nil) {
        self.namespace = namespace
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.name = name
    }
}

public struct NonResourceAttributes: Codable, Sendable, Hashable {
    public var path: String?
    public var verb: String?
}

/// The answer of an access review.
public struct SubjectAccessReviewStatus: Codable, Sendable, Hashable {
    public var allowed: Bool
    public var denied: Bool?
    public var reason: String?
    public var evaluationError: String?

    public init(allowed: Bool, reason: String? = nil) {
        self.allowed = allowed
        self.reason = reason
    }
}

/// "May I …?" (`kubectl auth can-i`): answered for the caller.
public struct SelfSubjectAccessReview: KubeResource {
    public static let typeAPIVersion = "authorization.k8s.io/v1", typeKind = "SelfSubjectAccessReview"
    public static let resource = "selfsubjectaccessreviews", isNamespaced = false
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: SubjectAccessReviewStatus?

    public struct Spec: Codable, Sendable, Hashable {
        public var resourceAttributes: ResourceAttributes?
        public var nonResourceAttributes: NonResourceAttributes?
        public init(resourceAttributes: ResourceAttributes) { self.resourceAttributes = resourceAttributes }
    }

    public init(_ attributes: ResourceAttributes) {
        (apiVersion, kind, metadata, spec) = (Self.typeAPIVersion, Self.typeKind, ObjectMeta(), Spec(resourceAttributes: attributes))
    }
}

/// "May this user …?": answered for the named user and groups.
public struct SubjectAccessReview: KubeResource {
    public static let typeAPIVersion = "authorization.k8s.io/v1", typeKind = "SubjectAccessReview"
    public static let resource = "subjectaccessreviews", isNamespaced = false
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: SubjectAccessReviewStatus?

    public struct Spec: Codable, Sendable, Hashable {
        public var resourceAttributes: ResourceAttributes?
        public var nonResourceAttributes: NonResourceAttributes?
        public var user: String?
        public var groups: [String]?

        public init(resourceAttributes: ResourceAttributes, user: String, groups: [String] = []) {
            self.resourceAttributes = resourceAttributes
            self.user = user
            self.groups = groups
        }
    }

    public init(_ attributes: ResourceAttributes, user: String, groups: [String] = []) {
        (apiVersion, kind, metadata, spec) = (Self.typeAPIVersion, Self.typeKind, ObjectMeta(), Spec(resourceAttributes: attributes, user: user, groups: groups))
    }
}
