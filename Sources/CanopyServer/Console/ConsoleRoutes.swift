import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// The web console at `/ui`: sign-in with the console's session cookie, then pages of what the
/// caller may see — the tenants, a tenant's clusters and projects, a project's
/// namespaces, caps, usage and members, clusters' allocation, the audit log, one's own tokens.
/// Every page reads the same snapshot through the same `Caller` checks as the API, so it answers
/// 404 (the same page for absent and invisible) exactly where the API does; its changes (own
/// tokens and password, project members, namespaces and settings, and the tenant-level forms of
/// the `+Tenant`, `+TenantSettings`, `+ProjectSettings` and `+Directories` files) go through the API's own
/// functions.
struct ConsoleRoutes {
    let services: APIServices
    /// Whether the server speaks HTTPS, so the session cookie is `Secure`.
    let secureCookies: Bool

    func register(on router: Router<CanopyRequestContext>) {
        let console = router.group("ui")
        console.add(middleware: ConsoleMiddleware(authenticator: services.authenticator, world: services.world, secureCookies: secureCookies))
        console.get("login") { _, context in
            if context.identity != nil { return ConsolePage.redirect(to: "/ui") }
            return try ConsolePage.render("login", LoginPage(frame: .init(title: "Sign in"), message: nil, tenant: "", username: ""))
        }
        console.post("login") { request, context in try await signIn(request, context) }

        let signedIn = console.group(context: AuthenticatedContext.self)
        signedIn.post("logout") { _, context in try await signOut(context) }
        signedIn.get { _, context in try homePage(Caller(context, services)) }
        signedIn.get("tenants/{tenant}") { request, context in
            try tenantPage(Caller(context, services), tenant: request.parameter("tenant", context))
        }
        signedIn.get("tenants/{tenant}/projects/{project}") { request, context in
            try projectPage(Caller(context, services), tenant: request.parameter("tenant", context), project: request.parameter("project", context))
        }
        registerTenantForms(on: signedIn)
        registerTenantSettingsForms(on: signedIn)
        registerDirectoryForms(on: signedIn)
        registerUserSettingsForms(on: signedIn)
        registerUsersForms(on: signedIn)
        signedIn.post("tenants/{tenant}/projects/{project}/members") { request, context in try await addMember(request, context) }
        signedIn.post("tenants/{tenant}/projects/{project}/namespaces") { request, context in try await addNamespace(request, context) }
        signedIn.post("tenants/{tenant}/projects/{project}/settings") { request, context in try await saveProjectSettings(request, context) }
        signedIn.post("tenants/{tenant}/projects/{project}/namespaces/{cluster}/{name}/remove") { request, context in
            try await removeNamespace(request, context)
        }
        signedIn.post("tenants/{tenant}/projects/{project}/members/{id}/remove") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try await MemberRoutes(services: services).remove(GrantID(try request.parameter("id", context)), from: project, in: tenant, by: caller)
            return ConsolePage.redirect(to: "/ui/tenants/\(tenant.tenant.name)/projects/\(project.name)")
        }
        signedIn.get("tenants/{tenant}/clusters/{cluster}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, cluster) = try ClusterRoutes(services: services).find(request, context, caller)
            try caller.require(.manageClusters, on: .tenant(tenant.tenant.id), "cluster")
            return try clusterPage(caller, tenant: tenant, cluster: cluster)
        }
        signedIn.get("tokens") { request, context in
            try await tokensPage(Caller(context, services), session: context.identity.tokenID, passwordChanged: request.uri.queryParameters["password"] == "changed")
        }
        signedIn.post("password") { request, context in try await changePassword(request, context) }
        signedIn.post("tokens") { request, context in try await createToken(request, context) }
        signedIn.post("tokens/{id}/revoke") { request, context in
            let id = TokenID(try request.parameter("id", context))
            try await SessionRoutes(services: services).revoke(id, of: Caller(context, services))
            // The session's own token: signed out.
            return id == context.identity.tokenID ? signedOut() : ConsolePage.redirect(to: "/ui/tokens")
        }
        signedIn.get("audit") { request, context in
            let query = request.uri.queryParameters
            var before: Int64?
            if let text = query["before"] {
                guard let value = Int64(text) else { throw APIError.malformed("before must be a sequence number", field: "before") }
                before = value
            }
            return try await auditPage(
                Caller(context, services), tenant: query["tenant"].map(String.init), project: query["project"].map(String.init), before: before
            )
        }
    }

    // MARK: Sign-in and sign-out

    /// Checks the form as `POST /api/v1/login` checks its body (same throttling, same single
    /// message for every failure) and, on success, sets the session cookie: a token of its own,
    /// listed with the user's tokens ("console") and revoked at sign-out.
    private func signIn(_ request: Request, _ context: CanopyRequestContext) async throws -> Response {
        guard let form = try await ConsolePage.form(SessionRoutes.LoginRequest.self, from: request) else {
            return try ConsolePage.render(
                "login", LoginPage(frame: .init(title: "Sign in"), message: "Enter a user name and a password.", tenant: "", username: ""), status: .badRequest
            )
        }
        let tenant = form.tenant.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) }
        let user: User
        do {
            user = try await services.authenticator.signIn(tenant: tenant, username: form.username, password: form.password, from: context.remoteAddress)
        } catch {
            let refusal = ErrorMiddleware.translate(error)
            var response = try ConsolePage.render(
                "login", LoginPage(frame: .init(title: "Sign in"), message: refusal.message, tenant: tenant ?? "", username: form.username), status: refusal.status
            )
            for header in refusal.headers { response.headers.append(header) }
            return response
        }
        let issued = try await SessionRoutes(services: services).issueToken(
            for: user, description: "console", lifetime: services.authenticator.sessionLifetime, requestID: context.requestID
        )
        var response = ConsolePage.redirect(to: "/ui")
        response.setCookie(ConsoleMiddleware.sessionCookie(issued.token, maxAge: Int(services.authenticator.sessionLifetime), secure: secureCookies))
        return response
    }

    /// Revokes the session's token (as `DELETE /api/v1/tokens/{id}` does) and clears the cookie.
    private func signOut(_ context: AuthenticatedContext) async throws -> Response {
        try await SessionRoutes(services: services).revoke(context.identity.tokenID, of: Caller(context, services))
        return signedOut()
    }

    /// To the sign-in form, with the session cookie cleared.
    private func signedOut() -> Response {
        var response = ConsolePage.redirect(to: "/ui/login")
        response.setCookie(ConsoleMiddleware.sessionCookie("", maxAge: 0, secure: secureCookies))
        return response
    }

    // MARK: Pages

    /// The overview; after a refused new-tenant form, with its message and what was typed.
    func homePage(_ caller: Caller, form: NewTenantForm = NewTenantForm(), status: HTTPResponse.Status = .ok) throws -> Response {
        let projects: [HomePage.ProjectRow] = caller.principal.tenantID.flatMap { caller.snapshot.tenant($0) }.map { tenant in
            caller.principal.projectRoles.compactMap { id, role in
                tenant.project(id).map { HomePage.ProjectRow(tenant: tenant.tenant.name, name: $0.name, displayName: $0.displayName, role: role.rawValue) }
            }.sorted { $0.name < $1.name }
        } ?? []
        return try ConsolePage.render("home", HomePage(
            frame: .init(title: "Overview", caller: caller), serviceProvider: caller.principal.isServiceProvider,
            tenants: caller.visibleTenants.map { tenant in
                let view = TenantRoutes(services: services).view(tenant, for: caller)
                return HomePage.TenantRow(tenant: view, totals: ConsolePage.totals(of: view) ?? "")
            },
            projects: projects,
            newTenant: caller.allows(.manageTenants, on: .domain) ? form : nil
        ), status: status)
    }

    /// A tenant's page; after a refused new-project or cluster import form, with its message and
    /// what was typed.
    func tenantPage(
        _ caller: Caller, tenant name: String, form: NewProjectForm = NewProjectForm(), clusterForm: ImportClusterForm = ImportClusterForm(),
        settings: TenantSettingsForm? = nil, notices: [String] = [], status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let tenant = try caller.tenant(name)
        let seesInside = caller.allows(.seeInsideTenant, on: .tenant(tenant.tenant.id))
        let projects = caller.projects(in: tenant)
        let clusters: [TenantPage.ClusterRow] = !seesInside ? [] : tenant.clusters.values.sorted { $0.name < $1.name }.map { cluster in
            let health = services.health.health(of: cluster.id)
            return TenantPage.ClusterRow(
                name: cluster.name, kubernetesVersion: cluster.kubernetesVersion, nodeCount: health.nodeCount ?? cluster.nodeCount,
                capacity: (health.capacity ?? cluster.capacity).summary, state: health.state.rawValue
            )
        }
        let view = TenantRoutes(services: services).view(tenant, for: caller)
        return try ConsolePage.render("tenant", TenantPage(
            frame: .init(title: tenant.tenant.name, caller: caller), tenant: view, totals: ConsolePage.totals(of: view),
            managesClusters: caller.allows(.manageClusters, on: .tenant(tenant.tenant.id)),
            sealed: projects == nil, seesInside: seesInside, clusters: clusters,
            projects: (projects ?? []).map { project in
                TenantPage.ProjectRow(
                    name: project.name, displayName: project.displayName, role: caller.principal.projectRoles[project.id]?.rawValue,
                    namespaceCount: tenant.namespaces(ofProject: project.id).count
                )
            },
            newProject: caller.allows(.manageProjects, on: .tenant(tenant.tenant.id)) ? form : nil,
            importCluster: seesInside && caller.allows(.manageClusters, on: .tenant(tenant.tenant.id)) ? clusterForm : nil,
            settings: caller.allows(.manageTenants, on: .tenant(tenant.tenant.id)) ? settings ?? TenantSettingsForm(tenant.tenant) : nil,
            notices: notices
        ), status: status)
    }

    /// A refused form of the project page: which one, the refusal's message, what was typed.
    struct FormRefusal {
        enum Form { case member, namespace, removal }
        let form: Form
        let message: String
        let typed: String
    }

    /// A project's page; after a refused form, with its message and what was typed.
    func projectPage(
        _ caller: Caller, tenant tenantName: String, project projectName: String, refusal: FormRefusal? = nil,
        settings typedSettings: ProjectSettingsForm? = nil, status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let (tenant, project) = try caller.project(tenantName, projectName)
        let target = Target.project(tenant.tenant.id, project.id)
        let seesMembers = caller.allows(.seeInsideTenant, on: target)
        let managesMembers = caller.allows(.manageProjectMembers, on: target), namesAdmins = caller.allows(.manageProjects, on: target)
        let members: [ProjectPage.MemberRow] = !seesMembers ? [] : tenant.grants(onProject: project.id).map { grant in
            let view = GrantView(grant, in: tenant)
            return ProjectPage.MemberRow(
                id: view.id, who: view.user ?? "group \(view.group ?? "")", role: view.role,
                removable: managesMembers && (grant.role != .projectAdmin || namesAdmins)
            )
        }
        let namespaces = NamespaceRoutes(services: services).views(of: project, in: tenant).map {
            ProjectPage.NamespaceRow(
                cluster: $0.cluster, name: $0.name, state: $0.status.state.rawValue, message: $0.status.message,
                removePath: managesMembers ? "/ui/tenants/\(tenant.tenant.name)/projects/\(project.name)/namespaces/\($0.cluster)/\($0.name)/remove" : nil
            )
        }
        let usage = QuotaRoutes(services: services).usage(of: project, in: tenant)
        let usageRows = usage.clusters.flatMap { cluster in
            cluster.resources.sorted { $0.key < $1.key }.map { resource, figures in
                UsageRow(name: cluster.cluster, resource: resource, figures: figures)
            }
        }
        return try ConsolePage.render("project", ProjectPage(
            frame: .init(title: "\(tenant.tenant.name)/\(project.name)", caller: caller), tenant: tenant.tenant.name, name: project.name,
            displayName: project.displayName, role: caller.principal.projectRoles[project.id]?.rawValue, caps: project.caps?.summary,
            podSecurity: project.podSecurity.rawValue, namespaces: namespaces, planned: usage.planned, usage: usageRows,
            seesMembers: seesMembers, members: members, managesMembers: managesMembers, namesAdmins: namesAdmins,
            formError: refusal?.form == .member ? refusal?.message : nil, formWho: refusal?.form == .member ? refusal?.typed ?? "" : "",
            clusters: managesMembers ? tenant.clusters.values.map(\.name).sorted() : [],
            namespaceError: refusal?.form == .namespace ? refusal?.message : nil, namespaceName: refusal?.form == .namespace ? refusal?.typed ?? "" : "",
            removalError: refusal?.form == .removal ? refusal?.message : nil,
            settings: namesAdmins ? typedSettings ?? ProjectSettingsForm(project, in: tenant) : nil
        ), status: status)
    }

    struct NamespaceForm: Decodable {
        let cluster: String
        let name: String
        /// `true` when the box to take over an existing namespace of that name is ticked.
        let adopt: String?
    }

    struct MemberForm: Decodable {
        let who: String
        /// `user` or `group`.
        let kind: String
        let role: String
    }

    /// The project page's member form: `POST …/members` of the API, back to the page on success,
    /// the page with the refusal's message (and its status) otherwise.
    private func addMember(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
        try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
        guard let form = try await ConsolePage.form(MemberForm.self, from: request), ["user", "group"].contains(form.kind) else {
            throw APIError.malformed("the form needs who, kind (user or group) and role")
        }
        let who = form.who.trimmingCharacters(in: .whitespaces)
        let member = MemberRoutes.CreateMemberRequest(user: form.kind == "user" ? who : nil, group: form.kind == "group" ? who : nil, role: form.role)
        return try await submitted(.member, typed: who, caller, tenant: tenant, project: project) {
            _ = try await MemberRoutes(services: services).add(member, to: project, in: tenant, by: caller)
        }
    }

    /// The project page's namespace form: `POST …/namespaces` of the API, adopting an existing
    /// namespace of that name when the box is ticked.
    private func addNamespace(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
        try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
        guard let form = try await ConsolePage.form(NamespaceForm.self, from: request) else {
            throw APIError.malformed("the form needs cluster and name")
        }
        let name = form.name.trimmingCharacters(in: .whitespaces)
        return try await submitted(.namespace, typed: name, caller, tenant: tenant, project: project) {
            _ = try await NamespaceRoutes(services: services).add(
                .init(cluster: form.cluster, name: name, adopt: form.adopt == "true" ? true : nil), to: project, in: tenant, by: caller
            )
        }
    }

    struct RemovalForm: Decodable {
        /// The namespace's name, typed again: removing deletes it and everything in it.
        let confirm: String
    }

    /// A namespace row's removal form: `DELETE …/namespaces/{cluster}/{name}` of the API once the
    /// namespace's name is typed again (422 on the page otherwise: nothing is removed).
    private func removeNamespace(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
        try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
        let routes = NamespaceRoutes(services: services)
        let (placement, cluster) = try routes.find(request.parameter("name", context), onCluster: request.parameter("cluster", context), of: project, in: tenant)
        guard let form = try await ConsolePage.form(RemovalForm.self, from: request) else { throw APIError.malformed("the form needs confirm") }
        return try await submitted(.removal, typed: "", caller, tenant: tenant, project: project) {
            guard form.confirm.trimmingCharacters(in: .whitespaces) == placement.name else {
                throw APIError.invalid(
                    "to remove namespace '\(placement.name)' (it is deleted from cluster '\(cluster.name)' with everything in it), type its name",
                    field: "confirm"
                )
            }
            try await routes.remove(placement, on: cluster, of: project, in: tenant, by: caller)
        }
    }

    /// Runs a project page form's change: back to the page when done, the page with the refusal
    /// (its message, its status, what was typed) when refused.
    private func submitted(
        _ form: FormRefusal.Form, typed: String, _ caller: Caller, tenant: TenantSnapshot, project: Project, change: () async throws -> Void
    ) async throws -> Response {
        try await ConsolePage.submit(change, then: "/ui/tenants/\(tenant.tenant.name)/projects/\(project.name)") { message, status in
            try projectPage(
                caller, tenant: tenant.tenant.name, project: project.name, refusal: FormRefusal(form: form, message: message, typed: typed), status: status
            )
        }
    }

    /// A cluster's capacity and how the share planner divides it (`…/clusters/{c}/allocation`);
    /// after a refused removal, with why.
    func clusterPage(_ caller: Caller, tenant: TenantSnapshot, cluster: Cluster, removalError: String? = nil, status: HTTPResponse.Status = .ok) throws -> Response {
        let allocation = QuotaRoutes(services: services).allocation(of: cluster, in: tenant)
        let resources = allocation.capacity.keys.sorted().map { resource in
            ClusterPage.CapacityRow(
                resource: resource, capacity: allocation.capacity[resource], reserved: allocation.reserved[resource],
                unreserved: allocation.unreserved[resource], unallocated: allocation.unallocated[resource]
            )
        }
        let projects = allocation.projects.flatMap { project in
            project.resources.sorted { $0.key < $1.key }.map { resource, figures in
                UsageRow(name: project.project, resource: resource, figures: figures)
            }
        }
        let health = services.health.health(of: cluster.id)
        return try ConsolePage.render("cluster", ClusterPage(
            frame: .init(title: "\(tenant.tenant.name)/\(cluster.name)", caller: caller), tenant: tenant.tenant.name, name: cluster.name,
            server: cluster.server, kubernetesVersion: cluster.kubernetesVersion, state: health.state.rawValue, lastError: health.lastError,
            planned: allocation.planned, liveCapacity: allocation.liveCapacity, resources: resources, projects: projects,
            removalError: removalError
        ), status: status)
    }

}

extension ResourceCaps {
    /// `cpu 8, memory 32Gi, pods 100` (the set parts), for the console.
    var summary: String {
        let named = [cpu.map { "cpu \($0)" }, memory.map { "memory \($0)" }].compactMap { $0 }
        return (named + (resources ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }).joined(separator: ", ")
    }
}
