import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/tenants/{t}/projects`: projects, their caps, and (with the clusters issue) placements.
struct ProjectRoutes {
    let services: APIServices

    struct Placement: Decodable {
        let cluster: String
        let namespaces: [String]
        let adopt: Bool?
        let reservation: Reservation?
        let caps: ResourceCaps?
    }

    /// A project's reservation and caps on one cluster; `{}` clears one.
    struct PlacementSettingsRequest: Decodable {
        let cluster: String
        let reservation: Reservation?
        let caps: ResourceCaps?
    }

    struct CreateProjectRequest: Decodable {
        let name: String
        let displayName: String?
        let caps: ResourceCaps?
        let podSecurity: PodSecurityLevel?
        let placements: [Placement]?
    }

    struct UpdateProjectRequest: Decodable {
        let displayName: String?
        let caps: ResourceCaps?
        let podSecurity: PodSecurityLevel?
        let placements: [PlacementSettingsRequest]?
        let version: Int?
    }

    private var namespaces: NamespaceRoutes { NamespaceRoutes(services: services) }

    private func view(_ project: Project, in tenant: TenantSnapshot, role: Role?, warnings: [String] = []) -> ProjectView {
        ProjectView(project, in: tenant, role: role, namespaces: namespaces.views(of: project, in: tenant), warnings: warnings)
    }

    /// Settings for one cluster, validated; `nil` when they say nothing.
    private func settings(cluster name: String, reservation: Reservation?, caps: ResourceCaps?, in tenant: TenantSnapshot, field: String) throws -> (ClusterID, PlacementSettings?) {
        guard let cluster = tenant.cluster(named: name) else {
            throw APIError.invalid("there is no cluster named '\(name)' in this tenant", field: field + "cluster")
        }
        if let caps { try QuotaRules.caps(caps, field: field + "caps") }
        for (resource, percent) in reservation?.byQuotaName ?? [:] where !(percent.isFinite && (0...100).contains(percent)) {
            let name = resource == QuotaResource.cpu ? "cpuPercent" : "memoryPercent"
            throw APIError.invalid("a reservation is a percentage from 0 to 100", field: field + "reservation." + name)
        }
        let settings = PlacementSettings(
            reservation: reservation?.byQuotaName.isEmpty ?? true ? nil : reservation, caps: caps?.isEmpty ?? true ? nil : caps
        )
        return (cluster.id, settings.isEmpty ? nil : settings)
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/projects") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            guard let projects = caller.projects(in: tenant) else { throw APIError.forbidden() }
            let views = projects.map { view($0, in: tenant, role: caller.principal.projectRoles[$0.id]) }
            return try JSONBody.response(ListView(items: views))
        }
        router.post("tenants/{tenant}/projects") { request, context in try await create(request, context) }
        router.get("tenants/{tenant}/projects/{project}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            return try JSONBody.response(view(project, in: tenant, role: caller.principal.projectRoles[project.id]))
        }
        router.patch("tenants/{tenant}/projects/{project}") { request, context in try await update(request, context) }
        router.delete("tenants/{tenant}/projects/{project}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try caller.require(.manageProjects, on: .project(tenant.tenant.id, project.id), "project")
            let placed = tenant.namespaces(ofProject: project.id)
            if !placed.isEmpty && request.uri.queryParameters.get("cascade") != "true" {
                let names = placed.prefix(5).map { "\(tenant.clusters[$0.clusterID]?.name ?? "?")/\($0.name)" }.joined(separator: ", ")
                throw APIError.conflict(
                    "project '\(project.name)' still has \(placed.count) namespace(s) (\(names)); remove them first, "
                        + "or delete with ?cascade=true to remove them and everything in them from the clusters"
                )
            }
            let now = services.now
            try await services.world.commit { tx in
                try await tx.deleteProject(project.id)
                return World.Outcome(
                    result: (), changes: [.projectDeleted(project)],
                    audit: [caller.audit("project.delete", "tenants/\(tenant.tenant.name)/projects/\(project.name)", tenant: tenant.tenant.id, project: project.id, at: now)]
                )
            }
            return Response(status: .noContent)
        }
    }

    private func create(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.manageProjects, on: .tenant(tenant.tenant.id), "tenant")
        let body = try await JSONBody.decode(CreateProjectRequest.self, schema: "CreateProjectRequest", from: request, context: context)
        let (project, created) = try await add(body, to: tenant, by: caller)
        return try JSONBody.response(view(project, in: created, role: nil), status: .created)
    }

    /// Creates a project as `POST …/projects` does (the API and the console's form); returns it
    /// with the tenant as it stands after. The caller's right to is checked by the caller.
    func add(_ body: CreateProjectRequest, to tenant: TenantSnapshot, by caller: Caller) async throws -> (Project, TenantSnapshot) {
        try Validate.name(body.name, field: "name")
        try Validate.displayName(body.displayName ?? "", field: "displayName")
        if let caps = body.caps { try QuotaRules.caps(caps, field: "caps") }
        guard tenant.project(named: body.name) == nil else {
            throw APIError.conflict("a project named '\(body.name)' already exists in this tenant", field: "name")
        }
        let now = services.now
        var clusterSettings: [ClusterID: PlacementSettings] = [:]
        for (index, placement) in (body.placements ?? []).enumerated() where placement.reservation != nil || placement.caps != nil {
            let (clusterID, settings) = try self.settings(
                cluster: placement.cluster, reservation: placement.reservation, caps: placement.caps, in: tenant, field: "placements[\(index)]."
            )
            if let settings { clusterSettings[clusterID] = settings }
        }
        let project = Project(
            id: .random(), tenantID: tenant.tenant.id, name: body.name, displayName: body.displayName ?? body.name,
            caps: body.caps?.isEmpty ?? true ? nil : body.caps, podSecurity: body.podSecurity ?? .baseline, placements: clusterSettings,
            createdAt: now
        )
        var placements: [ProjectNamespace] = []
        for (index, placement) in (body.placements ?? []).enumerated() {
            for (position, name) in placement.namespaces.enumerated() {
                let prefix = "placements[\(index)]."
                let prepared = try await namespaces.prepare(
                    cluster: placement.cluster, name: name, adopt: placement.adopt ?? false, project: project, in: tenant,
                    field: prefix + "namespaces[\(position)]."
                )
                if placements.contains(where: { $0.clusterID == prepared.clusterID && $0.name == name }) {
                    throw APIError.conflict("namespace '\(name)' is listed twice for cluster '\(placement.cluster)'", field: prefix + "namespaces")
                }
                placements.append(prepared)
            }
        }
        let fresh = placements
        let world = services.world
        do {
            try await services.world.commit { tx in
                // Checked inside the commit: commits are serialized, so two projects reserving
                // the same cluster at once cannot both pass.
                try QuotaRules.check(project, in: world.snapshot.tenant(tenant.tenant.id) ?? tenant)
                try await tx.insert(project)
                for placement in fresh { try await tx.insert(placement) }
                return World.Outcome(
                    result: (), changes: [.projectSaved(project)] + fresh.map { .namespaceSaved($0) },
                    audit: [caller.audit("project.create", "tenants/\(tenant.tenant.name)/projects/\(project.name)", tenant: tenant.tenant.id, project: project.id, at: now)]
                )
            }
        } catch let error as StoreError where error.code == .duplicate {
            throw APIError.conflict("the project or one of its namespaces was just created by another request", field: "name")
        }
        return (project, services.world.snapshot.tenant(tenant.tenant.id) ?? tenant)
    }

    private func update(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, current) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
        try caller.require(.manageProjects, on: .project(tenant.tenant.id, current.id), "project")
        let body = try await JSONBody.decode(UpdateProjectRequest.self, schema: "UpdateProjectRequest", from: request, context: context)
        let (saved, warnings) = try await update(current, in: tenant, with: body, by: caller)
        return try JSONBody.response(view(saved, in: tenant, role: caller.principal.projectRoles[saved.id], warnings: warnings))
    }

    /// Changes a project as `PATCH …/projects/{p}` does (the API and the console's project page):
    /// the saved project, and warnings about its quotas. The caller's right to is checked by the
    /// caller.
    func update(_ current: Project, in tenant: TenantSnapshot, with body: UpdateProjectRequest, by caller: Caller) async throws -> (Project, [String]) {
        var project = current
        if let version = body.version { project.version = version }
        if let displayName = body.displayName {
            try Validate.displayName(displayName, field: "displayName")
            project.displayName = displayName
        }
        if let caps = body.caps {
            try QuotaRules.caps(caps, field: "caps")
            project.caps = caps.isEmpty ? nil : caps
        }
        if let level = body.podSecurity { project.podSecurity = level }
        for (index, placement) in (body.placements ?? []).enumerated() {
            let (clusterID, settings) = try self.settings(
                cluster: placement.cluster, reservation: placement.reservation, caps: placement.caps, in: tenant, field: "placements[\(index)]."
            )
            var merged = project.placements[clusterID] ?? PlacementSettings()
            if let reservation = placement.reservation { merged.reservation = reservation.byQuotaName.isEmpty ? nil : reservation }
            if placement.caps != nil { merged.caps = settings?.caps }
            project.placements[clusterID] = merged.isEmpty ? nil : merged
        }
        project.placements = project.placements.filter { tenant.clusters[$0.key] != nil }
        project.updatedAt = services.now
        let edited = project
        let world = services.world
        let saved = try await services.world.commit { tx in
            try QuotaRules.check(edited, in: world.snapshot.tenant(tenant.tenant.id) ?? tenant)
            let saved = try await tx.update(edited)
            return World.Outcome(
                result: saved, changes: [.projectSaved(saved)],
                audit: [caller.audit("project.update", "tenants/\(tenant.tenant.name)/projects/\(saved.name)", tenant: tenant.tenant.id, project: saved.id, at: edited.updatedAt)]
            )
        }
        return (saved, QuotaRules.warnings(for: saved, state: services.reconciler.quotaState(of: tenant.tenant.id)))
    }
}
