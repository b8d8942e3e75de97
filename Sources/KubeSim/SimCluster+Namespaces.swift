import Foundation
import KubeAPI

/// Namespace deletion as a real server does it: the delete marks the namespace `Terminating`
/// (its `deletionTimestamp` set, new content refused), and the namespace controller, after
/// `namespaceDeletionDelay`, deletes everything in it and then the namespace itself.
extension SimCluster {
    /// The DELETE of a namespace: marked and returned; a second DELETE while it terminates is
    /// the real server's 409.
    func beginTermination(_ name: String) throws(Status) -> JSON {
        let now = KubeTime.format(clock())
        let (marked, delay, work) = try state.withLock { state throws(Status) -> (JSON, TimeInterval, SimWorkQueue?) in
            guard var space = state.objects[Self.namespaces]?[Self.key(nil, name)] else { throw Status.notFound("namespaces", name) }
            if space[path: "metadata.deletionTimestamp"] != nil {
                throw Status(code: 409, reason: "Conflict",
                             message: "Operation cannot be fulfilled on namespaces \"\(name)\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
                             details: Status.Details(name: name, kind: "namespaces"))
            }
            space[path: "metadata.deletionTimestamp"] = .string(now)
            space[path: "status.phase"] = .string("Terminating")
            Self.store(&state, space, as: Self.namespaces)
            return (state.objects[Self.namespaces]?[Self.key(nil, name)] ?? space, state.namespaceDeletionDelay, state.work)
        }
        work?.add(.namespace(name), after: delay)
        return marked
    }

    /// The namespace controller: a terminating namespace's content goes (no garbage collection
    /// needed: all of it goes), then the namespace.
    func finishTermination(_ name: String) -> Bool {
        state.withLock { state in
            guard let space = state.objects[Self.namespaces]?[Self.key(nil, name)], space[path: "metadata.deletionTimestamp"] != nil else { return }
            for resource in state.objects.keys where resource.isNamespaced {
                for (objectKey, object) in state.objects[resource] ?? [:] where objectKey.hasPrefix("\(name)/") {
                    state.objects[resource]?[objectKey] = nil
                    state.revision += 1
                    var gone = object
                    gone[path: "metadata.resourceVersion"] = .string(String(state.revision))
                    Self.record(&state, Event(type: "DELETED", object: gone, revision: state.revision, resource: resource))
                }
            }
            state.objects[Self.namespaces]?[Self.key(nil, name)] = nil
            state.namespaceCreated[name] = nil
            state.revision += 1
            var gone = space
            gone[path: "metadata.resourceVersion"] = .string(String(state.revision))
            Self.record(&state, Event(type: "DELETED", object: gone, revision: state.revision, resource: Self.namespaces))
        }
        return true
    }
}

/// The root-CA publisher of the controller-manager: every namespace holds a `kube-root-ca.crt`
/// ConfigMap with the cluster's CA (what pods' projected service-account volumes mount), made
/// again when deleted and put right when changed. It passes quota admission as any ConfigMap
/// does, so a `configmaps` or `count/configmaps` quota counts it, and one with no room refuses
/// it (retried with the queue's back-off), as on a real cluster. A cluster made without a
/// certificate (unit tests of the store) has no publisher.
extension SimCluster {
    static let rootCAName = "kube-root-ca.crt"

    func publishRootCA(in namespace: String) -> Bool {
        guard !rootCertificate.isEmpty, let space = current("namespaces", nil, namespace), space[path: "status.phase"]?.stringValue != "Terminating" else { return true }
        let data: JSON = .object(["ca.crt": .string(rootCertificate)])
        let annotations: JSON = .object([
            "kubernetes.io/description": .string("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."),
        ])
        guard var existing = current("configmaps", namespace, Self.rootCAName) else {
            let map: JSON = .object(["apiVersion": .string("v1"), "kind": .string("ConfigMap"),
                                     "metadata": .object(["name": .string(Self.rootCAName), "namespace": .string(namespace), "annotations": annotations]), "data": data])
            if case .success = createControlled("configmaps", namespace: namespace, map) { return true }
            return false
        }
        guard existing["data"] != data else { return true }
        existing["data"] = data
        return (try? performUpdate(Self.type("configmaps"), namespace: namespace, name: Self.rootCAName, object: existing)) != nil
    }
}
