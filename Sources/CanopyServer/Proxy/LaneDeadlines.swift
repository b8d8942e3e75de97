import NIOCore
import Synchronization

/// What `LaneDeadlines` watches: a fast-lane exchange (`FastProxyExchange`). Used on its event
/// loop only.
protocol DeadlineWatched: AnyObject {
    /// Whether it has ended (it is then let go).
    var isFinished: Bool { get }
    /// The deadline passed before it ended: it ends now.
    func deadlinePassed()
}

/// The fast lane's exchanges under way, per event loop, and the task that ends those the
/// cluster has not answered within the proxy's deadline (`FastProxyExchange.deadlinePassed`).
///
/// One task per event loop looks at them every `tick` while any are under way, in place of a
/// timer per exchange: scheduling and cancelling one at every request was 2 % of the lane's
/// CPU. An exchange is ended between `deadline` and `deadline + tick` after it began; a finished
/// one is let go at the next tick.
final class LaneDeadlines: Sendable {
    let deadline: TimeAmount
    let tick: TimeAmount
    private let loops = Mutex<[ObjectIdentifier: LoopExchanges]>([:])

    init(deadline: TimeAmount) {
        self.deadline = deadline
        // An eighth of the deadline, within 10 ms and a second.
        tick = .nanoseconds(min(max(deadline.nanoseconds / 8, 10_000_000), 1_000_000_000))
    }

    /// Watches `exchange`, which has just begun on `eventLoop`. Called on `eventLoop`.
    func watch(_ exchange: any DeadlineWatched, on eventLoop: any EventLoop) {
        exchanges(on: eventLoop).add(exchange, until: .now() + deadline)
    }

    /// How many exchanges are watched on `eventLoop` (finished ones included until the next
    /// tick). Called on `eventLoop`.
    func watching(on eventLoop: any EventLoop) -> Int { exchanges(on: eventLoop).count }

    private func exchanges(on eventLoop: any EventLoop) -> LoopExchanges {
        let id = ObjectIdentifier(eventLoop)
        return loops.withLock { loops in
            if let found = loops[id] { return found }
            let made = LoopExchanges(eventLoop: eventLoop, tick: tick)
            loops[id] = made
            return made
        }
    }
}

/// The exchanges under way on one event loop, oldest first (every one has the same deadline, so
/// the first ones are the first to pass it). Used only on that event loop.
private final class LoopExchanges: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private let tick: TimeAmount
    private var watched: [(exchange: any DeadlineWatched, until: NIODeadline)] = []
    private var ticking = false

    init(eventLoop: any EventLoop, tick: TimeAmount) {
        self.eventLoop = eventLoop
        self.tick = tick
    }

    var count: Int { watched.count }

    func add(_ exchange: any DeadlineWatched, until: NIODeadline) {
        watched.append((exchange, until))
        guard !ticking else { return }
        ticking = true
        eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: tick) { [self] in look() }
    }

    private func look() {
        watched.removeAll { $0.exchange.isFinished }
        let now = NIODeadline.now()
        let passed = watched.prefix { $0.until <= now }.map(\.exchange)
        watched.removeFirst(passed.count)
        // Ending one may begin the next request on its connection, which adds to `watched`.
        for exchange in passed { exchange.deadlinePassed() }
        ticking = !watched.isEmpty
        if ticking { eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: tick) { [self] in look() } }
    }
}
