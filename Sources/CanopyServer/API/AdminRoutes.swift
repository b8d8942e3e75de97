import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/tenants/{t}/admins`: who administers a tenant (users or directory groups).
struct AdminRoutes {
    let services: APIServices

    struct CreateAdminRequest: Decodable {
        let user: String?
        let group: String?
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/admins") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try caller.require(.seeInsideTenant, on: .tenant(tenant.tenant.id), "tenant")
            return try JSONBody.response(ListView(items: tenant.adminGrants.map { GrantView($0, in: tenant) }))
        }
        router.post("tenants/{tenant}/admins") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try caller.require(.manageUsers, on: .tenant(tenant.tenant.id), "tenant")
            let body = try await JSONBody.decode(CreateAdminRequest.self, schema: "CreateAdminRequest", from: request, context: context)
            return try JSONBody.response(GrantView(try await add(body, to: tenant, by: caller), in: tenant), status: .created)
        }
        router.delete("tenants/{tenant}/admins/{id}") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try await remove(GrantID(try request.parameter("id", context)), from: tenant, by: caller)
            return Response(status: .noContent)
        }
    }

    /// Names a user or a directory group an admin of `tenant` (the API's POST and the console's
    /// users page).
    func add(_ body: CreateAdminRequest, to tenant: TenantSnapshot, by caller: Caller) async throws -> Grant {
        try caller.require(.manageUsers, on: .tenant(tenant.tenant.id), "tenant")
        let subject = try Subjects.resolve(user: body.user, group: body.group, in: tenant)
        guard !tenant.adminGrants.contains(where: { $0.subject == subject }) else {
            throw APIError.conflict("already an admin of this tenant")
        }
        let now = services.now
        let grant = Grant(id: .random(), tenantID: tenant.tenant.id, projectID: nil, role: .tenantAdmin, subject: subject, createdAt: now)
        try await services.world.commit { tx in
            try await tx.insert(grant)
            return World.Outcome(
                result: (), changes: [.grantSaved(grant)],
                audit: [caller.audit("admin.create", "tenants/\(tenant.tenant.name)/admins/\(grant.id)", tenant: tenant.tenant.id, at: now)]
            )
        }
        return grant
    }

    /// Takes the tenant-admin role `id` away; a tenant keeps at least one admin (the API's DELETE
    /// and the console's users page).
    func remove(_ id: GrantID, from tenant: TenantSnapshot, by caller: Caller) async throws {
        try caller.require(.manageUsers, on: .tenant(tenant.tenant.id), "tenant")
        guard let grant = tenant.grants[id], grant.role == .tenantAdmin else { throw APIError.notFound("admin") }
        guard tenant.adminGrants.count > 1 else {
            throw APIError.conflict("a tenant keeps at least one admin; name another admin first")
        }
        let now = services.now
        try await services.world.commit { tx in
            try await tx.deleteGrant(grant.id)
            return World.Outcome(
                result: (), changes: [.grantDeleted(grant)],
                audit: [caller.audit("admin.delete", "tenants/\(tenant.tenant.name)/admins/\(grant.id)", tenant: tenant.tenant.id, at: now)]
            )
        }
    }
}

/// Turning `{user | group}` request fields into a grant subject.
enum Subjects {
    /// Exactly one of `user` (a user name of the tenant) or `group` (a directory group name).
    static func resolve(user: String?, group: String?, in tenant: TenantSnapshot) throws -> Subject {
        switch (user, group) {
        case (let name?, nil):
            guard let found = tenant.user(named: name) else {
                throw APIError.invalid("no user named '\(name)' in this tenant", field: "user")
            }
            return .user(found.id)
        case (nil, let name?):
            try Validate.groupName(name, field: "group")
            return .group(name)
        default:
            throw APIError.invalid("give exactly one of 'user' or 'group'", field: "user")
        }
    }
}
