import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import KubeClient
import Logging
import Testing
import TestSupport
@testable import CanopyServer

/// The hand-over of a cluster's clean-up between replicas, through the store: the writer's desk
/// takes a request and its outcome reaches the requester; a request nobody takes ends in an
/// error that says what to check, and leaves nothing behind; one whose time to start has passed
/// is not taken.
@Suite struct ClusterReleasesTests {
    static func reconciler(leading: Bool) -> Reconciler {
        Reconciler(logger: Logger(label: "releases-test"), leading: leading, snapshots: { AsyncStream { $0.finish() } }) { _, _ in
            throw KubeError(.configuration, "no clusters in this test")
        }
    }

    @Test func aCleanUpNobodyTakesSaysWhatToCheckAndLeavesNoRequest() async throws {
        try await TestBackend.sqlite.withStore { store in
            let releases = ClusterReleases(store: store, reconciler: Self.reconciler(leading: false), logger: Logger(label: "releases-test"), handover: .milliseconds(300))
            let started = ContinuousClock.now
            await #expect {
                _ = try await releases.release(ClusterID("c1"), timeout: .milliseconds(200))
            } throws: { error in
                (error as? KubeError)?.code == .unreachable && "\(error)".contains("no replica that writes to the clusters took the clean-up")
            }
            #expect(ContinuousClock.now - started >= .milliseconds(500))
            let left = try await store.pendingReleases()
            #expect(left.isEmpty)
        }
    }

    @Test func theWritersOutcomeReachesTheRequesterAndALateRequestIsNotTaken() async throws {
        try await TestBackend.sqlite.withStore { store in
            let logger = Logger(label: "releases-test")
            let writer = Self.reconciler(leading: true)
            let desk = Task { try await ReleaseDesk(store: store, reconciler: writer, logger: logger, interval: .milliseconds(50)).run() }
            defer { desk.cancel() }
            // Too late to start: stays as it is until its requester withdraws it.
            let now = Date()
            let late = ReleaseRequest(cluster: ClusterID("late"), action: .release, timeout: .seconds(5), requestedAt: now - 30, startBy: now - 1)
            try await store.requestRelease(late)
            // The writer has no worker for this cluster: its refusal comes back as the requester's error.
            let releases = ClusterReleases(store: store, reconciler: Self.reconciler(leading: false), logger: logger, handover: .seconds(5))
            let started = ContinuousClock.now
            await #expect {
                _ = try await releases.release(ClusterID("c1"), timeout: .seconds(5))
            } throws: { error in
                (error as? KubeError)?.code == .apiError && "\(error)".contains("no reconciler runs for this cluster")
            }
            #expect(ContinuousClock.now - started < .seconds(3))
            let left = try await store.pendingReleases()
            #expect(left.map(\.id) == [late.id] && left.first?.state == .requested)
        }
    }

    /// A clean-up the writer finished but whose requester never read the outcome (it crashed):
    /// the cluster is not forgotten, so once the requester's time is up it gets its objects back
    /// (before, the writer kept it stripped until it restarted).
    @Test func aCleanUpNobodyCollectsGivesTheClusterItsObjectsBack() async throws {
        try await Self.withShopOnAWriter { server, onprem, cluster in
            // As a follower that asked and then vanished would have left it.
            let now = Date()
            let request = ReleaseRequest(cluster: cluster.id, action: .release, timeout: .seconds(2), requestedAt: now, startBy: now + 1)
            try await server.services.world.store.requestRelease(request)
            try await eventually(within: 5, "the writer cleans the cluster up") { try await !PlacementTests.exists(onprem, "shop-a") }
            try await eventually(within: 5, "the clean-up is recorded as done") {
                try await server.services.world.store.releaseRequest(request.id)?.state.isFinished == true
        }
        // Its requester's time is up 1 + 2 + 10 s after the request: the namespace comes back.
        try await eventually(within: 20, "shop-a comes back") { try await PlacementTests.exists(onprem, "shop-a") }
        let left = try await server.services.world.store.releaseRequest(request.id)
        #expect(left == nil)
        }
    }

    /// A requester that read the writer's outcome but stopped before forgetting the cluster (a
    /// crash, a failed commit) leaves the request in the store, so the writer gives the cluster
    /// its objects back once the requester's time is up; forgetting it after that is refused.
    /// (Before, reading the outcome withdrew the request, and such a cluster stayed stripped.)
    @Test func aRequesterThatStopsBeforeForgettingTheClusterLeavesItToTheWriter() async throws {
        try await Self.withShopOnAWriter { server, onprem, cluster in
            // A follower's requester, on the same database.
            let store = server.services.world.store
            let follower = ClusterReleases(store: store, reconciler: Self.reconciler(leading: false), logger: Logger(label: "releases-test"), handover: .seconds(1))
            let released = try await follower.release(cluster.id, timeout: .seconds(2))
            let id = try #require(released.requestID)
            #expect(released.writes > 0)
            #expect(try await !PlacementTests.exists(onprem, "shop-a"))
            #expect(try await store.releaseRequest(id)?.state.isFinished == true, "left for the caller to withdraw")
            // It stops here. Its time is up 1 + 2 + 10 s after the request: the namespace comes back.
            try await eventually(within: 20, "shop-a comes back") { try await PlacementTests.exists(onprem, "shop-a") }
            #expect(try await store.releaseRequest(id) == nil)
            // Forgetting the cluster now is refused (the transaction rolls back).
            await #expect {
                try await server.services.world.commit { tx in
                    try await ClusterReleases.collect(released, in: tx)
                    try await tx.deleteCluster(cluster.id)
                    return World.Outcome(result: (), changes: [.clusterDeleted(cluster)], audit: [])
                }
            } throws: { error in
                (error as? APIError)?.status == .serviceUnavailable && "\(error)".contains("retry the delete")
        }
        #expect(server.services.world.snapshot.tenant(named: "coke")?.cluster(named: "onprem") != nil)
        }
    }

    /// A replica on PostgreSQL that writes to the clusters, with the fixture's clusters and a
    /// project `shop` whose namespace `shop-a` is in `onprem` (its client, and its record).
    static func withShopOnAWriter(_ body: @Sendable (TestServer, KubeClient, Cluster) async throws -> Void) async throws {
        let database = try #require(try await TestBackend.postgres.freshDatabaseURL())
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(databaseURL: database, configure: ReplicaTests.quickLease) { server in
                try await eventually(within: 5, "the replica writes") { server.services.reconciler.isLeading }
                let fixture = try await Fixture.build(server)
                try await PlacementTests.importClusters(server, sim, fixture)
                try await QuotaTests.project(server, fixture.tokens["coke-admin"], ["name": "shop", "placements": [["cluster": "onprem", "namespaces": ["shop-a"]]]])
                let onprem = try PlacementTests.client(sim, "onprem")
                try await eventually(within: 10, "shop-a in the cluster") { try await PlacementTests.exists(onprem, "shop-a") }
                try await body(server, onprem, try #require(server.services.world.snapshot.tenant(named: "coke")?.cluster(named: "onprem")))
            }
        }
    }

    /// A writer that stops leading between taking a clean-up and doing it (a late lease renewal
    /// under load) puts it back for the next writer, whose outcome reaches the requester, instead
    /// of failing it with "this replica does not write to the clusters".
    @Test func aCleanUpTakenByAWriterThatStopsLeadingGoesToTheNextWriter() async throws {
        try await TestBackend.sqlite.withStore { store in
            let logger = Logger(label: "releases-test")
            let now = Date()
            let request = ReleaseRequest(cluster: ClusterID("c1"), action: .release, timeout: .seconds(5), requestedAt: now, startBy: now + 10)
            try await store.requestRelease(request)
            #expect(try await store.takeRelease(request.id))
            await ReleaseDesk(store: store, reconciler: Self.reconciler(leading: false), logger: logger).handle(request)
            let back = try await store.releaseRequest(request.id)
            #expect(back?.state == .requested, "\(String(describing: back))")

            // The next writer takes it; its outcome (here: it has no worker for the cluster) is the one recorded.
            let desk = Task { try await ReleaseDesk(store: store, reconciler: Self.reconciler(leading: true), logger: logger, interval: .milliseconds(50)).run() }
            defer { desk.cancel() }
            try await eventually(within: 5, "the next writer records its outcome") {
                if case .failed(let message) = try await store.releaseRequest(request.id)?.state { return message.contains("no reconciler runs for this cluster") }
                return false
            }
        }
    }
}
