import Foundation

/// Where one project namespace stands in its cluster.
public struct NamespaceStatus: Sendable, Equatable, Encodable {
    public enum State: String, Sendable, Encodable {
        /// Every object Canopy wants is in the cluster as it wants it, and its quota leaves room
        /// for a pod.
        case ready = "Ready"
        /// Not reconciled yet, waiting on the cluster (a namespace being deleted), or on the share
        /// planner (a quota not sized yet, or sized with no room for a pod).
        case pending = "Pending"
        /// Something stands in the way; the message says what and what to do.
        case error = "Error"
    }

    public var state: State
    public var message: String?

    public static let ready = NamespaceStatus(state: .ready, message: nil)
    public static func pending(_ message: String) -> NamespaceStatus { NamespaceStatus(state: .pending, message: message) }
    public static func error(_ message: String) -> NamespaceStatus { NamespaceStatus(state: .error, message: message) }
}

/// Where the reconciliation of one cluster stands.
public struct ClusterSyncStatus: Sendable, Equatable, Encodable {
    public enum State: String, Sendable, Encodable {
        /// No pass has finished yet.
        case pending = "Pending"
        /// The last pass reached the cluster (some namespaces may still report problems).
        case synced = "Synced"
        /// The last pass could not reach the cluster or was refused; retrying with backoff.
        case failing = "Failing"
    }

    public var state: State = .pending
    /// When the last pass that reached the cluster ended.
    public var lastSync: Date?
    /// Why the last pass failed (never credentials).
    public var lastError: String?
    /// When the next attempt is due after a failure.
    public var nextAttempt: Date?
    /// Passes run and writes sent since this process started.
    public var passes = 0
    public var writes = 0
    /// How many objects Canopy wants in the cluster.
    public var desiredObjects = 0
}
