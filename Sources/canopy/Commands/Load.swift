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
}
