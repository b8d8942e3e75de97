import CanopyAuth
import CanopyModel
import Foundation
import Hummingbird

/// The directories page: a tenant's LDAP identity providers for those who manage its users
/// (`/ui/tenants/{t}/directories`), the domain's for its administrators (`/ui/directories`), as
/// `…/identity-providers` of the API — listed with every setting but the bind password, added,
/// changed on each directory's own page, tried with a user's name and password (the API's
/// step-by-step test, throttled as a sign-in), and deleted once the name is typed again. Each form goes through `IdentityProviderRoutes` after its own scope check, so
/// the console refuses exactly whom the API refuses (404 for a tenant the caller cannot see, 403
/// for one whose users they may not manage). Neither the bind password nor a tested password is
/// ever written back into a page.
struct DirectoriesPage {
    struct Row {
        let name: String, urls: String, bindDN: String, userBaseDN: String, userFilter: String
        let groupBaseDN: String, groupFilter: String, groupNameAttribute: String, security: String
        /// How many levels of nested groups are followed; `nil` for direct groups only.
        let nesting: String?
    }

    /// A test's outcome: each step, and what the directory said of the user.
    struct Test {
        let directory: String, username: String, ok: Bool
        let steps: [DirectoryTestReport.Step]
        let userDN: String?
        let groups: String?
    }

    let frame: ConsolePage.Frame
    /// `coke`, or `nil` for the domain's directories.
    let tenant: String?
    /// `/ui/tenants/coke/directories` or `/ui/directories`: where the forms post.
    let path: String
    let directories: [Row]
    let test: Test?
    /// A refused test or deletion: why.
    let rowError: String?
    let form: DirectoryForm
}

/// One directory's page: its settings to change.
struct DirectoryPage {
    let frame: ConsolePage.Frame
    let tenant: String?
    /// The directories page.
    let back: String
    /// Where the form posts.
    let path: String
    let form: DirectoryForm
}

/// A directory's form, new or changed: what was typed (never the bind password), and the
/// refusal's message.
struct DirectoryForm {
    static let defaultUserFilter = "(uid={username})", defaultGroupFilter = "(member={dn})", defaultGroupNameAttribute = "cn"

    var name = "", urls = "", bindDN = "", userBaseDN = "", userFilter = Self.defaultUserFilter
    var groupBaseDN = "", groupFilter = Self.defaultGroupFilter, groupNameAttribute = Self.defaultGroupNameAttribute, caPEM = "", nestedGroupDepth = "0"
    var startTLS = false
    /// Changing an existing directory (its name is fixed; an empty bind password keeps it).
    var editing = false
    /// The directory's version when the page was drawn (see `ConsolePage.version`).
    var version: Int?
    var error: String?

    init() {}

    /// The form as the directory stands.
    init(_ provider: IdentityProvider) {
        name = provider.name
        urls = provider.urls.joined(separator: " ")
        bindDN = provider.bindDN
        userBaseDN = provider.userBaseDN
        userFilter = provider.userFilter
        groupBaseDN = provider.groupBaseDN
        groupFilter = provider.groupFilter
        groupNameAttribute = provider.groupNameAttribute
        caPEM = provider.caPEM ?? ""
        nestedGroupDepth = String(provider.nestedGroupDepth)
        startTLS = provider.startTLS
        editing = true
        version = provider.version
    }

    /// The form as submitted; for an existing directory, `name` is its name (the form has none).
    init(_ body: ConsoleRoutes.DirectoryFormBody, editing name: String? = nil) throws {
        self.name = name ?? body.name?.trimmed ?? ""
        editing = name != nil
        version = try ConsolePage.version(body.version)
        urls = body.urls.trimmed
        bindDN = body.bindDN?.trimmed ?? ""
        userBaseDN = body.userBaseDN.trimmed
        userFilter = body.userFilter?.trimmed ?? ""
        groupBaseDN = body.groupBaseDN.trimmed
        groupFilter = body.groupFilter?.trimmed ?? ""
        groupNameAttribute = body.groupNameAttribute?.trimmed ?? ""
        caPEM = body.caPEM?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        nestedGroupDepth = body.nestedGroupDepth?.trimmed ?? ""
        startTLS = body.startTLS == "true"
    }

    /// The API's request: URLs split at spaces, commas and line ends; an empty filter, name
    /// attribute or nesting takes the API's default; an empty bind DN binds anonymously, an empty
    /// CA certificate means the system's; an empty bind password keeps the one stored.
    func request(bindPassword: String?) throws -> IdentityProviderRoutes.ProviderRequest {
        var depth = 0
        if !nestedGroupDepth.isEmpty {
            guard let value = Int(nestedGroupDepth) else {
                throw APIError.invalid("nestedGroupDepth must be a whole number (0 for direct groups only)", field: "nestedGroupDepth")
            }
            depth = value
        }
        let list = urls.split { $0 == " " || $0 == "," || $0.isNewline }.map(String.init)
        return .init(
            name: editing ? nil : name, type: "ldap", urls: list, bindDN: bindDN, bindPassword: bindPassword?.nonEmpty, userBaseDN: userBaseDN,
            userFilter: userFilter.nonEmpty ?? Self.defaultUserFilter, groupBaseDN: groupBaseDN, groupFilter: groupFilter.nonEmpty ?? Self.defaultGroupFilter,
            groupNameAttribute: groupNameAttribute.nonEmpty ?? Self.defaultGroupNameAttribute, startTLS: startTLS, caPEM: caPEM,
            nestedGroupDepth: depth, version: version
        )
    }
}

extension ConsoleRoutes {
    struct DirectoryFormBody: Decodable {
        /// The new directory's name (the form changing one has none).
        let name: String?
        /// One or more `ldap://` or `ldaps://` URLs, separated by spaces, commas or line ends.
        let urls: String
        let bindDN: String?
        let bindPassword: String?
        let userBaseDN: String
        let userFilter: String?
        let groupBaseDN: String
        let groupFilter: String?
        let groupNameAttribute: String?
        /// `true` when the StartTLS box is ticked.
        let startTLS: String?
        let caPEM: String?
        let nestedGroupDepth: String?
        /// The directory's version when the page was drawn (the form changing one).
        let version: String?
    }

    struct DirectoryTestBody: Decodable {
        let username: String
        let password: String
    }

    struct DirectoryRemovalBody: Decodable {
        /// The directory's name, typed again.
        let confirm: String
    }

    /// A form holding a pasted CA certificate is larger than the others.
    static let maxDirectoryFormSize = 64 * 1024

    func registerDirectoryForms(on signedIn: RouterGroup<AuthenticatedContext>) {
        for prefix in ["tenants/{tenant}/directories", "directories"] {
            signedIn.get(RouterPath(prefix)) { _, context in
                let (caller, routes, scope) = try directories(context)
                return try await directoriesPage(caller, routes, scope)
            }
            signedIn.post(RouterPath(prefix)) { request, context in try await addDirectory(request, context) }
            signedIn.get(RouterPath(prefix + "/{id}")) { request, context in
                let (caller, routes, scope) = try directories(context)
                let stored = try await routes.find(request.parameter("id", context), of: scope.id)
                return try directoryPage(caller, scope, stored.provider, form: DirectoryForm(stored.provider))
            }
            signedIn.post(RouterPath(prefix + "/{id}")) { request, context in try await saveDirectory(request, context) }
            signedIn.post(RouterPath(prefix + "/{id}/test")) { request, context in try await testDirectory(request, context) }
            signedIn.post(RouterPath(prefix + "/{id}/remove")) { request, context in try await removeDirectory(request, context) }
        }
    }

    /// The directories page of a tenant, or with `nil` the domain's.
    static func directoriesPath(_ tenant: String?) -> String {
        tenant.map { "/ui/tenants/\($0)/directories" } ?? "/ui/directories"
    }

    /// The caller, the API's routes and the directories' owner the path names (the API's check).
    private func directories(_ context: AuthenticatedContext) throws -> (Caller, IdentityProviderRoutes, (id: TenantID?, name: String?)) {
        let caller = try Caller(context, services)
        let routes = IdentityProviderRoutes(services: services)
        let (id, name) = try routes.scope(tenant: context.parameters.get("tenant"), for: caller)
        return (caller, routes, (id, name))
    }

    private func directoriesPage(
        _ caller: Caller, _ routes: IdentityProviderRoutes, _ scope: (id: TenantID?, name: String?),
        form: DirectoryForm = DirectoryForm(), test: DirectoriesPage.Test? = nil, rowError: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let stored = try await services.world.store.identityProviders(of: scope.id).map(\.provider).sorted { $0.name < $1.name }
        let rows = stored.map { provider in
            DirectoriesPage.Row(
                name: provider.name, urls: provider.urls.joined(separator: " "), bindDN: provider.bindDN.nonEmpty ?? "anonymous",
                userBaseDN: provider.userBaseDN, userFilter: provider.userFilter, groupBaseDN: provider.groupBaseDN,
                groupFilter: provider.groupFilter, groupNameAttribute: provider.groupNameAttribute,
                security: [provider.startTLS ? "StartTLS" : nil, provider.caPEM != nil ? "own CA" : nil].compactMap { $0 }.joined(separator: ", "),
                nesting: provider.nestedGroupDepth > 0 ? String(provider.nestedGroupDepth) : nil
            )
        }
        return try ConsolePage.render("directories", DirectoriesPage(
            frame: .init(title: "\(scope.name ?? "Domain") directories", caller: caller), tenant: scope.name,
            path: Self.directoriesPath(scope.name), directories: rows, test: test, rowError: rowError, form: form
        ), status: status)
    }

    /// `POST …/identity-providers` of the API; back to the directories page.
    private func addDirectory(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, routes, scope) = try directories(context)
        guard let body = try await ConsolePage.form(DirectoryFormBody.self, from: request, limit: Self.maxDirectoryFormSize), body.name != nil else {
            throw APIError.malformed("the form needs name, urls, userBaseDN and groupBaseDN")
        }
        let typed = try DirectoryForm(body)
        let path = Self.directoriesPath(scope.name)
        return try await ConsolePage.submit({
            _ = try await routes.create(typed.request(bindPassword: body.bindPassword), tenantID: scope.id, tenantName: scope.name, by: caller)
        }, then: path) { message, status in
            var refused = typed
            refused.error = message
            return try await directoriesPage(caller, routes, scope, form: refused, status: status)
        }
    }

    private func directoryPage(
        _ caller: Caller, _ scope: (id: TenantID?, name: String?), _ provider: IdentityProvider, form: DirectoryForm, status: HTTPResponse.Status = .ok
    ) throws -> Response {
        try ConsolePage.render("directory", DirectoryPage(
            frame: .init(title: "\(provider.name) (\(scope.name ?? "domain"))", caller: caller), tenant: scope.name,
            back: Self.directoriesPath(scope.name), path: Self.directoriesPath(scope.name) + "/\(provider.name)", form: form
        ), status: status)
    }

    /// `PATCH …/identity-providers/{id}` of the API; back to the directories page.
    private func saveDirectory(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, routes, scope) = try directories(context)
        let stored = try await routes.find(request.parameter("id", context), of: scope.id)
        guard let body = try await ConsolePage.form(DirectoryFormBody.self, from: request, limit: Self.maxDirectoryFormSize) else {
            throw APIError.malformed("the form needs urls, userBaseDN and groupBaseDN")
        }
        let typed = try DirectoryForm(body, editing: stored.provider.name)
        return try await ConsolePage.submit({
            _ = try await routes.update(stored, with: typed.request(bindPassword: body.bindPassword), tenantName: scope.name, by: caller)
        }, then: Self.directoriesPath(scope.name)) { message, status in
            var refused = typed
            let now = try? await routes.find(stored.provider.name, of: scope.id).provider
            (refused.error, refused.version) = ConsolePage.refusal(message, status, of: "this directory", drawn: typed.version, current: now?.version)
            return try directoryPage(caller, scope, now ?? stored.provider, form: refused, status: status)
        }
    }

    /// `POST …/identity-providers/{id}/test` of the API: the page again with each step's outcome.
    private func testDirectory(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, routes, scope) = try directories(context)
        let stored = try await routes.find(request.parameter("id", context), of: scope.id)
        guard let body = try await ConsolePage.form(DirectoryTestBody.self, from: request) else {
            throw APIError.malformed("the form needs username and password")
        }
        let username = body.username.trimmed
        let report: DirectoryTestReport
        do {
            report = try await routes.test(stored, tenantName: scope.name, username: username, password: body.password, from: context.remoteAddress)
        } catch {
            let refusal = ErrorMiddleware.translate(error)
            guard refusal.status.code < 500 else { throw error }
            return try await directoriesPage(caller, routes, scope, rowError: refusal.message, status: refusal.status)
        }
        let test = DirectoriesPage.Test(
            directory: stored.provider.name, username: username, ok: report.ok, steps: report.steps, userDN: report.userDN,
            groups: report.groups.map { $0.isEmpty ? "none" : $0.joined(separator: ", ") }
        )
        return try await directoriesPage(caller, routes, scope, test: test)
    }

    /// `DELETE …/identity-providers/{id}` of the API once the name is typed again.
    private func removeDirectory(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, routes, scope) = try directories(context)
        let stored = try await routes.find(request.parameter("id", context), of: scope.id)
        guard let form = try await ConsolePage.form(DirectoryRemovalBody.self, from: request) else { throw APIError.malformed("the form needs confirm") }
        let path = Self.directoriesPath(scope.name)
        return try await ConsolePage.submit({
            guard form.confirm.trimmed == stored.provider.name else {
                throw APIError.invalid("to delete directory '\(stored.provider.name)', type its name", field: "confirm")
            }
            try await routes.delete(stored.provider, tenantName: scope.name, by: caller)
        }, then: path) { message, status in
            try await directoriesPage(caller, routes, scope, rowError: message, status: status)
        }
    }
}

extension ConsolePage {
    static let directoriesTemplate = """
        {{> header}}
        <h1>{{#tenant}}Directories of <a href="/ui/tenants/{{.}}">{{.}}</a>{{/tenant}}{{^tenant}}The domain's directories{{/tenant}}</h1>
        <p class="note">{{#tenant}}The tenant's people sign in with their directory password (tenant {{.}}, their directory user name); their directory groups can be named as tenant admins and project members.{{/tenant}}{{^tenant}}People of these directories sign in to the domain itself (tenant left empty); signing in alone gives them no role: a directory group named as the domain's administrators (<code>canopy admin add --group …</code>) makes its people service providers.{{/tenant}} The bind password is kept sealed and never shown.</p>
        {{#test}}
        <h2 id="test-result">Test of {{directory}} for {{username}}: {{#ok}}it works{{/ok}}{{^ok}}it failed{{/ok}}</h2>
        <ol id="test-steps">{{#steps}}<li class="{{#ok}}ok{{/ok}}{{^ok}}error{{/ok}}">{{step}}: {{#ok}}ok{{/ok}}{{^ok}}failed{{/ok}}: {{detail}}</li>{{/steps}}</ol>
        {{#userDN}}<p>Entry: <code id="test-user-dn">{{.}}</code></p>{{/userDN}}
        {{#groups}}<p>Groups: <span id="test-groups">{{.}}</span></p>{{/groups}}
        {{/test}}
        {{#rowError}}<p class="error" role="alert" id="directory-action-error">{{rowError}}</p>{{/rowError}}
        {{^empty(directories)}}
        <table id="directories">
        <tr><th>Name</th><th>Servers</th><th>Service account</th><th>Users</th><th>Groups</th><th>Security</th><th></th></tr>
        {{#directories}}<tr><td><a href="{{path}}/{{name}}">{{name}}</a></td><td>{{urls}}</td><td>{{bindDN}}</td><td>{{userBaseDN}} <code>{{userFilter}}</code></td><td>{{groupBaseDN}} <code>{{groupFilter}}</code> by {{groupNameAttribute}}{{#nesting}}, nested {{.}} deep{{/nesting}}</td><td>{{security}}</td><td><form method="post" action="{{path}}/{{name}}/test" class="test-directory"><input name="username" aria-label="a user name to test {{name}} with" placeholder="user name" required autocomplete="off"> <input name="password" type="password" aria-label="their password" placeholder="password" autocomplete="off"> <button type="submit">Test</button></form> <form method="post" action="{{path}}/{{name}}/remove" class="remove-directory"><input name="confirm" aria-label="Type {{name}} to delete this directory" placeholder="type {{name}} to delete" required autocomplete="off"> <button type="submit">Delete</button></form></td></tr>
        {{/directories}}
        </table>
        {{/empty(directories)}}
        {{^directories}}<p class="note" id="no-directories">No directories: only local accounts sign in.</p>{{/directories}}
        {{#form}}
        <h2>New LDAP directory</h2>
        {{#error}}<p class="error" role="alert" id="directory-error">{{error}}</p>{{/error}}
        <form method="post" action="{{path}}" id="new-directory">
        <label>Name <input name="name" id="directory-name" value="{{name}}" required autocomplete="off"></label>
        {{> directoryFields}}
        <button type="submit" id="new-directory-button">Add</button>
        </form>
        <p class="note">The filters take <code>{username}</code> and <code>{dn}</code>. Test a directory with a real account before naming its groups anywhere; a directory's name opens its settings.</p>
        {{/form}}
        <p class="note">Deleting a directory keeps the accounts Canopy made for its people and the roles named for its groups; nobody signs in through it any more.</p>
        {{> footer}}
        """

    /// The settings both directory forms share (a partial).
    static let directoryFieldsTemplate = """
        <label>Server URLs <input name="urls" id="directory-urls" value="{{urls}}" required placeholder="ldaps://ldap.example.com" autocomplete="off"></label>
        <label>Service account DN <input name="bindDN" id="directory-bind-dn" value="{{bindDN}}" placeholder="empty: anonymous" autocomplete="off"></label>
        <label>Its password <input name="bindPassword" id="directory-bind-password" type="password" autocomplete="new-password"{{#editing}} placeholder="unchanged"{{/editing}}></label>
        <label>Users under <input name="userBaseDN" id="directory-user-base" value="{{userBaseDN}}" required autocomplete="off"></label>
        <label>User filter <input name="userFilter" id="directory-user-filter" value="{{userFilter}}" autocomplete="off"></label>
        <label>Groups under <input name="groupBaseDN" id="directory-group-base" value="{{groupBaseDN}}" required autocomplete="off"></label>
        <label>Group filter <input name="groupFilter" id="directory-group-filter" value="{{groupFilter}}" autocomplete="off"></label>
        <label>Group name attribute <input name="groupNameAttribute" id="directory-group-attribute" value="{{groupNameAttribute}}" autocomplete="off"></label>
        <label>Nested groups, levels <input name="nestedGroupDepth" id="directory-nesting" value="{{nestedGroupDepth}}" inputmode="numeric" autocomplete="off"></label>
        <label><input type="checkbox" name="startTLS" value="true" id="directory-start-tls"{{#startTLS}} checked{{/startTLS}}> StartTLS on <code>ldap://</code></label>
        <label>CA certificate (PEM; empty: the system's) <textarea name="caPEM" id="directory-ca" rows="4">{{caPEM}}</textarea></label>
        """

    static let directoryTemplate = """
        {{> header}}
        <h1>Directory {{form.name}} <span class="note">of <a href="{{back}}">{{#tenant}}{{.}}{{/tenant}}{{^tenant}}the domain{{/tenant}}</a></span></h1>
        {{#form}}
        {{#error}}<p class="error" role="alert" id="directory-error">{{error}}</p>{{/error}}
        <form method="post" action="{{path}}" id="directory-settings">
        {{#version}}<input type="hidden" name="version" value="{{.}}">{{/version}}
        {{> directoryFields}}
        <button type="submit" id="directory-settings-button">Save</button>
        </form>
        <p class="note">An empty password keeps the stored one; it is never shown. The settings are checked as the LDAP client would take them; test the directory with a real account after a change.</p>
        {{/form}}
        {{> footer}}
        """
}
