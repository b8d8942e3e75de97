
/// A namespace.
public struct Namespace: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "Namespace", resource = "namespaces"
    public static let isNamespaced = false
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var status: NamespaceStatus?

    public struct NamespaceStatus: Codable, Sendable, Hashable {
        /// `Active` or `Terminating`.
        public var phase: String?
    }

    public init(metadata: ObjectMeta) {
        (apiVersion, kind, self.metadata) = (Self.typeAPIVersion, Self.typeKind, metadata)
    }
}

/// A node with its capacity and allocatable resources.
public struct Node: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "Node", resource = "nodes"
    public static let isNamespaced = false
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var status: NodeStatus?

    public struct NodeStatus: Codable, Sendable, Hashable {
        public var capacity: [String: Quantity]?
        public var allocatable: [String: Quantity]?

        public init(capacity: [String: Quantity]? = nil, allocatable: [String: Quantity]? = nil) {
            self.capacity = capacity
            self.allocatable = allocatable
        }
    }

    public init(metadata: ObjectMeta, status: NodeStatus? = nil) {
        (apiVersion, kind, self.metadata, self.status) = (Self.typeAPIVersion, Self.typeKind, metadata, status)
    }
}

/// Requests and limits of one container.
public struct ResourceRequirements: Codable, Sendable, Hashable {
    public var requests: [String: Quantity]?
    public var limits: [String: Quantity]?

    public init(requests: [String: Quantity]? = nil, limits: [String: Quantity]? = nil) {
        self.requests = requests
        self.limits = limits
    }
}

/// A container of a pod (the fields quota, scheduling and pod security read).
public struct Container: Codable, Sendable, Hashable {
    public var name: String
    public var image: String?
    public var resources: ResourceRequirements?

    public init(name: String, image: String? = nil, resources: ResourceRequirements? = nil) {
        self.name = name
        self.image = image
        self.resources = resources
    }
}

/// A pod.
public struct Pod: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "Pod", resource = "pods"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?

    public struct PodSpec: Codable, Sendable, Hashable {
        public var containers: [Container]
        public var nodeName: String?
        public var serviceAccountName: String?

        public init(containers: [Container], nodeName: String? = nil) {
            self.containers = containers
            self.nodeName = nodeName
        }
    }

    public struct PodStatus: Codable, Sendable, Hashable {
        /// `Pending`, `Running`, `Succeeded`, `Failed`.
        public var phase: String?
    }

    public init(metadata: ObjectMeta, spec: PodSpec) {
        (apiVersion, kind, self.metadata, self.spec) = (Self.typeAPIVersion, Self.typeKind, metadata, spec)
    }
}

/// A namespace's quota: hard limits and what is used.
public struct ResourceQuota: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "ResourceQuota", resource = "resourcequotas"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: QuotaStatus?

    public struct Spec: Codable, Sendable, Hashable {
        public var hard: [String: Quantity]?
        public init(hard: [String: Quantity]) { self.hard = hard }
    }

    public struct QuotaStatus: Codable, Sendable, Hashable {
        public var hard: [String: Quantity]?
        public var used: [String: Quantity]?
        public init(hard: [String: Quantity]? = nil, used: [String: Quantity]? = nil) {
            self.hard = hard
            self.used = used
        }
    }

    public init(metadata: ObjectMeta, hard: [String: Quantity]) {
        (apiVersion, kind, self.metadata, spec) = (Self.typeAPIVersion, Self.typeKind, metadata, Spec(hard: hard))
    }
}

/// Defaults and bounds for containers in a namespace.
public struct LimitRange: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "LimitRange", resource = "limitranges"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var limits: [Item]
        public init(limits: [Item]) { self.limits = limits }
    }

    /// One limit: for `Container`, `default` fills missing limits and `defaultRequest` missing requests.
    public struct Item: Codable, Sendable, Hashable {
        public var type: String
        public var `default`: [String: Quantity]?
        public var defaultRequest: [String: Quantity]?
        public var max: [String: Quantity]?
        public var min: [String: Quantity]?

        public init(type: String = "Container", default limits: [String: Quantity]? = nil, defaultRequest: [String: Quantity]? = nil) {
            self.type = type
            self.default = limits
            self.defaultRequest = defaultRequest
        }
    }

    public init(metadata: ObjectMeta, limits: [Item]) {
        (apiVersion, kind, self.metadata, spec) = (Self.typeAPIVersion, Self.typeKind, metadata, Spec(limits: limits))
    }
}

/// Configuration data.
public struct ConfigMap: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "ConfigMap", resource = "configmaps"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]) {
        (apiVersion, kind, self.metadata, self.data) = (Self.typeAPIVersion, Self.typeKind, metadata, data)
    }
}

/// Secret data (values base64 in `data`, plain in `stringData` on write).
public struct Secret: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "Secret", resource = "secrets"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var type: String?
    public var data: [String: String]?
    public var stringData: [String: String]?

    public init(metadata: ObjectMeta, stringData: [String: String]) {
        (apiVersion, kind, self.metadata, self.stringData) = (Self.typeAPIVersion, Self.typeKind, metadata, stringData)
    }
}

/// An identity for processes in pods.
public struct ServiceAccount: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "ServiceAccount", resource = "serviceaccounts"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) {
        (apiVersion, kind, self.metadata) = (Self.typeAPIVersion, Self.typeKind, metadata)
    }
}

/// A storage class (cluster-scoped).
public struct StorageClass: KubeResource {
    public static let typeAPIVersion = "storage.k8s.io/v1", typeKind = "StorageClass", resource = "storageclasses"
    public static let isNamespaced = false
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var provisioner: String

    public init(metadata: ObjectMeta, provisioner: String) {
        (apiVersion, kind, self.metadata, self.provisioner) = (Self.typeAPIVersion, Self.typeKind, metadata, provisioner)
    }
}

/// Which pods may talk to which.
public struct NetworkPolicy: KubeResource {
    public static let typeAPIVersion = "networking.k8s.io/v1", typeKind = "NetworkPolicy", resource = "networkpolicies"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var podSelector: Selector
        public var policyTypes: [String]?
        public var ingress: [IngressRule]?

        public init(podSelector: Selector = Selector(), policyTypes: [String]? = nil, ingress: [IngressRule]? = nil) {
            self.podSelector = podSelector
            self.policyTypes = policyTypes
            self.ingress = ingress
        }
    }

    /// `matchLabels` (and, as untyped text, nothing else) of a selector.
    public struct Selector: Codable, Sendable, Hashable {
        public var matchLabels: [String: String]?
        public init(matchLabels: [String: String]? = nil) { self.matchLabels = matchLabels }
    }

    public struct IngressRule: Codable, Sendable, Hashable {
        public var from: [Peer]?
        public init(from: [Peer]?) { self.from = from }
    }

    public struct Peer: Codable, Sendable, Hashable {
        public var podSelector: Selector?
        public var namespaceSelector: Selector?
        public init(podSelector: Selector? = nil, namespaceSelector: Selector? = nil) {
            self.podSelector = podSelector
            self.namespaceSelector = namespaceSelector
        }
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        (apiVersion, kind, self.metadata, self.spec) = (Self.typeAPIVersion, Self.typeKind, metadata, spec)
    }
}

/// A core/v1 event: what controllers report about objects (`FailedCreate` when quota refuses a
/// ReplicaSet's pod, `FailedScheduling`, …). Named so as not to be mistaken for a watch event.
public struct KubeEvent: KubeResource {
    public static let typeAPIVersion = "v1", typeKind = "Event", resource = "events"
    public static let isNamespaced = true
    public var apiVersion: String?, kind: String?
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference?
    public var reason: String?
    public var message: String?
    public var type: String?
    public var count: Int?
    /// RFC 3339 times, as the API server writes them.
    public var firstTimestamp: String?
    public var lastTimestamp: String?

    public struct ObjectReference: Codable, Sendable, Hashable {
        public var kind: String?
        public var name: String?
        public var namespace: String?

        public init(kind: String? = nil, name: String? = nil, namespace: String? = nil) {
            (self.kind, self.name, self.namespace) = (kind, name, namespace)
        }
    }

    public init(metadata: ObjectMeta, involvedObject: ObjectReference?, reason: String?, message: String?, type: String? = "Warning", lastTimestamp: String? = nil) {
        (apiVersion, kind, self.metadata) = (Self.typeAPIVersion, Self.typeKind, metadata)
        (self.involvedObject, self.reason, self.message, self.type, self.lastTimestamp) = (involvedObject, reason, message, type, lastTimestamp)
        firstTimestamp = lastTimestamp
        count = 1
    }
}
