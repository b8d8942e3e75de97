import CanopyModel
import CanopyStore
import Foundation
import Testing
import TestSupport

/// The store's contract, run against SQLite and PostgreSQL alike.
@Suite struct StoreContractTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func tenant(_ name: String) -> Tenant {
        Tenant(id: .random(), name: name, displayName: name, mode: .enterprise, createdAt: now)
    }

    @Test(arguments: TestBackend.allCases)
    func writesRoundTripThroughTheSnapshot(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let coke = tenant("coke")
            let user = User(id: .random(), tenantID: coke.id, username: "ann", email: "ann@example.com", createdAt: now)
            let project = Project(id: .random(), tenantID: coke.id, name: "web", caps: ResourceCaps(cpu: "4", memory: "8Gi"), createdAt: now)
            let grant = Grant(id: .random(), tenantID: coke.id, projectID: project.id, role: .projectMember, subject: .group("devs"), createdAt: now)
            try await store.write { tx in
                try await tx.insert(coke)
                try await tx.insert(user, passwordHash: "hash")
                try await tx.insert(project)
                try await tx.insert(grant)
            }
            let snapshot = try await store.loadSnapshot()
            let loaded = try #require(snapshot.tenant(named: "coke"))
            #expect(loaded.tenant == coke)
            #expect(loaded.user(named: "ann") == user)
            #expect(loaded.project(named: "web") == project)
            #expect(loaded.grants[grant.id] == grant)
            #expect(try await store.passwordHash(of: user.id) == "hash")
        }
    }

    @Test(arguments: TestBackend.allCases)
    func staleVersionsAndDuplicatesAreRefused(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let coke = tenant("coke")
            try await store.write { tx in try await tx.insert(coke) }
            let edited = { var copy = coke; copy.displayName = "Coca-Cola"; return copy }()
            let saved = try await store.write { tx in try await tx.update(edited) }
            #expect(saved.version == 2)
            await #expect { try await store.write { tx in _ = try await tx.update(edited) } } throws: { error in
                (error as? StoreError)?.code == .staleVersion
            }
            await #expect { try await store.write { tx in try await tx.insert(tenant("coke")) } } throws: { error in
                (error as? StoreError)?.code == .duplicate
            }
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aFailedTransactionLeavesNeitherChangeNorAudit(backend: TestBackend) async throws {
        try await backend.withStore { store in
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await store.write { tx in
                    try await tx.insert(tenant("ghost"))
                    try await tx.append(AuditEvent(at: now, actorID: nil, actor: "t", tenantID: nil, projectID: nil, action: "tenant.create", target: "tenants/ghost", requestID: nil))
                    throw Abort()
                }
            }
            let snapshot = try await store.loadSnapshot()
            #expect(snapshot.tenant(named: "ghost") == nil)
            #expect(try await store.audit(AuditQuery(scopes: [nil])).isEmpty)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func auditIsScopedAndNewestFirst(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let a = TenantID("a"), b = TenantID("b"), p = ProjectID("p")
            try await store.write { tx in
                for (index, scope) in [nil, a, b, a].enumerated() {
                    try await tx.append(AuditEvent(at: now, actorID: nil, actor: "t", tenantID: scope, projectID: index == 3 ? p : nil, action: "x.\(index)", target: "t", requestID: nil))
                }
            }
            #expect(try await store.audit(AuditQuery(scopes: [a])).map(\.action) == ["x.3", "x.1"])
            #expect(try await store.audit(AuditQuery(scopes: [a], projectIDs: [p])).map(\.action) == ["x.3"])
            #expect(try await store.audit(AuditQuery(scopes: [nil, b])).map(\.action) == ["x.2", "x.0"])
            #expect(try await store.audit(AuditQuery(scopes: [nil, a, b], limit: 2)).count == 2)
        }
    }

    /// A setting keeps the first value stored.
    @Test(arguments: TestBackend.allCases)
    func aSettingKeepsItsFirstValue(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let stored = try await store.setting("secret_key_check", storingIfAbsent: "first")
            #expect(stored == "first")
            #expect(try await store.setting("secret_key_check", storingIfAbsent: "second") == "first")
            #expect(try await store.setting("other", storingIfAbsent: "second") == "second")
        }
    }

    /// A lease: taken when free, renewed by its holder, refused to another until it expires,
    /// taken over after, given up only by its holder; claims at the same instant have one winner.
    @Test(arguments: TestBackend.allCases)
    func aLeaseHasOneHolderUntilItExpiresOrIsGivenUp(backend: TestBackend) async throws {
        try await backend.withStore { store in
            #expect(try await store.claimLease("reconciler", for: "a", until: now + 15, now: now) == ("a", now + 15))
            #expect(try await store.claimLease("reconciler", for: "b", until: now + 16, now: now + 1) == ("a", now + 15))
            #expect(try await store.claimLease("reconciler", for: "a", until: now + 20, now: now + 5) == ("a", now + 20))
            #expect(try await store.claimLease("other", for: "b", until: now + 20, now: now + 5) == ("b", now + 20))
            // Expired: the next claim takes it.
            #expect(try await store.claimLease("reconciler", for: "b", until: now + 36, now: now + 21) == ("b", now + 36))
            try await store.releaseLease("reconciler", of: "a")
            #expect(try await store.claimLease("reconciler", for: "a", until: now + 37, now: now + 22) == ("b", now + 36))
            try await store.releaseLease("reconciler", of: "b")
            #expect(try await store.claimLease("reconciler", for: "a", until: now + 38, now: now + 23) == ("a", now + 38))
            // Eight replicas claiming a free lease at once: one wins, and all agree on which.
            let holders = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<8 {
                    group.addTask { try await store.claimLease("race", for: "r\(index)", until: now + 15, now: now).holder }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(holders.count == 1)
        }
    }

    /// Clean-up requests between replicas: pending until taken (once: a second take fails),
    /// finished only while taken, withdrawn with their last state; a withdrawn one cannot be
    /// finished; requests over an hour old are forgotten when a new one comes.
    @Test(arguments: TestBackend.allCases)
    func aReleaseRequestIsTakenOnceAndFinishedOnlyWhileItsRequesterWaits(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let old = ReleaseRequest(id: "old", cluster: ClusterID("c0"), action: .release, timeout: .seconds(60), requestedAt: now - 7200, startBy: now - 7180)
            try await store.requestRelease(old)
            let first = ReleaseRequest(id: "r1", cluster: ClusterID("c1"), action: .release, timeout: .milliseconds(60500), requestedAt: now, startBy: now + 20)
            let second = ReleaseRequest(id: "r2", cluster: ClusterID("c2"), action: .abandon, timeout: .seconds(5), requestedAt: now + 1, startBy: now + 21)
            try await store.requestRelease(first)
            try await store.requestRelease(second)
            #expect(try await store.pendingReleases() == [first, second])
            #expect(try await store.releaseRequest("old") == nil)
            #expect(try await store.finishRelease("r1", .done(writes: 3)) == false)
            #expect(try await store.takeRelease("r1"))
            #expect(try await store.takeRelease("r1") == false)
            #expect(try await store.pendingReleases() == [second])
            #expect(try await store.finishRelease("r1", .done(writes: 3)))
            #expect(try await store.releaseRequest("r1")?.state == .done(writes: 3))
            #expect(try await store.withdrawRelease("r1")?.state == .done(writes: 3))
            #expect(try await store.releaseRequest("r1") == nil)
            // Withdrawn while the writer works: its outcome has nowhere to go.
            #expect(try await store.takeRelease("r2"))
            #expect(try await store.withdrawRelease("r2")?.state == .working)
            #expect(try await store.finishRelease("r2", .failed("too late")) == false)
            #expect(try await store.withdrawRelease("r2") == nil)
            #expect(try await store.pendingReleases().isEmpty)
        }
    }

    /// Failed sign-ins: recorded per key, read back from a time on, forgotten per key, and
    /// those before the window forgotten when a new one is recorded.
    @Test(arguments: TestBackend.allCases)
    func signInFailuresAreKeptPerKeyForTheWindow(backend: TestBackend) async throws {
        try await backend.withStore { store in
            try await store.recordSignInFailure(["user:coke/ann", "address:10.0.0.1"], at: now, forgetBefore: now - 60)
            try await store.recordSignInFailure(["user:coke/ann", "address:10.0.0.2"], at: now + 1, forgetBefore: now - 59)
            let both = try await store.signInFailures(of: ["user:coke/ann", "address:10.0.0.1", "address:10.0.0.9"], since: now - 60)
            #expect(both == ["user:coke/ann": [now, now + 1], "address:10.0.0.1": [now]])
            #expect(try await store.signInFailures(of: ["user:coke/ann"], since: now + 0.5) == ["user:coke/ann": [now + 1]])
            try await store.clearSignInFailures(of: "user:coke/ann")
            #expect(try await store.signInFailures(of: ["user:coke/ann", "address:10.0.0.2"], since: now - 60) == ["address:10.0.0.2": [now + 1]])
            // A failure 61 s later forgets those before its window.
            try await store.recordSignInFailure(["address:10.0.0.3"], at: now + 61, forgetBefore: now + 1)
            #expect(try await store.signInFailures(of: ["address:10.0.0.1", "address:10.0.0.2"], since: .distantPast) == ["address:10.0.0.2": [now + 1]])
        }
    }

    @Test(arguments: TestBackend.allCases)
    func migrationsAreIdempotent(backend: TestBackend) async throws {
        try await backend.withStore { store in
            try await store.migrate()
            try await store.migrate()
            try await store.ping()
        }
    }

    @Test(arguments: TestBackend.allCases)
    func deletingATenantRemovesEverythingInIt(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let coke = tenant("coke"), pepsi = tenant("pepsi")
            let ann = User(id: .random(), tenantID: coke.id, username: "ann", createdAt: now)
            let bob = User(id: .random(), tenantID: pepsi.id, username: "ann", createdAt: now)
            try await store.write { tx in
                try await tx.insert(coke)
                try await tx.insert(pepsi)
                try await tx.insert(ann, passwordHash: nil)
                try await tx.insert(bob, passwordHash: nil)
                try await tx.insert(APIToken(id: .random(), userID: ann.id, description: "", createdAt: now, expiresAt: now + 60), tenantID: coke.id, hash: "h1")
            }
            try await store.write { tx in try await tx.deleteTenant(coke.id) }
            let snapshot = try await store.loadSnapshot()
            #expect(snapshot.tenant(named: "coke") == nil)
            #expect(snapshot.tenant(named: "pepsi")?.user(named: "ann") == bob)
            #expect(try await store.token(hash: "h1") == nil)
        }
    }

    @Test(arguments: TestBackend.allCases)
    func aPhysicalClusterBelongsToOneTenantOnly(backend: TestBackend) async throws {
        try await backend.withStore { store in
            let coke = tenant("coke"), pepsi = tenant("pepsi")
            let first = Cluster(id: .random(), tenantID: coke.id, name: "a", identity: "uid-1", server: "https://a", kubernetesVersion: "v1.36.2",
                                labels: ["provider": "onprem"], capacity: ResourceCaps(cpu: "24", memory: "96Gi"), nodeCount: 3, createdAt: now)
            try await store.write { tx in
                try await tx.insert(coke)
                try await tx.insert(pepsi)
                try await tx.insert(first, sealedCredentials: "v1:sealed")
            }
            let loaded = try await store.loadSnapshot().tenant(named: "coke")?.cluster(named: "a")
            #expect(loaded == first)
            #expect(try await store.clusterCredentials(of: first.id) == "v1:sealed")
            var copy = first
            copy.id = .random()
            copy.tenantID = pepsi.id
            let duplicate = copy
            await #expect { try await store.write { tx in try await tx.insert(duplicate, sealedCredentials: "v1:x") } } throws: { error in
                (error as? StoreError)?.code == .duplicate
            }
        }
    }
}
