import CanopyModel
import Foundation
import Hummingbird

/// The tenant page's forms for the domain's administrators (`.manageTenants`): the tenant's
/// display name, state (active, or suspended: nobody in it may sign in) and caps, through
/// `TenantRoutes.update` as the API's PATCH; and deleting the tenant once its name is typed again
/// (with a box for the API's `?cascade=true`, which first removes Canopy's namespaces and objects
/// from its clusters), through `TenantRoutes.remove` as the API's DELETE.
struct TenantSettingsForm {
    var displayName = "", cpu = "", memory = ""
    var suspended = false
    /// The tenant's version when the page was drawn (a hidden field; see `ConsolePage.version`).
    var version: Int?
    var error: String?
    /// A refused deletion: why.
    var removalError: String?

    /// The form as the tenant stands.
    init(_ tenant: Tenant) {
        displayName = tenant.displayName
        cpu = tenant.caps?.cpu ?? ""
        memory = tenant.caps?.memory ?? ""
        suspended = tenant.state == .suspended
        version = tenant.version
    }

    /// The form as submitted; `nil` when a field is missing or the state is neither `active` nor
    /// `suspended`; throws when the version is not a number.
    init?(_ body: ConsoleRoutes.TenantSettingsBody) throws {
        guard let state = TenantState(rawValue: body.state) else { return nil }
        version = try ConsolePage.version(body.version)
        displayName = body.displayName.trimmed
        cpu = body.cpu.trimmed
        memory = body.memory.trimmed
        suspended = state == .suspended
    }

    /// The API's request for these settings: an empty cap clears it (the caps' other resources,
    /// which the form does not show, are kept); an empty display name leaves it as it is.
    func request(for tenant: Tenant) -> TenantRoutes.UpdateTenantRequest {
        var caps = tenant.caps ?? ResourceCaps()
        caps.cpu = cpu.nonEmpty
        caps.memory = memory.nonEmpty
        return .init(displayName: displayName.nonEmpty, state: suspended ? .suspended : .active, caps: caps, version: version)
    }
}

extension ConsoleRoutes {
    struct TenantSettingsBody: Decodable {
        let displayName: String
        /// `active` or `suspended`.
        let state: String
        let cpu: String
        let memory: String
        /// The tenant's version when the page was drawn.
        let version: String?
    }

    struct TenantRemovalBody: Decodable {
        /// The tenant's name, typed again.
        let confirm: String
        /// `true` when the box to clean its clusters first is ticked.
        let cascade: String?
    }

    func registerTenantSettingsForms(on signedIn: RouterGroup<AuthenticatedContext>) {
        signedIn.post("tenants/{tenant}/settings") { request, context in try await saveTenantSettings(request, context) }
        signedIn.post("tenants/{tenant}/remove") { request, context in try await removeTenant(request, context) }
    }

    /// The caller and the tenant the path names, for those who manage tenants (404 or 403 as the
    /// API answers).
    private func tenantToManage(_ request: Request, _ context: AuthenticatedContext) throws -> (Caller, TenantSnapshot) {
        let caller = try Caller(context, services)
        let tenant = try caller.tenant(request.parameter("tenant", context))
        try caller.require(.manageTenants, on: .tenant(tenant.tenant.id), "tenant")
        return (caller, tenant)
    }

    /// `PATCH …/tenants/{t}` of the API; back to the tenant's page.
    private func saveTenantSettings(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, tenant) = try tenantToManage(request, context)
        guard let body = try await ConsolePage.form(TenantSettingsBody.self, from: request), let typed = try TenantSettingsForm(body) else {
            throw APIError.malformed("the form needs displayName, state (active or suspended), cpu and memory")
        }
        return try await ConsolePage.submit({ _ = try await TenantRoutes(services: services).update(tenant, with: typed.request(for: tenant.tenant), by: caller) },
            then: "/ui/tenants/\(tenant.tenant.name)"
        ) { message, status in
            var refused = typed
            let current = (try? caller.tenant(tenant.tenant.name))?.tenant.version
            (refused.error, refused.version) = ConsolePage.refusal(message, status, of: "this tenant", drawn: typed.version, current: current)
            return try tenantPage(caller, tenant: tenant.tenant.name, settings: refused, status: status)
        }
    }

    /// `DELETE …/tenants/{t}` of the API (`?cascade=true` with the box ticked) once the tenant's
    /// name is typed again; on to the overview.
    private func removeTenant(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, tenant) = try tenantToManage(request, context)
        guard let form = try await ConsolePage.form(TenantRemovalBody.self, from: request) else { throw APIError.malformed("the form needs confirm") }
        return try await ConsolePage.submit({
            guard form.confirm.trimmed == tenant.tenant.name else {
                throw APIError.invalid("to delete tenant '\(tenant.tenant.name)', type its name", field: "confirm")
            }
            try await TenantRoutes(services: services).remove(tenant, cascade: form.cascade == "true", by: caller)
        }, then: "/ui") { message, status in
            var refused = TenantSettingsForm(tenant.tenant)
            refused.removalError = message
            return try tenantPage(caller, tenant: tenant.tenant.name, settings: refused, status: status)
        }
    }
}
