import Foundation
import KubeAPI
import Synchronization

/// One simulated cluster: an object store with uids, a cluster-wide monotonic resourceVersion,
/// watches with history, and the API server's error answers. Every operation is atomic under
/// one lock, which is also what makes quota admission atomic per namespace, as the real
/// admission chain is.
public final class SimCluster: Sendable {
    public let name: String
    /// The `kube-system` namespace's uid: how Canopy recognises one physical cluster.
    public let identity: String
    let state: Mutex<State>
    let faultState = Mutex(Faults())
    private let writeCount = Atomic<Int>(0)
    let rbacCache = Mutex<RBACIndex?>(nil)
    private let deleteOptions = Mutex<JSON?>(nil)
    let droppedFields = Mutex<[String]>([])
    let logs = PodLogs()
    let serviceAccountTokens = ServiceAccountTokens()

    /// The DeleteOptions body of the last DELETE that had one.
    public internal(set) var lastDeleteOptions: JSON? {
        get { deleteOptions.withLock { $0 } }
        set { deleteOptions.withLock { $0 = newValue } }
    }

    /// Successful creates, updates (patches and applies included) and deletes so far: how
    /// benchmarks and tests count the writes a client made.
    public var writes: Int { writeCount.load(ordering: .relaxed) }
    /// Lists answered so far, by resource (`pods`): how tests count what a client asked for.
    public func lists(of resource: String) -> Int { listCounts.withLock { $0[resource, default: 0] } }
    private let listCounts = Mutex<[String: Int]>([:])
    let clock: @Sendable () -> Date

    /// One change, as watches deliver it.
    public struct Event: Sendable {
        public let type: String
        public let object: JSON
        let revision: Int64
        let resource: ResourceType
    }

    struct Watcher {
        let resource: ResourceType
        let namespace: String?
        let selector: LabelSelector
        let continuation: AsyncStream<Event>.Continuation
        /// Set when the stream ends (its consumer went): without the state's lock (see `watch`).
        let ended = EndFlag()
    }

    final class EndFlag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .acquiring) }
        func set() { value.store(true, ordering: .releasing) }
    }

    struct State {
        var revision: Int64 = 1
        var objects: [ResourceType: [String: JSON]] = [:]
        /// Who names whom in `ownerReferences` (kept by `record`), for the garbage collector.
        var owners = OwnerIndex()
        var history: [Event] = []
        /// Watches resuming from a revision below this answer 410 Gone.
        var expiredBelow: Int64 = 0
        var watchers: [UUID: Watcher] = [:]
        /// Set by `shutDown()`: every watch, even one opened later, ends at once.
        var shuttingDown = false
        /// When each namespace was created, to the instant (timestamps keep only seconds).
        var namespaceCreated: [String: Date] = [:]
        /// Bumped by every change to a Role, ClusterRole or binding.
        var rbacRevision: Int64 = 0
        /// See `quotaControllerDelay`.
        var quotaControllerDelay: TimeInterval = 0
        /// See `namespaceDeletionDelay` and `podTerminationDelay`.
        var namespaceDeletionDelay: TimeInterval = 0, podTerminationDelay: TimeInterval = 0
        /// The controller-manager's queue: every change is offered to it (`SimWorkQueue.notice`).
        var work: SimWorkQueue?
    }

    /// Events kept for resuming watches (at least; older ones are dropped a quarter of that at
    /// a time, not one per write); older resourceVersions answer 410 Gone.
    static let historyLimit = 5000

    /// How long after a namespace is created its `default` ServiceAccount appears (the
    /// controller-manager's delay on a real cluster, about a second); pods created before are
    /// refused.
    public let serviceAccountDelay: TimeInterval
    /// The cluster's CA certificate (PEM), which the root-CA publisher puts in every namespace.
    let rootCertificate: String

    /// How long the quota controller takes to bring a ResourceQuota's `status` up to date after
    /// its spec changed or an object it counts went away (a real cluster: about a second). Quota
    /// admission enforces `status.hard`, as a real API server does: a new quota enforces nothing
    /// until then, and a changed one its old limits. Zero (the default) updates the status with
    /// the write.
    public var quotaControllerDelay: TimeInterval {
        get { state.withLock { $0.quotaControllerDelay } }
        set { state.withLock { $0.quotaControllerDelay = newValue } }
    }

    /// How long a deleted namespace stays `Terminating` before the namespace controller removes
    /// what it holds and then the namespace (a real cluster: a few seconds). Zero removes it as
    /// soon as the controller gets to it, still after the delete has answered.
    public var namespaceDeletionDelay: TimeInterval {
        get { state.withLock { $0.namespaceDeletionDelay } }
        set { state.withLock { $0.namespaceDeletionDelay = newValue } }
    }

    public init(name: String, nodes: [JSON] = [], serviceAccountDelay: TimeInterval = 0, rootCertificate: String = "",
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.name = name
        self.clock = clock
        (self.serviceAccountDelay, self.rootCertificate) = (serviceAccountDelay, rootCertificate)
        identity = UUID().uuidString.lowercased()
        let work = SimWorkQueue(serviceAccountDelay: serviceAccountDelay)
        state = Mutex(State(work: work))
        for namespace in Self.systemNamespaces {
            var object: JSON = .object(["apiVersion": .string("v1"), "kind": .string("Namespace"), "metadata": .object(["name": .string(namespace)])])
            if namespace == "kube-system" { object[path: "metadata.uid"] = .string(identity) }
            _ = try? create(Self.namespaces, namespace: nil, object: object)
        }
        for role in DefaultRoles.clusterRoles {
            if let object = try? JSON(encoding: role) { _ = try? create(Self.type("clusterroles"), namespace: nil, object: object) }
        }
        for binding in DefaultRoles.clusterRoleBindings {
            if let object = try? JSON(encoding: binding) { _ = try? create(Self.type("clusterrolebindings"), namespace: nil, object: object) }
        }
        for priorityClass in PriorityClasses.systemObjects { _ = try? create(PriorityClasses.type, namespace: nil, object: priorityClass) }
        for node in nodes { _ = try? create(Self.type("nodes"), namespace: nil, object: node) }
        for namespace in Self.systemNamespaces { _ = publishRootCA(in: namespace) }
        // The controllers hold the cluster only while they sync a key: idle, they wait on the
        // queue alone, so that the cluster can go (its `deinit` ends the queue and them).
        Task { [weak self] in
            for await key in work.keys {
                guard let cluster = self else { return }
                cluster.process(key, from: work)
            }
        }
    }

    deinit {
        state.withLock { $0.work?.finish() }
    }

    /// A known kind by its plural name.
    static func type(_ resource: String) -> ResourceType {
        ResourceType.known.first { $0.resource == resource }!
    }

    static let systemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
    static let namespaces = ResourceType.find(group: "", version: "v1", resource: "namespaces")!
    /// The label a real server puts on every namespace, its value the namespace's name.
    public static let namespaceNameLabel = "kubernetes.io/metadata.name"
    static let serviceAccounts = ResourceType.find(group: "", version: "v1", resource: "serviceaccounts")!
    /// Kinds for callers that create objects directly (benchmarks, fixtures).
    public static let namespaceType = namespaces
    public static let quotaType = ResourceType.find(group: "", version: "v1", resource: "resourcequotas")!
    public static let roleBindingType = ResourceType.find(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings")!

    /// The newest resourceVersion.
    public var revision: Int64 { state.withLock { $0.revision } }

    // MARK: Reads

    public func get(_ type: ResourceType, namespace: String?, name: String) throws(Status) -> JSON {
        guard let object = state.withLock({ state in
            if type == Self.serviceAccounts { Self.createDueAccounts(&state, delay: serviceAccountDelay, now: clock()) }
            return state.objects[type]?[Self.key(namespace, name)]
        }) else {
            throw Status.notFound(type.resource, name, group: type.group)
        }
        return object
    }

    /// One page of a list: objects sorted by namespace and name, `limit` at most, resuming at the
    /// key in `continue`. Tokens are a real API server's: base64url of `{"v": "meta.k8s.io/v1",
    /// "rv": N, "start": K}`, K relative to the list's scope (`<name>\0` in one namespace,
    /// `<namespace>/<name>\0` across namespaces), so a token read in one namespace and sent to
    /// another resumes there at the same name, as etcd's key ranges do.
    public func list(
        _ type: ResourceType, namespace: String?, labelSelector: LabelSelector = LabelSelector(),
        fieldSelector: FieldSelector = FieldSelector(), limit: Int? = nil, continue token: String? = nil
    ) throws(Status) -> (items: [JSON], revision: Int64, continue: String?) {
        listCounts.withLock { $0[type.resource, default: 0] += 1 }
        let (all, revision) = state.withLock { state in
            if type == Self.serviceAccounts { Self.createDueAccounts(&state, delay: serviceAccountDelay, now: clock()) }
            return (state.objects[type] ?? [:], state.revision)
        }
        let scope = namespace.map { "\($0)/" } ?? "/"
        let start = try token.map { token throws(Status) in try ContinueToken(decoding: token).start }
        let matching = all
            .compactMap { key, object -> (key: String, value: JSON)? in
                // Across namespaces a namespaced object's key is "ns/name"; a cluster-scoped one's "/name".
                let relative = key.hasPrefix(scope) ? String(key.dropFirst(scope.count)) : namespace == nil ? key : nil
                guard let relative, start == nil || relative >= start!,
                      labelSelector.matches(object[path: "metadata.labels"]?.stringMap ?? [:]),
                      fieldSelector.matches({ object[path: $0]?.stringValue })
                else { return nil }
                return (relative, object)
            }
            .sorted { $0.key < $1.key }
        guard let limit, limit > 0, matching.count > limit else { return (matching.map(\.value), revision, nil) }
        let page = matching.prefix(limit)
        return (page.map(\.value), revision, ContinueToken(revision: revision, start: page.last!.key + "\u{0}").encoded)
    }

    // MARK: Writes

    /// Creates an object; fills uid, resourceVersion, creationTimestamp and generation.
    @discardableResult
    public func create(_ type: ResourceType, namespace: String?, object: JSON) throws(Status) -> JSON {
        let result = try performCreate(type, namespace: namespace, object: object)
        writeCount.add(1, ordering: .relaxed)
        return result
    }

    func performCreate(_ type: ResourceType, namespace: String?, object: JSON) throws(Status) -> JSON {
        var object = object
        // Admission refusals name what was asked for: a name not yet generated is its prefix.
        let asked = object[path: "metadata.name"]?.stringValue ?? object[path: "metadata.generateName"]?.stringValue ?? ""
        try stamp(&object, type: type, namespace: namespace)
        guard let name = object[path: "metadata.name"]?.stringValue else {
            throw Status.invalid(kind: type.kind, "", causes: [Status.Cause(reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name")], group: type.group)
        }
        let now = KubeTime.format(clock())
        let created = object
        return try state.withLock { state throws(Status) -> JSON in
            if type.isNamespaced, let namespace {
                guard let space = state.objects[Self.namespaces]?[Self.key(nil, namespace)] else {
                    throw Status.notFound("namespaces", namespace)
                }
                if space[path: "status.phase"]?.stringValue == "Terminating" {
                    throw Status.admissionForbidden(type.resource, asked, reason: "unable to create new content in namespace \(namespace) because it is being terminated", group: type.group)
                }
            }
            let key = Self.key(namespace, name)
            guard state.objects[type]?[key] == nil else { throw Status.alreadyExists(type.resource, name, group: type.group) }
            var stored = created
            var quotas: [JSON] = []
            if type.resource == "services" {
                try SimServices.admit(&stored, name: name, others: Array((state.objects[type] ?? [:]).values))
            }
            if type == PriorityClasses.type {
                try PriorityClasses.admit(stored, name: name, classes: Array((state.objects[type] ?? [:]).values), isUpdate: false)
            }
            if type.resource == "pods", let namespace {
                quotas = try Self.admitPod(&stored, &state, name: name, asked: asked, namespace: namespace, serviceAccountDelay: serviceAccountDelay, now: clock())
            }
            if type.resource == "resourcequotas", let namespace {
                if state.quotaControllerDelay > 0 {
                    stored["status"] = nil
                    syncQuotas(in: namespace, after: state.quotaControllerDelay)
                } else {
                    stored = Self.recount(stored, state: state, namespace: namespace)
                }
            }
            if type.isNamespaced, type.resource != "pods", let namespace {
                quotas = try Self.admitUsage(stored, as: type, name: asked, quotas: Self.objects(state, "resourcequotas", in: namespace))
            }
            state.revision += 1
            stored[path: "metadata.uid"] = stored[path: "metadata.uid"] ?? .string(UUID().uuidString.lowercased())
            stored[path: "metadata.resourceVersion"] = .string(String(state.revision))
            stored[path: "metadata.creationTimestamp"] = .string(now)
            stored[path: "metadata.generation"] = .number(1)
            if type == Self.namespaces {
                stored[path: "status.phase"] = .string("Active")
                if stored[path: "spec.finalizers"] == nil { stored[path: "spec.finalizers"] = .array([.string("kubernetes")]) }
                state.namespaceCreated[name] = clock()
            }
            state.objects[type, default: [:]][key] = stored
            Self.record(&state, Event(type: "ADDED", object: stored, revision: state.revision, resource: type))
            for quota in quotas { Self.store(&state, quota, as: Self.type("resourcequotas")) }
            if type.resource == "pods" { Self.recordScheduling(&state, pod: stored, named: created[path: "spec.nodeName"] != nil, at: clock()) }
            return stored
        }
    }

    /// Replaces an object. A `metadata.resourceVersion` that is not the current one answers 409.
    @discardableResult
    public func update(_ type: ResourceType, namespace: String?, name: String, object: JSON) throws(Status) -> JSON {
        let result = try performUpdate(type, namespace: namespace, name: name, object: object)
        writeCount.add(1, ordering: .relaxed)
        return result
    }

    func performUpdate(_ type: ResourceType, namespace: String?, name: String, object: JSON) throws(Status) -> JSON {
        var object = object
        try stamp(&object, type: type, namespace: namespace)
        guard object[path: "metadata.name"]?.stringValue == name else {
            throw Status(code: 400, reason: "BadRequest", message: "the name of the object (\(object[path: "metadata.name"]?.stringValue ?? "")) does not match the name on the URL (\(name))")
        }
        let replacement = object
        return try state.withLock { state throws(Status) -> JSON in
            let key = Self.key(namespace, name)
            guard let current = state.objects[type]?[key] else { throw Status.notFound(type.resource, name, group: type.group) }
            if let version = replacement[path: "metadata.resourceVersion"]?.stringValue, !version.isEmpty,
               version != current[path: "metadata.resourceVersion"]?.stringValue {
                throw Status.conflict(type.resource, name, group: type.group)
            }
            var replacement = replacement
            if type.group.isEmpty, type.resource == "pods" { Self.admitPodUpdate(&replacement, current: current) }
            let changes = SpecValidation.updateCauses(type, replacement: replacement, current: current)
            if !changes.isEmpty { throw Status.invalid(kind: type.kind, name, causes: changes, group: type.group) }
            if type == PriorityClasses.type {
                try PriorityClasses.admit(replacement, name: name, classes: Array((state.objects[type] ?? [:]).values), isUpdate: true)
            }
            var stored = replacement
            for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"] {
                stored[path: "metadata.\(field)"] = current[path: "metadata.\(field)"]
            }
            if let refusal = Self.newFinalizersWhileDeleting(stored, current: current) { throw Status.invalid(kind: type.kind, name, causes: [refusal], group: type.group) }
            if type.resource == "services" {
                let others = (state.objects[type] ?? [:]).filter { $0.key != key }.map(\.value)
                try SimServices.admit(&stored, name: name, others: others, previous: current)
            }
            // The workloads' status is their controllers' (written through `writeStatus`, as
            // through the status subresource): an update of the object leaves it as it was.
            if type.group == "apps" || type.group == "batch" { stored["status"] = current["status"] }
            // A pod's status is the scheduler's, the kubelet's and the server's (its QoS class).
            if type.group.isEmpty, type.resource == "pods" { stored["status"] = current["status"] }
            if type.resource == "resourcequotas", let namespace {
                if state.quotaControllerDelay > 0 {
                    // The status is the controller's: an update of the quota leaves it as it was.
                    stored["status"] = current["status"]
                    if replacement["spec"] != current["spec"] { syncQuotas(in: namespace, after: state.quotaControllerDelay) }
                } else {
                    stored = Self.recount(stored, state: state, namespace: namespace)
                }
            }
            let generation = Self.number(current[path: "metadata.generation"]) ?? 1
            let specChanged = replacement["spec"] != current["spec"]
            stored[path: "metadata.generation"] = .number(Double(generation + (specChanged ? 1 : 0)))
            if stored.withoutVolatileMetadata == current.withoutVolatileMetadata { return current }
            state.revision += 1
            stored[path: "metadata.resourceVersion"] = .string(String(state.revision))
            state.objects[type, default: [:]][key] = stored
            Self.record(&state, Event(type: "MODIFIED", object: stored, revision: state.revision, resource: type))
            // The last finalizer of an object being deleted taken off: it goes.
            if Self.finalizersDone(stored) { _ = remove(&state, type, namespace: namespace, name: name, propagation: nil) }
            return stored
        }
    }

    /// Deletes an object and returns it. Deleting a namespace deletes everything in it; what the
    /// object owned is then deleted by the garbage collector (`propagation` `Background`, the
    /// default, or `Foreground`: the object stays until they are gone), or kept without its
    /// reference (`Orphan`). An object with finalizers stays, marked, until they are removed.
    @discardableResult
    public func delete(_ type: ResourceType, namespace: String?, name: String, propagation: String? = nil, gracePeriod: Int? = nil) throws(Status) -> JSON {
        let result = try performDelete(type, namespace: namespace, name: name, propagation: propagation, gracePeriod: gracePeriod)
        writeCount.add(1, ordering: .relaxed)
        return result
    }

    func performDelete(_ type: ResourceType, namespace: String?, name: String, propagation: String? = nil, gracePeriod: Int? = nil) throws(Status) -> JSON {
        if type == Self.namespaces { return try beginTermination(name) }
        if type.resource == "pods", let namespace, let terminating = try beginPodTermination(namespace, name, gracePeriod: gracePeriod) { return terminating }
        return try state.withLock { state throws(Status) -> JSON in
            guard let current = state.objects[type]?[Self.key(namespace, name)] else { throw Status.notFound(type.resource, name, group: type.group) }
            // An object with finalizers (or deleted in the foreground) stays, marked, until they are done.
            if let held = holdForFinalizers(&state, current, type: type, propagation: propagation, gracePeriod: gracePeriod) { return held }
            return remove(&state, type, namespace: namespace, name: name, propagation: propagation)
        }
    }

    // MARK: Helpers

    static func record(_ state: inout State, _ event: Event) {
        if event.resource.group == "rbac.authorization.k8s.io" { state.rbacRevision += 1 }
        state.owners.note(event)
        state.history.append(event)
        state.work?.notice(event)
        if state.history.count > historyLimit + historyLimit / 4 {
            let dropped = state.history.count - historyLimit
            state.expiredBelow = max(state.expiredBelow, state.history[dropped - 1].revision + 1)
            state.history.removeFirst(dropped)
        }
        if state.watchers.values.contains(where: { $0.ended.isSet }) { state.watchers = state.watchers.filter { !$0.value.ended.isSet } }
        for watcher in state.watchers.values where matches(event, watcher) { watcher.continuation.yield(event) }
    }

    static func matches(_ event: Event, _ watcher: Watcher) -> Bool {
        guard event.resource == watcher.resource else { return false }
        if let namespace = watcher.namespace, event.object[path: "metadata.namespace"]?.stringValue != namespace { return false }
        return watcher.selector.matches(event.object[path: "metadata.labels"]?.stringMap ?? [:])
    }

    static func key(_ namespace: String?, _ name: String) -> String { "\(namespace ?? "")/\(name)" }

    static func number(_ value: JSON?) -> Int64? {
        if case .number(let number) = value { return Int64(number) }
        return nil
    }
}
