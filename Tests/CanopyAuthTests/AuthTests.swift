import CanopyAuth
import Foundation
import Testing

@Suite struct LoginThrottleTests {
    @Test func fiveFailuresInAMinuteBlockUntilTheWindowPasses() {
        var throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1000)
        for second in 0..<5 {
            #expect(throttle.retryAfter(for: ["u"], at: start + Double(second)) == nil)
            throttle.recordFailure(for: ["u"], at: start + Double(second))
        }
        #expect(throttle.retryAfter(for: ["u"], at: start + 10) == 50)
        #expect(throttle.retryAfter(for: ["other"], at: start + 10) == nil)
        #expect(throttle.retryAfter(for: ["u"], at: start + 60.5) == nil)
    }

    @Test func successClearsOnlyTheGivenKeys() {
        var throttle = LoginThrottle(limit: 2)
        let now = Date()
        throttle.recordFailure(for: ["user", "address"], at: now)
        throttle.recordFailure(for: ["user", "address"], at: now)
        throttle.recordSuccess(for: ["user"])
        #expect(throttle.retryAfter(for: ["user"], at: now) == nil)
        #expect(throttle.retryAfter(for: ["address"], at: now) != nil)
    }

    @Test func memoryIsBounded() {
        var throttle = LoginThrottle(capacity: 100)
        let now = Date()
        for index in 0..<1000 { throttle.recordFailure(for: ["k\(index)"], at: now + Double(index) / 1000) }
        // The newest keys are still tracked, the oldest forgotten.
        for _ in 0..<4 { throttle.recordFailure(for: ["k999"], at: now + 1) }
        #expect(throttle.retryAfter(for: ["k999"], at: now + 1) != nil)
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
