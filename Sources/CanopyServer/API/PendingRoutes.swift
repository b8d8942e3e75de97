import CanopyModel
import Hummingbird

/// Routes of DESIGN.md that arrive with later issues (usage and cluster allocation, with the planner). They exist now so that the API's shape is
/// complete and the isolation rules already hold: authentication and visibility are checked
/// first, and only a caller who may see the target is told 501.
struct PendingRoutes {
    let services: APIServices

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/clusters/{cluster}/allocation") { request, context in try inTenant(request, context, "cluster allocation") }
        router.get("tenants/{tenant}/projects/{project}/usage") { request, context in try inProject(request, context) }
    }

    private func inTenant(_ request: Request, _ context: AuthenticatedContext, _ what: String) throws -> Response {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.seeInsideTenant, on: .tenant(tenant.tenant.id), "tenant")
        throw APIError.notImplemented(what)
    }

    private func inProject(_ request: Request, _ context: AuthenticatedContext) throws -> Response {
        let caller = try Caller(context, services)
        _ = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
        throw APIError.notImplemented("project usage")
    }
}
