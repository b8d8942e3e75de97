import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// Sign-in, the caller's own tokens, and `whoami`.
struct SessionRoutes {
    let services: APIServices
    /// The audit action of a token's revocation (other replicas forget the token on seeing it).
    static let revokeAction = "token.revoke"

    struct LoginRequest: Decodable {
        let tenant: String?
        let username: String
        let password: String
    }

    struct LoginView: Encodable {
        let token: String
        let expiresAt: Date
        let user: UserView
    }

    struct CreateTokenRequest: Decodable {
        let description: String?
        let ttlSeconds: Int?
    }

    /// Longest lifetime a token may be given: one year.
    static let maxTokenLifetime = 365 * 24 * 3600

    func registerPublic(on router: RouterGroup<CanopyRequestContext>) {
        router.post("login") { request, context in
            let body = try await JSONBody.decode(LoginRequest.self, schema: "LoginRequest", from: request, context: context)
            let user = try await services.authenticator.signIn(
                tenant: body.tenant, username: body.username, password: body.password, from: context.remoteAddress
            )
            let issued = try await issueToken(for: user, description: "sign-in", lifetime: services.authenticator.sessionLifetime, requestID: context.requestID)
            let tenantName = user.tenantID.flatMap { services.world.snapshot.tenant($0)?.tenant.name }
            return try JSONBody.response(LoginView(token: issued.token, expiresAt: issued.expiresAt, user: UserView(user, tenantName: tenantName)))
        }
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("whoami") { _, context in
            let caller = try Caller(context, services)
            return try JSONBody.response(WhoamiView(caller))
        }
        router.post("tokens") { request, context in
            let caller = try Caller(context, services)
            let body = try await JSONBody.decode(CreateTokenRequest.self, schema: "CreateTokenRequest", from: request, context: context)
            return try JSONBody.response(try await create(body, for: caller, requestID: context.requestID), status: .created)
        }
        router.get("tokens") { _, context in
            let caller = try Caller(context, services)
            let tokens = try await services.world.store.tokens(of: caller.principal.user.id)
            return try JSONBody.response(ListView(items: tokens.map(TokenView.init)))
        }
        router.delete("tokens/{id}") { request, context in
            let caller = try Caller(context, services)
            try await revoke(TokenID(try request.parameter("id", context)), of: caller)
            return Response(status: .noContent)
        }
    }

    /// Revokes one of the caller's own tokens (404 for any other), in the audit log; this
    /// replica forgets it at once, the others on seeing the audit event.
    func revoke(_ id: TokenID, of caller: Caller) async throws {
        try await revoke(id, of: caller.principal.user, by: caller)
    }

    /// Revokes a token of `user` (404 for any other: one of another user's, or none), as
    /// `caller`; the caller's right to is checked by the caller. An already revoked token is
    /// revoked again (its time kept), as deleting what is gone answers the same.
    func revoke(_ id: TokenID, of user: User, by caller: Caller) async throws {
        let tokens = try await services.world.store.tokens(of: user.id)
        guard tokens.contains(where: { $0.id == id }) else { throw APIError.notFound("token") }
        let now = services.now
        try await services.world.commit { tx in
            try await tx.revokeToken(id, at: now)
            return World.Outcome(result: (), changes: [], audit: [caller.audit(Self.revokeAction, "tokens/\(id)", tenant: user.tenantID, at: now)])
        }
        services.authenticator.forget(tokenIDs: [id])
    }

    /// A token of the caller's own, as `POST /api/v1/tokens` makes it (the API and the console's
    /// tokens page): 30 days unless asked otherwise, from 60 s to a year.
    func create(_ body: CreateTokenRequest, for caller: Caller, requestID: String) async throws -> IssuedTokenView {
        if let description = body.description { try Validate.displayName(description, field: "description") }
        let lifetime = body.ttlSeconds ?? 30 * 24 * 3600
        guard (60...Self.maxTokenLifetime).contains(lifetime) else {
            throw APIError.invalid("ttlSeconds must be between 60 and \(Self.maxTokenLifetime)", field: "ttlSeconds")
        }
        return try await issueToken(for: caller.principal.user, description: body.description ?? "", lifetime: TimeInterval(lifetime), requestID: requestID)
    }

    /// Creates a token for `user` and records it in the audit log.
    func issueToken(for user: User, description: String, lifetime: TimeInterval, requestID: String) async throws -> IssuedTokenView {
        let secret = TokenSecret.generate()
        let now = services.now
        let token = APIToken(id: .random(), userID: user.id, description: description, createdAt: now, expiresAt: now + lifetime)
        let actor = user.tenantID.flatMap { services.world.snapshot.tenant($0) }.map { "\($0.tenant.name)/\(user.username)" } ?? user.username
        let event = AuditEvent(
            at: now, actorID: user.id, actor: actor, tenantID: user.tenantID, projectID: nil,
            action: "token.create", target: "tokens/\(token.id)", requestID: requestID
        )
        try await services.world.commit { tx in
            try await tx.insert(token, tenantID: user.tenantID, hash: secret.hash)
            return World.Outcome(result: (), changes: [], audit: [event])
        }
        return IssuedTokenView(id: token.id.rawValue, token: secret.text, expiresAt: token.expiresAt)
    }
}

/// The caller and their roles.
struct WhoamiView: Encodable {
    struct ProjectRole: Encodable {
        let project: String
        let role: String
    }

    let user: UserView
    let tenant: String?
    let serviceProvider: Bool
    let tenantAdmin: Bool
    /// Directory groups (empty for local users).
    let groups: [String]
    let projects: [ProjectRole]

    init(_ caller: Caller) {
        let tenant = caller.principal.tenantID.flatMap { caller.snapshot.tenant($0) }
        user = UserView(caller.principal.user, tenantName: tenant?.tenant.name)
        self.tenant = tenant?.tenant.name
        serviceProvider = caller.principal.isServiceProvider
        tenantAdmin = caller.principal.isTenantAdmin
        groups = caller.principal.groups.sorted()
        projects = caller.principal.projectRoles.compactMap { id, role in
            tenant?.project(id).map { ProjectRole(project: $0.name, role: role.rawValue) }
        }.sorted { $0.project < $1.project }
    }
}
