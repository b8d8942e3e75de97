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
                let tenant = caller.principal.tenantID.flatMap { caller.snapshot.tenant($0)?.tenant.name } ?? "domain"
                return "\(caller.principal.user.username) (\(tenant))"
            }
        }

        /// A page drawn where the caller is known only to be signed in (an error page).
        init(title: String, signedIn: Bool) {
            self.title = title
            signedInAs = signedIn ? "signed in" : nil
        }
    }

    static func render(_ template: String, _ page: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let html = library.render(page, withTemplate: template) else {
            throw APIError(.internalServerError, code: "internal", message: "the console has no page '\(template)'")
        }
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, signedIn: Bool) throws -> Response {
        let page = ErrorPage(frame: Frame(title: status.reasonPhrase, signedIn: signedIn), status: Int(status.code), reason: status.reasonPhrase, message: message, signedIn: signedIn)
        return try render("error", page, status: status)
    }

    /// The largest form the console reads: its forms hold a few short fields.
    static let maxFormSize = 16 * 1024

    /// A url-encoded form's fields, `nil` when they are not what `T` needs; one larger than
    /// `maxFormSize` is refused with 413.
    static func form<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T? {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxFormSize)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "too_large", message: "the form is larger than \(maxFormSize / 1024) KiB")
        }
        return try? URLEncodedFormDecoder().decode(T.self, from: String(buffer: body))
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
            for (name, text) in templates { try library.register(text, named: name) }
            return library
        } catch {
            fatalError("a console template does not parse (\(error)); the build is broken")
        }
    }()

    static let templates: [String: String] = [
        "header": """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{frame.title}} · Canopy</title>
            <style>
            body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2b1f; background: #f6f8f5; }
            header { display: flex; gap: 1em; align-items: center; padding: .6em 1.2em; background: #2f5d3a; color: #fff; }
            header a { color: #fff; font-weight: 600; text-decoration: none; }
            header nav a { font-weight: 400; margin-right: .8em; }
            td form { margin: 0; }
            header .who { margin-left: auto; }
            header form { margin: 0; }
            main { max-width: 60em; margin: 1.5em auto; padding: 0 1.2em; }
            table { border-collapse: collapse; width: 100%; margin: .5em 0 1.5em; background: #fff; }
            th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #dde5da; }
            label { display: block; margin: .6em 0; }
            input { display: block; padding: .3em; width: 18em; }
            .error { color: #9b1c1c; }
            .note { color: #555; }
            code { font-size: 90%; color: #555; }
            </style>
            </head>
            <body>
            <header><a href="/ui">Canopy</a>{{#frame.signedInAs}}<nav><a href="/ui/tokens">Tokens</a> <a href="/ui/audit">Audit</a></nav><span class="who" id="who">{{.}}</span><form method="post" action="/ui/logout"><button type="submit" id="logout">Sign out</button></form>{{/frame.signedInAs}}</header>
            <main>
            """,
        "footer": """
            </main>
            </body>
            </html>
            """,
        "login": """
            {{> header}}
            <h1>Sign in</h1>
            {{#message}}<p class="error" role="alert" id="message">{{message}}</p>{{/message}}
            <form method="post" action="/ui/login" id="login">
            <label>Tenant <input name="tenant" id="tenant" value="{{tenant}}" autocomplete="organization"><small class="note">empty for the domain's own administrators</small></label>
            <label>User name <input name="username" id="username" value="{{username}}" required autocomplete="username"></label>
            <label>Password <input name="password" id="password" type="password" required autocomplete="current-password"></label>
            <button type="submit" id="sign-in">Sign in</button>
            </form>
            {{> footer}}
            """,
        "home": """
            {{> header}}
            <h1>Overview</h1>
            {{#serviceProvider}}<p class="note">You administer this Canopy domain: you see every tenant; inside an msp tenant, only its name, mode, state and counts.</p>{{/serviceProvider}}
            <h2>Tenants</h2>
            {{^empty(tenants)}}
            <table id="tenants">
            <tr><th>Tenant</th><th>Mode</th><th>State</th><th>Clusters</th><th>Projects</th><th>Users</th><th>In use of allocatable</th></tr>
            {{#tenants}}<tr><td><a href="/ui/tenants/{{tenant.name}}">{{tenant.displayName}}</a> <code>{{tenant.name}}</code></td><td>{{tenant.mode}}</td><td>{{tenant.state}}</td><td>{{tenant.clusterCount}}</td><td>{{tenant.projectCount}}</td><td>{{tenant.userCount}}</td><td>{{totals}}</td></tr>
            {{/tenants}}
            </table>
            {{/empty(tenants)}}
            {{^tenants}}<p class="note" id="no-tenants">No tenants yet: create one with <code>canopy tenant create</code>.</p>{{/tenants}}
            {{^empty(projects)}}
            <h2>Your projects</h2>
            <table id="projects">
            <tr><th>Project</th><th>Your role</th></tr>
            {{#projects}}<tr><td><a href="/ui/tenants/{{tenant}}/projects/{{name}}">{{displayName}}</a> <code>{{name}}</code></td><td>{{role}}</td></tr>
            {{/projects}}
            </table>
            {{/empty(projects)}}
            {{> footer}}
            """,
        "tenant": """
            {{> header}}
            {{#tenant}}
            <h1>{{displayName}} <code>{{name}}</code></h1>
            <p id="summary">{{mode}} tenant, {{state}}; {{clusterCount}} cluster(s){{^sealed}}, {{projectCount}} project(s), {{userCount}} user(s){{/sealed}}.{{#caps}} Caps: {{summary}}.{{/caps}}</p>
            {{/tenant}}
            {{#totals}}<p id="totals">In use of its clusters' allocatable capacity: {{totals}}.</p>{{/totals}}
            {{#sealed}}<p class="note" id="sealed">This is an msp tenant: what is inside it (clusters, projects, users) is its own and not shown to the domain's administrators.</p>{{/sealed}}
            {{#seesInside}}
            <h2>Clusters</h2>
            {{^empty(clusters)}}
            <table id="clusters">
            <tr><th>Cluster</th><th>State</th><th>Kubernetes</th><th>Nodes</th><th>Allocatable</th></tr>
            {{#clusters}}<tr><td>{{#managesClusters}}<a href="/ui/tenants/{{tenant.name}}/clusters/{{name}}">{{name}}</a>{{/managesClusters}}{{^managesClusters}}{{name}}{{/managesClusters}}</td><td>{{state}}</td><td>{{kubernetesVersion}}</td><td>{{nodeCount}}</td><td>{{capacity}}</td></tr>
            {{/clusters}}
            </table>
            {{/empty(clusters)}}
            {{^clusters}}<p class="note" id="no-clusters">No clusters yet: a tenant admin imports one with <code>canopy cluster import</code>.</p>{{/clusters}}
            {{/seesInside}}
            {{^sealed}}
            <h2>Projects</h2>
            {{^empty(projects)}}
            <table id="projects">
            <tr><th>Project</th><th>Your role</th><th>Namespaces</th></tr>
            {{#projects}}<tr><td><a href="/ui/tenants/{{tenant.name}}/projects/{{name}}">{{displayName}}</a> <code>{{name}}</code></td><td>{{role}}</td><td>{{namespaceCount}}</td></tr>
            {{/projects}}
            </table>
            {{/empty(projects)}}
            {{^projects}}<p class="note" id="no-projects">No projects you can see.</p>{{/projects}}
            {{/sealed}}
            {{#readsAudit}}<p><a href="/ui/audit?tenant={{tenant.name}}" id="audit-link">Audit log</a>{{#seesInside}} · <a href="/ui/tenants/{{tenant.name}}/users" id="users-link">Users and admins</a>{{/seesInside}}</p>{{/readsAudit}}
            {{> footer}}
            """,
        "project": """
            {{> header}}
            <h1>{{displayName}} <code>{{tenant}}/{{name}}</code></h1>
            <p id="summary">{{#role}}Your role: {{role}}. {{/role}}Pod security: {{podSecurity}}.{{#caps}} Caps: {{caps}}.{{/caps}}</p>
            <h2>Namespaces</h2>
            {{^empty(namespaces)}}
            <table id="namespaces">
            <tr><th>Cluster</th><th>Namespace</th><th>State</th></tr>
            {{#namespaces}}<tr><td>{{cluster}}</td><td>{{name}}</td><td>{{state}}{{#message}} <span class="note">{{message}}</span>{{/message}}</td></tr>
            {{/namespaces}}
            </table>
            {{/empty(namespaces)}}
            {{^namespaces}}<p class="note" id="no-namespaces">No namespaces yet.</p>{{/namespaces}}
            {{#managesMembers}}
            {{^empty(clusters)}}
            <h3>Add a namespace</h3>
            {{#namespaceError}}<p class="error" role="alert" id="namespace-error">{{namespaceError}}</p>{{/namespaceError}}
            <form method="post" action="/ui/tenants/{{tenant}}/projects/{{name}}/namespaces" id="add-namespace">
            <label>Cluster <select name="cluster" id="namespace-cluster">{{#clusters}}<option value="{{.}}">{{.}}</option>{{/clusters}}</select></label>
            <label>Namespace <input name="name" id="namespace-name" value="{{namespaceName}}" required></label>
            <button type="submit" id="add-namespace-button">Add</button>
            </form>
            {{/empty(clusters)}}
            {{/managesMembers}}
            <h2>Quota and usage</h2>
            {{^planned}}<p class="note" id="not-planned">The share planner has not sized this project's quotas yet; it does after its first pass over the tenant's clusters.</p>{{/planned}}
            {{^empty(usage)}}
            <table id="usage">
            <tr><th>Cluster</th><th>Resource</th><th>Cap</th><th>Reserved</th><th>Quota</th><th>Used</th></tr>
            {{#usage}}<tr><td>{{name}}</td><td>{{resource}}</td><td>{{cap}}</td><td>{{reserved}}</td><td>{{quota}}</td><td>{{used}}</td></tr>
            {{/usage}}
            </table>
            {{/empty(usage)}}
            {{#seesMembers}}
            <h2>Members</h2>
            <table id="members">
            <tr><th>Who</th><th>Role</th></tr>
            {{#members}}<tr><td>{{who}}</td><td>{{role}}</td><td>{{#removable}}<form method="post" action="/ui/tenants/{{tenant}}/projects/{{name}}/members/{{id}}/remove"><button type="submit">Remove</button></form>{{/removable}}</td></tr>
            {{/members}}
            </table>
            {{#managesMembers}}
            <h3>Add a member</h3>
            {{#formError}}<p class="error" role="alert" id="form-error">{{formError}}</p>{{/formError}}
            <form method="post" action="/ui/tenants/{{tenant}}/projects/{{name}}/members" id="add-member">
            <label>User name or directory group <input name="who" id="member-who" value="{{formWho}}" required></label>
            <label>It is a <select name="kind" id="member-kind"><option value="user">user</option><option value="group">directory group</option></select></label>
            <label>Role <select name="role" id="member-role"><option value="member">member</option><option value="viewer">viewer</option>{{#namesAdmins}}<option value="admin">admin</option>{{/namesAdmins}}</select></label>
            <button type="submit" id="add-member-button">Add</button>
            </form>
            {{/managesMembers}}
            <p><a href="/ui/audit?tenant={{tenant}}&amp;project={{name}}" id="audit-link">Audit log of this project</a></p>
            {{/seesMembers}}
            <h2>kubectl</h2>
            <p><a href="/api/v1/kubeconfig?tenant={{tenant}}&amp;project={{name}}" id="kubeconfig">Download a kubeconfig</a> for this project (its credential comes from <code>canopy token</code>: sign in with <code>canopy login</code> first), or run <code>canopy kubeconfig --project {{name}} --merge</code>.</p>
            {{> footer}}
            """,
        "cluster": """
            {{> header}}
            <h1>{{name}} <code>{{tenant}}</code></h1>
            <p id="summary">{{state}}{{#lastError}} <span class="note">({{lastError}})</span>{{/lastError}}; Kubernetes {{kubernetesVersion}}; API server <code>{{server}}</code>.</p>
            <h2>Capacity</h2>
            {{^liveCapacity}}<p class="note">Capacity as recorded at import: the cluster's nodes have not been read yet.</p>{{/liveCapacity}}
            {{^planned}}<p class="note" id="not-planned">The share planner has not planned this tenant's clusters yet.</p>{{/planned}}
            <table id="capacity">
            <tr><th>Resource</th><th>Allocatable</th><th>Reserved</th><th>Unreserved</th><th>In no quota</th></tr>
            {{#resources}}<tr><td>{{resource}}</td><td>{{capacity}}</td><td>{{reserved}}</td><td>{{unreserved}}</td><td>{{unallocated}}</td></tr>
            {{/resources}}
            </table>
            <h2>Projects on this cluster</h2>
            {{^empty(projects)}}
            <table id="allocation">
            <tr><th>Project</th><th>Resource</th><th>Cap</th><th>Reserved</th><th>Quota</th><th>Used</th></tr>
            {{#projects}}<tr><td><a href="/ui/tenants/{{tenant}}/projects/{{name}}">{{name}}</a></td><td>{{resource}}</td><td>{{cap}}</td><td>{{reserved}}</td><td>{{quota}}</td><td>{{used}}</td></tr>
            {{/projects}}
            </table>
            {{/empty(projects)}}
            {{^projects}}<p class="note">No project has namespaces here.</p>{{/projects}}
            {{> footer}}
            """,
        "users": """
            {{> header}}
            <h1>Users of <a href="/ui/tenants/{{tenant}}">{{tenant}}</a></h1>
            <table id="users">
            <tr><th>User</th><th>Name</th><th>E-mail</th><th>Account</th><th>State</th></tr>
            {{#users}}<tr><td>{{username}}</td><td>{{displayName}}</td><td>{{email}}</td><td>{{source}}</td><td>{{state}}</td></tr>
            {{/users}}
            </table>
            <h2>Tenant admins</h2>
            <ul id="admins">{{#admins}}<li>{{.}}</li>{{/admins}}</ul>
            <p class="note">Users and directories are managed with <code>canopy user</code> and <code>canopy identity-provider</code>, tenant admins with the API (<code>/api/v1/tenants/{{tenant}}/admins</code>).</p>
            {{> footer}}
            """,
        "tokens": """
            {{> header}}
            <h1>Your tokens</h1>
            <p class="note">Sign-ins (the console's and <code>canopy login</code>'s), kubeconfig tokens and tokens for automation. Revoking one stops whatever uses it at its next request.</p>
            <table id="tokens">
            <tr><th>Description</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th></th></tr>
            {{#tokens}}<tr id="token-{{id}}"><td>{{description}}{{#isSession}} <strong>(this session)</strong>{{/isSession}}</td><td>{{created}}</td><td>{{expires}}</td><td>{{lastUsed}}</td><td>{{state}}</td><td>{{#revocable}}<form method="post" action="/ui/tokens/{{id}}/revoke"><button type="submit">Revoke</button></form>{{/revocable}}</td></tr>
            {{/tokens}}
            </table>
            {{> footer}}
            """,
        "audit": """
            {{> header}}
            <h1>Audit log{{#scope}} of {{scope}}{{/scope}}</h1>
            <p class="note">Newest first, the last 200 entries you may read.</p>
            {{^empty(events)}}
            <table id="audit">
            <tr><th>When</th><th>Who</th><th>Where</th><th>What</th><th>On</th></tr>
            {{#events}}<tr><td>{{at}}</td><td>{{actor}}</td><td>{{place}}</td><td>{{action}}</td><td><code>{{target}}</code></td></tr>
            {{/events}}
            </table>
            {{/empty(events)}}
            {{^events}}<p class="note" id="no-events">Nothing yet.</p>{{/events}}
            {{> footer}}
            """,
        "error": """
            {{> header}}
            <h1 id="status">{{status}} {{reason}}</h1>
            <p id="message">{{message}}</p>
            <p><a href="/ui">Back to the overview</a>{{^signedIn}} · <a href="/ui/login">Sign in</a>{{/signedIn}}</p>
            {{> footer}}
            """,
    ]
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
    let readsAudit: Bool
    /// An msp tenant seen by the domain's administrators: its summary only.
    let sealed: Bool
    let seesInside: Bool
    let clusters: [ClusterRow]
    let projects: [ProjectRow]
}

struct ProjectPage {
    struct NamespaceRow {
        let cluster: String, name: String, state: String, message: String?
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
}

struct UsersPage {
    struct UserRow {
        let username: String, displayName: String, email: String, source: String, state: String
    }

    let frame: ConsolePage.Frame
    let tenant: String
    let users: [UserRow]
    /// Users and directory groups holding the tenant-admin role.
    let admins: [String]
}

struct TokensPage {
    struct Row {
        let id: String, description: String, created: String, expires: String, lastUsed: String, state: String
        let revocable: Bool
        let isSession: Bool
    }

    let frame: ConsolePage.Frame
    let tokens: [Row]
}

struct AuditPage {
    struct Row {
        let at: String, actor: String, place: String, action: String, target: String
    }

    let frame: ConsolePage.Frame
    /// `coke` or `coke/marketing` when asked for one.
    let scope: String?
    let events: [Row]
}

struct ErrorPage {
    let frame: ConsolePage.Frame
    let status: Int
    let reason: String
    let message: String
    let signedIn: Bool
}
