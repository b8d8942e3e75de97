import CanopyAuth
import CanopyModel
import CanopyServer
import CanopyStore
import Foundation
import Synchronization
import Testing
import TestSupport

/// The token cache never keeps a record read from before a revocation it was told of.
@Suite struct TokenCacheTests {
    /// A lookup that read the token's record, then a revocation committed and forgotten before
    /// the lookup cached it: the lookup reads again, and neither it nor the next request is let
    /// through (before, the stale record was cached and honoured for the cache's 10 s).
    @Test func aLookupOverlappingARevocationKeepsNothingItRead() async throws {
        try await TestBackend.sqlite.withStore { store in
            let gated = GatedStore(store)
            let world = try await World(store: gated)
            let now = Date()
            let user = User(id: UserID("u-1"), tenantID: nil, username: "ops", createdAt: now)
            let secret = TokenSecret.generate()
            let token = APIToken(id: TokenID("t-1"), userID: user.id, description: "ci", createdAt: now, expiresAt: now + 3600)
            try await world.commit { tx in
                try await tx.insert(user, passwordHash: nil)
                try await tx.insert(token, tenantID: nil, hash: secret.hash)
                return World.Outcome(result: (), changes: [.userSaved(user)], audit: [])
            }
            let authenticator = Authenticator(world: world, hasher: PasswordHasher(cost: 4))

            gated.holdNextTokenRead()
            async let lookup = authenticator.identity(forToken: secret.text)
            // The lookup has read the record (not yet revoked) and waits before caching it.
            await gated.untilHeld()
            try await store.write { tx in try await tx.revokeToken(token.id, at: Date()) }
            authenticator.forget(tokenIDs: [token.id])
            gated.release()

            #expect(try await lookup == nil)
            #expect(authenticator.cachedIdentity(forToken: secret.text) == nil)
            #expect(try await authenticator.identity(forToken: secret.text) == nil)
            #expect(gated.tokenReads == 2)
        }
    }
}

/// A store that can hold one `token(hash:)` read after it has read the record, until released;
/// everything else goes straight to the store below.
private final class GatedStore: InterposedStore, @unchecked Sendable {
    private struct Gate {
        var armed = false
        var reads = 0
        var held: CheckedContinuation<Void, Never>?
        var heldWaiter: CheckedContinuation<Void, Never>?
        var isHeld = false
    }
    private let gate = Mutex(Gate())


    var tokenReads: Int { gate.withLock { $0.reads } }

    func holdNextTokenRead() { gate.withLock { $0.armed = true } }

    /// Returns once a read is held.
    func untilHeld() async {
        await withCheckedContinuation { continuation in
            let now = gate.withLock { gate -> Bool in
                if gate.isHeld { return true }
                gate.heldWaiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    func release() {
        let held = gate.withLock { gate in
            defer { gate.held = nil }
            return gate.held
        }
        held?.resume()
    }

    override func token(hash: String) async throws -> (token: APIToken, tenantID: TenantID?)? {
        let found = try await base.token(hash: hash)
        let hold = gate.withLock { gate in
            gate.reads += 1
            defer { gate.armed = false }
            return gate.armed
        }
        if hold {
            await withCheckedContinuation { continuation in
                let waiter = gate.withLock { gate in
                    gate.held = continuation
                    gate.isHeld = true
                    defer { gate.heldWaiter = nil }
                    return gate.heldWaiter
                }
                waiter?.resume()
            }
        }
        return found
    }
}
