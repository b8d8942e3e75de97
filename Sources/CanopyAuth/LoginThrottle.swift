import Foundation

/// Slows down password guessing: after `limit` failures within `window` for the same key (a user
/// name, or a source address), further attempts for that key are refused until the oldest of
/// those failures leaves the window.
///
/// The policy only: the failures themselves are kept in the store, so that every replica on one
/// database counts them together (and a restart forgets none). Time is passed in, so tests
/// control the clock.
public struct LoginThrottle: Sendable {
    /// Failures allowed per key within the window. Defaults to 5.
    public let limit: Int
    /// Defaults to 60 seconds.
    public let window: TimeInterval

    public init(limit: Int = 5, window: TimeInterval = 60) {
        self.limit = limit
        self.window = window
    }

    /// The earliest failure still counted at `now`.
    public func windowStart(at now: Date) -> Date {
        now.addingTimeInterval(-window)
    }

    /// Seconds to wait before the keys of `failures` (each key's failed attempts) may try again,
    /// or `nil` when they may try now.
    public func retryAfter(failures: [String: [Date]], at now: Date) -> Int? {
        let waits = failures.values.compactMap { dates -> TimeInterval? in
            let recent = dates.filter { now.timeIntervalSince($0) < window }.sorted().suffix(limit)
            guard recent.count >= limit, let oldest = recent.first else { return nil }
            return window - now.timeIntervalSince(oldest)
        }
        return waits.max().map { max(1, Int($0.rounded(.up))) }
    }
}
