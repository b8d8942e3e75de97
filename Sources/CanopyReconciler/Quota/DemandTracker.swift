import CanopyModel

/// Recent demand per namespace: growth of usage and requests the quota refused, over a sliding
/// window (60 s). Headroom goes where this says it is wanted.
struct DemandTracker {
    /// How far back demand counts.
    static let window: Duration = .seconds(60)

    private struct Key: Hashable {
        var cluster: ClusterID
        var namespace: String
    }

    private struct Sample {
        var at: ContinuousClock.Instant
        var amount: Int64
    }

    /// Per namespace and resource: usage samples (the latest is kept even when old) and refusals.
    private var usage: [Key: [String: [Sample]]] = [:]
    private var refusals: [Key: [String: [Sample]]] = [:]

    /// A usage sample. Growth serves the refusals waiting there first (oldest first): a refused
    /// pod that got in no longer asks for room.
    mutating func record(used: Int64, of resource: String, in namespace: String, on cluster: ClusterID, at now: ContinuousClock.Instant) {
        let key = Key(cluster: cluster, namespace: namespace)
        var samples = usage[key]?[resource] ?? []
        if let previous = samples.last?.amount, used > previous, var waiting = refusals[key]?[resource] {
            var served = used - previous
            while served > 0, !waiting.isEmpty {
                let taken = min(served, waiting[0].amount)
                waiting[0].amount -= taken
                served -= taken
                if waiting[0].amount == 0 { waiting.removeFirst() }
            }
            refusals[key]?[resource] = waiting
        }
        samples.removeAll { now - $0.at > Self.window }
        samples.append(Sample(at: now, amount: used))
        usage[key, default: [:]][resource] = samples
    }

    mutating func record(refused amount: Int64, of resource: String, in namespace: String, on cluster: ClusterID, at now: ContinuousClock.Instant) {
        let key = Key(cluster: cluster, namespace: namespace)
        var samples = refusals[key]?[resource] ?? []
        samples.removeAll { now - $0.at > Self.window }
        samples.append(Sample(at: now, amount: amount))
        refusals[key, default: [:]][resource] = samples
    }

    /// Per resource: growth within the window (latest usage minus the lowest) plus the refused
    /// requests within it (sums saturate: a cluster's refusals name what amounts it likes).
    func demand(of namespace: String, on cluster: ClusterID, at now: ContinuousClock.Instant) -> [String: Int64] {
        let key = Key(cluster: cluster, namespace: namespace)
        var result: [String: Int64] = [:]
        for (resource, samples) in usage[key] ?? [:] {
            guard let latest = samples.last else { continue }
            let lowest = samples.filter { now - $0.at <= Self.window }.map(\.amount).min() ?? latest.amount
            if latest.amount > lowest { result[resource] = (result[resource] ?? 0).addingSaturating(latest.amount - lowest) }
        }
        for (resource, samples) in refusals[key] ?? [:] {
            let refused = samples.filter { now - $0.at <= Self.window }.reduce(Int64(0)) { $0.addingSaturating($1.amount) }
            if refused > 0 { result[resource] = (result[resource] ?? 0).addingSaturating(refused) }
        }
        return result
    }
}
