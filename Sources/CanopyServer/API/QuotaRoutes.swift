import CanopyModel
import CanopyReconciler
import Foundation
import Hummingbird
import KubeAPI

/// What the share planner decided and what the clusters show: a project's usage
/// (`/projects/{p}/usage`, for anyone who sees the project) and a cluster's allocation
/// (`/clusters/{c}/allocation`, for those who manage the tenant's clusters).
struct QuotaRoutes {
    let services: APIServices

    /// Figures for one resource; absent ones are unknown or unbounded.
    struct Figures: Encodable {
        var cap: String?
        var reserved: String?
        /// The hard limit the planner wants.
        var planned: String?
        /// The hard limit the cluster holds now.
        var hard: String?
        var used: String?
    }

    struct NamespaceUsage: Encodable {
        let name: String
        let resources: [String: Figures]
    }

    struct ClusterUsage: Encodable {
        let cluster: String
        let reservation: Reservation?
        let caps: ResourceCaps?
        let resources: [String: Figures]
        let namespaces: [NamespaceUsage]
    }

    struct ProjectUsageView: Encodable {
        let project: String
        /// Whether a plan exists yet (it follows the first pass over each of the tenant's clusters).
        let planned: Bool
        let caps: ResourceCaps?
        let resources: [String: Figures]
        let clusters: [ClusterUsage]
    }

    struct ProjectAllocation: Encodable {
        let project: String
        let reservation: Reservation?
        let resources: [String: Figures]
    }

    struct AllocationView: Encodable {
        let cluster: String
        let planned: Bool
        /// Whether capacity comes from the nodes as watched now (else: as recorded at import).
        let liveCapacity: Bool
        let capacity: [String: String]
        let reserved: [String: String]
        /// Capacity no reservation holds: what projects share beyond their reservations.
        let unreserved: [String: String]
        /// Capacity no hard limit holds.
        let unallocated: [String: String]
        let projects: [ProjectAllocation]
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/projects/{project}/usage") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            return try JSONBody.response(usage(of: project, in: tenant))
        }
        router.get("tenants/{tenant}/clusters/{cluster}/allocation") { request, context in
            let caller = try Caller(context, services)
            let (tenant, cluster) = try ClusterRoutes(services: services).find(request, context, caller)
            try caller.require(.manageClusters, on: .tenant(tenant.tenant.id), "cluster")
            return try JSONBody.response(allocation(of: cluster, in: tenant))
        }
    }

    private func text(_ amount: Int64?, _ resource: String) -> String? {
        amount.map { PlanUnits.quantity($0, resource).canonical }
    }

    func usage(of project: Project, in tenant: TenantSnapshot) -> ProjectUsageView {
        let state = services.reconciler.quotaState(of: tenant.tenant.id)
        let planned = state?.tree.projects.first { $0.id == project.id.rawValue }
        let caps = PlanUnits.amounts(project.caps)
        var plannedTotal: [String: Int64] = [:], usedTotal: [String: Int64] = [:]
        var clusters: [ClusterUsage] = []
        for placement in (planned?.placements ?? []).sorted(by: { $0.cluster < $1.cluster }) {
            let clusterID = ClusterID(placement.cluster)
            guard let cluster = tenant.clusters[clusterID] else { continue }
            let key = PlacementKey(project: project.id.rawValue, cluster: placement.cluster)
            var resources: [String: Figures] = [:]
            var namespaces: [NamespaceUsage] = []
            for namespace in placement.namespaces {
                let observed = state?.observed[clusterID]?[namespace.name]
                let plannedHard = state?.plan.hard[NamespaceKey(cluster: placement.cluster, name: namespace.name)]
                var figures: [String: Figures] = [:]
                for resource in Set(plannedHard?.keys ?? []).union(observed?.hard.keys ?? [:].keys) {
                    figures[resource] = Figures(
                        planned: text(plannedHard?[resource], resource),
                        hard: observed?.hard[resource]?.canonical, used: observed?.used[resource]?.canonical
                    )
                }
                namespaces.append(NamespaceUsage(name: namespace.name, resources: figures))
            }
            for (resource, hard) in state?.plan.placementHard[key]?.dictionary ?? [:] {
                // What the cluster last showed, not what the last plan worked from: a plan waits
                // on the one before it, and the view should not lag behind the namespaces' rows.
                let used = placement.namespaces.reduce(Int64(0)) { sum, namespace in
                    let seen = state?.observed[clusterID]?[namespace.name]?.used[resource]
                    return sum.addingSaturating(seen.map { PlanUnits.amount($0, resource, roundingUp: true) } ?? namespace.used[resource] ?? 0)
                }
                resources[resource] = Figures(
                    cap: text(placement.caps[resource], resource), reserved: text(state?.plan.reserved[key]?[resource], resource),
                    planned: text(hard, resource), used: text(used, resource)
                )
                plannedTotal[resource, default: 0] = (plannedTotal[resource] ?? 0).addingSaturating(hard)
                usedTotal[resource, default: 0] = (usedTotal[resource] ?? 0).addingSaturating(used)
            }
            let settings = project.placements[clusterID]
            clusters.append(ClusterUsage(cluster: cluster.name, reservation: settings?.reservation, caps: settings?.caps, resources: resources, namespaces: namespaces))
        }
        var totals: [String: Figures] = [:]
        for (resource, hard) in plannedTotal {
            totals[resource] = Figures(cap: text(caps[resource], resource), planned: text(hard, resource), used: text(usedTotal[resource], resource))
        }
        return ProjectUsageView(project: project.name, planned: planned != nil, caps: project.caps, resources: totals, clusters: clusters)
    }

    // Sums saturate: a tenant's cluster reports what it likes, up to Int64's end.

    /// A tenant's totals over its clusters, as the share planner last saw them: allocatable
    /// capacity, and what its project namespaces use. `nil` before its first plan (or with no
    /// clusters).
    func totals(of tenant: TenantSnapshot) -> (capacity: [String: String], used: [String: String])? {
        guard let state = services.reconciler.quotaState(of: tenant.tenant.id) else { return nil }
        var capacity: [String: Int64] = [:], used: [String: Int64] = [:]
        for resources in state.tree.capacity.values {
            for (resource, amount) in resources { capacity[resource] = (capacity[resource] ?? 0).addingSaturating(amount) }
        }
        for placement in state.tree.projects.flatMap(\.placements) {
            for namespace in placement.namespaces {
                for (resource, amount) in namespace.used { used[resource] = (used[resource] ?? 0).addingSaturating(amount) }
            }
        }
        return (
            capacity.reduce(into: [:]) { $0[$1.key] = text($1.value, $1.key) },
            capacity.keys.reduce(into: [:]) { $0[$1] = text(used[$1] ?? 0, $1) }
        )
    }

    func allocation(of cluster: Cluster, in tenant: TenantSnapshot) -> AllocationView {
        let state = services.reconciler.quotaState(of: tenant.tenant.id)
        let id = cluster.id.rawValue
        let capacity = state?.tree.capacity[id] ?? [:]
        var reserved: [String: Int64] = [:]
        var projects: [ProjectAllocation] = []
        for project in (state?.tree.projects ?? []) {
            guard let placement = project.placements.first(where: { $0.cluster == id }), let named = tenant.project(ProjectID(project.id)) else { continue }
            let key = PlacementKey(project: project.id, cluster: id)
            var figures: [String: Figures] = [:]
            for (resource, hard) in state?.plan.placementHard[key]?.dictionary ?? [:] {
                let held = state?.plan.reserved[key]?[resource] ?? 0
                reserved[resource] = (reserved[resource] ?? 0).addingSaturating(held)
                figures[resource] = Figures(
                    cap: text(placement.caps[resource], resource), reserved: text(held, resource), planned: text(hard, resource),
                    used: text(placement.namespaces.reduce(Int64(0)) { $0.addingSaturating($1.used[resource] ?? 0) }, resource)
                )
            }
            projects.append(ProjectAllocation(project: named.name, reservation: named.placements[cluster.id]?.reservation, resources: figures))
        }
        let names = capacity.keys
        return AllocationView(
            cluster: cluster.name, planned: state != nil, liveCapacity: state?.nodesSeen.contains(cluster.id) ?? false,
            capacity: capacity.reduce(into: [:]) { $0[$1.key] = text($1.value, $1.key) },
            reserved: reserved.reduce(into: [:]) { $0[$1.key] = text($1.value, $1.key) },
            unreserved: names.reduce(into: [:]) { $0[$1] = text(max(0, (capacity[$1] ?? 0) - (reserved[$1] ?? 0)), $1) },
            unallocated: (state?.plan.unallocated[id] ?? [:]).reduce(into: [:]) { $0[$1.key] = text($1.value, $1.key) },
            projects: projects.sorted { $0.project < $1.project }
        )
    }
}
