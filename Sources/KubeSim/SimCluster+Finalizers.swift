import Foundation
import KubeAPI

/// Finalizers and foreground deletion, as a real server keeps them: a DELETE of an object with
/// `metadata.finalizers` (or with `propagationPolicy: Foreground`, which adds
/// `foregroundDeletion`) only marks it (`deletionTimestamp`, a `MODIFIED` event); it goes once
/// the last finalizer is removed, by a client's update or, for `foregroundDeletion`, by the
/// garbage collector once every dependent has gone (deleted in the foreground in turn). No new
/// finalizer may be added to an object being deleted. Pods and namespaces keep their own
/// termination (grace periods, the namespace's content).
extension SimCluster {
    static let foregroundFinalizer = "foregroundDeletion"

    /// Marks `current` as being deleted when it has finalizers (adding `foregroundDeletion`
    /// for a foreground deletion) and returns it; `nil` when it is to go at once. A DELETE with
    /// no grace period left (the kubelet's last, once a terminating pod's containers stopped)
    /// shortens the deletion to now, so that the object goes when its last finalizer does.
    func holdForFinalizers(_ state: inout State, _ current: JSON, type: ResourceType, propagation: String?, gracePeriod: Int? = nil) -> JSON? {
        var finalizers = Self.finalizers(of: current)
        let foreground = propagation == "Foreground"
        if foreground, !finalizers.contains(Self.foregroundFinalizer) { finalizers.append(Self.foregroundFinalizer) }
        guard !finalizers.isEmpty, let name = current[path: "metadata.name"]?.stringValue else { return nil }
        let namespace = current[path: "metadata.namespace"]?.stringValue
        var marked = current
        if marked[path: "metadata.deletionTimestamp"] == nil || (gracePeriod == 0 && marked[path: "metadata.deletionGracePeriodSeconds"]?.numberValue != 0) {
            marked[path: "metadata.deletionTimestamp"] = .string(KubeTime.format(clock()))
            marked[path: "metadata.deletionGracePeriodSeconds"] = .number(0)
        }
        marked[path: "metadata.finalizers"] = .array(finalizers.map(JSON.string))
        if marked != current {
            state.revision += 1
            marked[path: "metadata.resourceVersion"] = .string(String(state.revision))
            state.objects[type, default: [:]][Self.key(namespace, name)] = marked
            Self.record(&state, Event(type: "MODIFIED", object: marked, revision: state.revision, resource: type))
        }
        if foreground, let uid = marked[path: "metadata.uid"]?.stringValue {
            state.work?.add(.dependents(uid: uid, namespace: type.isNamespaced ? namespace : nil, propagation: "Foreground"))
            // With no dependents, nothing else would wake it.
            state.work?.add(.foregroundOwner(type: type, namespace: namespace, name: name))
        }
        return marked
    }

    /// Removes an object at once: a `DELETED` event, its dependents handed to the garbage
    /// collector, the namespace's quotas counted again.
    func remove(_ state: inout State, _ type: ResourceType, namespace: String?, name: String, propagation: String?) -> JSON {
        guard let removed = state.objects[type]?.removeValue(forKey: Self.key(namespace, name)) else { return .null }
        if let uid = removed[path: "metadata.uid"]?.stringValue, type != Self.namespaces {
            state.work?.add(.dependents(uid: uid, namespace: type.isNamespaced ? namespace : nil, propagation: propagation == "Orphan" ? "Orphan" : "Background"))
        }
        state.revision += 1
        var gone = removed
        gone[path: "metadata.resourceVersion"] = .string(String(state.revision))
        Self.record(&state, Event(type: "DELETED", object: gone, revision: state.revision, resource: type))
        if type.isNamespaced, type.resource != "resourcequotas", let namespace {
            if state.quotaControllerDelay > 0 {
                syncQuotas(in: namespace, after: state.quotaControllerDelay)
            } else {
                Self.syncQuotas(&state, in: namespace)
            }
        }
        return gone
    }

    /// The garbage collector's part in a foreground deletion: once no dependent of the object
    /// is left, `foregroundDeletion` is removed, and with it the object when it was the last.
    func finishForegroundDeletion(_ type: ResourceType, namespace: String?, name: String) -> Bool {
        state.withLock { state in
            guard let owner = state.objects[type]?[Self.key(namespace, name)], owner[path: "metadata.deletionTimestamp"] != nil,
                  Self.finalizers(of: owner).contains(Self.foregroundFinalizer), let uid = owner[path: "metadata.uid"]?.stringValue else { return true }
            let waiting = state.owners.dependents(of: uid).contains { state.objects[$0.type]?[Self.key($0.namespace, $0.name)] != nil }
            guard !waiting else { return true }
            var finished = owner
            let left = Self.finalizers(of: owner).filter { $0 != Self.foregroundFinalizer }
            finished[path: "metadata.finalizers"] = left.isEmpty ? nil : .array(left.map(JSON.string))
            state.revision += 1
            finished[path: "metadata.resourceVersion"] = .string(String(state.revision))
            state.objects[type, default: [:]][Self.key(namespace, name)] = finished
            Self.record(&state, Event(type: "MODIFIED", object: finished, revision: state.revision, resource: type))
            if left.isEmpty { _ = remove(&state, type, namespace: namespace, name: name, propagation: nil) }
            return true
        }
    }

    static func finalizers(of object: JSON) -> [String] {
        (object[path: "metadata.finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// Whether `object` is being deleted without a grace period and has no finalizer left: it
    /// is to go (the registry's `shouldDeleteDuringUpdate`; a terminating pod, within its grace
    /// period, stays).
    static func finalizersDone(_ object: JSON) -> Bool {
        object[path: "metadata.deletionTimestamp"] != nil && finalizers(of: object).isEmpty
            && object[path: "metadata.deletionGracePeriodSeconds"]?.numberValue == 0
    }

    /// The 422 cause for an update adding finalizers to an object being deleted
    /// (`ValidateObjectMetaUpdate`), or `nil`.
    static func newFinalizersWhileDeleting(_ replacement: JSON, current: JSON) -> Status.Cause? {
        guard current[path: "metadata.deletionTimestamp"] != nil else { return nil }
        let old = Set(finalizers(of: current))
        let added = finalizers(of: replacement).filter { !old.contains($0) }
        guard !added.isEmpty else { return nil }
        return Status.Cause(
            reason: "FieldValueForbidden",
            message: "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers \(LabelSelectors.goStrings(added.map(JSON.string)))",
            field: "metadata.finalizers"
        )
    }
}
