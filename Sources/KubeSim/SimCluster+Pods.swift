import Foundation
import KubeAPI

/// Graceful pod deletion, as the API server and a kubelet do it: a DELETE marks a running pod
/// (`deletionTimestamp` its grace period ahead, `deletionGracePeriodSeconds`) and answers it,
/// still there and `Terminating`; its controller no longer counts it, but the quota does until
/// it is gone; the pod goes once its containers have stopped, `podTerminationDelay` later.
extension SimCluster {
    /// How long a deleted pod's containers take to stop before the pod goes (a real cluster: a
    /// second or so for a process that exits on SIGTERM, up to the grace period for one that
    /// does not). Zero (the default) deletes pods at once, as does a grace period of 0
    /// (`kubectl delete --force --grace-period=0`) or a pod never bound to a node.
    public var podTerminationDelay: TimeInterval {
        get { state.withLock { $0.podTerminationDelay } }
        set { state.withLock { $0.podTerminationDelay = newValue } }
    }

    /// Marks the pod terminating and answers it; `nil` when it is to be deleted at once.
    func beginPodTermination(_ namespace: String, _ name: String, gracePeriod: Int?) throws(Status) -> JSON? {
        let now = clock()
        return try state.withLock { state throws(Status) -> JSON? in
            let pods = Self.type("pods"), key = Self.key(namespace, name)
            guard let pod = state.objects[pods]?[key] else { throw Status.notFound("pods", name) }
            guard state.podTerminationDelay > 0, pod[path: "spec.nodeName"] != nil else { return nil }
            let grace = gracePeriod ?? SimControllers.int(pod[path: "spec.terminationGracePeriodSeconds"]) ?? 30
            guard grace > 0 else { return nil }
            // Deleted again while terminating: the pod as it is (a real server may shorten the
            // grace period; nothing here waits for it).
            if pod[path: "metadata.deletionTimestamp"] != nil { return pod }
            var marked = pod
            marked[path: "metadata.deletionTimestamp"] = .string(KubeTime.format(now.addingTimeInterval(TimeInterval(grace))))
            marked[path: "metadata.deletionGracePeriodSeconds"] = .number(Double(grace))
            state.revision += 1
            marked[path: "metadata.resourceVersion"] = .string(String(state.revision))
            state.objects[pods]?[key] = marked
            Self.record(&state, Event(type: "MODIFIED", object: marked, revision: state.revision, resource: pods))
            let uid = pod[path: "metadata.uid"]?.stringValue ?? ""
            state.work?.add(.podStopped(namespace: namespace, name: name, uid: uid), after: min(state.podTerminationDelay, TimeInterval(grace)))
            return marked
        }
    }

    /// The kubelet's last word on a terminating pod: it goes (unless it went or was replaced).
    func finishPodTermination(_ namespace: String, _ name: String, uid: String) -> Bool {
        guard let pod = current("pods", namespace, name), pod[path: "metadata.uid"]?.stringValue == uid,
              pod[path: "metadata.deletionTimestamp"] != nil else { return true }
        _ = try? performDelete(Self.type("pods"), namespace: namespace, name: name, gracePeriod: 0)
        return true
    }
}
