import CanopyModel
import Foundation
import Hummingbird
import Mustache
import NIOCore

/// The console's pages: Mustache templates (every `{{value}}` HTML-escaped) and the values they
/// show. Pages have no script; forms post to the console itself.
enum ConsolePage {
    /// The part of every page around its content: its title and who is signed in.
    struct Frame {
        let title: String
        /// `boss (coke)`, or `admin (domain)`; `nil` on the sign-in page.
        let signedInAs: String?

        init(title: String, caller: Caller? = nil) {
            self.title = title
            signedInAs = caller.map { caller in
                Self.label(username: caller.principal.user.username, tenant: caller.principal.tenantID.flatMap { caller.snapshot.tenant($0)?.tenant.name })
            }
        }

        /// A page drawn outside a route (an error page), for whoever `signedInAs` names.
        init(title: String, signedInAs: String?) {
            self.title = title
            self.signedInAs = signedInAs
        }

        /// `boss (coke)`; `admin (domain)` for the domain's own users.
        static func label(username: String, tenant: String?) -> String { "\(username) (\(tenant ?? "domain"))" }
    }

    static func render(_ template: String, _ page: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let html = library.render(page, withTemplate: template) else {
            throw APIError(.internalServerError, code: "internal", message: "the console has no page '\(template)'")
        }
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, signedInAs: String?) throws -> Response {
        let page = ErrorPage(
            frame: Frame(title: status.reasonPhrase, signedInAs: signedInAs), status: Int(status.code), reason: status.reasonPhrase, message: message,
            signedIn: signedInAs != nil
        )
        return try render("error", page, status: status)
    }

    /// The largest form the console reads: its forms hold a few short fields.
    static let maxFormSize = 16 * 1024
    /// The largest cluster import form: a kubeconfig with its certificates inline.
    static let maxKubeconfigFormSize = 256 * 1024

    /// A url-encoded form's fields, `nil` when they are not what `T` needs; one larger than
    /// `limit` is refused with 413.
    static func form<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = maxFormSize) async throws -> T? {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "too_large", message: "the form is larger than \(limit / 1024) KiB")
        }
        return try? URLEncodedFormDecoder().decode(T.self, from: String(buffer: body))
    }

    /// Runs a form's change and goes on to `destination`; a refusal (below 500: the caller's to
    /// mend) comes back as the form's page, rendered with the API's message and status.
    static func submit(
        _ change: () async throws -> Void, then destination: String, orShow page: (String, HTTPResponse.Status) async throws -> Response
    ) async throws -> Response {
        do {
            try await change()
        } catch {
            let refusal = ErrorMiddleware.translate(error)
            guard refusal.status.code < 500 else { throw error }
            return try await page(refusal.message, refusal.status)
        }
        return redirect(to: destination)
    }

    /// A settings form's hidden `version` (the object's version when the page was drawn, which the
    /// API's PATCH checks: a form saved after someone else's change is refused with 409 instead of
    /// silently undoing it); `nil` when the form has none. One that is not a number is refused.
    static func version(_ text: String?) throws -> Int? {
        guard let text = text?.trimmed, !text.isEmpty else { return nil }
        guard let version = Int(text), version >= 0 else { throw APIError.malformed("the form's version is not a number") }
        return version
    }

    /// What a settings form says when it was refused because `thing` changed after the page was
    /// drawn: the page shows the current state, the form what was typed (with the current version,
    /// so that saving again applies it over the other change).
    static func changedMeanwhile(_ thing: String) -> String {
        "someone else changed \(thing) after this page was shown, so nothing was saved; the page now shows the current settings and the form what you typed: save again to apply it over theirs"
    }

    /// A refused settings form's message and version: the API's message and the version typed,
    /// or — a 409 for a page drawn at `drawn` while `thing` is now at `current` — `changedMeanwhile`
    /// and the current version.
    static func refusal(
        _ message: String, _ status: HTTPResponse.Status, of thing: String, drawn: Int?, current: Int?
    ) -> (error: String, version: Int?) {
        guard status == .conflict, let drawn, let current, current != drawn else { return (message, drawn) }
        return (changedMeanwhile(thing), current)
    }

    /// A tenant's usage of its capacity, resource by resource: `requests.cpu 2 of 24, …`.
    static func totals(of tenant: TenantView) -> String? {
        guard let capacity = tenant.capacity, !capacity.isEmpty else { return nil }
        return capacity.keys.sorted().map { "\($0) \(tenant.used?[$0] ?? "0") of \(capacity[$0] ?? "")" }.joined(separator: ", ")
    }

    /// A time as the console shows it: `2026-11-27T05:50:12Z`.
    static func time(_ date: Date) -> String { date.formatted(.iso8601) }

    /// A `303 See Other` to `path` (after a form, the browser then GETs the page).
    static func redirect(to path: String) -> Response {
        Response(status: .seeOther, headers: [.location: path])
    }

    static let library: MustacheLibrary = {
        do {
            var library = MustacheLibrary()
            for (name, text) in templates.merging(["directories": directoriesTemplate, "directoryFields": directoryFieldsTemplate, "directory": directoryTemplate, "user": userTemplate], uniquingKeysWith: { $1 }) {
                try library.register(text, named: name)
            }
            return library
        } catch {
            fatalError("a console template does not parse (\(error)); the build is broken")
        }
    }()
}

struct LoginPage {
    let frame: ConsolePage.Frame
    let message: String?
    let tenant: String
    let username: String
}

struct HomePage {
    struct ProjectRow {
        let tenant: String, name: String, displayName: String, role: String
    }

    let frame: ConsolePage.Frame
    let serviceProvider: Bool
    struct TenantRow {
        let tenant: TenantView
        /// `requests.cpu 2 of 24, …`; empty before the share planner's first plan.
        let totals: String
    }

    let tenants: [TenantRow]
    let projects: [ProjectRow]
    /// The new-tenant form, for the domain's administrators.
    let newTenant: NewTenantForm?
}

/// The overview's new-tenant form: what was typed (never the password), and the refusal's message.
struct NewTenantForm {
    var name = "", displayName = "", adminUsername = ""
    var enterprise = false
    var error: String?
}

/// Figures of one resource of one place (a cluster of a project, a project on a cluster).
struct UsageRow {
    let name: String, resource: String
    let cap: String, reserved: String, quota: String, used: String

    init(name: String, resource: String, figures: QuotaRoutes.Figures) {
        self.name = name
        self.resource = resource
        cap = figures.cap ?? "—"
        reserved = figures.reserved ?? "—"
        quota = figures.planned ?? "—"
        used = figures.used ?? "—"
    }
}

struct TenantPage {
    struct ClusterRow {
        let name: String, kubernetesVersion: String, nodeCount: Int, capacity: String, state: String
    }

    struct ProjectRow {
        let name: String, displayName: String, role: String?, namespaceCount: Int
    }

    let frame: ConsolePage.Frame
    let tenant: TenantView
    /// `requests.cpu 2 of 24, …`; `nil` before the share planner's first plan.
    let totals: String?
    let managesClusters: Bool
    /// An msp tenant seen by the domain's administrators: its summary only (no projects, no
    /// audit log).
    let sealed: Bool
    let seesInside: Bool
    let clusters: [ClusterRow]
    let projects: [ProjectRow]
    /// The new-project form, for those who may create projects here.
    let newProject: NewProjectForm?
    /// The cluster import form, for those who may manage the tenant's clusters.
    let importCluster: ImportClusterForm?
    /// The settings and deletion forms, for the domain's administrators.
    let settings: TenantSettingsForm?
    /// What a change just made left to do (a cluster removed without its clean-up).
    var notices: [String] = []
}

/// The tenant page's cluster import form: the name typed (never the kubeconfig: it holds the
/// cluster's credentials), and the refusal's message.
struct ImportClusterForm {
    var name = ""
    var error: String?
}

/// The tenant page's new-project form: what was typed, and the refusal's message.
struct NewProjectForm {
    var name = "", displayName = "", cpu = "", memory = ""
    var error: String?
}

struct ProjectPage {
    struct NamespaceRow {
        let cluster: String, name: String, state: String, message: String?
        /// Where its removal form posts, for those who may remove it.
        let removePath: String?
    }

    struct MemberRow {
        let id: String, who: String, role: String
        /// Whether the caller may remove it (a Project Admin's needs the right to manage projects).
        let removable: Bool
    }

    let frame: ConsolePage.Frame
    let tenant: String, name: String, displayName: String
    let role: String?
    let caps: String?
    let podSecurity: String
    let namespaces: [NamespaceRow]
    /// Whether the share planner has sized the project's quotas yet.
    let planned: Bool
    let usage: [UsageRow]
    let seesMembers: Bool
    let members: [MemberRow]
    let managesMembers: Bool
    /// Whether the caller may name Project Admins.
    let namesAdmins: Bool
    /// A refused member form's message, and the name typed into it.
    let formError: String?
    let formWho: String
    /// The tenant's clusters, for the namespace form (empty for those who may not add one).
    let clusters: [String]
    /// A refused namespace form's message, and the name typed into it.
    let namespaceError: String?
    let namespaceName: String
    /// A refused namespace removal: why.
    let removalError: String?
    /// The settings form, for those who may set the project's caps and reservations.
    let settings: ProjectSettingsForm?
}

struct ClusterPage {
    struct CapacityRow {
        let resource: String
        let capacity: String?, reserved: String?, unreserved: String?, unallocated: String?
    }

    let frame: ConsolePage.Frame
    let tenant: String, name: String, server: String, kubernetesVersion: String, state: String
    let lastError: String?
    let planned: Bool
    let liveCapacity: Bool
    let resources: [CapacityRow]
    let projects: [UsageRow]
    /// A refused removal: why.
    let removalError: String?
}

struct UsersPage {
    struct UserRow {
        let username: String, displayName: String, email: String, source: String, state: String
        let disabled: Bool
        /// Whether the caller may disable, enable and delete this user here (they manage the
        /// scope's users, and it is not their own account).
        let manageable: Bool
    }

    /// A user or directory group holding the scope's admin role; `removable` for those who
    /// manage the scope's users while enough admins remain (`UserScope.keepsAnAdmin`).
    struct AdminRow {
        let who: String, id: String
        let removable: Bool
    }

    let frame: ConsolePage.Frame
    /// The tenant; `nil` on the domain's page.
    let tenant: String?
    /// `/ui/tenants/coke`, or `/ui` for the domain: where the forms post.
    let base: String
    let users: [UserRow]
    let admins: [AdminRow]
    /// The form naming another admin, for those who may manage the tenant's users.
    let adminForm: AdminForm?
    /// The new-user form, for the same.
    let newUser: NewUserForm?
    /// A refused change of a user (disabling, enabling, deleting): why.
    let userError: String?
}

/// The users page's admin form: who was typed, whether as a directory group, and the refusal's
/// message (a refused removal's too).
struct AdminForm {
    var who = ""
    var group = false
    var error: String?
}

/// The users page's new-user form: what was typed (never the password), and the refusal's message.
struct NewUserForm {
    var username = "", displayName = "", email = ""
    var error: String?
}

struct TokensPage {
    struct Row {
        let id: String, description: String, created: String, expires: String, lastUsed: String, state: String
        let revocable: Bool
        let isSession: Bool

        /// `token` as of `now`; `session` marks the page's own sign-in.
        init(_ token: APIToken, now: Date, session: TokenID? = nil) {
            id = token.id.rawValue
            description = token.description.isEmpty ? "—" : token.description
            created = ConsolePage.time(token.createdAt)
            expires = ConsolePage.time(token.expiresAt)
            lastUsed = token.lastUsedAt.map(ConsolePage.time) ?? "never"
            state = token.revokedAt != nil ? "revoked" : token.expiresAt <= now ? "expired" : "active"
            revocable = token.revokedAt == nil && token.expiresAt > now
            isSession = token.id == session
        }
    }

    /// The password form, for a tenant's local accounts: whether the password was just changed,
    /// and a refused change's message.
    struct PasswordForm {
        let changed: Bool
        let error: String?
    }

    /// A token just created: its secret, shown this once.
    struct Issued {
        let id: String, token: String, expires: String
    }

    /// The new-token form: what was typed, and a refusal's message.
    struct TokenForm {
        var description = "", days = "30"
        var error: String?
    }

    let frame: ConsolePage.Frame
    let tokens: [Row]
    let password: PasswordForm?
    var issued: Issued? = nil
    var tokenForm = TokenForm()
}

struct AuditPage {
    struct Row {
        let at: String, actor: String, place: String, action: String, target: String
    }

    let frame: ConsolePage.Frame
    /// `coke` or `coke/marketing` when asked for one.
    let scope: String?
    let events: [Row]
    /// The next page (older entries), when this one is full; the first page, from a later one.
    let older: String?
    let newest: String?
}

struct ErrorPage {
    let frame: ConsolePage.Frame
    let status: Int
    let reason: String
    let message: String
    let signedIn: Bool
}
