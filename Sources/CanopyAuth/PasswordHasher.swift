import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// bcrypt hashing, run on NIO's blocking thread pool so that a slow hash never stalls the
/// server's event loops or Swift's cooperative threads.
public struct PasswordHasher: Sendable {
    /// bcrypt work factor. Defaults to 12 (about 0.25 s a hash on one core); tests pass a lower one.
    public let cost: UInt8
    /// A hash of a random password, verified against when a user does not exist so that the
    /// answer takes as long as for a real user.
    private let decoyHash: String
    /// Verifications done by this hasher and its copies (decoys included).
    private let verified: VerificationCount

    public init(cost: UInt8 = 12) {
        self.cost = cost
        decoyHash = Bcrypt.hash("decoy-\(UInt64.random(in: .min ... .max))", cost: cost)
        verified = VerificationCount()
    }

    /// How many bcrypt verifications this hasher has run, decoys included: every sign-in attempt
    /// that reaches a password check adds exactly one, whether the user exists or not.
    public var verifications: Int { verified.value.load(ordering: .relaxed) }

    /// Hashes a new password.
    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Checks `password` against `hash`; with `hash == nil` checks a decoy, taking the same time,
    /// and answers false.
    public func verify(_ password: String, against hash: String?) async throws -> Bool {
        let target = hash ?? decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: target) }
        verified.value.add(1, ordering: .relaxed)
        return matches && hash != nil
    }
}

private final class VerificationCount: Sendable {
    let value = Atomic<Int>(0)
}
