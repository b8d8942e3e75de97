import CanopyModel
import CanopyStore
import Foundation
import HTTPTypes
import Hummingbird
import CanopyReconciler
import KubeClient

/// `/tenants/{t}/clusters`: a tenant's imported clusters. Credentials go in sealed and never
/// come out.
struct ClusterRoutes {
    let services: APIServices

    struct ImportClusterRequest: Decodable {
        let name: String
        let kubeconfig: String
        let labels: [String: String]?
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/clusters") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try caller.require(.seeInsideTenant, on: .tenant(tenant.tenant.id), "tenant")
            let clusters = tenant.clusters.values.sorted { $0.name < $1.name }
            return try JSONBody.response(ListView(items: clusters.map { ClusterView($0, tenantName: tenant.tenant.name, health: services.health.health(of: $0.id), reconcile: services.reconciler.status(of: $0.id)) }))
        }
        router.post("tenants/{tenant}/clusters") { request, context in try await importCluster(request, context) }
        router.get("tenants/{tenant}/clusters/{cluster}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, cluster) = try find(request, context, caller)
            return try JSONBody.response(ClusterView(cluster, tenantName: tenant.tenant.name, health: services.health.health(of: cluster.id), reconcile: services.reconciler.status(of: cluster.id)))
        }
        router.delete("tenants/{tenant}/clusters/{cluster}") { request, context in try await remove(request, context) }
    }

    /// Removes a cluster from its tenant. Project namespaces on it make that a 409 unless
    /// `?cascade=true`, which detaches them and then waits (up to a minute) for the reconciler
    /// to remove Canopy's objects, namespaces included, before forgetting the cluster. Without
    /// namespaces, Canopy's cluster-wide objects are removed on a best-effort basis: a cluster
    /// that is gone for good can always be removed.
    private func remove(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, cluster) = try find(request, context, caller)
        try caller.require(.manageClusters, on: .tenant(tenant.tenant.id), "tenant")
        let cascade = request.uri.queryParameters.get("cascade") == "true"
        let released = try await remove(cluster, of: tenant, cascade: cascade, by: caller)
        guard cascade else {
            // No body to carry it: what was left behind goes in `Warning` headers, as an API
            // server's warnings do (kubectl and `canopy` print them).
            var response = Response(status: .noContent)
            for warning in released.warnings ?? [] {
                response.headers.append(HTTPField(name: Self.warningName, value: Self.warningHeader(warning)))
            }
            return response
        }
        return try JSONBody.response(released)
    }

    /// Removes a cluster from its tenant as `DELETE …/clusters/{c}` does (the caller's right to
    /// is checked before); what was removed. Shared by the API and the console.
    func remove(_ cluster: Cluster, of tenant: TenantSnapshot, cascade: Bool, by caller: Caller) async throws -> ClusterReleaseView {
        let placed = tenant.namespaces(onCluster: cluster.id)
        let target = "tenants/\(tenant.tenant.name)/clusters/\(cluster.name)"
        if !placed.isEmpty && !cascade {
            let names = placed.prefix(5).map { "\(tenant.project($0.projectID)?.name ?? "?")/\($0.name)" }.joined(separator: ", ")
            throw APIError.conflict(
                "cluster '\(cluster.name)' still holds \(placed.count) project namespace(s) (\(names)); remove them first, "
                    + "or delete with ?cascade=true to remove them and everything in them from the cluster"
            )
        }
        let now = services.now
        if !placed.isEmpty {
            services.logger.info("releasing cluster: detaching project namespaces", metadata: ["cluster": "\(cluster.name)", "namespaces": "\(placed.count)"])
            try await services.world.commit { tx in
                for placement in placed { try await tx.deleteNamespace(placement.id) }
                return World.Outcome(
                    result: (), changes: placed.map { .namespaceDeleted($0) },
                    audit: [caller.audit("cluster.release", target, tenant: tenant.tenant.id, at: now)]
                )
            }
        }
        var released: ClusterReleases.Released?
        var warnings: [String] = []
        do {
            released = try await services.releases.release(cluster.id, timeout: cascade ? .seconds(60) : .seconds(10))
            services.logger.info("released cluster", metadata: ["cluster": "\(cluster.name)", "writes": "\(released?.writes ?? 0)"])
        } catch {
            let reason = (error as? KubeError)?.message ?? "\(error)"
            guard !cascade else {
                throw APIError(
                    .serviceUnavailable, code: "unavailable",
                    message: "Canopy's objects could not be removed from cluster '\(cluster.name)': \(reason). The project namespaces "
                        + "are detached; retry the delete with ?cascade=true once the cluster answers"
                )
            }
            services.logger.warning("cluster removed without cleaning it up", metadata: ["cluster": "\(cluster.name)", "error": "\(reason)"])
            warnings.append(
                "Canopy's cluster-wide objects could not be removed from cluster '\(cluster.name)' (\(reason)) and stay in it; remove them with "
                    + "the cluster's own credentials: kubectl delete clusterroles,clusterrolebindings -l \(ManagedLabels.managedBy)=\(ManagedLabels.managedByValue)"
            )
        }
        do {
            try await services.world.commit { [released] tx in
                if let released { try await ClusterReleases.collect(released, in: tx) }
                try await tx.deleteCluster(cluster.id)
                return World.Outcome(
                    result: (), changes: [.clusterDeleted(cluster)],
                    audit: [caller.audit("cluster.delete", target, tenant: tenant.tenant.id, at: now)]
                )
            }
        } catch {
            // Not forgotten: it gets its objects back (its namespaces stay detached, as after a
            // clean-up that failed).
            if let released { await services.releases.undo(released) }
            throw error
        }
        let removed = placed.map { "\(tenant.project($0.projectID)?.name ?? "?")/\($0.name)" }.sorted()
        return ClusterReleaseView(cluster: cluster.name, removedNamespaces: removed, writes: released?.writes ?? 0, warnings: warnings.isEmpty ? nil : warnings)
    }

    func find(_ request: Request, _ context: AuthenticatedContext, _ caller: Caller) throws -> (TenantSnapshot, Cluster) {
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.seeInsideTenant, on: .tenant(tenant.tenant.id), "tenant")
        let name = try request.parameter("cluster", context)
        guard let cluster = tenant.cluster(named: name) else { throw APIError.notFound("cluster '\(name)'") }
        return (tenant, cluster)
    }

    private func importCluster(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.manageClusters, on: .tenant(tenant.tenant.id), "tenant")
        let body = try await JSONBody.decode(ImportClusterRequest.self, schema: "ImportClusterRequest", from: request, context: context)
        let (cluster, health) = try await add(body, to: tenant, by: caller)
        return try JSONBody.response(ClusterView(cluster, tenantName: tenant.tenant.name, health: health), status: .created)
    }

    /// Imports a cluster into a tenant (the caller's right to is checked before): refused with
    /// 409 when the tenant has one by that name. Shared by the API and the console.
    func add(_ body: ImportClusterRequest, to tenant: TenantSnapshot, by caller: Caller) async throws -> (Cluster, ClusterHealth) {
        guard tenant.cluster(named: body.name) == nil else {
            throw APIError.conflict("a cluster named '\(body.name)' already exists in this tenant", field: "name")
        }
        return try await importCluster(body, into: tenant, caller: caller)
    }

    /// Validates, inspects and stores a cluster for a tenant, or for the domain pool (`nil`).
    func importCluster(_ body: ImportClusterRequest, into tenant: TenantSnapshot?, caller: Caller) async throws -> (Cluster, ClusterHealth) {
        try Validate.name(body.name, field: "name")
        for (key, value) in body.labels ?? [:] {
            try Validate.displayName(key, field: "labels")
            try Validate.displayName(value, field: "labels.\(key)")
        }
        let facts = try await ClusterImporter(logger: services.logger).inspect(kubeconfig: body.kubeconfig)
        let now = services.now
        let cluster = Cluster(
            id: .random(), tenantID: tenant?.tenant.id, name: body.name, identity: facts.identity, server: facts.server,
            kubernetesVersion: facts.version, labels: body.labels ?? [:], capacity: facts.capacity, nodeCount: facts.nodeCount, createdAt: now
        )
        let sealed = try services.secrets.seal(body.kubeconfig)
        let target = tenant.map { "tenants/\($0.tenant.name)/clusters/\(cluster.name)" } ?? "clusters/\(cluster.name)"
        do {
            try await services.world.commit { tx in
                try await tx.insert(cluster, sealedCredentials: sealed)
                return World.Outcome(
                    result: (), changes: [.clusterSaved(cluster)],
                    audit: [caller.audit("cluster.import", target, tenant: tenant?.tenant.id, at: now)]
                )
            }
        } catch let error as StoreError where error.code == .duplicate {
            // The identity is unique in the whole domain; the answer never names the holder.
            throw APIError.conflict("this cluster is already managed by this domain", field: "kubeconfig")
        }
        let health = ClusterHealth(state: .ready, lastSeen: now, checkedAt: now, capacity: facts.capacity, nodeCount: facts.nodeCount)
        services.health.record(cluster.id, health)
        return (cluster, health)
    }
}

/// What a cascading release removed.
struct ClusterReleaseView: Encodable {
    let cluster: String
    let removedNamespaces: [String]
    let writes: Int
    /// What was left behind, when something was.
    let warnings: [String]?
}

extension ClusterRoutes {
    static let warningName = HTTPField.Name("Warning")!

    /// A `Warning` header's value as Kubernetes writes it: code 299, no agent, the text quoted
    /// (on one line).
    static func warningHeader(_ text: String) -> String {
        let line = text.map { $0.isNewline ? " " : String($0) }.joined()
        return "299 - \"" + line.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// A cluster as the API shows it: never its credentials.
struct ClusterView: Encodable {
    let id: String, tenant: String?, name: String, server: String, kubernetesVersion: String
    let labels: [String: String], capacity: ResourceCaps, nodeCount: Int, version: Int, createdAt: Date
    let status: ClusterHealth
    let reconcile: ClusterSyncStatus?

    init(_ cluster: Cluster, tenantName: String?, health: ClusterHealth, reconcile: ClusterSyncStatus? = nil) {
        id = cluster.id.rawValue
        tenant = tenantName
        name = cluster.name
        server = cluster.server
        kubernetesVersion = cluster.kubernetesVersion
        labels = cluster.labels
        capacity = health.capacity ?? cluster.capacity
        nodeCount = health.nodeCount ?? cluster.nodeCount
        status = health
        self.reconcile = reconcile
        version = cluster.version
        createdAt = cluster.createdAt
    }
}
