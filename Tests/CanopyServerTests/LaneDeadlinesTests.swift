import NIOCore
import NIOPosix
import Testing
import TestSupport
@testable import CanopyServer

/// The fast lane's deadline: one task per event loop ends the exchanges that passed it.
@Suite struct LaneDeadlinesTests {
    /// An exchange as `LaneDeadlines` sees it. Used on its event loop only.
    final class Exchange: DeadlineWatched, @unchecked Sendable {
        var isFinished = false
        var passed: [ContinuousClock.Instant] = []

        func deadlinePassed() {
            passed.append(.now)
            isFinished = true
        }
    }

    /// An exchange still under way at its deadline is ended once, not before it; one that
    /// finished is let go at the next tick and never ended; once nothing is watched the ticking
    /// stops, and it starts again for the next exchange.
    @Test func exchangesPastTheDeadlineAreEndedOnceAndFinishedOnesLetGo() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let deadline = Duration.seconds(2)
        let deadlines = LaneDeadlines(deadline: TimeAmount(deadline))
        #expect(deadlines.tick == .milliseconds(250))
        func watched() async throws -> Exchange {
            try await loop.submit {
                let exchange = Exchange()
                deadlines.watch(exchange, on: loop)
                return exchange
            }.get()
        }
        let started = ContinuousClock.now
        let slow = try await watched(), quick = try await watched()
        try await loop.submit { quick.isFinished = true }.get()
        // The finished one is let go at the first tick, long before the other's deadline.
        _ = try await eventually(within: 1.5, "the finished exchange is let go") {
            try await loop.submit { deadlines.watching(on: loop) == 1 }.get()
        }
        #expect(try await loop.submit { slow.passed.isEmpty }.get())
        _ = try await eventually(within: 10, "the slow exchange is ended") {
            try await loop.submit { !slow.passed.isEmpty && deadlines.watching(on: loop) == 0 }.get()
        }
        let (slowPassed, quickPassed) = try await loop.submit { (slow.passed, quick.passed) }.get()
        #expect(slowPassed.count == 1 && quickPassed.isEmpty)
        #expect(slowPassed[0] - started >= deadline)

        let later = try await watched()
        _ = try await eventually(within: 10, "an exchange watched after a pause is ended") {
            try await loop.submit { later.passed.count == 1 }.get()
        }
        #expect(try await loop.submit { slow.passed.count }.get() == 1)
    }
}
