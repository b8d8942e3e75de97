import CanopyModel
import Foundation
import Hummingbird

/// A user's page (`/ui/tenants/{t}/users/{u}`, or a domain user's `/ui/users/{u}`), for those who
/// manage the scope's users: the display name and e-mail, and for a local account a new password
/// (a forgotten one replaced), through `UserRoutes.update` as the API's PATCH, with the version
/// the page was drawn at; and the user's sessions and tokens, each revocable (as `DELETE
/// …/users/{u}/tokens/{id}`). Not for one's own account: its password is changed on the tokens
/// page, giving the current one, and its tokens are revoked there.
struct UserPage {
    let frame: ConsolePage.Frame
    /// The tenant; `nil` for a domain user.
    let tenant: String?
    /// `/ui/tenants/coke` or `/ui`, as on the users page.
    let base: String
    let username: String, source: String, state: String
    let form: UserSettingsForm
    /// Newest first.
    let tokens: [TokensPage.Row]
}

/// The user's settings as shown or typed (never a password), and the refusal's message.
struct UserSettingsForm {
    var displayName = "", email = ""
    /// Whether the account is local (a password can be set here) rather than a directory's.
    var local = true
    /// Whether the box to revoke the user's sessions and tokens is ticked.
    var revokeTokens = false
    var version: Int?
    var error: String?

    init(_ user: User) {
        displayName = user.displayName
        email = user.email ?? ""
        local = user.source == .local
        version = user.version
    }

    init(_ body: ConsoleRoutes.UserSettingsBody, local: Bool) throws {
        displayName = body.displayName.trimmed
        email = body.email.trimmed
        self.local = local
        revokeTokens = body.revokeTokens == "true"
        version = try ConsolePage.version(body.version)
    }

    /// The API's request: an empty e-mail clears it; an empty password leaves it as it is.
    func request(password: String?) -> UserRoutes.UpdateUserRequest {
        .init(displayName: displayName, email: email, password: password?.nonEmpty, disabled: nil, version: version, revokeTokens: revokeTokens ? true : nil)
    }
}

extension ConsoleRoutes {
    struct UserSettingsBody: Decodable {
        let displayName: String
        let email: String
        let password: String?
        /// `true` when the box to revoke the user's sessions and tokens is ticked.
        let revokeTokens: String?
        let version: String?
    }

    func registerUserSettingsForms(on signedIn: RouterGroup<AuthenticatedContext>) {
        for prefix in ["tenants/{tenant}/", ""] {
            signedIn.get(RouterPath(prefix + "users/{user}")) { request, context in
                let (caller, scope, user) = try userToEdit(request, context)
                return try await userPage(caller, scope, user, form: UserSettingsForm(user))
            }
            signedIn.post(RouterPath(prefix + "users/{user}")) { request, context in try await saveUser(request, context) }
            signedIn.post(RouterPath(prefix + "users/{user}/tokens/{id}/revoke")) { request, context in
                let (caller, scope, user) = try userToEdit(request, context)
                try await SessionRoutes(services: services).revoke(TokenID(try request.parameter("id", context)), of: user, by: caller)
                return ConsolePage.redirect(to: "\(Self.usersBase(scope))/users/\(user.username)")
            }
        }
    }

    /// As `userToChange` (who manages the scope's users; 404 or 403 as the API answers), and not
    /// one's own account (409: the tokens page changes it, with the current password).
    private func userToEdit(_ request: Request, _ context: AuthenticatedContext) throws -> (Caller, UserScope, User) {
        let (caller, scope, user) = try userToChange(in: request, context)
        guard user.id != caller.principal.user.id else {
            throw APIError.conflict("your own account is changed on your tokens page, where your current password is asked for")
        }
        return (caller, scope, user)
    }

    private func userPage(_ caller: Caller, _ scope: UserScope, _ user: User, form: UserSettingsForm, status: HTTPResponse.Status = .ok) async throws -> Response {
        let tenant: String? = if case .tenant(let tenant) = scope { tenant.tenant.name } else { nil }
        let now = services.now
        let tokens = try await services.world.store.tokens(of: user.id).sorted { $0.createdAt > $1.createdAt }
        return try ConsolePage.render("user", UserPage(
            frame: .init(title: "\(user.username) (\(tenant ?? "domain"))", caller: caller), tenant: tenant, base: Self.usersBase(scope),
            username: user.username, source: user.source.rawValue, state: user.disabled ? "disabled" : "active", form: form,
            tokens: tokens.map { TokensPage.Row($0, now: now) }
        ), status: status)
    }

    /// `PATCH …/users/{u}` of the API; back to the users page.
    private func saveUser(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, scope, user) = try userToEdit(request, context)
        guard let body = try await ConsolePage.form(UserSettingsBody.self, from: request) else {
            throw APIError.malformed("the form needs displayName and email")
        }
        let typed = try UserSettingsForm(body, local: user.source == .local)
        return try await ConsolePage.submit({
            _ = try await UserRoutes(services: services).update(user, in: scope, with: typed.request(password: body.password), by: caller)
        }, then: Self.usersPath(scope)) { message, status in
            var refused = typed
            let now = scope.current(in: caller.snapshot).user(user.id)
            (refused.error, refused.version) = ConsolePage.refusal(message, status, of: "this user", drawn: typed.version, current: now?.version)
            return try await userPage(caller, scope, now ?? user, form: refused, status: status)
        }
    }
}

extension ConsolePage {
    static let userTemplate = """
        {{> header}}
        <h1>{{username}} <span class="note">of <a href="{{base}}/users">{{#tenant}}{{.}}{{/tenant}}{{^tenant}}the domain{{/tenant}}</a></span></h1>
        <p id="summary">Account: {{source}}. State: {{state}}.</p>
        {{#form}}
        {{#error}}<p class="error" role="alert" id="user-settings-error">{{error}}</p>{{/error}}
        <form method="post" action="{{base}}/users/{{username}}" id="user-settings">
        {{#version}}<input type="hidden" name="version" value="{{.}}">{{/version}}
        <label>Display name <input name="displayName" id="user-display-name" value="{{displayName}}"></label>
        <label>E-mail <input name="email" id="user-email" value="{{email}}" type="email" placeholder="none"></label>
        {{#local}}<label>New password <input name="password" id="user-password" type="password" autocomplete="new-password" placeholder="unchanged"></label>{{/local}}
        <label><input type="checkbox" name="revokeTokens" value="true" id="user-revoke-tokens"{{#revokeTokens}} checked{{/revokeTokens}}> Also end their sessions and revoke their tokens (they sign in again; a kubeconfig holding a static token needs a new one)</label>
        <button type="submit" id="user-settings-button">Save</button>
        </form>
        {{#local}}<p class="note">A new password replaces a forgotten one. If it may have been seen by someone else, tick the box: their sessions and tokens stay valid otherwise.</p>{{/local}}
        {{^local}}<p class="note">This account's password is the directory's.</p>{{/local}}
        {{/form}}
        <h2>Sessions and tokens</h2>
        <p class="note">Their sign-ins, kubeconfig tokens and tokens for automation. Revoking one stops whatever uses it at its next request; their others keep working.</p>
        <table id="user-tokens">
        <tr><th>Description</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th></th></tr>
        {{#tokens}}<tr id="token-{{id}}"><td>{{description}}</td><td>{{created}}</td><td>{{expires}}</td><td>{{lastUsed}}</td><td>{{state}}</td><td>{{#revocable}}<form method="post" action="{{base}}/users/{{username}}/tokens/{{id}}/revoke"><button type="submit" id="revoke-{{id}}">Revoke</button></form>{{/revocable}}</td></tr>
        {{/tokens}}
        </table>
        {{> footer}}
        """
}
