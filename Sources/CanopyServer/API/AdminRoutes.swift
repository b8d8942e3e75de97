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
            return try JSONBody.response(GrantView(try await add(body, to: .tenant(tenant), by: caller), in: tenant), status: .created)
        }
        router.delete("tenants/{tenant}/admins/{id}") { request, context in
            let caller = try Caller(context, services)
            let tenant = try caller.tenant(request.parameter("tenant", context))
            try await remove(GrantID(try request.parameter("id", context)), from: .tenant(tenant), by: caller)
            return Response(status: .noContent)
        }
    }

    /// Names a user or a directory group an admin of the scope: a tenant's (the API's POST and
    /// the console's users page) or the domain's (`/admins`).
    func add(_ body: CreateAdminRequest, to scope: UserScope, by caller: Caller) async throws -> Grant {
        try caller.require(scope.manageAction, on: scope.policyTarget, scope.noun)
        let subject = try Subjects.resolve(user: body.user, group: body.group, in: scope)
        guard !scope.adminGrants.contains(where: { $0.subject == subject }) else {
            throw APIError.conflict("already an admin of this \(scope.noun)")
        }
        let now = services.now
        let grant = Grant(id: .random(), tenantID: scope.tenantID, projectID: nil, role: scope.adminRole, subject: subject, createdAt: now)
        try await services.world.commit { tx in
            try await tx.insert(grant)
            return World.Outcome(
                result: (), changes: [.grantSaved(grant)],
                audit: [caller.audit("admin.create", scope.adminTarget(grant.id), tenant: scope.tenantID, at: now)]
            )
        }
        return grant
    }

    /// Takes the admin role `id` away; the scope keeps an admin (`UserScope.keepsAnAdmin`).
    func remove(_ id: GrantID, from scope: UserScope, by caller: Caller) async throws {
        try caller.require(scope.manageAction, on: scope.policyTarget, scope.noun)
        guard let grant = scope.adminGrants.first(where: { $0.id == id }) else { throw APIError.notFound("admin") }
        let refusal = APIError.conflict(scope.keepsAnAdminRule)
        guard scope.keepsAnAdmin(scope.adminGrants.filter { $0.id != id }) else { throw refusal }
        let now = services.now
        try await services.world.commit { [services] tx in
            // Again inside the transaction, over the grants as stored (locked): two removals at
            // once, on one replica or two, must not both pass.
            let stored = try await scope.lockedAdminGrants(tx, services.world.snapshot)
            guard stored.scope.keepsAnAdmin(stored.grants.filter { $0.id != id }) else { throw refusal }
            try await tx.deleteGrant(grant.id)
            return World.Outcome(
                result: (), changes: [.grantDeleted(grant)],
                audit: [caller.audit("admin.delete", scope.adminTarget(grant.id), tenant: scope.tenantID, at: now)]
            )
        }
    }
}

/// Turning `{user | group}` request fields into a grant subject.
enum Subjects {
    /// Exactly one of `user` (a user name of the scope) or `group` (a directory group name).
    static func resolve(user: String?, group: String?, in scope: UserScope) throws -> Subject {
        switch (user, group) {
        case (let name?, nil):
            guard let found = scope.user(named: name) else {
                throw APIError.invalid("no user named '\(name)' in this \(scope.noun)", field: "user")
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
