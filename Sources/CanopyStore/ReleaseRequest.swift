import CanopyModel
import Foundation

/// A cluster clean-up handed by a replica that does not write to the clusters to the one that
/// does, through the database: the requester inserts it and waits; the writer takes it, does it
/// and records how it went.
public struct ReleaseRequest: Sendable, Equatable {
    public enum Action: String, Sendable {
        /// Remove everything Canopy manages from the cluster (`Reconciler.release`).
        case release
        /// Give the cluster back its objects after a release that will not be completed.
        case abandon
    }

    public enum State: Sendable, Equatable {
        case requested
        /// Taken by the writer.
        case working
        case done(writes: Int)
        case failed(String)

        public var isFinished: Bool {
            switch self {
            case .done, .failed: true
            case .requested, .working: false
            }
        }
    }

    public var id: String
    public var cluster: ClusterID
    public var action: Action
    /// How long the clean-up itself may take once started.
    public var timeout: Duration
    public var requestedAt: Date
    /// The writer starts it only before this (the requester waits until then plus `timeout`).
    public var startBy: Date
    public var state: State

    public init(
        id: String = UUID().uuidString, cluster: ClusterID, action: Action, timeout: Duration, requestedAt: Date, startBy: Date,
        state: State = .requested
    ) {
        self.id = id
        self.cluster = cluster
        self.action = action
        self.timeout = timeout
        self.requestedAt = requestedAt
        self.startBy = startBy
        self.state = state
    }
}
