import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/clusters`: the provider's domain pool — clusters registered by the provider and assigned to
/// tenants later (`POST /clusters/{c}/assign {tenant}`), after which they are the tenant's.
struct PoolRoutes {
    let services: APIServices

    struct AssignRequest: Decodable {
        let tenant: String
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("clusters") { _, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainPool, on: .domain, "clusters")
            let clusters = caller.snapshot.poolClusters.values.sorted { $0.name < $1.name }
            return try JSONBody.response(ListView(items: clusters.map { ClusterView($0, tenantName: nil, health: services.health.health(of: $0.id)) }))
        }
        router.post("clusters") { request, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainPool, on: .domain, "clusters")
            let body = try await JSONBody.decode(ClusterRoutes.ImportClusterRequest.self, schema: "ImportClusterRequest", from: request, context: context)
            guard caller.snapshot.poolCluster(named: body.name) == nil else {
                throw APIError.conflict("a pool cluster named '\(body.name)' already exists", field: "name")
            }
            let (cluster, health) = try await ClusterRoutes(services: services).importCluster(body, into: nil, caller: caller)
            return try JSONBody.response(ClusterView(cluster, tenantName: nil, health: health), status: .created)
        }
        router.post("clusters/{cluster}/assign") { request, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainPool, on: .domain, "clusters")
            let name = try request.parameter("cluster", context)
            guard let cluster = caller.snapshot.poolCluster(named: name) else { throw APIError.notFound("pool cluster '\(name)'") }
            let body = try await JSONBody.decode(AssignRequest.self, schema: "AssignClusterRequest", from: request, context: context)
            guard let tenant = caller.snapshot.tenant(named: body.tenant) else {
                throw APIError.invalid("no tenant named '\(body.tenant)'", field: "tenant")
            }
            guard tenant.cluster(named: cluster.name) == nil else {
                throw APIError.conflict("tenant '\(body.tenant)' already has a cluster named '\(cluster.name)'", field: "tenant")
            }
            let now = services.now
            let assigned = try await services.world.commit { tx in
                let assigned = try await tx.assign(cluster, to: tenant.tenant.id, at: now)
                return World.Outcome(
                    result: assigned, changes: [.clusterSaved(assigned)],
                    audit: [caller.audit("cluster.assign", "clusters/\(cluster.name)", tenant: nil, at: now),
                            caller.audit("cluster.assign", "tenants/\(tenant.tenant.name)/clusters/\(cluster.name)", tenant: tenant.tenant.id, at: now)]
                )
            }
            return try JSONBody.response(ClusterView(assigned, tenantName: tenant.tenant.name, health: services.health.health(of: assigned.id)))
        }
    }
}
