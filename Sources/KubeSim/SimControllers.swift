import Foundation
import KubeAPI

/// What the pieces of a controller-manager share: owner references, pods from templates,
/// template hashes and the conditions controllers keep.
enum SimControllers {
    struct Reference: Equatable {
        var kind: String
        var name: String
        var uid: String
    }

    /// The owner reference marked `controller: true`, if any.
    static func controllerReference(of object: JSON) -> Reference? {
        for owner in object[path: "metadata.ownerReferences"]?.arrayValue ?? [] where owner["controller"] == .bool(true) {
            guard let kind = owner["kind"]?.stringValue, let name = owner["name"]?.stringValue, let uid = owner["uid"]?.stringValue else { continue }
            return Reference(kind: kind, name: name, uid: uid)
        }
        return nil
    }

    /// A controller's reference to `owner`, as the built-in controllers write it.
    static func ownerReference(to owner: JSON) -> JSON {
        .object([
            "apiVersion": owner["apiVersion"] ?? .null, "kind": owner["kind"] ?? .null,
            "name": owner[path: "metadata.name"] ?? .null, "uid": owner[path: "metadata.uid"] ?? .null,
            "controller": .bool(true), "blockOwnerDeletion": .bool(true),
        ])
    }

    /// A pod (or other object) made from `template`, owned by `owner`, with `labels` added.
    static func object(kind: String, apiVersion: String, from template: JSON?, owner: JSON?, namespace: String,
                       name: String? = nil, generateName: String? = nil, labels: [String: String] = [:]) -> JSON {
        var metadata = template?["metadata"]?.objectValue ?? [:]
        var allLabels = metadata["labels"]?.objectValue ?? [:]
        for (key, value) in labels { allLabels[key] = .string(value) }
        metadata["labels"] = allLabels.isEmpty ? nil : .object(allLabels)
        metadata["namespace"] = .string(namespace)
        metadata["name"] = name.map(JSON.string)
        metadata["generateName"] = generateName.map(JSON.string)
        metadata["ownerReferences"] = owner.map { .array([ownerReference(to: $0)]) }
        return .object([
            "apiVersion": .string(apiVersion), "kind": .string(kind),
            "metadata": .object(metadata), "spec": template?["spec"] ?? .object([:]),
        ])
    }

    /// A pod that still counts: not finished, not being deleted.
    static func isActive(_ pod: JSON) -> Bool {
        let phase = pod[path: "status.phase"]?.stringValue
        return phase != "Succeeded" && phase != "Failed" && pod[path: "metadata.deletionTimestamp"] == nil
    }

    static func isRunning(_ pod: JSON) -> Bool { pod[path: "status.phase"]?.stringValue == "Running" }

    /// When the pod's `Ready` condition last became true.
    static func readySince(_ pod: JSON) -> Date? {
        let ready = pod[path: "status.conditions"]?.arrayValue?.first { $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True" }
        return ready?["lastTransitionTime"]?.stringValue.flatMap(KubeTime.parse)
    }

    /// The template revision a StatefulSet's or DaemonSet's pod was made from.
    static func revisionHash(of pod: JSON) -> String? { pod[path: "metadata.labels"]?["controller-revision-hash"]?.stringValue }

    /// The `pod-template-hash` of a template: FNV-1a (32 bits) of its serialized form, its
    /// decimal digits mapped onto the alphabet of Kubernetes' `SafeEncodeString`, as the
    /// deployment controller names its ReplicaSets (`web-7d9f8c6b5`). Nulls and empty objects
    /// and lists do not count, as zero values do not in the real hash of a Go struct: a template
    /// `kubectl rollout undo` sends back (`creationTimestamp: null`) is the same template.
    static func templateHash(_ template: JSON) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in (withoutEmpties(template) ?? .object([:])).serialized() {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(String(hash).utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    private static func withoutEmpties(_ value: JSON) -> JSON? {
        switch value {
        case .null: return nil
        case .object(let fields):
            let kept = fields.compactMapValues(withoutEmpties)
            return kept.isEmpty ? nil : .object(kept)
        case .array(let items):
            return items.isEmpty ? nil : .array(items.map { withoutEmpties($0) ?? .null })
        default: return value
        }
    }

    static func int(_ value: JSON?) -> Int? { value?.numberValue.map { Int($0) } }

    /// A Deployment's ReplicaSet for its current template: `<name>-<hash>`, the hash in its
    /// labels, selector and pod template, its revision and wanted and most replicas in annotations.
    static func replicaSet(of deployment: JSON, hash: String, replicas: Int, revision: Int, maxReplicas: Int) -> JSON {
        let name = deployment[path: "metadata.name"]?.stringValue ?? "", namespace = deployment[path: "metadata.namespace"]?.stringValue ?? ""
        var template = deployment[path: "spec.template"] ?? .object([:])
        template[path: "metadata.labels"] = .object((template[path: "metadata.labels"]?.objectValue ?? [:]).merging(["pod-template-hash": .string(hash)]) { $1 })
        var set = object(kind: "ReplicaSet", apiVersion: "apps/v1", from: nil, owner: deployment, namespace: namespace, name: "\(name)-\(hash)")
        set[path: "metadata.labels"] = template[path: "metadata.labels"]
        set[path: "metadata.annotations"] = .object([
            "deployment.kubernetes.io/desired-replicas": .string(String(SimControllers.int(deployment[path: "spec.replicas"]) ?? 1)),
            "deployment.kubernetes.io/max-replicas": .string(String(maxReplicas)),
            "deployment.kubernetes.io/revision": .string(String(revision)),
        ])
        var selector = deployment[path: "spec.selector"] ?? .object([:])
        selector["matchLabels"] = .object((selector["matchLabels"]?.objectValue ?? [:]).merging(["pod-template-hash": .string(hash)]) { $1 })
        set["spec"] = .object(["replicas": .number(Double(replicas)), "selector": selector, "template": template])
        set[path: "spec.minReadySeconds"] = deployment[path: "spec.minReadySeconds"]
        return set
    }

    /// A status's conditions, each with its transition time kept from `previous` while its
    /// status stays, and its update time while its reason and message stay too.
    static func conditions(_ wanted: [(type: String, status: String, reason: String, message: String)], previous: JSON?,
                           now: String, updateTimes: Bool) -> JSON? {
        guard !wanted.isEmpty else { return nil }
        let before = previous?.arrayValue ?? []
        return .array(wanted.map { condition in
            let old = before.first { $0["type"]?.stringValue == condition.type }
            let same = old?["status"]?.stringValue == condition.status
            let unchanged = same && old?["reason"]?.stringValue == condition.reason && old?["message"]?.stringValue == condition.message
            var fields: [String: JSON] = [
                "type": .string(condition.type), "status": .string(condition.status),
                "reason": .string(condition.reason), "message": .string(condition.message),
                "lastTransitionTime": same ? old?["lastTransitionTime"] ?? .string(now) : .string(now),
            ]
            if updateTimes { fields["lastUpdateTime"] = unchanged ? old?["lastUpdateTime"] ?? .string(now) : .string(now) }
            return .object(fields)
        })
    }
}

/// KubeSim's controller-manager: the ReplicaSet, Deployment, StatefulSet, DaemonSet, Job and
/// CronJob controllers and the garbage collector, run one key at a time from the cluster's work queue.
/// Their pods pass the same admission as any (quota, limit ranges, the default ServiceAccount)
/// and what is refused is reported as a real controller reports it: a `FailedCreate` event
/// (`Error creating: pods "web-7d9f8c6b5-" is forbidden: exceeded quota: …`) and a retry after
/// the queue's back-off.
extension SimCluster {
    func process(_ key: ControllerKey, from queue: SimWorkQueue) {
        queue.begin(key)
        if sync(key) { queue.forget(key) } else { queue.retryLater(key) }
    }

    /// One key's sync; `false` when something failed and the key is to be tried again.
    func sync(_ key: ControllerKey) -> Bool {
        switch key {
        case .workload(let kind, let namespace, let name):
            switch kind {
            case "Deployment": return syncDeployment(namespace, name)
            case "ReplicaSet": return syncReplicaSet(namespace, name)
            case "StatefulSet": return syncStatefulSet(namespace, name)
            case "DaemonSet": return syncDaemonSet(namespace, name)
            case "Job": return syncJob(namespace, name)
            case "CronJob": return syncCronJob(namespace, name)
            default: return true
            }
        case .dependents(let uid, let namespace, let propagation):
            return collect(dependentsOf: uid, in: namespace, propagation: propagation)
        case .foregroundOwner(let type, let namespace, let name):
            return finishForegroundDeletion(type, namespace: namespace, name: name)
        case .namespace(let name):
            return finishTermination(name)
        case .rootCA(let namespace):
            return publishRootCA(in: namespace)
        case .podStopped(let namespace, let name, let uid):
            return finishPodTermination(namespace, name, uid: uid)
        case .serviceAccount(let namespace):
            return createServiceAccount(in: namespace)
        case .pendingPods:
            return schedulePending()
        case .daemonSets:
            let sets = state.withLock { Array(($0.objects[Self.type("daemonsets")] ?? [:]).values) }
            for set in sets {
                guard let namespace = set[path: "metadata.namespace"]?.stringValue, let name = set[path: "metadata.name"]?.stringValue else { continue }
                state.withLock { $0.work }?.add(.workload(kind: "DaemonSet", namespace: namespace, name: name))
            }
            return true
        }
    }

    /// The garbage collector: the objects owned by `uid` are deleted (each deletion collecting
    /// in turn what that object owned), or with `Orphan` keep living without the reference.
    func collect(dependentsOf uid: String, in namespace: String?, propagation: String) -> Bool {
        let dependents = state.withLock { state -> [(ResourceType, JSON)] in
            state.owners.dependents(of: uid).compactMap { reference -> (ResourceType, JSON)? in
                guard reference.type.isNamespaced || namespace == nil, namespace == nil || reference.namespace == namespace,
                      let object = state.objects[reference.type]?[Self.key(reference.namespace, reference.name)] else { return nil }
                return (reference.type, object)
            }
        }
        for (type, object) in dependents {
            guard let name = object[path: "metadata.name"]?.stringValue else { continue }
            let space = object[path: "metadata.namespace"]?.stringValue
            if propagation == "Orphan" {
                var kept = object
                let references = (object[path: "metadata.ownerReferences"]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
                kept[path: "metadata.ownerReferences"] = references.isEmpty ? nil : .array(references)
                _ = try? performUpdate(type, namespace: space, name: name, object: kept)
            } else {
                // An owner deleted in the foreground has its dependents deleted so too.
                _ = try? performDelete(type, namespace: space, name: name, propagation: propagation == "Foreground" ? "Foreground" : "Background")
            }
        }
        return true
    }

    // MARK: Reading and writing for controllers

    func current(_ resource: String, _ namespace: String?, _ name: String) -> JSON? {
        state.withLock { $0.objects[Self.type(resource)]?[Self.key(namespace, name)] }
    }

    /// The objects of one kind in `namespace` whose controller is `uid`.
    func owned(_ resource: String, in namespace: String, by uid: String) -> [JSON] {
        state.withLock { Self.objects($0, resource, in: namespace) }.filter { SimControllers.controllerReference(of: $0)?.uid == uid }
    }

    /// Creates an object as a controller does: through admission, not counted as a client's write.
    func createControlled(_ resource: String, namespace: String, _ object: JSON) -> Result<JSON, Status> {
        do throws(Status) { return .success(try performCreate(Self.type(resource), namespace: namespace, object: object)) } catch {
            return .failure(error)
        }
    }

    /// Replaces an object's `status` through the status subresource: no change, no new
    /// revision; an object gone meanwhile is left gone.
    func writeStatus(_ resource: String, _ namespace: String, _ name: String, _ status: [String: JSON]) {
        _ = try? replaceStatus(Self.type(resource), namespace: namespace, name: name, with: .object(["status": .object(status)]))
    }

    /// Records an event about `involved`, or counts it again on the one already recorded with
    /// the same reason, message and source (the event recorder's aggregation: `x5 over 30s`).
    func recordEvent(about involved: JSON, reason: String, warning: Bool = false, message: String, component: String) {
        let now = clock()
        state.withLock { state in
            Self.recordEvent(&state, about: involved, reason: reason, warning: warning, message: message, component: component, at: now)
        }
    }

    static func recordEvent(_ state: inout State, about involved: JSON, reason: String, warning: Bool, message: String, component: String, at date: Date) {
        guard let namespace = involved[path: "metadata.namespace"]?.stringValue,
              let space = state.objects[namespaces]?[key(nil, namespace)], space[path: "status.phase"]?.stringValue != "Terminating",
              let involvedName = involved[path: "metadata.name"]?.stringValue
        else { return }
        let time = KubeTime.format(date)
        let uid = involved[path: "metadata.uid"]
        let events = type("events")
        if var seen = objects(state, "events", in: namespace).first(where: {
            $0[path: "involvedObject.uid"] == uid && $0["reason"]?.stringValue == reason && $0["message"]?.stringValue == message
                && $0[path: "source.component"]?.stringValue == component
        }) {
            seen["count"] = .number(Double((SimControllers.int(seen["count"]) ?? 1) + 1))
            seen["lastTimestamp"] = .string(time)
            store(&state, seen, as: events)
            return
        }
        var name = "\(involvedName).\(String(UInt64(max(0, date.timeIntervalSince1970) * 1e9), radix: 16))"
        while state.objects[events]?[key(namespace, name)] != nil { name += "0" }
        state.revision += 1
        let event: JSON = .object([
            "apiVersion": .string("v1"), "kind": .string("Event"),
            "metadata": .object(["name": .string(name), "namespace": .string(namespace), "uid": .string(UUID().uuidString.lowercased()),
                                 "resourceVersion": .string(String(state.revision)), "creationTimestamp": .string(time)]),
            "involvedObject": .object(["kind": involved["kind"] ?? .null, "apiVersion": involved["apiVersion"] ?? .null,
                                       "name": .string(involvedName), "namespace": .string(namespace), "uid": uid ?? .null,
                                       "resourceVersion": involved[path: "metadata.resourceVersion"] ?? .null]),
            "reason": .string(reason), "message": .string(message), "type": .string(warning ? "Warning" : "Normal"),
            "count": .number(1), "firstTimestamp": .string(time), "lastTimestamp": .string(time),
            "source": .object(["component": .string(component)]), "reportingComponent": .string(component), "reportingInstance": .string(""),
        ])
        state.objects[events, default: [:]][key(namespace, name)] = event
        record(&state, Event(type: "ADDED", object: event, revision: state.revision, resource: events))
    }

    // MARK: ReplicaSets and Deployments

    /// Keeps `spec.replicas` pods of the set: missing ones are created in batches of 1, 2, 4 …
    /// (the controller's slow start: a refusal ends the sync), surplus ones deleted (pending
    /// first, then the newest).
    func syncReplicaSet(_ namespace: String, _ name: String) -> Bool {
        guard let set = current("replicasets", namespace, name), set[path: "metadata.deletionTimestamp"] == nil,
              let uid = set[path: "metadata.uid"]?.stringValue else { return true }
        let wanted = SimControllers.int(set[path: "spec.replicas"]) ?? 1
        var pods = owned("pods", in: namespace, by: uid).filter(SimControllers.isActive)
        var failure: Status?
        if pods.count < wanted {
            var batch = 1
            creating: while pods.count < wanted {
                for _ in 0..<min(batch, wanted - pods.count) {
                    let pod = SimControllers.object(kind: "Pod", apiVersion: "v1", from: set[path: "spec.template"], owner: set, namespace: namespace, generateName: "\(name)-")
                    switch createControlled("pods", namespace: namespace, pod) {
                    case .success(let created):
                        pods.append(created)
                        recordEvent(about: set, reason: "SuccessfulCreate", message: "Created pod: \(created[path: "metadata.name"]?.stringValue ?? "")", component: "replicaset-controller")
                    case .failure(let status):
                        failure = status
                        recordEvent(about: set, reason: "FailedCreate", warning: true, message: "Error creating: \(status.message ?? "")", component: "replicaset-controller")
                        break creating
                    }
                }
                batch *= 2
            }
        } else if pods.count > wanted {
            let order = pods.sorted { a, b in
                let (pendingA, pendingB) = (!SimControllers.isRunning(a), !SimControllers.isRunning(b))
                if pendingA != pendingB { return pendingA }
                return (a[path: "metadata.creationTimestamp"]?.stringValue ?? "") > (b[path: "metadata.creationTimestamp"]?.stringValue ?? "")
            }
            for pod in order.prefix(pods.count - wanted) {
                guard let podName = pod[path: "metadata.name"]?.stringValue, (try? performDelete(Self.type("pods"), namespace: namespace, name: podName)) != nil else { continue }
                pods.removeAll { $0[path: "metadata.name"]?.stringValue == podName }
                recordEvent(about: set, reason: "SuccessfulDelete", message: "Deleted pod: \(podName)", component: "replicaset-controller")
            }
        }
        let running = pods.count(where: SimControllers.isRunning)
        // Available (`IsPodAvailable`): ready, and with `minReadySeconds` ready longer than that;
        // the set is looked at again when the next one is due.
        let minReady = TimeInterval(SimControllers.int(set[path: "spec.minReadySeconds"]) ?? 0), now = clock()
        let readySince = pods.filter(SimControllers.isRunning).map { SimControllers.readySince($0) ?? .distantPast }
        let available = minReady == 0 ? running : readySince.count { now.timeIntervalSince($0) > minReady }
        if minReady > 0, let next = readySince.map({ minReady - now.timeIntervalSince($0) }).filter({ $0 >= 0 }).min(), let queue = state.withLock({ $0.work }) {
            queue.wake(.workload(kind: "ReplicaSet", namespace: namespace, name: name), after: next + 0.05)
        }
        var status: [String: JSON] = ["replicas": .number(Double(pods.count)), "observedGeneration": set[path: "metadata.generation"] ?? .number(1)]
        for field in ["fullyLabeledReplicas"] where !pods.isEmpty { status[field] = .number(Double(pods.count)) }
        if running > 0 { status["readyReplicas"] = .number(Double(running)) }
        if available > 0 { status["availableReplicas"] = .number(Double(available)) }
        let wantedConditions = failure.map { [(type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: $0.message ?? "")] } ?? []
        status["conditions"] = SimControllers.conditions(wantedConditions, previous: set[path: "status.conditions"], now: KubeTime.format(clock()), updateTimes: false)
        writeStatus("replicasets", namespace, name, status)
        return failure == nil
    }
}
