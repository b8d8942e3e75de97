import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `GET /audit?tenant=&project=&before=&limit=`: who did what, limited to the caller's scope.
///
/// Without `tenant`: the provider reads domain-level events and those of enterprise tenants; a
/// tenant user reads what they could ask for with their own tenant named.
struct AuditRoutes {
    let services: APIServices

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("audit") { request, context in
            let caller = try Caller(context, services)
            var query = try scope(tenant: request.uri.queryParameters["tenant"].map(String.init), project: request.uri.queryParameters["project"].map(String.init), caller)
            if let before = request.uri.queryParameters["before"] {
                guard let value = Int64(before) else { throw APIError.malformed("before must be a sequence number", field: "before") }
                query.beforeSequence = value
            }
            if let limit = request.uri.queryParameters["limit"] {
                guard let value = Int(limit), (1...1000).contains(value) else {
                    throw APIError.malformed("limit must be a whole number from 1 to 1000", field: "limit")
                }
                query.limit = value
            }
            let events = try await services.world.store.audit(query)
            return try JSONBody.response(ListView(items: events.map { AuditView($0, snapshot: caller.snapshot) }))
        }
    }

    /// What `caller` may read of the log of `tenant` (theirs when not named) or one of its
    /// projects; 404 or 403 as for the objects themselves.
    func scope(tenant: String?, project projectName: String?, _ caller: Caller) throws -> AuditQuery {
        let tenantName = tenant ?? (caller.principal.tenantID.flatMap { caller.snapshot.tenant($0)?.tenant.name })
        guard let tenantName else {
            guard projectName == nil else { throw APIError.malformed("project needs tenant", field: "project") }
            guard caller.principal.isServiceProvider else { throw APIError.forbidden() }
            let enterprise = caller.snapshot.tenants.values.filter { $0.tenant.mode == .enterprise }.map { Optional($0.tenant.id) }
            return AuditQuery(scopes: [nil] + enterprise)
        }
        if let projectName {
            let (tenant, project) = try caller.project(tenantName, projectName)
            try caller.require(.seeInsideTenant, on: .project(tenant.tenant.id, project.id), "project")
            return AuditQuery(scopes: [tenant.tenant.id], projectIDs: [project.id])
        }
        let tenant = try caller.tenant(tenantName)
        if caller.allows(.seeInsideTenant, on: .tenant(tenant.tenant.id)) {
            return AuditQuery(scopes: [tenant.tenant.id])
        }
        guard caller.principal.tenantID == tenant.tenant.id else { throw APIError.forbidden() }
        return AuditQuery(scopes: [tenant.tenant.id], projectIDs: Array(caller.principal.projectRoles.keys))
    }
}
