import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/tenants/{t}/projects/{p}/members`: who holds which role on a project. Naming a Project Admin
/// needs the right to manage projects; Project Admins add and remove Members and Viewers only.
struct MemberRoutes {
    let services: APIServices

    struct CreateMemberRequest: Decodable {
        let user: String?
        let group: String?
        let role: String
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        router.get("tenants/{tenant}/projects/{project}/members") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try caller.require(.seeInsideTenant, on: .project(tenant.tenant.id, project.id), "project")
            return try JSONBody.response(ListView(items: tenant.grants(onProject: project.id).map { GrantView($0, in: tenant) }))
        }
        router.post("tenants/{tenant}/projects/{project}/members") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try caller.require(.manageProjectMembers, on: .project(tenant.tenant.id, project.id), "project")
            let body = try await JSONBody.decode(CreateMemberRequest.self, schema: "CreateMemberRequest", from: request, context: context)
            let grant = try await add(body, to: project, in: tenant, by: caller)
            return try JSONBody.response(GrantView(grant, in: tenant), status: .created)
        }
        router.delete("tenants/{tenant}/projects/{project}/members/{id}") { request, context in
            let caller = try Caller(context, services)
            let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
            try await remove(GrantID(try request.parameter("id", context)), from: project, in: tenant, by: caller)
            return Response(status: .noContent)
        }
    }

    /// Grants `member`'s role on `project` (the caller may manage its members: checked by the
    /// caller first, so that a refused caller's body is never read); naming a Project Admin needs
    /// the right to manage projects.
    func add(_ member: CreateMemberRequest, to project: Project, in tenant: TenantSnapshot, by caller: Caller) async throws -> Grant {
        let target = Target.project(tenant.tenant.id, project.id)
        try caller.require(.manageProjectMembers, on: target, "project")
        guard let role = Role(rawValue: member.role), Role.projectRoles.contains(role) else {
            throw APIError.malformed("role must be one of: admin, member, viewer", field: "role")
        }
        if role == .projectAdmin {
            try caller.require(.manageProjects, on: target, "project")
        }
        let subject = try Subjects.resolve(user: member.user, group: member.group, in: .tenant(tenant))
        guard !tenant.grants(onProject: project.id).contains(where: { $0.subject == subject }) else {
            throw APIError.conflict("already a member of this project; remove the membership first to change the role")
        }
        let now = services.now
        let grant = Grant(id: .random(), tenantID: tenant.tenant.id, projectID: project.id, role: role, subject: subject, createdAt: now)
        try await services.world.commit { tx in
            try await tx.insert(grant)
            return World.Outcome(
                result: (), changes: [.grantSaved(grant)],
                audit: [caller.audit("member.create", "tenants/\(tenant.tenant.name)/projects/\(project.name)/members/\(grant.id)", tenant: tenant.tenant.id, project: project.id, at: now)]
            )
        }
        return grant
    }

    /// Removes one membership of `project`; a Project Admin's needs the right to manage projects.
    func remove(_ id: GrantID, from project: Project, in tenant: TenantSnapshot, by caller: Caller) async throws {
        let target = Target.project(tenant.tenant.id, project.id)
        try caller.require(.manageProjectMembers, on: target, "project")
        guard let grant = tenant.grants[id], grant.projectID == project.id else { throw APIError.notFound("member") }
        if grant.role == .projectAdmin { try caller.require(.manageProjects, on: target, "project") }
        let now = services.now
        try await services.world.commit { tx in
            try await tx.deleteGrant(grant.id)
            return World.Outcome(
                result: (), changes: [.grantDeleted(grant)],
                audit: [caller.audit("member.delete", "tenants/\(tenant.tenant.name)/projects/\(project.name)/members/\(grant.id)", tenant: tenant.tenant.id, project: project.id, at: now)]
            )
        }
    }
}
