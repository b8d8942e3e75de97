import CanopyModel
import Foundation
import Hummingbird

/// `GET /api/v1/kubeconfig?tenant=&project=&style=exec|token&ttlSeconds=`: a kubeconfig with one
/// context per (project, cluster) the caller may reach through the proxy, named
/// `<project>@<cluster>` (tenant admins also get `admin@<cluster>`), each with the project's first
/// namespace on that cluster as its default and Canopy's certificate as the CA.
///
/// Credentials: `exec` (the default) runs `canopy token`, which mints short-lived tokens from the
/// user's `canopy login`, so no long-lived secret sits in the file; `token` embeds a new API
/// token (default 30 days), listed and revocable like any other.
struct KubeconfigRoutes {
    let services: APIServices
    /// The server's certificate, when it serves HTTPS.
    let certificatePEM: String?

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("kubeconfig") { request, context in try await kubeconfig(request, context) }
    }

    struct Entry: Equatable {
        let context: String, tenant: String, cluster: String, namespace: String?
    }

    private func kubeconfig(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let query = request.uri.queryParameters
        let style = query.get("style") ?? "exec"
        guard style == "exec" || style == "token" else { throw APIError.invalid("style is exec or token", field: "style") }
        let tenantName = query.get("tenant") ?? caller.principal.tenantID.flatMap { caller.snapshot.tenant($0)?.tenant.name }
        guard let tenantName else { throw APIError.invalid("name the tenant (?tenant=…) whose clusters you want", field: "tenant") }
        let tenant = try caller.tenant(tenantName)
        if let project = query.get("project") { _ = try caller.project(tenantName, project) }
        let entries = self.entries(for: caller.principal, in: tenant, project: query.get("project"))
        guard !entries.isEmpty else {
            throw APIError.invalid("you have no project namespace on any cluster of tenant '\(tenantName)' to reach", field: "project")
        }
        let scheme = certificatePEM == nil ? "http" : "https"
        let host = request.head.authority ?? "127.0.0.1"
        let base = "\(scheme)://\(host)"
        let userName = "canopy-\(tenantName)-\(caller.principal.user.username)"
        var lines = ["apiVersion: v1", "kind: Config", "clusters:"]
        for cluster in Set(entries.map(\.cluster)).sorted() {
            lines.append("- name: canopy-\(tenantName)-\(cluster)")
            lines.append("  cluster:")
            lines.append("    server: \(base)/k8s/clusters/\(tenantName)/\(cluster)")
            if let certificatePEM {
                lines.append("    certificate-authority-data: \(Data(certificatePEM.utf8).base64EncodedString())")
            }
        }
        lines.append("users:")
        lines.append("- name: \(userName)")
        lines.append("  user:")
        if style == "token" {
            let ttl = Int(query.get("ttlSeconds") ?? "") ?? 30 * 24 * 3600
            guard (60...SessionRoutes.maxTokenLifetime).contains(ttl) else {
                throw APIError.invalid("ttlSeconds must be between 60 and \(SessionRoutes.maxTokenLifetime)", field: "ttlSeconds")
            }
            let issued = try await SessionRoutes(services: services).issueToken(
                for: caller.principal.user, description: "kubeconfig for \(tenantName)", lifetime: TimeInterval(ttl), requestID: context.requestID
            )
            lines.append("    token: \(issued.token)")
        } else {
            lines += [
                "    exec:",
                "      apiVersion: client.authentication.k8s.io/v1",
                "      command: canopy",
                "      args: [token, --server, \"\(base)\"]",
                "      interactiveMode: Never",
                "      provideClusterInfo: false",
            ]
        }
        lines.append("contexts:")
        for entry in entries {
            lines.append("- name: \(Self.quoted(entry.context))")
            lines.append("  context:")
            lines.append("    cluster: canopy-\(tenantName)-\(entry.cluster)")
            lines.append("    user: \(userName)")
            if let namespace = entry.namespace { lines.append("    namespace: \(namespace)") }
        }
        lines.append("current-context: \(Self.quoted(entries[0].context))")
        return Response(
            status: .ok, headers: [.contentType: "application/yaml"],
            body: ResponseBody(byteBuffer: .init(string: lines.joined(separator: "\n") + "\n"))
        )
    }

    /// The contexts the caller may use, ordered by name.
    func entries(for principal: Principal, in tenant: TenantSnapshot, project filter: String?) -> [Entry] {
        var entries: [Entry] = []
        let isAdmin = principal.isTenantAdmin || (principal.isServiceProvider && tenant.tenant.mode == .enterprise && principal.tenantID == nil)
        for project in tenant.projects.values where filter == nil || project.name == filter {
            guard isAdmin || principal.projectRoles[project.id] != nil else { continue }
            let byCluster = Dictionary(grouping: tenant.namespaces(ofProject: project.id), by: \.clusterID)
            for (clusterID, namespaces) in byCluster {
                guard let cluster = tenant.clusters[clusterID] else { continue }
                let prefix = principal.tenantID == nil ? "\(tenant.tenant.name)/" : ""
                entries.append(Entry(context: "\(prefix)\(project.name)@\(cluster.name)", tenant: tenant.tenant.name, cluster: cluster.name, namespace: namespaces.map(\.name).sorted().first))
            }
        }
        if isAdmin && filter == nil {
            for cluster in tenant.clusters.values {
                let prefix = principal.tenantID == nil ? "\(tenant.tenant.name)/" : ""
                entries.append(Entry(context: "\(prefix)admin@\(cluster.name)", tenant: tenant.tenant.name, cluster: cluster.name, namespace: nil))
            }
        }
        return entries.sorted { $0.context < $1.context }
    }

    static func quoted(_ text: String) -> String { "\"\(text)\"" }
}
