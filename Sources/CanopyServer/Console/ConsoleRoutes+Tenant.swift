import CanopyModel
import Foundation
import Hummingbird

/// The console's tenant-level forms: a new tenant on the overview, a new project and a cluster
/// import on the tenant page; on the users page a new local user, disabling, enabling and
/// deleting users, and the tenant's admins. Each goes through the API's own function
/// (`TenantRoutes.add`, `ProjectRoutes.add`, `ClusterRoutes.add`, `UserRoutes.add`, `update` and
/// `delete`, `AdminRoutes.add` and `remove`) after the same policy check as the API, so it
/// refuses exactly what the API refuses; a refusal comes back on the page with the API's message
/// and status, and what was typed (never a password or a kubeconfig).
extension ConsoleRoutes {
    struct TenantFormBody: Decodable {
        let name: String
        let displayName: String?
        let mode: String
        let adminUsername: String
        let adminPassword: String
    }

    struct ClusterFormBody: Decodable {
        let name: String
        let kubeconfig: String
    }

    struct ClusterRemovalBody: Decodable {
        /// The cluster's name, typed again.
        let confirm: String
        /// `true` when the box to delete the project namespaces too is ticked.
        let cascade: String?
    }

    struct ProjectFormBody: Decodable {
        let name: String
        let displayName: String?
        let cpu: String?
        let memory: String?
    }

    struct UserFormBody: Decodable {
        let username: String
        let password: String
        let displayName: String?
        let email: String?
    }

    struct AdminFormBody: Decodable {
        /// A user name of the tenant, or a directory group's name.
        let who: String
        /// `user` or `group`.
        let kind: String
    }

    struct UserStateBody: Decodable {
        /// `true` to disable the user, `false` to enable them again.
        let disabled: String
    }

    struct UserRemovalBody: Decodable {
        /// The user's name, typed again.
        let confirm: String
    }

    func registerTenantForms(on signedIn: RouterGroup<AuthenticatedContext>) {
        signedIn.post("tenants/{tenant}/projects") { request, context in try await addProject(request, context) }
        signedIn.post("tenants") { request, context in try await addTenant(request, context) }
        signedIn.post("tenants/{tenant}/clusters") { request, context in try await addCluster(request, context) }
        signedIn.post("tenants/{tenant}/clusters/{cluster}/remove") { request, context in try await removeCluster(request, context) }
    }

    /// `DELETE …/clusters/{c}` of the API (`?cascade=true` with the box ticked) once the cluster's
    /// name is typed again; on to the tenant's page, which says what stays in the cluster when
    /// its clean-up failed (the API's `Warning`).
    private func removeCluster(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let routes = ClusterRoutes(services: services)
        let (tenant, cluster) = try routes.find(request, context, caller)
        try caller.require(.manageClusters, on: .tenant(tenant.tenant.id), "tenant")
        guard let form = try await ConsolePage.form(ClusterRemovalBody.self, from: request) else { throw APIError.malformed("the form needs confirm") }
        var warnings: [String] = []
        let answer = try await ConsolePage.submit({
            guard form.confirm.trimmed == cluster.name else {
                throw APIError.invalid("to remove cluster '\(cluster.name)', type its name", field: "confirm")
            }
            warnings = try await routes.remove(cluster, of: tenant, cascade: form.cascade == "true", by: caller).warnings ?? []
        }, then: "/ui/tenants/\(tenant.tenant.name)") { message, status in
            try clusterPage(caller, tenant: tenant, cluster: cluster, removalError: message, status: status)
        }
        guard !warnings.isEmpty else { return answer }
        return try tenantPage(Caller(context, services), tenant: tenant.tenant.name, notices: warnings)
    }

    /// `POST /api/v1/tenants` with the first admin; on to the new tenant's page.
    private func addTenant(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        try caller.require(.manageTenants, on: .domain, "tenants")
        guard let form = try await ConsolePage.form(TenantFormBody.self, from: request), let mode = TenancyMode(rawValue: form.mode) else {
            throw APIError.malformed("the form needs a name, a mode (msp or enterprise) and the first admin's user name and password")
        }
        let typed = NewTenantForm(
            name: form.name.trimmed, displayName: form.displayName?.trimmed ?? "", adminUsername: form.adminUsername.trimmed, enterprise: mode == .enterprise
        )
        let body = TenantRoutes.CreateTenantRequest(
            name: typed.name, displayName: typed.displayName.nonEmpty, mode: mode, admin: .init(username: typed.adminUsername, password: form.adminPassword)
        )
        return try await ConsolePage.submit({ _ = try await TenantRoutes(services: services).add(body, by: caller) },
            then: "/ui/tenants/\(typed.name)"
        ) { message, status in
            var refused = typed
            refused.error = message
            return try homePage(caller, form: refused, status: status)
        }
    }

    /// `POST …/clusters` of the API: the cluster is reached and inspected with the kubeconfig
    /// before it is stored; on to the cluster's page.
    private func addCluster(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.manageClusters, on: .tenant(tenant.tenant.id), "tenant")
        guard let form = try await ConsolePage.form(ClusterFormBody.self, from: request, limit: ConsolePage.maxKubeconfigFormSize) else {
            throw APIError.malformed("the form needs a name and a kubeconfig")
        }
        let typed = ImportClusterForm(name: form.name.trimmed)
        let body = ClusterRoutes.ImportClusterRequest(name: typed.name, kubeconfig: form.kubeconfig, labels: nil)
        return try await ConsolePage.submit({ _ = try await ClusterRoutes(services: services).add(body, to: tenant, by: caller) },
            then: "/ui/tenants/\(tenant.tenant.name)/clusters/\(typed.name)"
        ) { message, status in
            var refused = typed
            refused.error = message
            return try tenantPage(caller, tenant: tenant.tenant.name, clusterForm: refused, status: status)
        }
    }

    /// The caller, the tenant the path names (404 or 403 as the API answers, before the form is
    /// read, for those who may not do `action` there), and the form (400 with `malformed` if it
    /// lacks a field).
    private func read<Form: Decodable>(
        _ type: Form.Type, _ request: Request, _ context: AuthenticatedContext, requiring action: Action, else malformed: String
    ) async throws -> (Caller, TenantSnapshot, Form) {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(action, on: .tenant(tenant.tenant.id), "tenant")
        guard let form = try await ConsolePage.form(type, from: request) else { throw APIError.malformed(malformed) }
        return (caller, tenant, form)
    }

    /// `POST …/projects` of the API with a name, a display name and the project-wide caps; on to
    /// the new project's page.
    private func addProject(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, tenant, form) = try await read(ProjectFormBody.self, request, context, requiring: .manageProjects, else: "the form needs a name")
        let typed = NewProjectForm(
            name: form.name.trimmed, displayName: form.displayName?.trimmed ?? "", cpu: form.cpu?.trimmed ?? "", memory: form.memory?.trimmed ?? ""
        )
        let caps = ResourceCaps(cpu: typed.cpu.nonEmpty, memory: typed.memory.nonEmpty)
        let body = ProjectRoutes.CreateProjectRequest(
            name: typed.name, displayName: typed.displayName.nonEmpty, caps: caps.isEmpty ? nil : caps, podSecurity: nil, placements: nil
        )
        return try await ConsolePage.submit({ _ = try await ProjectRoutes(services: services).add(body, to: tenant, by: caller) },
            then: "/ui/tenants/\(tenant.tenant.name)/projects/\(typed.name)"
        ) { message, status in
            var refused = typed
            refused.error = message
            return try tenantPage(caller, tenant: tenant.tenant.name, form: refused, status: status)
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespaces) }
    /// The string, or `nil` when empty.
    var nonEmpty: String? { isEmpty ? nil : self }
}
