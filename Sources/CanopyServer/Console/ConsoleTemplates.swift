extension ConsolePage {
    /// The console's templates by name: `header` and `footer` around every page, then one per
    /// page. Element ids are what the tests (and a person's browser tools) find things by.
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
            {{^tenants}}<p class="note" id="no-tenants">No tenants yet.</p>{{/tenants}}
            {{#newTenant}}
            <h3>New tenant</h3>
            {{#error}}<p class="error" role="alert" id="tenant-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/tenants" id="new-tenant">
            <label>Name <input name="name" id="tenant-name" value="{{name}}" required></label>
            <label>Display name <input name="displayName" id="tenant-display-name" value="{{displayName}}"></label>
            <label>Mode <select name="mode" id="tenant-mode"><option value="msp">msp: a customer; its inside is its own</option><option value="enterprise"{{#enterprise}} selected{{/enterprise}}>enterprise: a department; the domain's administrators act in it</option></select></label>
            <label>First admin's user name <input name="adminUsername" id="tenant-admin-name" value="{{adminUsername}}" required autocomplete="off"></label>
            <label>First admin's password <input name="adminPassword" id="tenant-admin-password" type="password" required autocomplete="new-password"></label>
            <button type="submit" id="new-tenant-button">Create</button>
            </form>
            <p><a href="/ui/directories" id="domain-directories-link">The domain's directories (LDAP)</a>: sign-in to the domain itself (tenant left empty).</p>
            <p><a href="/ui/users" id="domain-users-link">The domain's users and administrators</a>: who else runs this domain (users, or a directory group).</p>
            {{/newTenant}}
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
            {{#notices}}<p class="error" role="status" id="tenant-notice">{{.}}</p>{{/notices}}
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
            {{^clusters}}<p class="note" id="no-clusters">No clusters yet{{^importCluster}}: a tenant admin imports them{{/importCluster}}.</p>{{/clusters}}
            {{#importCluster}}
            <h3>Import a cluster</h3>
            {{#error}}<p class="error" role="alert" id="cluster-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/tenants/{{tenant.name}}/clusters" id="import-cluster">
            <label>Name <input name="name" id="cluster-name" value="{{name}}" required></label>
            <label>Kubeconfig <textarea name="kubeconfig" id="cluster-kubeconfig" rows="8" required spellcheck="false" placeholder="a kubeconfig whose current context may act as cluster-admin"></textarea></label>
            <button type="submit" id="import-cluster-button">Import</button>
            </form>
            {{/importCluster}}
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
            {{#newProject}}
            <h3>New project</h3>
            {{#error}}<p class="error" role="alert" id="project-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/tenants/{{tenant.name}}/projects" id="new-project">
            <label>Name <input name="name" id="project-name" value="{{name}}" required></label>
            <label>Display name <input name="displayName" id="project-display-name" value="{{displayName}}"></label>
            <label>CPU cap <input name="cpu" id="project-cpu" value="{{cpu}}" placeholder="e.g. 8"></label>
            <label>Memory cap <input name="memory" id="project-memory" value="{{memory}}" placeholder="e.g. 32Gi"></label>
            <button type="submit" id="new-project-button">Create</button>
            </form>
            <p class="note">Namespaces, reservations and per-cluster caps are set on the project's page, with <code>canopy project</code>, or the API.</p>
            {{/newProject}}
            {{/sealed}}
            {{#settings}}
            <h2>Tenant settings</h2>
            {{#error}}<p class="error" role="alert" id="tenant-settings-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/tenants/{{tenant.name}}/settings" id="tenant-settings">
            {{#version}}<input type="hidden" name="version" value="{{.}}">{{/version}}
            <label>Display name <input name="displayName" id="tenant-display-name" value="{{displayName}}"></label>
            <label>State <select name="state" id="tenant-state"><option value="active">active</option><option value="suspended"{{#suspended}} selected{{/suspended}}>suspended: nobody in it may sign in</option></select></label>
            <label>CPU cap <input name="cpu" id="tenant-cpu" value="{{cpu}}" placeholder="none" autocomplete="off"></label>
            <label>Memory cap <input name="memory" id="tenant-memory" value="{{memory}}" placeholder="none" autocomplete="off"></label>
            <button type="submit" id="tenant-settings-button">Save</button>
            </form>
            <h3>Delete this tenant</h3>
            {{#removalError}}<p class="error" role="alert" id="tenant-removal-error">{{removalError}}</p>{{/removalError}}
            <form method="post" action="/ui/tenants/{{tenant.name}}/remove" id="remove-tenant">
            <label>Type <code>{{tenant.name}}</code> to delete it, its users, projects and tokens <input name="confirm" id="tenant-confirm" required autocomplete="off"></label>
            <label><input type="checkbox" name="cascade" value="true" id="tenant-cascade"> First remove Canopy's namespaces and objects from its clusters (needed while it has clusters)</label>
            <button type="submit" id="remove-tenant-button">Delete tenant</button>
            </form>
            {{/settings}}
            {{^sealed}}<p><a href="/ui/audit?tenant={{tenant.name}}" id="audit-link">Audit log</a>{{#seesInside}} · <a href="/ui/tenants/{{tenant.name}}/users" id="users-link">Users and admins</a>{{/seesInside}}</p>{{/sealed}}
            {{> footer}}
            """,
        "project": """
            {{> header}}
            <h1>{{displayName}} <code>{{tenant}}/{{name}}</code></h1>
            <p id="summary">{{#role}}Your role: {{role}}. {{/role}}Pod security: {{podSecurity}}.{{#caps}} Caps: {{caps}}.{{/caps}}</p>
            <h2>Namespaces</h2>
            {{^empty(namespaces)}}
            {{#removalError}}<p class="error" role="alert" id="removal-error">{{removalError}}</p>{{/removalError}}
            <table id="namespaces">
            <tr><th>Cluster</th><th>Namespace</th><th>State</th><th></th></tr>
            {{#namespaces}}<tr><td>{{cluster}}</td><td>{{name}}</td><td>{{state}}{{#message}} <span class="note">{{message}}</span>{{/message}}</td><td>{{#removePath}}<form method="post" action="{{.}}" class="remove-namespace"><input name="confirm" required autocomplete="off" placeholder="type {{name}} to remove it" aria-label="to remove {{name}} and everything in it from {{cluster}}, type its name"><button type="submit">Remove</button></form>{{/removePath}}</td></tr>
            {{/namespaces}}
            </table>
            {{#managesMembers}}<p class="note">Removing a namespace Canopy created deletes it, and everything in it, from its cluster; an adopted one is given back (Canopy's objects removed, the namespace and its workloads kept).</p>{{/managesMembers}}
            {{/empty(namespaces)}}
            {{^namespaces}}<p class="note" id="no-namespaces">No namespaces yet.</p>{{/namespaces}}
            {{#managesMembers}}
            {{^empty(clusters)}}
            <h3>Add a namespace</h3>
            {{#namespaceError}}<p class="error" role="alert" id="namespace-error">{{namespaceError}}</p>{{/namespaceError}}
            <form method="post" action="/ui/tenants/{{tenant}}/projects/{{name}}/namespaces" id="add-namespace">
            <label>Cluster <select name="cluster" id="namespace-cluster">{{#clusters}}<option value="{{.}}">{{.}}</option>{{/clusters}}</select></label>
            <label>Namespace <input name="name" id="namespace-name" value="{{namespaceName}}" required></label>
            <label><input type="checkbox" name="adopt" value="true" id="namespace-adopt"> Adopt it if a namespace of that name already exists there (Canopy manages it from then on, keeping what is in it; removing it later gives it back)</label>
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
            {{#settings}}
            <h3>Caps and reservations</h3>
            {{#error}}<p class="error" role="alert" id="settings-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/tenants/{{tenant}}/projects/{{name}}/settings" id="project-settings">
            {{#version}}<input type="hidden" name="version" value="{{.}}">{{/version}}
            <label>Display name <input name="displayName" id="settings-display-name" value="{{displayName}}"></label>
            <label>CPU cap <input name="cpu" id="settings-cpu" value="{{cpu}}" placeholder="none" autocomplete="off"></label>
            <label>Memory cap <input name="memory" id="settings-memory" value="{{memory}}" placeholder="none" autocomplete="off"></label>
            {{^empty(clusters)}}
            <table id="placement-settings">
            <tr><th>Cluster</th><th>Reserved CPU %</th><th>Reserved memory %</th><th>CPU cap</th><th>Memory cap</th></tr>
            {{#clusters}}<tr><td>{{cluster}}</td><td><input name="reservedCPU_{{cluster}}" value="{{reservedCPU}}" aria-label="CPU reserved on {{cluster}}, percent" inputmode="decimal" autocomplete="off"></td><td><input name="reservedMemory_{{cluster}}" value="{{reservedMemory}}" aria-label="memory reserved on {{cluster}}, percent" inputmode="decimal" autocomplete="off"></td><td><input name="capCPU_{{cluster}}" value="{{capCPU}}" aria-label="CPU cap on {{cluster}}" autocomplete="off"></td><td><input name="capMemory_{{cluster}}" value="{{capMemory}}" aria-label="memory cap on {{cluster}}" autocomplete="off"></td></tr>
            {{/clusters}}
            </table>
            {{/empty(clusters)}}
            <button type="submit" id="settings-button">Save</button>
            </form>
            <p class="note">Caps are quantities (<code>8</code>, <code>500m</code>, <code>32Gi</code>); a reservation guarantees the project that share of a cluster. An empty field sets nothing.</p>
            {{/settings}}
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
            <h2>Remove this cluster</h2>
            {{#removalError}}<p class="error" role="alert" id="removal-error">{{removalError}}</p>{{/removalError}}
            <form method="post" action="/ui/tenants/{{tenant}}/clusters/{{name}}/remove" id="remove-cluster">
            <label>Type the cluster's name <input name="confirm" id="remove-cluster-name" required autocomplete="off" placeholder="{{name}}"></label>
            <label><input type="checkbox" name="cascade" value="true" id="remove-cluster-cascade"> also delete the projects' namespaces on it, with everything in them</label>
            <button type="submit" id="remove-cluster-button">Remove</button>
            </form>
            <p class="note">Canopy removes what it made in the cluster (its roles, bindings, quotas; with the box ticked, the project namespaces too), then forgets the cluster; its other workloads stay.</p>
            {{> footer}}
            """,
        "users": """
            {{> header}}
            <h1>{{#tenant}}Users of <a href="/ui/tenants/{{.}}">{{.}}</a>{{/tenant}}{{^tenant}}The domain's users and administrators{{/tenant}}</h1>
            {{#userError}}<p class="error" role="alert" id="user-action-error">{{userError}}</p>{{/userError}}
            <table id="users">
            <tr><th>User</th><th>Name</th><th>E-mail</th><th>Account</th><th>State</th><th></th></tr>
            {{#users}}<tr><td>{{#manageable}}<a href="{{base}}/users/{{username}}">{{username}}</a>{{/manageable}}{{^manageable}}{{username}}{{/manageable}}</td><td>{{displayName}}</td><td>{{email}}</td><td>{{source}}</td><td>{{state}}</td><td>{{#manageable}}<form method="post" action="{{base}}/users/{{username}}/state" class="user-state"><input type="hidden" name="disabled" value="{{^disabled}}true{{/disabled}}{{#disabled}}false{{/disabled}}"><button type="submit">{{^disabled}}Disable{{/disabled}}{{#disabled}}Enable{{/disabled}}</button></form> <form method="post" action="{{base}}/users/{{username}}/remove" class="remove-user"><input name="confirm" aria-label="Type {{username}} to delete this user" placeholder="type {{username}} to delete" required autocomplete="off"> <button type="submit">Delete</button></form>{{/manageable}}</td></tr>
            {{/users}}
            </table>
            <h2>{{#tenant}}Tenant admins{{/tenant}}{{^tenant}}Administrators (service providers){{/tenant}}</h2>
            {{#adminForm}}{{#error}}<p class="error" role="alert" id="admin-error">{{error}}</p>{{/error}}{{/adminForm}}
            <table id="admins">
            {{#admins}}<tr><td>{{who}}</td><td>{{#removable}}<form method="post" action="{{base}}/admins/{{id}}/remove" class="remove-admin"><button type="submit">Remove</button></form>{{/removable}}</td></tr>
            {{/admins}}
            </table>
            {{#adminForm}}
            <form method="post" action="{{base}}/admins" id="add-admin">
            <label>User name or directory group <input name="who" id="admin-who" value="{{who}}" required autocomplete="off"></label>
            <label>It is a <select name="kind" id="admin-kind"><option value="user">user</option><option value="group"{{#group}} selected{{/group}}>directory group</option></select></label>
            <button type="submit" id="add-admin-button">Add admin</button>
            </form>
            {{/adminForm}}
            {{#newUser}}
            <h2>New local user</h2>
            {{#error}}<p class="error" role="alert" id="user-error">{{error}}</p>{{/error}}
            <form method="post" action="{{base}}/users" id="new-user">
            <label>User name <input name="username" id="user-name" value="{{username}}" required autocomplete="off"></label>
            <label>Password <input name="password" id="user-password" type="password" required autocomplete="new-password"></label>
            <label>Display name <input name="displayName" id="user-display-name" value="{{displayName}}"></label>
            <label>E-mail <input name="email" id="user-email" value="{{email}}" type="email"></label>
            <button type="submit" id="new-user-button">Create</button>
            </form>
            {{/newUser}}
            <p class="note">A disabled user's sessions and tokens stop working at their next request; deleting a user also takes their roles away. A user's name opens their page: display name, e-mail, and a new password for a local account. {{#tenant}}A tenant keeps at least one admin.{{/tenant}}{{^tenant}}The domain keeps at least one administrator named as a user: a group's people may all be gone, or its directory down.{{/tenant}}</p>
            {{#newUser}}<p><a href="{{base}}/directories" id="directories-link">Directories (LDAP)</a>: where the {{#tenant}}tenant's{{/tenant}}{{^tenant}}domain's{{/tenant}} people sign in with their company password.</p>{{/newUser}}
            {{> footer}}
            """,
        "tokens": """
            {{> header}}
            <h1>Your tokens{{#password}} and password{{/password}}</h1>
            <p class="note">Sign-ins (the console's and <code>canopy login</code>'s), kubeconfig tokens and tokens for automation. Revoking one stops whatever uses it at its next request.</p>
            <table id="tokens">
            <tr><th>Description</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th></th></tr>
            {{#tokens}}<tr id="token-{{id}}"><td>{{description}}{{#isSession}} <strong>(this session)</strong>{{/isSession}}</td><td>{{created}}</td><td>{{expires}}</td><td>{{lastUsed}}</td><td>{{state}}</td><td>{{#revocable}}<form method="post" action="/ui/tokens/{{id}}/revoke"><button type="submit">Revoke</button></form>{{/revocable}}</td></tr>
            {{/tokens}}
            </table>
            {{#issued}}<div role="status" id="new-token"><p>Your new token, shown this once (copy it now): <code id="new-token-secret">{{token}}</code>. It expires {{expires}}.</p><p class="note">Send it as <code>Authorization: Bearer …</code> to the API, or as a kubeconfig user's <code>token</code>; revoke it here.</p></div>{{/issued}}
            {{#tokenForm}}
            <h2>New token for automation</h2>
            {{#error}}<p class="error" role="alert" id="token-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/tokens" id="new-token-form">
            <label>Description <input name="description" id="token-description" value="{{description}}" placeholder="e.g. nightly deploy" autocomplete="off"></label>
            <label>Lifetime in days <input name="days" id="token-days" value="{{days}}" inputmode="numeric" autocomplete="off"></label>
            <button type="submit" id="new-token-button">Create</button>
            </form>
            {{/tokenForm}}
            {{#password}}
            <h2>Your password</h2>
            {{#changed}}<p class="note" role="status" id="password-changed">Your password was changed.</p>{{/changed}}
            {{#error}}<p class="error" role="alert" id="password-error">{{error}}</p>{{/error}}
            <form method="post" action="/ui/password" id="change-password">
            <label>Current password <input name="current" id="password-current" type="password" required autocomplete="current-password"></label>
            <label>New password <input name="password" id="password-new" type="password" required autocomplete="new-password"></label>
            <label>New password again <input name="again" id="password-again" type="password" required autocomplete="new-password"></label>
            <button type="submit" id="change-password-button">Change</button>
            </form>
            {{/password}}
            {{> footer}}
            """,
        "audit": """
            {{> header}}
            <h1>Audit log{{#scope}} of {{scope}}{{/scope}}</h1>
            <p class="note">Newest first, 200 entries a page, those you may read.{{#newest}} <a href="{{.}}" id="newest">Newest entries</a>{{/newest}}</p>
            {{^empty(events)}}
            <table id="audit">
            <tr><th>When</th><th>Who</th><th>Where</th><th>What</th><th>On</th></tr>
            {{#events}}<tr><td>{{at}}</td><td>{{actor}}</td><td>{{place}}</td><td>{{action}}</td><td><code>{{target}}</code></td></tr>
            {{/events}}
            </table>
            {{/empty(events)}}
            {{^events}}<p class="note" id="no-events">Nothing yet.</p>{{/events}}
            {{#older}}<p><a href="{{.}}" id="older">Older entries</a></p>{{/older}}
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
