/// Concurrent load for the benchmarks: `concurrency` callers repeat `call` for a second of
/// warm-up and then `duration`; returns the latencies (ns) of the calls that ended in the window.
enum Load {
    static func measure(concurrency: Int, duration: Duration, _ call: @escaping @Sendable () async throws -> Void) async throws -> [Double] {
        let warmUntil = ContinuousClock.now + .seconds(1)
        let until = warmUntil + duration
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var latencies: [Double] = []
                    while ContinuousClock.now < until {
                        let start = ContinuousClock.now
                        try await call()
                        let end = ContinuousClock.now
                        if end > warmUntil && end < until { latencies.append(Bench.nanoseconds(end - start)) }
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// One line of figures: requests per second, p50 and p99 of `latencies` measured over `duration`.
    static func report(_ area: String, _ name: String, _ latencies: [Double], duration: Duration, concurrency: Int) {
        let perSecond = Double(latencies.count) / Bench.nanoseconds(duration) * 1e9
        print(String(format: "%@: %@: %.0f req/s, p50 %.2f ms, p99 %.2f ms (%d concurrent)",
                     area, name, perSecond, Bench.percentile(latencies, 0.5) / 1e6, Bench.percentile(latencies, 0.99) / 1e6, concurrency))
    }
}
