import CanopyModel
import Foundation
import KubeAPI

/// What the reconciler knows for quota planning: the clusters' nodes and quotas as last seen,
/// recent demand, the hard limits it has set (the targets), and the last plan per tenant.
/// A value guarded by the reconciler's lock; building a plan from it is pure.
struct QuotaLedger {
    /// What one project namespace's quota said when last seen: its spec's limits, its usage,
    /// and the limits the API server enforces (`status.hard`: the cluster's quota controller
    /// takes them up from the spec a moment after each write; `nil` until it first has).
    struct ObservedQuota: Equatable {
        var hard: [String: Quantity]
        var used: [String: Quantity]
        var enforced: [String: Quantity]? = nil
    }

    /// Allocatable resources per node, per cluster.
    var nodes: [ClusterID: [String: [String: Quantity]]] = [:]
    /// Canopy's quotas per namespace, per cluster.
    var quotas: [ClusterID: [String: ObservedQuota]] = [:]
    /// The hard limits Canopy wants now, per cluster, namespace and resource (planner units).
    var targets: [ClusterID: [String: [String: Int64]]] = [:]
    var demand = DemandTracker()
    /// Clusters whose quotas a pass has listed since the start.
    var seen: Set<ClusterID> = []
    /// The last plan of each tenant, with the tree it came from.
    var plans: [TenantID: (tree: PlanTree, plan: Plan)] = [:]
    /// How many plans were made per tenant since the start.
    var planCounts: [TenantID: Int] = [:]

    /// What changed since the last re-plan, so that one re-plans only the tenants it concerns:
    /// tenants whose settings changed; clusters whose quotas, nodes, demand or reachability
    /// changed (their owner is re-planned); or everything (at the start, after a re-plan that
    /// could not be written, and once per demand window, as demand ages out with time alone).
    var changedTenants: Set<TenantID> = []
    var changedClusters: Set<ClusterID> = []
    var everythingChanged = true
    /// The clusters that were failing at the last re-plan (their namespaces' limits are frozen).
    var failing: Set<ClusterID> = []
    /// Lowered limits handed to a cluster's worker and not yet confirmed written: the generation
    /// of its desired objects that holds them, and the namespaces lowered. No raise is written
    /// while one is left, except on failing clusters (the planner holds their limits frozen at
    /// the higher of what was asked and what was seen).
    var unconfirmed: [ClusterID: (generation: Int, namespaces: Set<String>)] = [:]

    /// Records a quota as seen in a cluster (its usage feeds the demand).
    mutating func observe(_ quota: ResourceQuota, on cluster: ClusterID, at now: ContinuousClock.Instant) -> Bool {
        guard let namespace = quota.metadata.namespace else { return false }
        let observed = ObservedQuota(hard: quota.spec?.hard ?? [:], used: quota.status?.used ?? [:], enforced: quota.status?.hard)
        guard quotas[cluster]?[namespace] != observed else { return false }
        let usedChanged = quotas[cluster]?[namespace]?.used != observed.used
        quotas[cluster, default: [:]][namespace] = observed
        for (resource, value) in observed.used {
            demand.record(used: PlanUnits.amount(value, resource, roundingUp: true), of: resource, in: namespace, on: cluster, at: now)
        }
        return usedChanged
    }

    /// The namespaces of `namespaces` on `cluster` whose enforced limits (by default as last
    /// seen; `enforced` gives them as read afresh) are not yet at or below what Canopy asks for
    /// now. A namespace no longer asked for is left out; one whose quota enforces nothing yet is
    /// not in force.
    func notInForce(
        _ namespaces: Set<String>, on cluster: ClusterID, enforced read: ((String) -> [String: Quantity]?)? = nil
    ) -> [String] {
        namespaces.filter { namespace in
            guard let target = targets[cluster]?[namespace] else { return false }
            guard let enforced = read.map({ $0(namespace) }) ?? quotas[cluster]?[namespace]?.enforced else { return true }
            return target.contains { resource, amount in
                enforced[resource].map { PlanUnits.amount($0, resource, roundingUp: true) > amount } ?? true
            }
        }.sorted()
    }

    /// The cluster's summed allocatable resources, when its nodes have been seen.
    func allocatable(of cluster: ClusterID) -> [String: Quantity]? {
        guard let nodes = nodes[cluster] else { return nil }
        var total: [String: Quantity] = [:]
        for node in nodes.values {
            for (resource, value) in node { total[resource] = (total[resource] ?? .zero) + value }
        }
        return total
    }

    /// The planner's input for one tenant. Namespaces on `frozen` clusters (unreachable) keep
    /// their limits: the higher of what was seen there and what was last asked for.
    func tree(for tenant: TenantSnapshot, frozen: Set<ClusterID>, at now: ContinuousClock.Instant) -> PlanTree {
        var projects: [PlanTree.Project] = []
        for project in tenant.projects.values {
            let placed = Dictionary(grouping: tenant.namespaces(ofProject: project.id), by: \.clusterID)
            let clusters = Set(placed.keys).union(project.placements.keys.filter { tenant.clusters[$0] != nil })
            let placements = clusters.map { clusterID in
                let settings = project.placements[clusterID]
                return PlanTree.Placement(
                    cluster: clusterID.rawValue, reservation: settings?.reservation?.byQuotaName ?? [:],
                    caps: PlanUnits.amounts(settings?.caps),
                    namespaces: (placed[clusterID] ?? []).map { namespace(named: $0.name, on: clusterID, frozen: frozen.contains(clusterID), at: now) }
                )
            }
            projects.append(PlanTree.Project(id: project.id.rawValue, caps: PlanUnits.amounts(project.caps), placements: placements))
        }
        var tree = PlanTree(capacity: [:], caps: PlanUnits.amounts(tenant.tenant.caps), projects: projects)
        let resources = tree.resources
        for cluster in tenant.clusters.values {
            let allocatable = self.allocatable(of: cluster.id) ?? Self.importedCapacity(cluster)
            tree.capacity[cluster.id.rawValue] = PlanUnits.capacity(allocatable: allocatable, resources: resources)
        }
        return tree
    }

    private func namespace(named name: String, on cluster: ClusterID, frozen: Bool, at now: ContinuousClock.Instant) -> PlanTree.Namespace {
        let observed = quotas[cluster]?[name]
        var used: [String: Int64] = [:]
        for (resource, value) in observed?.used ?? [:] { used[resource] = PlanUnits.amount(value, resource, roundingUp: true) }
        var pinned: [String: Int64]?
        if frozen {
            var limits = targets[cluster]?[name] ?? [:]
            for (resource, value) in observed?.hard ?? [:] {
                limits[resource] = max(limits[resource] ?? 0, PlanUnits.amount(value, resource, roundingUp: true))
            }
            pinned = limits
        }
        return PlanTree.Namespace(name: name, used: used, demand: demand.demand(of: name, on: cluster, at: now), pinned: pinned)
    }

    /// The capacity recorded when the cluster was imported, until its nodes are seen.
    static func importedCapacity(_ cluster: Cluster) -> [String: Quantity] {
        var result: [String: Quantity] = [:]
        if let cpu = cluster.capacity.cpu.flatMap({ try? Quantity(parsing: $0) }) { result["cpu"] = cpu }
        if let memory = cluster.capacity.memory.flatMap({ try? Quantity(parsing: $0) }) { result["memory"] = memory }
        return result
    }
}
