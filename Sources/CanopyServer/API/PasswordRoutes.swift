import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `POST /api/v1/password {current, password}`: a local account — a tenant's, or the domain's,
/// whose administrators have no other way to change theirs (the first one's is set once, at the
/// first start) — changes its own password, giving the current one again. The current one is
/// checked as a sign-in is (`Authenticator.signIn`: the same bcrypt work, failures counted and
/// throttled the same way), so a stolen token alone cannot change the password and lock the
/// owner out. The caller's sessions and tokens are kept.
struct PasswordRoutes {
    let services: APIServices

    struct ChangePasswordRequest: Decodable {
        let current: String
        let password: String
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.post("password") { request, context in
            let caller = try Caller(context, services)
            let body = try await JSONBody.decode(ChangePasswordRequest.self, schema: "ChangePasswordRequest", from: request, context: context)
            try await change(caller, current: body.current, to: body.password, from: context.remoteAddress)
            return Response(status: .noContent)
        }
    }

    /// Changes the caller's own password (the API and the console's tokens page): 422 for a
    /// directory user, a new password too short or long, or a wrong current one (checked last,
    /// so that nothing else counts as a failed sign-in).
    func change(_ caller: Caller, current: String, to password: String, from address: String) async throws {
        let user = caller.principal.user
        guard user.source == .local else { throw APIError.invalid("a directory user changes their password in the directory", field: "password") }
        try Validate.password(password, field: "password")
        let tenantName = user.tenantID.flatMap { caller.snapshot.tenant($0)?.tenant.name }
        do {
            _ = try await services.authenticator.signIn(tenant: tenantName, username: user.username, password: current, from: address)
        } catch let error as AuthError where error.code == .invalidCredentials {
            throw APIError.invalid("the current password is not right", field: "current")
        }
        let hash = try await services.hasher.hash(password)
        var edited = user
        edited.updatedAt = services.now
        let changed = edited
        let target = tenantName.map { "tenants/\($0)/users/\(user.username)" } ?? "users/\(user.username)"
        try await services.world.commit { tx in
            let saved = try await tx.update(changed, passwordHash: hash)
            return World.Outcome(result: (), changes: [.userSaved(saved)], audit: [caller.audit("user.password", target, tenant: user.tenantID, at: changed.updatedAt)])
        }
    }
}
