import Foundation

/// Polls `condition` every 25 ms until it holds or `seconds` pass; returns how long it took.
/// For outcomes that arrive asynchronously (a reconciler pass, a probe), with the bound the
/// behaviour promises as the limit.
@discardableResult
public func eventually(within seconds: Double, _ what: String, _ condition: @Sendable () async throws -> Bool) async throws -> Double {
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        if (try? await condition()) == true { return Date().timeIntervalSince(start) }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw TestFailure("\(what) did not happen within \(seconds) s")
}
