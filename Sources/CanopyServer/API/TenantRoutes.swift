import CanopyModel
import CanopyStore
import Foundation
import Hummingbird
import KubeClient

/// `/tenants` and `/tenants/{t}`: the provider's view of its customers.
struct TenantRoutes {
    let services: APIServices

    struct CreateTenantRequest: Decodable {
        struct FirstAdmin: Decodable {
            let username: String
            let password: String
        }

        let name: String
        let displayName: String?
        let mode: TenancyMode
        let admin: FirstAdmin
    }

    struct UpdateTenantRequest: Decodable {
        let displayName: String?
        let state: TenantState?
        let caps: ResourceCaps?
        let version: Int?
    }

    /// The tenant as `caller` may see it, with its capacity and usage totals.
    func view(_ tenant: TenantSnapshot, for caller: Caller) -> TenantView {
        TenantView(tenant, for: caller, totals: QuotaRoutes(services: services).totals(of: tenant))
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants") { _, context in
            let caller = try Caller(context, services)
            return try JSONBody.response(ListView(items: caller.visibleTenants.map { view($0, for: caller) }))
        }
        router.post("tenants") { request, context in try await create(request, context) }
        router.get("tenants/{tenant}") { request, context in
            let caller = try Caller(context, services)
            return try JSONBody.response(view(try caller.tenant(request.parameter("tenant", context)), for: caller))
        }
        router.patch("tenants/{tenant}") { request, context in try await update(request, context) }
        router.delete("tenants/{tenant}") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try caller.require(.manageTenants, on: .tenant(tenant.tenant.id), "tenant")
            try await remove(tenant, cascade: request.uri.queryParameters.get("cascade") == "true", by: caller)
            return Response(status: .noContent)
        }
    }

    /// Deletes a tenant as `DELETE …/tenants/{t}` does (the API and the console's tenant page):
    /// one that still manages clusters only with `cascade`. The caller's right to is checked by
    /// the caller.
    func remove(_ tenant: TenantSnapshot, cascade: Bool, by caller: Caller) async throws {
        let released = try await releaseClusters(of: tenant, cascade: cascade)
        let now = services.now
        do {
            try await services.world.commit { tx in
                for cluster in released { try await ClusterReleases.collect(cluster, in: tx) }
                try await tx.deleteTenant(tenant.tenant.id)
                return World.Outcome(
                    result: (), changes: [.tenantDeleted(tenant.tenant.id)],
                    audit: [caller.audit("tenant.delete", "tenants/\(tenant.tenant.name)", at: now)]
                )
            }
        } catch {
            // Nothing deleted: every cluster cleaned gets its objects back.
            for cluster in released { await services.releases.undo(cluster) }
            throw error
        }
    }

    /// A tenant that still manages clusters is deleted only with `cascade`, which first removes
    /// Canopy's objects (project namespaces included) from every one of them. If one cannot be
    /// cleaned, nothing is deleted and every cluster goes back to its desired state.
    private func releaseClusters(of tenant: TenantSnapshot, cascade: Bool) async throws -> [ClusterReleases.Released] {
        let clusters = tenant.clusters.values.sorted { $0.name < $1.name }
        guard !clusters.isEmpty else { return [] }
        guard cascade else {
            throw APIError.conflict(
                "tenant '\(tenant.tenant.name)' still manages \(clusters.count) cluster(s) (\(clusters.prefix(5).map(\.name).joined(separator: ", "))); "
                    + "delete with ?cascade=true to remove Canopy's namespaces and objects from them first"
            )
        }
        let outcomes = await withTaskGroup(of: (Cluster, Result<ClusterReleases.Released, any Error>).self) { group in
            for cluster in clusters {
                group.addTask {
                    do {
                        return (cluster, .success(try await services.releases.release(cluster.id, timeout: .seconds(60))))
                    } catch {
                        return (cluster, .failure(error))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var released: [ClusterReleases.Released] = [], failure: (cluster: Cluster, error: any Error)?
        for (cluster, outcome) in outcomes {
            switch outcome {
            case .success(let done): released.append(done)
            case .failure(let error): failure = failure ?? (cluster, error)
            }
        }
        guard let (cluster, error) = failure else { return released }
        for cluster in released { await services.releases.undo(cluster) }
        let reason = (error as? KubeError)?.message ?? "\(error)"
        throw APIError(
            .serviceUnavailable, code: "unavailable",
            message: "Canopy's objects could not be removed from cluster '\(cluster.name)': \(reason). "
                + "Nothing was deleted; retry the delete with ?cascade=true once the cluster answers"
        )
    }

    private func create(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        try caller.require(.manageTenants, on: .domain, "tenants")
        let body = try await JSONBody.decode(CreateTenantRequest.self, schema: "CreateTenantRequest", from: request, context: context)
        let tenant = try await add(body, by: caller)
        let after = services.world.snapshot
        return try JSONBody.response(view(after.tenant(tenant.id) ?? TenantSnapshot(tenant: tenant), for: caller.reading(after)), status: .created)
    }

    /// Creates a tenant with its first admin (the caller's right to is checked before). Shared
    /// by the API and the console.
    func add(_ body: CreateTenantRequest, by caller: Caller) async throws -> Tenant {
        try Validate.name(body.name, field: "name")
        try Validate.displayName(body.displayName ?? "", field: "displayName")
        try Validate.name(body.admin.username, field: "admin.username")
        try Validate.password(body.admin.password, field: "admin.password")
        guard caller.snapshot.tenant(named: body.name) == nil else {
            throw APIError.conflict("a tenant named '\(body.name)' already exists", field: "name")
        }
        let now = services.now
        let tenant = Tenant(id: .random(), name: body.name, displayName: body.displayName ?? body.name, mode: body.mode, createdAt: now)
        let admin = User(id: .random(), tenantID: tenant.id, username: body.admin.username, createdAt: now)
        let grant = Grant(id: .random(), tenantID: tenant.id, projectID: nil, role: .tenantAdmin, subject: .user(admin.id), createdAt: now)
        let hash = try await services.hasher.hash(body.admin.password)
        try await services.world.commit { tx in
            try await tx.insert(tenant)
            try await tx.insert(admin, passwordHash: hash)
            try await tx.insert(grant)
            return World.Outcome(
                result: (), changes: [.tenantSaved(tenant), .userSaved(admin), .grantSaved(grant)],
                audit: [
                    caller.audit("tenant.create", "tenants/\(tenant.name)", at: now),
                    caller.audit("admin.create", "tenants/\(tenant.name)/admins/\(grant.id)", tenant: tenant.id, at: now),
                ]
            )
        }
        return tenant
    }

    private func update(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let current = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.manageTenants, on: .tenant(current.tenant.id), "tenant")
        let body = try await JSONBody.decode(UpdateTenantRequest.self, schema: "UpdateTenantRequest", from: request, context: context)
        let saved = try await update(current, with: body, by: caller)
        let after = services.world.snapshot
        return try JSONBody.response(view(after.tenant(saved.id)!, for: caller.reading(after)))
    }

    /// Changes a tenant as `PATCH …/tenants/{t}` does (the API and the console's tenant page).
    /// The caller's right to is checked by the caller.
    func update(_ current: TenantSnapshot, with body: UpdateTenantRequest, by caller: Caller) async throws -> Tenant {
        var tenant = current.tenant
        if let version = body.version { tenant.version = version }
        if let displayName = body.displayName {
            try Validate.displayName(displayName, field: "displayName")
            tenant.displayName = displayName
        }
        if let state = body.state { tenant.state = state }
        if let caps = body.caps {
            try QuotaRules.caps(caps, field: "caps")
            tenant.caps = caps.isEmpty ? nil : caps
        }
        tenant.updatedAt = services.now
        let edited = tenant
        let world = services.world
        let tenantID = current.tenant.id
        let saved = try await services.world.commit { tx in
            if body.caps != nil, let inside = world.snapshot.tenant(tenantID) {
                try QuotaRules.checkTenantCaps(edited.caps, projects: Array(inside.projects.values), in: inside)
            }
            let saved = try await tx.update(edited)
            return World.Outcome(
                result: saved, changes: [.tenantSaved(saved)],
                audit: [caller.audit("tenant.update", "tenants/\(saved.name)", at: edited.updatedAt)]
            )
        }
        return saved
    }
}
