import CanopyAuth
import CanopyModel
import Hummingbird

/// The tokens page's password form: a tenant's local account changes its own password, as
/// `PATCH …/users/{self}` with `password` does (`UserRoutes.update`), once the current password
/// is given again. It is checked as a sign-in is (`Authenticator.signIn`: the same bcrypt work,
/// failures counted and throttled the same way), so a stolen session alone cannot lock the
/// account's owner out. Directory users change theirs in the directory; the domain's users with
/// the CLI.
extension ConsoleRoutes {
    struct PasswordFormBody: Decodable {
        let current: String
        let password: String
        let again: String
    }

    /// Whether the caller's password is changed on the tokens page.
    static func changesOwnPassword(_ caller: Caller) -> Bool {
        caller.principal.tenantID != nil && caller.principal.user.source == .local
    }

    /// Back to the tokens page with a notice, or with why not.
    func changePassword(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let user = caller.principal.user
        guard Self.changesOwnPassword(caller), let tenantID = caller.principal.tenantID, let tenant = caller.snapshot.tenant(tenantID) else {
            throw APIError.forbidden("only a tenant's local accounts change their password here; a directory user changes it in the directory")
        }
        guard let form = try await ConsolePage.form(PasswordFormBody.self, from: request) else {
            throw APIError.malformed("the form needs current, password and again")
        }
        return try await ConsolePage.submit({
            guard form.password == form.again else { throw APIError.invalid("the new password and its repetition differ", field: "again") }
            do {
                _ = try await services.authenticator.signIn(tenant: tenant.tenant.name, username: user.username, password: form.current, from: context.remoteAddress)
            } catch let error as AuthError where error.code == .invalidCredentials {
                throw APIError.invalid("the current password is not right", field: "current")
            }
            let change = UserRoutes.UpdateUserRequest(displayName: nil, email: nil, password: form.password, disabled: nil, version: nil)
            _ = try await UserRoutes(services: services).update(user, in: tenant, with: change, by: caller)
        }, then: "/ui/tokens?password=changed") { message, status in
            try await tokensPage(caller, session: context.identity.tokenID, passwordError: message, status: status)
        }
    }
}
