import CanopyAuth
import CanopyModel
import Hummingbird

/// The tokens page's password form: a local account (a tenant's or the domain's) changes its own
/// password, as `POST /api/v1/password` does (`PasswordRoutes.change`), once the current password
/// is given again (checked as a sign-in is, so a stolen session alone cannot lock the account's
/// owner out). Directory users change theirs in the directory.
extension ConsoleRoutes {
    struct PasswordFormBody: Decodable {
        let current: String
        let password: String
        let again: String
    }

    /// Whether the caller's password is changed on the tokens page.
    static func changesOwnPassword(_ caller: Caller) -> Bool {
        caller.principal.user.source == .local
    }

    /// Back to the tokens page with a notice, or with why not.
    func changePassword(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        guard Self.changesOwnPassword(caller) else {
            throw APIError.forbidden("only local accounts change their password here; a directory user changes it in the directory")
        }
        guard let form = try await ConsolePage.form(PasswordFormBody.self, from: request) else {
            throw APIError.malformed("the form needs current, password and again")
        }
        return try await ConsolePage.submit({
            guard form.password == form.again else { throw APIError.invalid("the new password and its repetition differ", field: "again") }
            try await PasswordRoutes(services: services).change(caller, current: form.current, to: form.password, from: context.remoteAddress)
        }, then: "/ui/tokens?password=changed") { message, status in
            try await tokensPage(caller, session: context.identity.tokenID, passwordError: message, status: status)
        }
    }
}
