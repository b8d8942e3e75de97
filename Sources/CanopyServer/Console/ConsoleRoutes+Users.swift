import CanopyModel
import Foundation
import Hummingbird

/// The console's users pages: a tenant's users and admins (`/ui/tenants/{t}/users`, for those who
/// see inside the tenant; the forms for those who manage its users) and the domain's own users and
/// administrators (`/ui/users`, for service providers). The forms post to the same paths below
/// them and go through the API's code (`UserRoutes`, `AdminRoutes` over a `UserScope`), so they
/// refuse exactly what the API refuses; a refusal shows on the page, with what was typed.
extension ConsoleRoutes {
    func registerUsersForms(on signedIn: RouterGroup<AuthenticatedContext>) {
        for prefix in ["tenants/{tenant}/", ""] {
            signedIn.get(RouterPath(prefix + "users")) { _, context in
                let (caller, scope) = try users(context, managing: false)
                return try usersPage(caller, scope)
            }
            signedIn.post(RouterPath(prefix + "users")) { request, context in try await addUser(request, context) }
            signedIn.post(RouterPath(prefix + "users/{user}/state")) { request, context in try await setUserState(request, context) }
            signedIn.post(RouterPath(prefix + "users/{user}/remove")) { request, context in try await removeUser(request, context) }
            signedIn.post(RouterPath(prefix + "admins")) { request, context in try await addAdmin(request, context) }
            signedIn.post(RouterPath(prefix + "admins/{id}/remove")) { request, context in try await removeAdmin(request, context) }
        }
    }

    /// The caller and the scope the path names, once the caller may see its users (`managing`:
    /// change them): 404 or 403 as the API answers.
    private func users(_ context: AuthenticatedContext, managing: Bool) throws -> (Caller, UserScope) {
        let caller = try Caller(context, services)
        guard let name = context.parameters.get("tenant") else {
            try caller.require(.manageDomainAdmins, on: .domain, "users")
            return (caller, .domain(caller.snapshot))
        }
        let scope = UserScope.tenant(try caller.tenant(name))
        try caller.require(managing ? scope.manageAction : .seeInsideTenant, on: scope.policyTarget, "tenant")
        return (caller, scope)
    }

    /// The caller, the scope and the user the path names, for a change of that user.
    func userToChange(in request: Request, _ context: AuthenticatedContext) throws -> (Caller, UserScope, User) {
        let (caller, scope) = try users(context, managing: true)
        let name = try request.parameter("user", context)
        guard let user = scope.user(named: name) else { throw APIError.notFound("user '\(name)'") }
        return (caller, scope, user)
    }

    /// The form of `type`, or 400 with `malformed`.
    private func form<Form: Decodable>(_ type: Form.Type, _ request: Request, else malformed: String) async throws -> Form {
        guard let form = try await ConsolePage.form(type, from: request) else { throw APIError.malformed(malformed) }
        return form
    }

    /// `POST …/users` of the API; back to the users page.
    private func addUser(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, scope) = try users(context, managing: true)
        let form = try await form(UserFormBody.self, request, else: "the form needs a user name and a password")
        let typed = NewUserForm(username: form.username.trimmed, displayName: form.displayName?.trimmed ?? "", email: form.email?.trimmed ?? "")
        let body = UserRoutes.CreateUserRequest(
            username: typed.username, password: form.password, displayName: typed.displayName.nonEmpty, email: typed.email.nonEmpty
        )
        return try await ConsolePage.submit({ _ = try await UserRoutes(services: services).add(body, to: scope, by: caller) },
            then: Self.usersPath(scope)
        ) { message, status in
            var refused = typed
            refused.error = message
            return try usersPage(caller, scope, form: refused, status: status)
        }
    }

    /// `PATCH …/users/{u}` of the API with `disabled`; back to the users page.
    private func setUserState(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, scope, user) = try userToChange(in: request, context)
        let form = try await form(UserStateBody.self, request, else: "the form needs disabled (true or false)")
        guard let disabled = Bool(form.disabled) else { throw APIError.malformed("the form needs disabled (true or false)") }
        let change = UserRoutes.UpdateUserRequest(displayName: nil, email: nil, password: nil, disabled: disabled, version: nil)
        return try await ConsolePage.submit({ _ = try await UserRoutes(services: services).update(user, in: scope, with: change, by: caller) },
            then: Self.usersPath(scope)
        ) { message, status in
            try usersPage(caller, scope, userError: message, status: status)
        }
    }

    /// `DELETE …/users/{u}` of the API once the user's name is typed again; back to the users page.
    private func removeUser(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, scope, user) = try userToChange(in: request, context)
        let form = try await form(UserRemovalBody.self, request, else: "the form needs confirm")
        return try await ConsolePage.submit({
            guard form.confirm.trimmed == user.username else {
                throw APIError.invalid("to delete user '\(user.username)', type their name", field: "confirm")
            }
            try await UserRoutes(services: services).delete(user, from: scope, by: caller)
        }, then: Self.usersPath(scope)) { message, status in
            try usersPage(caller, scope, userError: message, status: status)
        }
    }

    /// `POST …/admins` of the API (a user or a directory group); back to the users page.
    private func addAdmin(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let malformed = "the form needs who and kind (user or group)"
        let (caller, scope) = try users(context, managing: true)
        let form = try await form(AdminFormBody.self, request, else: malformed)
        guard ["user", "group"].contains(form.kind) else { throw APIError.malformed(malformed) }
        let typed = AdminForm(who: form.who.trimmed, group: form.kind == "group")
        let body = AdminRoutes.CreateAdminRequest(user: typed.group ? nil : typed.who, group: typed.group ? typed.who : nil)
        return try await ConsolePage.submit({ _ = try await AdminRoutes(services: services).add(body, to: scope, by: caller) },
            then: Self.usersPath(scope)
        ) { message, status in
            var refused = typed
            refused.error = message
            return try usersPage(caller, scope, adminForm: refused, status: status)
        }
    }

    /// `DELETE …/admins/{id}` of the API; back to the users page (a refusal, such as removing the
    /// last admin, on it).
    private func removeAdmin(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, scope) = try users(context, managing: true)
        let id = GrantID(try request.parameter("id", context))
        return try await ConsolePage.submit({ try await AdminRoutes(services: services).remove(id, from: scope, by: caller) },
            then: Self.usersPath(scope)
        ) { message, status in
            try usersPage(caller, scope, adminForm: AdminForm(error: message), status: status)
        }
    }

    /// `/ui/tenants/coke` or, for the domain, `/ui`: where the users page and its forms live.
    static func usersBase(_ scope: UserScope) -> String {
        if case .tenant(let tenant) = scope { "/ui/tenants/\(tenant.tenant.name)" } else { "/ui" }
    }

    static func usersPath(_ scope: UserScope) -> String { usersBase(scope) + "/users" }

    /// The scope's users and admins; after a refused form, the page again with the refusal (and
    /// what was typed) on it.
    func usersPage(
        _ caller: Caller, _ scope: UserScope, form: NewUserForm = NewUserForm(), adminForm: AdminForm = AdminForm(),
        userError: String? = nil, status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let managing = caller.allows(scope.manageAction, on: scope.policyTarget)
        let tenant: String? = if case .tenant(let tenant) = scope { tenant.tenant.name } else { nil }
        let users = scope.users.map { user in
            let manageable = managing && user.id != caller.principal.user.id
            return UsersPage.UserRow(
                username: user.username, displayName: user.displayName, email: user.email ?? "", source: user.source.rawValue,
                state: user.disabled ? "disabled" : "active", disabled: user.disabled, manageable: manageable
            )
        }
        let grants = scope.adminGrants
        let admins = grants.map { grant in
            let view = GrantView(grant, in: scope)
            return UsersPage.AdminRow(
                who: view.user ?? "group \(view.group ?? "")", id: view.id,
                removable: managing && scope.keepsAnAdmin(grants.filter { $0.id != grant.id })
            )
        }
        return try ConsolePage.render("users", UsersPage(
            frame: .init(title: "\(tenant ?? "domain") users", caller: caller), tenant: tenant, base: Self.usersBase(scope), users: users, admins: admins,
            adminForm: managing ? adminForm : nil, newUser: managing ? form : nil, userError: userError
        ), status: status)
    }
}
