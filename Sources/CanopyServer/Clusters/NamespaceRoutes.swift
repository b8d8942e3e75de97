import CanopyModel
import CanopyReconciler
import CanopyStore
import Foundation
import Hummingbird
import KubeAPI
import KubeClient

/// `/tenants/{t}/projects/{p}/namespaces`: where a project lives in the tenant's clusters.
struct NamespaceRoutes {
    let services: APIServices

    struct CreateNamespaceRequest: Decodable {
        let cluster: String
        let name: String
        let adopt: Bool?
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/projects/{project}/namespaces") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            return try JSONBody.response(ListView(items: views(of: project, in: tenant)))
        }
        router.post("tenants/{tenant}/projects/{project}/namespaces") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
            let body = try await JSONBody.decode(CreateNamespaceRequest.self, schema: "CreateNamespaceRequest", from: request, context: context)
            let placement = try await add(body, to: project, in: tenant, by: caller)
            return try JSONBody.response(view(placement, in: tenant), status: .created)
        }
        router.delete("tenants/{tenant}/projects/{project}/namespaces/{cluster}/{name}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
            let (placement, cluster) = try find(request.parameter("name", context), onCluster: request.parameter("cluster", context), of: project, in: tenant)
            try await remove(placement, on: cluster, of: project, in: tenant, by: caller)
            return Response(status: .noContent)
        }
    }

    /// A namespace of `project` on a cluster of the tenant, by names; 404 otherwise.
    func find(_ name: String, onCluster clusterName: String, of project: Project, in tenant: TenantSnapshot) throws -> (ProjectNamespace, Cluster) {
        guard let cluster = tenant.cluster(named: clusterName),
              let placement = tenant.namespace(name, onCluster: cluster.id), placement.projectID == project.id
        else { throw APIError.notFound("namespace '\(name)' on cluster '\(clusterName)'") }
        return (placement, cluster)
    }

    /// Removes a namespace from its project (the caller's right to is checked before): the
    /// reconciler then deletes it, and everything in it, from the cluster.
    func remove(_ placement: ProjectNamespace, on cluster: Cluster, of project: Project, in tenant: TenantSnapshot, by caller: Caller) async throws {
        let now = services.now
        try await services.world.commit { tx in
            try await tx.deleteNamespace(placement.id)
            return World.Outcome(
                result: (), changes: [.namespaceDeleted(placement)],
                audit: [caller.audit("namespace.delete", target(placement, cluster: cluster, in: tenant), tenant: tenant.tenant.id, project: project.id, at: now)]
            )
        }
    }

    /// Places a namespace of `project` on one of the tenant's clusters (the caller may add
    /// namespaces to it: Project Admins and tenant admins).
    func add(_ namespace: CreateNamespaceRequest, to project: Project, in tenant: TenantSnapshot, by caller: Caller) async throws -> ProjectNamespace {
        try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
        let placement = try await prepare(cluster: namespace.cluster, name: namespace.name, adopt: namespace.adopt ?? false, project: project, in: tenant, field: "")
        try await commit(caller, [placement], project: project, in: tenant, at: services.now)
        return placement
    }

    /// Checks a new placement and decides whether it adopts an existing namespace.
    ///
    /// The cluster must be the tenant's; the name a DNS label, not a system namespace, and not
    /// placed on that cluster yet. When the cluster can be asked, a namespace that exists there
    /// without Canopy's label answers 409 unless `adopt` is set. When it cannot, the placement is
    /// accepted and the reconciler (which never takes over a namespace not adopted) reports it.
    func prepare(cluster clusterName: String, name: String, adopt: Bool, project: Project, in tenant: TenantSnapshot, field prefix: String) async throws -> ProjectNamespace {
        try Validate.name(name, field: prefix + "name")
        if name == "default" || name.hasPrefix("kube-") {
            throw APIError.invalid("'\(name)' is a system namespace; project namespaces need their own names", field: prefix + "name")
        }
        guard let cluster = tenant.cluster(named: clusterName) else {
            throw APIError.invalid("cluster '\(clusterName)' is not one of this tenant's clusters", field: prefix + "cluster")
        }
        if tenant.namespace(name, onCluster: cluster.id) != nil {
            throw APIError.conflict("namespace '\(name)' is already placed on cluster '\(clusterName)'", field: prefix + "name")
        }
        let existing = await lookUp(name, on: cluster)
        if let existing, !adopt, !isCanopys(existing, tenant: tenant) {
            throw APIError.conflict(
                "a namespace named '\(name)' already exists on cluster '\(clusterName)' and Canopy does not manage it; "
                    + "choose another name, or set adopt: true to take it over", field: prefix + "name"
            )
        }
        return ProjectNamespace(
            id: .random(), tenantID: tenant.tenant.id, projectID: project.id, clusterID: cluster.id, name: name,
            adopted: existing.map { !isCanopys($0, tenant: tenant) } ?? false, createdAt: services.now
        )
    }

    /// Stores placements with one audit event each.
    func commit(_ caller: Caller, _ placements: [ProjectNamespace], project: Project, in tenant: TenantSnapshot, at now: Date) async throws {
        do {
            try await services.world.commit { tx in
                for placement in placements { try await tx.insert(placement) }
                return World.Outcome(
                    result: (), changes: placements.map { .namespaceSaved($0) },
                    audit: placements.map { placement in
                        caller.audit(
                            placement.adopted ? "namespace.adopt" : "namespace.create",
                            target(placement, cluster: tenant.clusters[placement.clusterID], in: tenant),
                            tenant: tenant.tenant.id, project: project.id, at: now
                        )
                    }
                )
            }
        } catch let error as StoreError where error.code == .duplicate {
            throw APIError.conflict("that namespace was just placed on the cluster by another request", field: "name")
        }
    }

    private func lookUp(_ name: String, on cluster: Cluster) async -> Namespace? {
        do {
            let client = try await services.clusters.client(for: cluster, timeout: .seconds(5), retries: 1)
            defer { Task { try? await client.shutdown() } }
            return try await client.get(Namespace.self, name)
        } catch {
            return nil
        }
    }

    private func isCanopys(_ namespace: Namespace, tenant: TenantSnapshot) -> Bool {
        ManagedLabels.isManaged(namespace.metadata) && namespace.metadata.labels?[ManagedLabels.tenant] == tenant.tenant.name
    }

    private func target(_ placement: ProjectNamespace, cluster: Cluster?, in tenant: TenantSnapshot) -> String {
        "tenants/\(tenant.tenant.name)/clusters/\(cluster?.name ?? placement.clusterID.rawValue)/namespaces/\(placement.name)"
    }

    func views(of project: Project, in tenant: TenantSnapshot) -> [NamespaceView] {
        tenant.namespaces(ofProject: project.id).map { view($0, in: tenant) }
            .sorted { ($0.cluster, $0.name) < ($1.cluster, $1.name) }
    }

    func view(_ placement: ProjectNamespace, in tenant: TenantSnapshot) -> NamespaceView {
        NamespaceView(
            placement, project: tenant.project(placement.projectID)?.name ?? "", cluster: tenant.clusters[placement.clusterID]?.name ?? "",
            status: services.reconciler.namespaceStatus(placement.name, on: placement.clusterID)
        )
    }
}

/// A project namespace as the API shows it, with where it stands in its cluster.
struct NamespaceView: Encodable {
    let id: String, project: String, cluster: String, name: String, adopted: Bool, createdAt: Date
    let status: NamespaceStatus

    init(_ placement: ProjectNamespace, project: String, cluster: String, status: NamespaceStatus) {
        id = placement.id.rawValue
        self.project = project
        self.cluster = cluster
        name = placement.name
        adopted = placement.adopted
        createdAt = placement.createdAt
        self.status = status
    }
}
