import Foundation

/// Slows down password guessing: after `limit` failures within `window` for the same key (a user
/// name, or a source address), further attempts for that key are refused until the oldest of
/// those failures leaves the window.
///
/// A value type: the server keeps one behind a lock and passes the current time in, so tests
/// control the clock.
public struct LoginThrottle: Sendable {
    /// Failures allowed per key within the window. Defaults to 5.
    public let limit: Int
    /// Defaults to 60 seconds.
    public let window: TimeInterval
    /// Keys tracked at most; the least recently failed are forgotten first. Defaults to 100,000.
    public let capacity: Int

    private var failures: [String: [Date]] = [:]

    public init(limit: Int = 5, window: TimeInterval = 60, capacity: Int = 100_000) {
        self.limit = limit
        self.window = window
        self.capacity = capacity
    }

    /// Seconds to wait before `keys` may try again, or `nil` when they may try now.
    public func retryAfter(for keys: [String], at now: Date) -> Int? {
        let waits = keys.compactMap { key -> TimeInterval? in
            let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return window - now.timeIntervalSince(oldest)
        }
        return waits.max().map { max(1, Int($0.rounded(.up))) }
    }

    /// Counts one failed attempt against each of `keys`.
    public mutating func recordFailure(for keys: [String], at now: Date) {
        for key in keys {
            var recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
            recent.append(now)
            failures[key] = Array(recent.suffix(limit))
        }
        if failures.count > capacity { forgetOldest(now: now) }
    }

    /// Forgets the failures of `keys` (after a successful sign-in).
    public mutating func recordSuccess(for keys: [String]) {
        for key in keys { failures[key] = nil }
    }

    private mutating func forgetOldest(now: Date) {
        failures = failures.filter { now.timeIntervalSince($0.value.last ?? .distantPast) < window }
        while failures.count > capacity, let oldest = failures.min(by: { ($0.value.last ?? .distantPast) < ($1.value.last ?? .distantPast) }) {
            failures[oldest.key] = nil
        }
    }
}
