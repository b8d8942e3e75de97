import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/users` and `/admins` at the domain's level: the service provider's own accounts, and who
/// administers the domain (domain users, or groups of the domain's directories). The same shapes
/// and rules as a tenant's `/tenants/{t}/users` and `/tenants/{t}/admins`, for service providers
/// only: anyone else may see that the domain exists, so they get 403. A domain user may read and
/// change their own account.
struct DomainUserRoutes {
    let services: APIServices

    func register(on router: RouterGroup<AuthenticatedContext>) {
        let users = UserRoutes(services: services)
        let admins = AdminRoutes(services: services)
        router.get("users") { _, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainAdmins, on: .domain, "users")
            return try JSONBody.response(ListView(items: UserScope.domain(caller.snapshot).users.map { UserView($0, tenantName: nil) }))
        }
        router.post("users") { request, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainAdmins, on: .domain, "users")
            let body = try await JSONBody.decode(UserRoutes.CreateUserRequest.self, schema: "CreateUserRequest", from: request, context: context)
            let user = try await users.add(body, to: .domain(caller.snapshot), by: caller)
            return try JSONBody.response(UserView(user, tenantName: nil), status: .created)
        }
        router.get("users/{user}") { request, context in
            let caller = try Caller(context, services)
            return try JSONBody.response(UserView(try find(request, context, caller), tenantName: nil))
        }
        router.patch("users/{user}") { request, context in
            let caller = try Caller(context, services)
            let current = try find(request, context, caller)
            let body = try await JSONBody.decode(UserRoutes.UpdateUserRequest.self, schema: "UpdateUserRequest", from: request, context: context)
            let saved = try await users.update(current, in: .domain(caller.snapshot), with: body, by: caller)
            return try JSONBody.response(UserView(saved, tenantName: nil))
        }
        router.delete("users/{user}") { request, context in
            let caller = try Caller(context, services)
            try await users.delete(try find(request, context, caller), from: .domain(caller.snapshot), by: caller)
            return Response(status: .noContent)
        }
        router.get("users/{user}/tokens") { request, context in
            let caller = try Caller(context, services)
            return try await UserRoutes.tokens(of: try find(request, context, caller), services)
        }
        router.delete("users/{user}/tokens/{id}") { request, context in
            let caller = try Caller(context, services)
            let user = try find(request, context, caller)
            try await SessionRoutes(services: services).revoke(TokenID(try request.parameter("id", context)), of: user, by: caller)
            return Response(status: .noContent)
        }
        router.get("admins") { _, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainAdmins, on: .domain, "admins")
            let scope = UserScope.domain(caller.snapshot)
            return try JSONBody.response(ListView(items: scope.adminGrants.map { GrantView($0, in: scope) }))
        }
        router.post("admins") { request, context in
            let caller = try Caller(context, services)
            try caller.require(.manageDomainAdmins, on: .domain, "admins")
            let body = try await JSONBody.decode(AdminRoutes.CreateAdminRequest.self, schema: "CreateAdminRequest", from: request, context: context)
            let scope = UserScope.domain(caller.snapshot)
            return try JSONBody.response(GrantView(try await admins.add(body, to: scope, by: caller), in: scope), status: .created)
        }
        router.delete("admins/{id}") { request, context in
            let caller = try Caller(context, services)
            try await admins.remove(GrantID(try request.parameter("id", context)), from: .domain(caller.snapshot), by: caller)
            return Response(status: .noContent)
        }
    }

    /// The domain user named in the path: one's own account, or any for a service provider.
    private func find(_ request: Request, _ context: AuthenticatedContext, _ caller: Caller) throws -> User {
        let name = try request.parameter("user", context)
        if caller.principal.tenantID != nil || caller.principal.user.username != name {
            try caller.require(.manageDomainAdmins, on: .domain, "users")
        }
        guard let user = caller.snapshot.domainUser(named: name) else { throw APIError.notFound("user '\(name)'") }
        return user
    }
}
