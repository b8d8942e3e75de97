import CanopyAuth
import Foundation
import Testing

@Suite struct LoginThrottleTests {
    @Test func fiveFailuresInAMinuteBlockUntilTheWindowPasses() {
        let throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1000)
        var failures: [String: [Date]] = [:]
        for second in 0..<5 {
            #expect(throttle.retryAfter(failures: failures, at: start + Double(second)) == nil)
            failures["u", default: []].append(start + Double(second))
        }
        #expect(throttle.retryAfter(failures: failures, at: start + 10) == 50)
        #expect(throttle.retryAfter(failures: ["other": [start]], at: start + 10) == nil)
        #expect(throttle.retryAfter(failures: failures, at: start + 60.5) == nil)
        #expect(throttle.windowStart(at: start + 60) == start)
    }

    /// The newest `limit` failures count, in any order they are given.
    @Test func theNewestFailuresCountInAnyOrder() {
        let throttle = LoginThrottle(limit: 2, window: 60)
        let start = Date(timeIntervalSince1970: 1000)
        let failures = ["u": [start + 30, start, start + 20]]
        // The newest two are at 20 and 30: blocked until 20 leaves the window (at 80).
        #expect(throttle.retryAfter(failures: failures, at: start + 40) == 40)
        #expect(throttle.retryAfter(failures: failures, at: start + 80.5) == nil)
    }
}

@Suite struct TokenAndPasswordTests {
    @Test func tokensAreRandomAndHashedWithSHA256() {
        let first = TokenSecret.generate(), second = TokenSecret.generate()
        #expect(first != second)
        #expect(first.text.hasPrefix("cnp_") && first.text.count == 4 + 43)
        #expect(TokenSecret.hash(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func bcryptVerifiesTheRightPasswordOnly() async throws {
        let hasher = PasswordHasher(cost: 4)
        let hash = try await hasher.hash("correct horse")
        #expect(hash.hasPrefix("$2"))
        #expect(try await hasher.verify("correct horse", against: hash))
        #expect(try await !hasher.verify("wrong horse", against: hash))
        #expect(try await !hasher.verify("correct horse", against: nil))
    }
}
