import Foundation
import KubeAPI
import Synchronization

/// Faults a test injects into one simulated cluster, through `POST /clusters/<c>/kubesim/faults`
/// (admin token only) or directly in process.
public struct Faults: Sendable, Equatable, Codable {
    /// Added to every request, in milliseconds.
    public var latencyMilliseconds: Int = 0
    /// Share of requests (0…1) answered with `failCode` instead of being served.
    public var failShare: Double = 0
    /// 500 (`InternalError`) or 429 (`TooManyRequests`, with `Retry-After: 1`).
    public var failCode: Int = 500
    /// The next this-many requests fail with `failCode` (deterministic, unlike `failShare`).
    public var failNext: Int = 0
    /// Until this time every connection is dropped without an answer, as if the cluster were down.
    public var unreachableUntil: Date?
    /// The next this-many list requests send half their answer and then drop the connection.
    public var dropListsMidway: Int = 0
    /// Resources (plural names, such as `serviceaccounts`) refused to every caller as RBAC refuses
    /// what it does not grant (403 `Forbidden`, in the server's words): a cluster whose
    /// administrator gave Canopy less than everything.
    public var withheldResources: [String] = []

    public init() {}

    /// Every field is optional in the JSON; missing ones keep their defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        latencyMilliseconds = try container.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? 0
        failShare = try container.decodeIfPresent(Double.self, forKey: .failShare) ?? 0
        failCode = try container.decodeIfPresent(Int.self, forKey: .failCode) ?? 500
        unreachableUntil = try container.decodeIfPresent(Date.self, forKey: .unreachableUntil)
        dropListsMidway = try container.decodeIfPresent(Int.self, forKey: .dropListsMidway) ?? 0
        failNext = try container.decodeIfPresent(Int.self, forKey: .failNext) ?? 0
        withheldResources = try container.decodeIfPresent([String].self, forKey: .withheldResources) ?? []
    }
}

extension SimCluster {
    /// The faults now in force.
    public var faults: Faults {
        get { faultState.withLock { $0 } }
        set { faultState.withLock { $0 = newValue } }
    }

    /// Makes the cluster unreachable for `seconds`.
    public func makeUnreachable(for seconds: TimeInterval) {
        faultState.withLock { $0.unreachableUntil = Date().addingTimeInterval(seconds) }
    }

    /// What to do with the next request, decided under the fault lock.
    enum FaultAction {
        case serve
        case fail(Int)
        case drop
        case dropMidway
    }

    func nextFault(isList: Bool) -> (action: FaultAction, latency: Int) {
        faultState.withLock { faults in
            if let until = faults.unreachableUntil {
                if until > Date() { return (.drop, 0) }
                faults.unreachableUntil = nil
            }
            if isList && faults.dropListsMidway > 0 {
                faults.dropListsMidway -= 1
                return (.dropMidway, faults.latencyMilliseconds)
            }
            if faults.failNext > 0 {
                faults.failNext -= 1
                return (.fail(faults.failCode), faults.latencyMilliseconds)
            }
            if faults.failShare > 0 && Double.random(in: 0..<1) < faults.failShare {
                return (.fail(faults.failCode), faults.latencyMilliseconds)
            }
            return (.serve, faults.latencyMilliseconds)
        }
    }
}
