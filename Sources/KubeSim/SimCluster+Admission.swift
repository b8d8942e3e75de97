import Foundation
import KubeAPI

/// The admission steps of `SimCluster` that run inside its lock: object counts, quota recounts,
/// the default ServiceAccount, node binding and scheduling events.
extension SimCluster {
    /// The quota key that counts objects of `type`: `count/configmaps`, `count/deployments.apps`.
    static func countKey(_ type: ResourceType) -> String {
        type.group.isEmpty ? "count/\(type.resource)" : "count/\(type.resource).\(type.group)"
    }

    /// The core kinds a quota also counts by their plain name (`services`, `secrets` …).
    static let countedByName: Set<String> = ["configmaps", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas", "secrets", "services"]

    /// What one object of `type` (other than a pod) counts against quotas, as a real server's
    /// evaluators count it: its `count/…` key; the plain name for the core kinds that have one; a
    /// claim's `requests.storage`, also per storage class
    /// (`<class>.storageclass.storage.k8s.io/requests.storage` and `…/persistentvolumeclaims`);
    /// a service's `services.loadbalancers` and `services.nodeports`.
    static func usage(of object: JSON, as type: ResourceType) -> [String: Quantity] {
        var usage = [countKey(type): Quantity(1)]
        if type.group.isEmpty, countedByName.contains(type.resource) { usage[type.resource] = Quantity(1) }
        switch (type.group, type.resource) {
        case ("", "persistentvolumeclaims"):
            let storage = PodAdmission.quantities(object[path: "spec.resources.requests"])["storage"]
            if let storage { usage["requests.storage"] = storage }
            if let storageClass = object[path: "spec.storageClassName"]?.stringValue, !storageClass.isEmpty {
                let prefix = "\(storageClass).storageclass.storage.k8s.io/"
                usage[prefix + "persistentvolumeclaims"] = Quantity(1)
                if let storage { usage[prefix + "requests.storage"] = storage }
            }
        case ("", "services"):
            let kind = object[path: "spec.type"]?.stringValue ?? "ClusterIP"
            if kind == "LoadBalancer" { usage["services.loadbalancers"] = Quantity(1) }
            if kind == "LoadBalancer" || kind == "NodePort" {
                usage["services.nodeports"] = Quantity(object[path: "spec.ports"]?.arrayValue?.count ?? 0)
            }
        default:
            break
        }
        return usage
    }

    /// Quota admission for a new object of a kind other than pods; returns the quotas with its
    /// usage added, or throws the API server's refusal (every exceeded resource, sorted).
    static func admitUsage(_ object: JSON, as type: ResourceType, name: String, quotas: [JSON]) throws(Status) -> [JSON] {
        let requested = usage(of: object, as: type)
        var updated: [JSON] = []
        for quota in quotas where QuotaScopes.matches(quota, object, as: type) {
            let hard = PodAdmission.quantities(quota[path: "status.hard"])
            guard hard.keys.contains(where: { requested[$0] != nil }) else { continue }
            let used = PodAdmission.quantities(quota[path: "status.used"])
            let exceeded = hard.keys.filter { key in requested[key].map { (used[key] ?? .zero) + $0 > hard[key]! } ?? false }.sorted()
            if !exceeded.isEmpty {
                func list(_ values: [String: Quantity]) -> String { exceeded.map { "\($0)=\((values[$0] ?? .zero).canonical)" }.joined(separator: ",") }
                let quotaName = quota[path: "metadata.name"]?.stringValue ?? ""
                throw Status.admissionForbidden(
                    type.resource, name, reason: "exceeded quota: \(quotaName), requested: \(list(requested)), used: \(list(used)), limited: \(list(hard))", group: type.group
                )
            }
            var next = quota
            var usedMap = next[path: "status.used"]?.objectValue ?? [:]
            for key in hard.keys { if let delta = requested[key] { usedMap[key] = .string(((used[key] ?? .zero) + delta).canonical) } }
            next[path: "status.used"] = .object(usedMap)
            updated.append(next)
        }
        return updated
    }

    /// The admission chain of a new pod, in a real server's order: the mutating plugins (limit-range
    /// defaults; the ServiceAccount plugin: the account must exist, its token is mounted;
    /// priority; DefaultTolerationSeconds), the pod's validation of its resources, then the
    /// validating ones (Pod Security, quotas, whose updated copies it returns), and scheduling;
    /// the QoS class is set on the way.
    static func admitPod(
        _ pod: inout JSON, _ state: inout State, name: String, asked: String, namespace: String, serviceAccountDelay: TimeInterval, now: Date
    ) throws(Status) -> [JSON] {
        PodAdmission.applyLimitRanges(&pod, limitRanges: objects(state, "limitranges", in: namespace))
        let account = try serviceAccount(of: pod, &state, asked: asked, namespace: namespace, delay: serviceAccountDelay, now: now)
        PodMutations.admitServiceAccount(&pod, account: account)
        try PriorityClasses.admitPod(&pod, asked: asked, classes: Array((state.objects[PriorityClasses.type] ?? [:]).values))
        PodMutations.addDefaultTolerations(&pod)
        try PodAdmission.validateResources(pod, name: name)
        try PodSecurity.check(pod, namespace: state.objects[namespaces]?[key(nil, namespace)])
        pod[path: "status.qosClass"] = .string(PodDefaults.qosClass(pod))
        let quotas = try PodAdmission.admit(pod, named: asked, quotas: objects(state, "resourcequotas", in: namespace))
        schedule(&pod, state: state, now: now)
        return quotas
    }

    /// The mutating admission of a pod's update: the priority kept when the update leaves it
    /// out, DefaultTolerationSeconds' tolerations added again when it leaves them out.
    static func admitPodUpdate(_ pod: inout JSON, current: JSON) {
        PriorityClasses.keepPriority(&pod, current: current)
        PodMutations.addDefaultTolerations(&pod)
    }

    /// A quota with `status` recomputed from the namespace's pods and other objects (those its
    /// scopes match).
    static func recount(_ quota: JSON, state: State, namespace: String) -> JSON {
        var next = PodAdmission.recount(quota, pods: objects(state, "pods", in: namespace))
        let hard = (quota[path: "spec.hard"]?.objectValue ?? [:]).keys
        var used = next[path: "status.used"]?.objectValue ?? [:]
        for type in ResourceType.known where type.isNamespaced && type.resource != "pods" {
            let keys = Set(hard.filter { counts($0, for: type) })
            guard !keys.isEmpty else { continue }
            var sums = Dictionary(uniqueKeysWithValues: keys.map { ($0, Quantity.zero) })
            for object in (state.objects[type] ?? [:]).filter({ $0.key.hasPrefix("\(namespace)/") }).values where QuotaScopes.matches(quota, object, as: type) {
                for (key, value) in usage(of: object, as: type) where keys.contains(key) { sums[key] = sums[key]! + value }
            }
            for (key, sum) in sums { used[key] = .string(sum.canonical) }
        }
        next[path: "status.used"] = .object(used)
        return next
    }

    /// Whether objects of `type` count against the quota resource `key` (see `usage`).
    static func counts(_ key: String, for type: ResourceType) -> Bool {
        if key == countKey(type) || (type.group.isEmpty && countedByName.contains(type.resource) && key == type.resource) { return true }
        guard type.group.isEmpty else { return false }
        switch type.resource {
        case "persistentvolumeclaims":
            return key == "requests.storage" || key.hasSuffix(".storageclass.storage.k8s.io/requests.storage")
                || key.hasSuffix(".storageclass.storage.k8s.io/persistentvolumeclaims")
        case "services":
            return key == "services.loadbalancers" || key == "services.nodeports"
        default:
            return false
        }
    }

    /// The objects of one kind in one namespace.
    static func objects(_ state: State, _ resource: String, in namespace: String) -> [JSON] {
        (state.objects[type(resource)] ?? [:]).filter { $0.key.hasPrefix("\(namespace)/") }.map(\.value)
    }

    /// Saves a changed object under a new revision and tells watchers.
    static func store(_ state: inout State, _ object: JSON, as type: ResourceType) {
        guard let name = object[path: "metadata.name"]?.stringValue else { return }
        var stored = object
        state.revision += 1
        stored[path: "metadata.resourceVersion"] = .string(String(state.revision))
        state.objects[type, default: [:]][key(object[path: "metadata.namespace"]?.stringValue, name)] = stored
        record(&state, Event(type: "MODIFIED", object: stored, revision: state.revision, resource: type))
    }

    /// The ServiceAccount a new pod runs as (`spec.serviceAccountName`, `default` when it names
    /// none), which must exist: the namespace's `default` appears `delay` after the namespace.
    static func serviceAccount(of pod: JSON, _ state: inout State, asked: String, namespace: String, delay: TimeInterval, now: Date) throws(Status) -> JSON {
        let name = pod[path: "spec.serviceAccountName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        if name == "default" { createAccountIfDue(&state, namespace: namespace, delay: delay, now: now) }
        guard let account = state.objects[serviceAccounts]?[key(namespace, name)] else {
            throw Status.admissionForbidden("pods", asked, reason: "error looking up service account \(namespace)/\(name): serviceaccount \"\(name)\" not found")
        }
        return account
    }

    /// The controller-manager's service-account controller: every namespace (not being deleted)
    /// whose `default` ServiceAccount is due, `delay` after the namespace was created, gets it.
    /// Run by the work queue when the account is due (`createServiceAccount`), and also before
    /// service accounts are read and before a pod is admitted, so that reads by a cluster whose
    /// clock a test moves see what they would had it run on time.
    static func createDueAccounts(_ state: inout State, delay: TimeInterval, now: Date) {
        for namespace in (state.objects[namespaces] ?? [:]).values where namespace[path: "status.phase"]?.stringValue != "Terminating" {
            guard let name = namespace[path: "metadata.name"]?.stringValue else { continue }
            createAccountIfDue(&state, namespace: name, delay: delay, now: now)
        }
    }

    /// The service-account controller's timed sync: the account is made when due (watches see
    /// it then, without waiting for a read); `false` while the cluster's clock says it is not due
    /// yet (tried again with the queue's back-off); nothing for a namespace gone or terminating.
    func createServiceAccount(in namespace: String) -> Bool {
        state.withLock { state in
            guard let space = state.objects[Self.namespaces]?[Self.key(nil, namespace)], space[path: "status.phase"]?.stringValue != "Terminating" else { return true }
            return Self.createAccountIfDue(&state, namespace: namespace, delay: serviceAccountDelay, now: clock())
        }
    }

    /// Creates the `default` ServiceAccount of `namespace` when it is due and missing; returns
    /// whether it exists.
    @discardableResult
    private static func createAccountIfDue(_ state: inout State, namespace: String, delay: TimeInterval, now: Date) -> Bool {
        let accounts = serviceAccounts
        if state.objects[accounts]?[key(namespace, "default")] != nil { return true }
        let created = state.namespaceCreated[namespace] ?? .distantPast
        guard now.timeIntervalSince(created) >= delay else { return false }
        var account: JSON = .object([
            "apiVersion": .string("v1"), "kind": .string("ServiceAccount"),
            "metadata": .object(["name": .string("default"), "namespace": .string(namespace), "uid": .string(UUID().uuidString.lowercased()),
                                 "creationTimestamp": .string(KubeTime.format(now))]),
        ])
        // The controller's create passes quota admission as any: a `count/serviceaccounts` quota
        // it would exceed refuses it, and it is tried again (pods wait meanwhile).
        guard let quotas = try? admitUsage(account, as: accounts, name: "default", quotas: objects(state, "resourcequotas", in: namespace)) else { return false }
        state.revision += 1
        account[path: "metadata.resourceVersion"] = .string(String(state.revision))
        state.objects[accounts, default: [:]][key(namespace, "default")] = account
        record(&state, Event(type: "ADDED", object: account, revision: state.revision, resource: accounts))
        for quota in quotas { store(&state, quota, as: type("resourcequotas")) }
        return true
    }

    /// Binds a pod to the first node that fits it
    /// (Running, with a kubelet's status: `PodStatus`), or leaves it Pending with the
    /// scheduler's reason.
    static func schedule(_ pod: inout JSON, state: State, now: Date) {
        let nodes = Array((state.objects[type("nodes")] ?? [:]).values)
        let pods = Array((state.objects[type("pods")] ?? [:]).values)
        if let node = pod[path: "spec.nodeName"]?.stringValue ?? PodAdmission.fit(pod, nodes: nodes, pods: pods) {
            bind(&pod, to: node, state: state, now: now)
        } else {
            PodStatus.unschedulable(&pod, message: PodAdmission.unschedulable(pod, nodes: nodes, pods: pods), at: now)
        }
    }

    /// Binds `pod` to `node`: there, it runs (`PodStatus.started`).
    static func bind(_ pod: inout JSON, to node: String, state: State, now: Date) {
        let count = state.objects[type("pods")]?.count ?? 0
        pod[path: "spec.nodeName"] = .string(node)
        PodStatus.started(&pod, node: state.objects[type("nodes")]?[key(nil, node)], podIP: "10.244.\(count / 250 % 250).\(count % 250 + 2)", at: now)
    }

    /// The scheduler's retry of the pods it could not place, once a pod has gone or a node
    /// changed (its queue's "cluster events"): each `Pending` pod, by priority and then age, is
    /// bound if a node takes it now, with its `Scheduled` event.
    func schedulePending() -> Bool {
        let now = clock()
        state.withLock { state in
            let pods = Self.type("pods")
            let pending = (state.objects[pods] ?? [:]).values.filter {
                $0[path: "status.phase"]?.stringValue == "Pending" && $0[path: "spec.nodeName"] == nil && $0[path: "metadata.deletionTimestamp"] == nil
            }.sorted { left, right in
                let priorities = (left[path: "spec.priority"]?.numberValue ?? 0, right[path: "spec.priority"]?.numberValue ?? 0)
                if priorities.0 != priorities.1 { return priorities.0 > priorities.1 }
                func age(_ pod: JSON) -> String { (pod[path: "metadata.creationTimestamp"]?.stringValue ?? "") + (pod[path: "metadata.name"]?.stringValue ?? "") }
                return age(left) < age(right)
            }
            for var pod in pending {
                let nodes = Array((state.objects[Self.type("nodes")] ?? [:]).values)
                guard let node = PodAdmission.fit(pod, nodes: nodes, pods: Array((state.objects[pods] ?? [:]).values)) else { continue }
                Self.bind(&pod, to: node, state: state, now: now)
                Self.store(&state, pod, as: pods)
                Self.recordScheduling(&state, pod: pod, named: false, at: now)
            }
        }
        return true
    }

    /// What the scheduler records of a new pod: `FailedScheduling` (its `PodScheduled`
    /// condition's message) for one no node can take; `Scheduled` for one it bound (not one
    /// created with its node named, which it never saw; a daemon set's pods, which it binds on a
    /// real cluster, included).
    static func recordScheduling(_ state: inout State, pod: JSON, named node: Bool, at date: Date) {
        if pod[path: "status.phase"]?.stringValue == "Pending" {
            let message = pod[path: "status.conditions"]?.arrayValue?.first { $0["type"]?.stringValue == "PodScheduled" }?["message"]?.stringValue ?? ""
            recordEvent(&state, about: pod, reason: "FailedScheduling", warning: true, message: message, component: "default-scheduler", at: date)
        } else if let nodeName = pod[path: "spec.nodeName"]?.stringValue, !node || SimControllers.controllerReference(of: pod)?.kind == "DaemonSet" {
            let name = "\(pod[path: "metadata.namespace"]?.stringValue ?? "")/\(pod[path: "metadata.name"]?.stringValue ?? "")"
            recordEvent(&state, about: pod, reason: "Scheduled", warning: false, message: "Successfully assigned \(name) to \(nodeName)", component: "default-scheduler", at: date)
        }
    }

    /// The quota controller's pass over one namespace, `delay` seconds from now: every quota's
    /// `status.hard` set to its spec and `status.used` recounted.
    func syncQuotas(in namespace: String, after delay: TimeInterval) {
        Task { [weak self] in
            try? await Task.sleep(for: .seconds(delay))
            self?.state.withLock { state in Self.syncQuotas(&state, in: namespace) }
        }
    }

    static func syncQuotas(_ state: inout State, in namespace: String) {
        for quota in objects(state, "resourcequotas", in: namespace) {
            let recounted = recount(quota, state: state, namespace: namespace)
            if recounted != quota { store(&state, recounted, as: type("resourcequotas")) }
        }
    }
}
