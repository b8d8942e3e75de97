import CanopyModel
import Synchronization

/// A snapshot source fed by hand: the reconciler's input where there is no store (benchmarks,
/// tests). Each stream starts with the latest snapshot published, if any.
public final class SnapshotFeed: Sendable {
    private let state = Mutex<(current: Snapshot?, listeners: [AsyncStream<Snapshot>.Continuation])>((nil, []))

    public init() {}

    public func publish(_ snapshot: Snapshot) {
        let listeners = state.withLock { state in
            state.current = snapshot
            return state.listeners
        }
        for listener in listeners { listener.yield(snapshot) }
    }

    public func stream() -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream<Snapshot>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let current = state.withLock { state in
            state.listeners.append(continuation)
            return state.current
        }
        if let current { continuation.yield(current) }
        return stream
    }
}
