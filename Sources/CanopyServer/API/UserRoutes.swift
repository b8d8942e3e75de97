import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/tenants/{t}/users`: a tenant's people. Managing them is the tenant admin's job (and the
/// provider's in an enterprise tenant); a user may also change their own name, e-mail and password.
struct UserRoutes {
    let services: APIServices

    struct CreateUserRequest: Decodable {
        let username: String
        let password: String
        let displayName: String?
        let email: String?
    }

    struct UpdateUserRequest: Decodable {
        let displayName: String?
        let email: String?
        let password: String?
        let disabled: Bool?
        let version: Int?
        /// Revokes every session and token of the user with this change (after a password was
        /// exposed, say).
        var revokeTokens: Bool? = nil
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/users") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try caller.require(.seeInsideTenant, on: .tenant(tenant.tenant.id), "tenant")
            let users = tenant.users.values.sorted { $0.username < $1.username }
            return try JSONBody.response(ListView(items: users.map { UserView($0, tenantName: tenant.tenant.name) }))
        }
        router.post("tenants/{tenant}/users") { request, context in try await create(request, context) }
        router.get("tenants/{tenant}/users/{user}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, user) = try find(request, context, caller, forChange: false)
            return try JSONBody.response(UserView(user, tenantName: tenant.tenant.name))
        }
        router.patch("tenants/{tenant}/users/{user}") { request, context in try await update(request, context) }
        router.delete("tenants/{tenant}/users/{user}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, user) = try find(request, context, caller, forChange: true)
            try await delete(user, from: .tenant(tenant), by: caller)
            return Response(status: .noContent)
        }
        // A user's tokens (their sessions and those made for automation and kubeconfigs), for
        // whoever may change the user: one leaked token revoked without ending the others.
        router.get("tenants/{tenant}/users/{user}/tokens") { request, context in
            let caller = try Caller(context, services)
            return try await Self.tokens(of: try find(request, context, caller, forChange: true).1, services)
        }
        router.delete("tenants/{tenant}/users/{user}/tokens/{id}") { request, context in
            let caller = try Caller(context, services)
            let (_, user) = try find(request, context, caller, forChange: true)
            try await SessionRoutes(services: services).revoke(TokenID(try request.parameter("id", context)), of: user, by: caller)
            return Response(status: .noContent)
        }
    }

    /// `GET …/users/{u}/tokens`: the user's tokens as `GET /api/v1/tokens` shows one's own.
    static func tokens(of user: User, _ services: APIServices) async throws -> Response {
        try JSONBody.response(ListView(items: try await services.world.store.tokens(of: user.id).map(TokenView.init)))
    }

    /// Deletes a user as `DELETE …/users/{u}` does (the API and the console's users page): never
    /// the caller's own account, nor the scope's last admin named as a user. The caller's right
    /// to is checked by `find`.
    func delete(_ user: User, from scope: UserScope, by caller: Caller) async throws {
        guard user.id != caller.principal.user.id else {
            throw APIError.conflict("you cannot delete your own account")
        }
        let refusal = APIError.conflict("'\(user.username)' is the \(scope.noun)'s last admin; name another admin first")
        if scope.isLastAdmin(user.id) { throw refusal }
        let now = services.now
        try await services.world.commit { [services] tx in
            // Again inside the transaction, over the grants as stored (locked): two deletions at
            // once must not both pass.
            let stored = try await scope.lockedAdminGrants(tx, services.world.snapshot)
            if stored.scope.isLastAdmin(user.id, among: stored.grants) { throw refusal }
            try await tx.deleteUser(user.id)
            return World.Outcome(
                result: (), changes: [.userDeleted(user)],
                audit: [caller.audit("user.delete", scope.target(user.username), tenant: scope.tenantID, at: now)]
            )
        }
    }

    /// The user named in the path. Reading needs sight of the whole tenant; changing needs the
    /// right to manage users — except for the caller's own account.
    func find(_ request: Request, _ context: AuthenticatedContext, _ caller: Caller, forChange: Bool) throws -> (TenantSnapshot, User) {
        let tenant = try caller.tenant(request.parameter("tenant", context))
        let name = try request.parameter("user", context)
        let isSelf = caller.principal.tenantID == tenant.tenant.id && caller.principal.user.username == name
        if !isSelf {
            try caller.require(forChange ? .manageUsers : .seeInsideTenant, on: .tenant(tenant.tenant.id), "tenant")
        }
        guard let user = tenant.user(named: name) else { throw APIError.notFound("user '\(name)'") }
        return (tenant, user)
    }

    private func create(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.manageUsers, on: .tenant(tenant.tenant.id), "tenant")
        let body = try await JSONBody.decode(CreateUserRequest.self, schema: "CreateUserRequest", from: request, context: context)
        let user = try await add(body, to: .tenant(tenant), by: caller)
        return try JSONBody.response(UserView(user, tenantName: tenant.tenant.name), status: .created)
    }

    /// Creates a local user as `POST …/users` does (the API and the console's form). The
    /// caller's right to is checked by the caller.
    func add(_ body: CreateUserRequest, to scope: UserScope, by caller: Caller) async throws -> User {
        try Validate.name(body.username, field: "username")
        try Validate.password(body.password, field: "password")
        try Validate.displayName(body.displayName ?? "", field: "displayName")
        if let email = body.email { try Validate.email(email, field: "email") }
        guard scope.user(named: body.username) == nil else {
            throw APIError.conflict("a user named '\(body.username)' already exists in this \(scope.noun)", field: "username")
        }
        let now = services.now
        let user = User(
            id: .random(), tenantID: scope.tenantID, username: body.username,
            displayName: body.displayName ?? "", email: body.email, createdAt: now
        )
        let hash = try await services.hasher.hash(body.password)
        try await services.world.commit { tx in
            try await tx.insert(user, passwordHash: hash)
            return World.Outcome(
                result: (), changes: [.userSaved(user)],
                audit: [caller.audit("user.create", scope.target(user.username), tenant: scope.tenantID, at: now)]
            )
        }
        return user
    }

    private func update(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, current) = try find(request, context, caller, forChange: true)
        let body = try await JSONBody.decode(UpdateUserRequest.self, schema: "UpdateUserRequest", from: request, context: context)
        let saved = try await update(current, in: .tenant(tenant), with: body, by: caller)
        return try JSONBody.response(UserView(saved, tenantName: tenant.tenant.name))
    }

    /// Changes a user as `PATCH …/users/{u}` does (the API and the console's users page): no one
    /// disables their own account; a directory user's password is the directory's. The caller's
    /// right to is checked by `find`.
    func update(_ current: User, in scope: UserScope, with body: UpdateUserRequest, by caller: Caller) async throws -> User {
        let isSelf = current.id == caller.principal.user.id
        var user = current
        if let version = body.version { user.version = version }
        if let displayName = body.displayName {
            try Validate.displayName(displayName, field: "displayName")
            user.displayName = displayName
        }
        if let email = body.email {
            // An empty one clears it.
            if !email.isEmpty { try Validate.email(email, field: "email") }
            user.email = email.nonEmpty
        }
        if let disabled = body.disabled {
            guard !isSelf else { throw APIError.forbidden("you cannot disable your own account") }
            if disabled, !current.disabled, case .domain = scope, scope.isLastAdmin(current.id) { throw Self.lastUserAdministrator(current) }
            user.disabled = disabled
        }
        var hash: String?
        if let password = body.password {
            guard current.source == .local else { throw APIError.invalid("directory users change their password in the directory", field: "password") }
            try Validate.password(password, field: "password")
            hash = try await services.hasher.hash(password)
        }
        user.updatedAt = services.now
        let edited = user
        let newHash = hash
        let revoking = body.revokeTokens == true
        let (saved, revoked) = try await services.world.commit { [services] tx in
            // Again over the grants as stored (locked): two administrators disabled at once must
            // not both pass.
            if edited.disabled, !current.disabled, case .domain = scope {
                let stored = try await scope.lockedAdminGrants(tx, services.world.snapshot)
                if stored.scope.isLastAdmin(current.id, among: stored.grants) { throw Self.lastUserAdministrator(current) }
            }
            let saved = try await tx.update(edited, passwordHash: newHash)
            let target = scope.target(saved.username)
            let revoked = revoking ? try await tx.revokeTokens(of: saved.id, at: edited.updatedAt) : []
            var audit = [caller.audit("user.update", target, tenant: scope.tenantID, at: edited.updatedAt)]
            if revoking { audit.append(caller.audit("user.revoke-tokens", target, tenant: scope.tenantID, at: edited.updatedAt)) }
            // One `token.revoke` entry per token, as a single revocation writes: other replicas
            // forget a token from their caches on seeing one in the change feed.
            audit += revoked.map { caller.audit(SessionRoutes.revokeAction, "tokens/\($0)", tenant: scope.tenantID, at: edited.updatedAt) }
            return World.Outcome(result: (saved, revoked), changes: [.userSaved(saved)], audit: audit)
        }
        if !revoked.isEmpty { services.authenticator.forget(tokenIDs: Set(revoked)) }
        return saved
    }
}

extension UserRoutes {
    static func lastUserAdministrator(_ user: User) -> APIError {
        APIError.conflict("'\(user.username)' is the domain's last administrator who is a user; name another user first")
    }
}

/// Where users live: the domain (its administrators' own accounts) or one tenant.
enum UserScope {
    case domain(Snapshot)
    case tenant(TenantSnapshot)

    var tenantID: TenantID? {
        if case .tenant(let tenant) = self { tenant.tenant.id } else { nil }
    }

    /// The same scope as `snapshot` has it (a tenant deleted since: as it was).
    func current(in snapshot: Snapshot) -> UserScope {
        switch self {
        case .domain: .domain(snapshot)
        case .tenant(let tenant): snapshot.tenant(tenant.tenant.id).map(UserScope.tenant) ?? self
        }
    }

    /// The scope as a message names it.
    var noun: String {
        if case .tenant = self { "tenant" } else { "domain" }
    }

    /// A user's path, as audit entries name it.
    func target(_ username: String) -> String {
        switch self {
        case .domain: "users/\(username)"
        case .tenant(let tenant): "tenants/\(tenant.tenant.name)/users/\(username)"
        }
    }

    func user(named name: String) -> User? {
        switch self {
        case .domain(let snapshot): snapshot.domainUser(named: name)
        case .tenant(let tenant): tenant.user(named: name)
        }
    }

    func user(_ id: UserID) -> User? {
        switch self {
        case .domain(let snapshot): snapshot.domainUsers[id]
        case .tenant(let tenant): tenant.user(id)
        }
    }

    /// The scope's users, by name.
    var users: [User] {
        switch self {
        case .domain(let snapshot): snapshot.domainUsers.values.sorted { $0.username < $1.username }
        case .tenant(let tenant): tenant.users.values.sorted { $0.username < $1.username }
        }
    }

    /// The scope's administrators' grants: service providers, or the tenant's admins.
    var adminGrants: [Grant] {
        switch self {
        case .domain(let snapshot): snapshot.serviceProviderGrants
        case .tenant(let tenant): tenant.adminGrants
        }
    }

    /// Whether removing `user` would leave the scope with no admin (among `grants`, the scope's
    /// admin grants unless given).
    func isLastAdmin(_ user: UserID, among grants: [Grant]? = nil) -> Bool {
        let grants = grants ?? adminGrants
        return grants.contains { $0.subject == .user(user) } && !keepsAnAdmin(grants.filter { $0.subject != .user(user) })
    }

    /// The scope's admin grants as stored, locked for the rest of `tx` (`StoreTransaction.lockGrants`),
    /// and the scope as `snapshot` has it (for its users' states).
    func lockedAdminGrants(_ tx: StoreTransaction, _ snapshot: Snapshot) async throws -> (scope: UserScope, grants: [Grant]) {
        (current(in: snapshot), try await tx.lockGrants(of: adminRole, tenant: tenantID))
    }

    /// Whether `remaining` admin grants are enough: a tenant keeps one of any kind; the domain
    /// keeps one naming a user who is not disabled, so that a directory that is down or a group
    /// emptied cannot lock every administrator out.
    func keepsAnAdmin(_ remaining: [Grant]) -> Bool {
        switch self {
        case .tenant: !remaining.isEmpty
        case .domain(let snapshot):
            remaining.contains { grant in
                if case .user(let id) = grant.subject { snapshot.domainUsers[id]?.disabled == false } else { false }
            }
        }
    }

    /// `keepsAnAdmin`'s rule, as a refusal says it.
    var keepsAnAdminRule: String {
        switch self {
        case .tenant: "a tenant keeps at least one admin; name another admin first"
        case .domain: "the domain keeps at least one administrator who is a user (not only groups); name another user first"
        }
    }

    /// What managing the scope's users and admins takes, and on what.
    var manageAction: Action {
        if case .tenant = self { .manageUsers } else { .manageDomainAdmins }
    }

    var policyTarget: Target {
        switch self {
        case .domain: .domain
        case .tenant(let tenant): .tenant(tenant.tenant.id)
        }
    }

    /// The role an admin of the scope holds.
    var adminRole: Role {
        if case .tenant = self { .tenantAdmin } else { .serviceProvider }
    }

    /// An admin grant's path, as audit entries name it.
    func adminTarget(_ id: GrantID) -> String {
        switch self {
        case .domain: "admins/\(id)"
        case .tenant(let tenant): "tenants/\(tenant.tenant.name)/admins/\(id)"
        }
    }
}
