import Foundation
import KubeAPI

/// The admission steps of `SimCluster` that run inside its lock: object counts, quota recounts,
/// the default ServiceAccount, node binding and scheduling events.
extension SimCluster {
    /// The quota key that counts objects of `type`: `count/configmaps`, `count/deployments.apps`.
    static func countKey(_ type: ResourceType) -> String {
        type.group.isEmpty ? "count/\(type.resource)" : "count/\(type.resource).\(type.group)"
    }

    /// Object-count quota admission for kinds other than pods; returns the quotas with the new
    /// object counted.
    static func admitCount(_ type: ResourceType, name: String, quotas: [JSON]) throws(Status) -> [JSON] {
        let key = countKey(type)
        var updated: [JSON] = []
        for quota in quotas {
            let hard = PodAdmission.quantities(quota[path: "status.hard"])
            guard let limit = hard[key] else { continue }
            let used = PodAdmission.quantities(quota[path: "status.used"])[key] ?? .zero
            if used + Quantity(1) > limit {
                let quotaName = quota[path: "metadata.name"]?.stringValue ?? ""
                throw Status.admissionForbidden(type.resource, name, reason: "exceeded quota: \(quotaName), requested: \(key)=1, used: \(key)=\(used.canonical), limited: \(key)=\(limit.canonical)", group: type.group)
            }
            var next = quota
            var usedMap = next[path: "status.used"]?.objectValue ?? [:]
            usedMap[key] = .string((used + Quantity(1)).canonical)
            next[path: "status.used"] = .object(usedMap)
            updated.append(next)
        }
        return updated
    }

    /// A quota with `status` recomputed from the namespace's pods and object counts.
    static func recount(_ quota: JSON, state: State, namespace: String) -> JSON {
        var next = PodAdmission.recount(quota, pods: objects(state, "pods", in: namespace))
        for key in (quota[path: "spec.hard"]?.objectValue ?? [:]).keys where key.hasPrefix("count/") && key != "count/pods" {
            guard let type = ResourceType.known.first(where: { countKey($0) == key }) else { continue }
            let count = (state.objects[type] ?? [:]).keys.filter { $0.hasPrefix("\(namespace)/") }.count
            var used = next[path: "status.used"]?.objectValue ?? [:]
            used[key] = .string(Quantity(count).canonical)
            next[path: "status.used"] = .object(used)
        }
        return next
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

    /// Pods need the namespace's `default` ServiceAccount, which appears `delay` after the
    /// namespace.
    static func requireServiceAccount(_ state: inout State, pod: String, namespace: String, delay: TimeInterval, now: Date) throws(Status) {
        guard createAccountIfDue(&state, namespace: namespace, delay: delay, now: now) else {
            throw Status.admissionForbidden("pods", pod, reason: "error looking up service account \(namespace)/default: serviceaccount \"default\" not found")
        }
    }

    /// The controller-manager's service-account controller, run lazily: every namespace (not
    /// being deleted) whose `default` ServiceAccount is due, `delay` after the namespace was
    /// created, gets it. Run before service accounts are read and before a pod is admitted, so
    /// that reads see what they would had it run on time (a watch sees the account at the next
    /// such read, not at its due time).
    static func createDueAccounts(_ state: inout State, delay: TimeInterval, now: Date) {
        for namespace in (state.objects[namespaces] ?? [:]).values where namespace[path: "status.phase"]?.stringValue != "Terminating" {
            guard let name = namespace[path: "metadata.name"]?.stringValue else { continue }
            createAccountIfDue(&state, namespace: name, delay: delay, now: now)
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
        state.revision += 1
        let account: JSON = .object([
            "apiVersion": .string("v1"), "kind": .string("ServiceAccount"),
            "metadata": .object(["name": .string("default"), "namespace": .string(namespace), "uid": .string(UUID().uuidString.lowercased()),
                                 "resourceVersion": .string(String(state.revision)), "creationTimestamp": .string(KubeTime.format(now))]),
        ])
        state.objects[accounts, default: [:]][key(namespace, "default")] = account
        record(&state, Event(type: "ADDED", object: account, revision: state.revision, resource: accounts))
        return true
    }

    /// Binds a pod to the first node that fits it (Running), or leaves it Pending.
    static func schedule(_ pod: inout JSON, state: State) {
        let nodes = Array((state.objects[type("nodes")] ?? [:]).values)
        let pods = Array((state.objects[type("pods")] ?? [:]).values)
        if let node = pod[path: "spec.nodeName"]?.stringValue ?? PodAdmission.fit(pod, nodes: nodes, pods: pods) {
            pod[path: "spec.nodeName"] = .string(node)
            pod[path: "status.phase"] = .string("Running")
            let index = pods.count % 250 + 2
            pod[path: "status.podIP"] = .string("10.244.\(pods.count / 250 % 250).\(index)")
        } else {
            pod[path: "status.phase"] = .string("Pending")
        }
    }

    /// The `FailedScheduling` event of a pod no node can take.
    static func recordSchedulingFailure(_ state: inout State, pod: JSON, namespace: String, time: String) {
        let podName = pod[path: "metadata.name"]?.stringValue ?? ""
        let nodeCount = state.objects[type("nodes")]?.count ?? 0
        let name = "\(podName).\(String(state.revision, radix: 16))"
        state.revision += 1
        let event: JSON = .object([
            "apiVersion": .string("v1"), "kind": .string("Event"),
            "metadata": .object(["name": .string(name), "namespace": .string(namespace), "uid": .string(UUID().uuidString.lowercased()),
                                 "resourceVersion": .string(String(state.revision)), "creationTimestamp": .string(time)]),
            "involvedObject": .object(["kind": .string("Pod"), "name": .string(podName), "namespace": .string(namespace),
                                       "uid": pod[path: "metadata.uid"] ?? .null]),
            "reason": .string("FailedScheduling"), "type": .string("Warning"), "count": .number(1),
            "message": .string("0/\(nodeCount) nodes are available: \(nodeCount) Insufficient cpu or memory."),
            "firstTimestamp": .string(time), "lastTimestamp": .string(time), "source": .object(["component": .string("default-scheduler")]),
        ])
        state.objects[type("events"), default: [:]][key(namespace, name)] = event
        record(&state, Event(type: "ADDED", object: event, revision: state.revision, resource: type("events")))
    }

}
