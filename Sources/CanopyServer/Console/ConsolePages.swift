import Foundation
import Hummingbird
import Mustache

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
    }

    static func render(_ template: String, _ page: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let html = library.render(page, withTemplate: template) else {
            throw APIError(.internalServerError, code: "internal", message: "the console has no page '\(template)'")
        }
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, signedIn: Bool) throws -> Response {
        try render("error", ErrorPage(frame: Frame(title: status.reasonPhrase, caller: nil), status: Int(status.code), reason: status.reasonPhrase, message: message, signedIn: signedIn), status: status)
    }

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
            <header><a href="/ui">Canopy</a>{{#frame.signedInAs}}<span class="who" id="who">{{.}}</span><form method="post" action="/ui/logout"><button type="submit" id="logout">Sign out</button></form>{{/frame.signedInAs}}</header>
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
            <tr><th>Tenant</th><th>Mode</th><th>State</th><th>Clusters</th><th>Projects</th><th>Users</th></tr>
            {{#tenants}}<tr><td><a href="/ui/tenants/{{name}}">{{displayName}}</a> <code>{{name}}</code></td><td>{{mode}}</td><td>{{state}}</td><td>{{clusterCount}}</td><td>{{projectCount}}</td><td>{{userCount}}</td></tr>
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
            <p id="summary">{{mode}} tenant, {{state}}; {{clusterCount}} cluster(s), {{projectCount}} project(s), {{userCount}} user(s).{{#caps}} Caps: {{summary}}.{{/caps}}</p>
            {{/tenant}}
            {{#sealed}}<p class="note" id="sealed">This is an msp tenant: what is inside it (clusters, projects, users) is its own and not shown to the domain's administrators.</p>{{/sealed}}
            {{#seesInside}}
            <h2>Clusters</h2>
            {{^empty(clusters)}}
            <table id="clusters">
            <tr><th>Cluster</th><th>State</th><th>Kubernetes</th><th>Nodes</th><th>Allocatable</th></tr>
            {{#clusters}}<tr><td>{{name}}</td><td>{{state}}</td><td>{{kubernetesVersion}}</td><td>{{nodeCount}}</td><td>{{capacity}}</td></tr>
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
            {{#seesMembers}}
            <h2>Members</h2>
            <table id="members">
            <tr><th>Who</th><th>Role</th></tr>
            {{#members}}<tr><td>{{who}}</td><td>{{role}}</td></tr>
            {{/members}}
            </table>
            {{/seesMembers}}
            <h2>kubectl</h2>
            <p><a href="/api/v1/kubeconfig?tenant={{tenant}}&amp;project={{name}}" id="kubeconfig">Download a kubeconfig</a> for this project (its credential comes from <code>canopy token</code>: sign in with <code>canopy login</code> first), or run <code>canopy kubeconfig --project {{name}} --merge</code>.</p>
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
    let tenants: [TenantView]
    let projects: [ProjectRow]
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
        let who: String, role: String
    }

    let frame: ConsolePage.Frame
    let tenant: String, name: String, displayName: String
    let role: String?
    let caps: String?
    let podSecurity: String
    let namespaces: [NamespaceRow]
    let seesMembers: Bool
    let members: [MemberRow]
}

struct ErrorPage {
    let frame: ConsolePage.Frame
    let status: Int
    let reason: String
    let message: String
    let signedIn: Bool
}
