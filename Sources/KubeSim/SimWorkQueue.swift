import Foundation
import KubeAPI
import Synchronization

/// What a KubeSim controller is asked to look at: one workload, the dependents of an object
/// that went, or every DaemonSet (the nodes changed).
enum ControllerKey: Hashable, Sendable {
    case workload(kind: String, namespace: String, name: String)
    /// The objects whose `ownerReferences` name `uid`: deleted (`Background` or `Foreground`
    /// propagation), or orphaned (`Orphan`: their reference to it removed).
    case dependents(uid: String, namespace: String?, propagation: String)
    /// An object deleted in the foreground, due to go once its dependents have gone.
    case foregroundOwner(type: ResourceType, namespace: String?, name: String)
    case daemonSets
    /// A terminating namespace, due to be emptied and removed.
    case namespace(String)
    /// A namespace's `kube-root-ca.crt` ConfigMap, due to be created or put right.
    case rootCA(namespace: String)
    /// A terminating pod whose containers have stopped (the kubelet's part): due to go.
    case podStopped(namespace: String, name: String, uid: String)
    /// A new namespace's `default` ServiceAccount, due `serviceAccountDelay` after it was made.
    case serviceAccount(namespace: String)
    /// The pods the scheduler could not place, to try again (a pod went, a node changed).
    case pendingPods
}

/// The controller-manager's work queue, as client-go's: a key waiting is queued once however
/// often it is added; a key whose sync failed is added again after a per-key exponential
/// back-off (5 ms doubling, at most 1,000 s: client-go's default controller rate limiter), and
/// forgotten on success.
final class SimWorkQueue: Sendable {
    let keys: AsyncStream<ControllerKey>
    private let input: AsyncStream<ControllerKey>.Continuation
    private let pending = Mutex<Set<ControllerKey>>([])
    private let failures = Mutex<[ControllerKey: Int]>([:])
    private let wakeUps = Mutex<[ControllerKey: ContinuousClock.Instant]>([:])

    /// How long after a namespace is made its `default` ServiceAccount is due.
    let serviceAccountDelay: TimeInterval

    init(serviceAccountDelay: TimeInterval = 0) {
        self.serviceAccountDelay = serviceAccountDelay
        (keys, input) = AsyncStream<ControllerKey>.makeStream()
    }

    func add(_ key: ControllerKey) {
        if pending.withLock({ $0.insert(key).inserted }) { input.yield(key) }
    }

    /// Takes `key` off the waiting set as its sync begins: changes during the sync queue it again.
    func begin(_ key: ControllerKey) {
        _ = pending.withLock { $0.remove(key) }
    }

    /// Adds `key` once `delay` seconds have passed (client-go's `AddAfter`), at once without a delay.
    func add(_ key: ControllerKey, after delay: TimeInterval) {
        guard delay > 0 else { return add(key) }
        Task { [weak self] in
            try? await Task.sleep(for: .seconds(delay))
            self?.add(key)
        }
    }

    /// Adds `key` after `delay` seconds unless a wake-up already due no later is waiting: a
    /// controller that asks on every sync to be woken when its next run is due (the CronJob
    /// controller) keeps one waiting task, not one per sync.
    func wake(_ key: ControllerKey, after delay: TimeInterval) {
        let due = ContinuousClock.now + .seconds(delay)
        let earlier = wakeUps.withLock { wakeUps -> Bool in
            if let waiting = wakeUps[key], waiting <= due, waiting > .now { return true }
            wakeUps[key] = due
            return false
        }
        guard !earlier else { return }
        Task { [weak self] in
            try? await Task.sleep(until: due)
            guard let self else { return }
            wakeUps.withLock { if $0[key] == due { $0[key] = nil } }
            add(key)
        }
    }

    func retryLater(_ key: ControllerKey) {
        let attempts = failures.withLock { failures in
            failures[key, default: 0] += 1
            return failures[key]!
        }
        add(key, after: min(0.005 * pow(2, Double(min(attempts - 1, 30))), 1000))
    }

    func forget(_ key: ControllerKey) {
        _ = failures.withLock { $0.removeValue(forKey: key) }
    }

    func finish() { input.finish() }

    /// The keys a change queues: the workload changed, or the owner of a pod or ReplicaSet that
    /// changed; every DaemonSet when a node comes or goes; the pending pods when a node changes
    /// or a pod goes.
    func notice(_ event: SimCluster.Event) {
        let object = event.object
        // A dependent gone may be the last an owner deleted in the foreground waits for.
        if event.type == "DELETED" {
            for reference in object[path: "metadata.ownerReferences"]?.arrayValue ?? [] {
                guard let kind = reference["kind"]?.stringValue, let name = reference["name"]?.stringValue,
                      let type = ResourceType.known.first(where: { $0.kind == kind && $0.apiVersion == reference["apiVersion"]?.stringValue }) else { continue }
                add(.foregroundOwner(type: type, namespace: type.isNamespaced ? object[path: "metadata.namespace"]?.stringValue : nil, name: name))
            }
        }
        switch (event.resource.group, event.resource.resource) {
        case ("", "nodes"):
            if event.type != "MODIFIED" { add(.daemonSets) }
            add(.pendingPods)
            return
        case ("", "namespaces"):
            if event.type == "ADDED", let name = object[path: "metadata.name"]?.stringValue {
                add(.rootCA(namespace: name))
                add(.serviceAccount(namespace: name), after: serviceAccountDelay)
            }
            return
        case ("", "configmaps"):
            if object[path: "metadata.name"]?.stringValue == SimCluster.rootCAName, event.type != "ADDED",
               let namespace = object[path: "metadata.namespace"]?.stringValue {
                add(.rootCA(namespace: namespace))
            }
            return
        case ("apps", _), ("batch", "jobs"), ("batch", "cronjobs"):
            if event.type != "DELETED", let namespace = object[path: "metadata.namespace"]?.stringValue,
               let name = object[path: "metadata.name"]?.stringValue {
                add(.workload(kind: event.resource.kind, namespace: namespace, name: name))
            }
        case ("", "pods"):
            if event.type == "DELETED" { add(.pendingPods) }
        default:
            return
        }
        if let owner = SimControllers.controllerReference(of: object), let namespace = object[path: "metadata.namespace"]?.stringValue {
            add(.workload(kind: owner.kind, namespace: namespace, name: owner.name))
        }
    }
}
