import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// The web console at `/ui`: sign-in with the console's session cookie, then read-only pages of
/// what the caller may see — the tenants, a tenant's clusters and projects, a project's
/// namespaces, caps and members. Every page reads the same snapshot through the same `Caller`
/// checks as the API, so it answers 404 (the same page for absent and invisible) exactly where
/// the API does. Changes are made with the API or `canopy`; the console only shows.
struct ConsoleRoutes {
    let services: APIServices
    /// Whether the server speaks HTTPS, so the session cookie is `Secure`.
    let secureCookies: Bool

    struct LoginForm: Decodable {
        let tenant: String?
        let username: String
        let password: String
    }

    func register(on router: Router<CanopyRequestContext>) {
        let console = router.group("ui")
        console.add(middleware: ConsoleMiddleware(authenticator: services.authenticator, secureCookies: secureCookies))
        console.get("login") { _, context in
            if context.identity != nil { return ConsolePage.redirect(to: "/ui") }
            return try ConsolePage.render("login", LoginPage(frame: .init(title: "Sign in"), message: nil, tenant: "", username: ""))
        }
        console.post("login") { request, context in try await signIn(request, context) }

        let signedIn = console.group(context: AuthenticatedContext.self)
        signedIn.post("logout") { _, context in try await signOut(context) }
        signedIn.get { _, context in try home(Caller(context, services)) }
        signedIn.get("tenants/{tenant}") { request, context in
            try tenantPage(Caller(context, services), tenant: request.parameter("tenant", context))
        }
        signedIn.get("tenants/{tenant}/projects/{project}") { request, context in
            try projectPage(Caller(context, services), tenant: request.parameter("tenant", context), project: request.parameter("project", context))
        }
    }

    // MARK: Sign-in and sign-out

    /// Checks the form as `POST /api/v1/login` checks its body (same throttling, same single
    /// message for every failure) and, on success, sets the session cookie: a token of its own,
    /// listed with the user's tokens ("console") and revoked at sign-out.
    private func signIn(_ request: Request, _ context: CanopyRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 * 1024)
        let form: LoginForm
        do {
            form = try URLEncodedFormDecoder().decode(LoginForm.self, from: String(buffer: body))
        } catch {
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
        let caller = try Caller(context, services)
        let now = services.now
        let user = caller.principal.user
        let id = context.identity.tokenID
        try await services.world.commit { tx in
            try await tx.revokeToken(id, at: now)
            return World.Outcome(result: (), changes: [], audit: [caller.audit(SessionRoutes.revokeAction, "tokens/\(id)", tenant: user.tenantID, at: now)])
        }
        services.authenticator.forget(tokenIDs: [id])
        var response = ConsolePage.redirect(to: "/ui/login")
        response.setCookie(ConsoleMiddleware.sessionCookie("", maxAge: 0, secure: secureCookies))
        return response
    }

    // MARK: Pages

    private func home(_ caller: Caller) throws -> Response {
        let tenants = caller.snapshot.tenants.values
            .filter { Policy.isVisible(.tenant($0.tenant.id), to: caller.principal, in: caller.snapshot) }
            .sorted { $0.tenant.name < $1.tenant.name }
        let projects: [HomePage.ProjectRow] = caller.principal.tenantID.flatMap { caller.snapshot.tenant($0) }.map { tenant in
            caller.principal.projectRoles.compactMap { id, role in
                tenant.project(id).map { HomePage.ProjectRow(tenant: tenant.tenant.name, name: $0.name, displayName: $0.displayName, role: role.rawValue) }
            }.sorted { $0.name < $1.name }
        } ?? []
        return try ConsolePage.render("home", HomePage(
            frame: .init(title: "Overview", caller: caller), serviceProvider: caller.principal.isServiceProvider,
            tenants: tenants.map(TenantView.init), projects: projects
        ))
    }

    private func tenantPage(_ caller: Caller, tenant name: String) throws -> Response {
        let tenant = try caller.tenant(name)
        let seesInside = caller.allows(.seeInsideTenant, on: .tenant(tenant.tenant.id))
        let projects: [Project]
        if seesInside {
            projects = Array(tenant.projects.values)
        } else if caller.principal.tenantID == tenant.tenant.id {
            projects = caller.principal.projectRoles.keys.compactMap { tenant.project($0) }
        } else {
            projects = []
        }
        let clusters: [TenantPage.ClusterRow] = !seesInside ? [] : tenant.clusters.values.sorted { $0.name < $1.name }.map { cluster in
            let health = services.health.health(of: cluster.id)
            return TenantPage.ClusterRow(
                name: cluster.name, kubernetesVersion: cluster.kubernetesVersion, nodeCount: health.nodeCount ?? cluster.nodeCount,
                capacity: (health.capacity ?? cluster.capacity).summary, state: health.state.rawValue
            )
        }
        return try ConsolePage.render("tenant", TenantPage(
            frame: .init(title: tenant.tenant.name, caller: caller), tenant: TenantView(tenant),
            sealed: !seesInside && caller.principal.tenantID != tenant.tenant.id, seesInside: seesInside, clusters: clusters,
            projects: projects.sorted { $0.name < $1.name }.map { project in
                TenantPage.ProjectRow(
                    name: project.name, displayName: project.displayName, role: caller.principal.projectRoles[project.id]?.rawValue,
                    namespaceCount: tenant.namespaces(ofProject: project.id).count
                )
            }
        ))
    }

    private func projectPage(_ caller: Caller, tenant tenantName: String, project projectName: String) throws -> Response {
        let (tenant, project) = try caller.project(tenantName, projectName)
        let seesMembers = caller.allows(.seeInsideTenant, on: .project(tenant.tenant.id, project.id))
        let members = seesMembers ? tenant.grants(onProject: project.id).map { GrantView($0, in: tenant) }.map {
            ProjectPage.MemberRow(who: $0.user ?? "group \($0.group ?? "")", role: $0.role)
        } : []
        let namespaces = NamespaceRoutes(services: services).views(of: project, in: tenant).map {
            ProjectPage.NamespaceRow(cluster: $0.cluster, name: $0.name, state: $0.status.state.rawValue, message: $0.status.message)
        }
        return try ConsolePage.render("project", ProjectPage(
            frame: .init(title: "\(tenant.tenant.name)/\(project.name)", caller: caller), tenant: tenant.tenant.name, name: project.name,
            displayName: project.displayName, role: caller.principal.projectRoles[project.id]?.rawValue, caps: project.caps?.summary,
            podSecurity: project.podSecurity.rawValue, namespaces: namespaces, seesMembers: seesMembers, members: members
        ))
    }
}

extension ResourceCaps {
    /// `cpu 8, memory 32Gi, pods 100` (the set parts), for the console.
    var summary: String {
        let named = [cpu.map { "cpu \($0)" }, memory.map { "memory \($0)" }].compactMap { $0 }
        return (named + (resources ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }).joined(separator: ", ")
    }
}
