import Foundation
import KubeAPI

/// Watches on a `SimCluster`: the kept history, then live events.
extension SimCluster {
    /// Events on `type` (in `namespace`, matching `selector`) after `revision`: first the kept
    /// history, then live ones. Throws 410 Gone when `revision` is older than the history kept.
    ///
    /// Without a revision (a watch with no `resourceVersion`, or `0`) the stream begins, as a
    /// real server's does, with an ADDED event for each object there is now, not with history.
    /// With `initialEvents` (a streaming list: `sendInitialEvents=true`) it begins so too, then
    /// a BOOKMARK at the current resourceVersion annotated `k8s.io/initial-events-end: "true"`;
    /// then what changes after.
    public func watch(
        _ type: ResourceType, namespace: String?, selector: LabelSelector, after revision: Int64?, initialEvents: Bool = false
    ) throws(Status) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = UUID()
        let watcher = Watcher(resource: type, namespace: namespace, selector: selector, continuation: continuation)
        try state.withLock { state throws(Status) in
            if initialEvents || revision == nil {
                let current = (state.objects[type] ?? [:]).sorted { $0.key < $1.key }
                for (_, object) in current {
                    let event = Event(type: "ADDED", object: object, revision: Int64(object[path: "metadata.resourceVersion"]?.stringValue ?? "") ?? 0, resource: type)
                    if Self.matches(event, watcher) { continuation.yield(event) }
                }
            }
            if initialEvents {
                let bookmark: JSON = .object([
                    "kind": .string(type.kind), "apiVersion": .string(type.apiVersion),
                    "metadata": .object([
                        "resourceVersion": .string(String(state.revision)),
                        "annotations": .object(["k8s.io/initial-events-end": .string("true")]),
                    ]),
                ])
                continuation.yield(Event(type: "BOOKMARK", object: bookmark, revision: state.revision, resource: type))
            } else if let revision {
                if revision < state.expiredBelow {
                    throw Status.gone("too old resource version: \(revision) (\(state.expiredBelow))")
                }
                for event in state.history where event.revision > revision && Self.matches(event, watcher) {
                    continuation.yield(event)
                }
            }
            if state.shuttingDown {
                continuation.finish()
            } else {
                state.watchers[id] = watcher
            }
        }
        // The stream ends while its consumer's task is being cancelled, which holds that task's
        // status lock; a write holding the state's lock and yielding an event to that task waits
        // on the same status lock. Taking the state's lock here deadlocked the two (the test
        // phase's "hang": every thread idle). The watcher is only marked, and dropped by the
        // next event or count.
        let ended = watcher.ended
        continuation.onTermination = { _ in ended.set() }
        return stream
    }

    /// Watches open on this cluster now.
    public var openWatches: Int { state.withLock { $0.watchers.values.count { !$0.ended.isSet } } }

    /// Ends every open watch (a fault: the server closing watches).
    public func closeWatches() {
        let watchers = state.withLock { state in
            defer { state.watchers = [:] }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.continuation.finish() }
    }

    /// Ends every open watch, and every watch opened from now on at once: the cluster stops.
    /// (A watch request already read but not yet registered would otherwise hold the server's
    /// shutdown until its `timeoutSeconds`.)
    public func shutDown() {
        state.withLock { $0.shuttingDown = true }
        closeWatches()
    }

    /// A fault: forgets all history and closes every watch, so that every watch resuming from
    /// any revision seen so far gets 410 Gone (as after an etcd compaction past it) and must
    /// list again.
    public func expireWatches() {
        let watchers = state.withLock { state in
            state.history.removeAll()
            state.expiredBelow = state.revision + 1
            defer { state.watchers = [:] }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.continuation.finish() }
    }
}
