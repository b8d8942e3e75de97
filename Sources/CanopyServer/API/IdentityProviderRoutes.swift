import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation
import Hummingbird

/// `/tenants/{t}/identity-providers` (the tenant's directories) and `/identity-providers` (the
/// domain's). A tenant's providers are the tenant admin's to manage (and the provider's, in an
/// enterprise tenant), like its users; nobody else learns they exist. The domain's are the
/// service provider's. `{id}` is a provider's id or name. The bind password is write-only.
struct IdentityProviderRoutes {
    let services: APIServices

    struct ProviderRequest: Decodable {
        let name: String?
        let type: String?
        let urls: [String]?
        let bindDN: String?
        let bindPassword: String?
        let userBaseDN: String?
        let userFilter: String?
        let groupBaseDN: String?
        let groupFilter: String?
        let groupNameAttribute: String?
        let startTLS: Bool?
        let caPEM: String?
        let nestedGroupDepth: Int?
        let version: Int?
    }

    struct TestRequest: Decodable {
        let username: String
        let password: String
    }

    func register(on router: RouterGroup<AuthenticatedContext>) {
        for prefix in ["tenants/{tenant}/identity-providers", "identity-providers"] {
            router.get(RouterPath(prefix)) { request, context in
                let (_, tenantID, tenantName) = try scope(request, context)
                let stored = try await services.world.store.identityProviders(of: tenantID)
                return try JSONBody.response(ListView(items: stored.map { IdentityProviderView($0.provider, tenantName: tenantName) }))
            }
            router.post(RouterPath(prefix)) { request, context in try await create(request, context) }
            router.get(RouterPath(prefix + "/{id}")) { request, context in
                let (_, provider, tenantName) = try await find(request, context)
                return try JSONBody.response(IdentityProviderView(provider.provider, tenantName: tenantName))
            }
            router.patch(RouterPath(prefix + "/{id}")) { request, context in try await update(request, context) }
            router.delete(RouterPath(prefix + "/{id}")) { request, context in
                let (caller, stored, tenantName) = try await find(request, context)
                try await delete(stored.provider, tenantName: tenantName, by: caller)
                return Response(status: .noContent)
            }
            router.post(RouterPath(prefix + "/{id}/test")) { request, context in
                let (_, stored, tenantName) = try await find(request, context)
                let body = try await JSONBody.decode(TestRequest.self, schema: "IdentityProviderTestRequest", from: request, context: context)
                return try JSONBody.response(await test(stored, tenantName: tenantName, username: body.username, password: body.password, from: context.remoteAddress))
            }
        }
    }

    typealias Stored = (provider: IdentityProvider, sealedBindPassword: String)

    /// The caller and the tenant (nil: the domain) the path names, after the policy check:
    /// 404 for a tenant the caller cannot see, 403 for one they may see but not manage.
    private func scope(_ request: Request, _ context: AuthenticatedContext) throws -> (Caller, TenantID?, String?) {
        let caller = try Caller(context, services)
        let (tenantID, tenantName) = try scope(tenant: context.parameters.get("tenant"), for: caller)
        return (caller, tenantID, tenantName)
    }

    /// The providers' owner for `caller` (the API's and the console's check): a tenant by name
    /// (404 when the caller cannot see it, 403 when they may not manage its users), or with `nil`
    /// the domain (403 unless they manage tenants). The tenant's id and name; `nil`s for the domain.
    func scope(tenant name: String?, for caller: Caller) throws -> (TenantID?, String?) {
        guard let name else {
            try caller.require(.manageTenants, on: .domain, "identity providers")
            return (nil, nil)
        }
        let tenant = try caller.tenant(name)
        try caller.require(.manageUsers, on: .tenant(tenant.tenant.id), "tenant")
        return (tenant.tenant.id, tenant.tenant.name)
    }

    private func find(_ request: Request, _ context: AuthenticatedContext) async throws -> (Caller, Stored, String?) {
        let (caller, tenantID, tenantName) = try scope(request, context)
        return (caller, try await find(request.parameter("id", context), of: tenantID), tenantName)
    }

    /// The provider of `tenantID` (nil: the domain's) whose id or name is `key`; 404 if none.
    func find(_ key: String, of tenantID: TenantID?) async throws -> Stored {
        let stored = try await services.world.store.identityProviders(of: tenantID)
        guard let found = stored.first(where: { $0.provider.id.rawValue == key || $0.provider.name == key }) else {
            throw APIError.notFound("identity provider '\(key)'")
        }
        return found
    }

    /// Deletes a provider as `DELETE …/identity-providers/{id}` does (its users' accounts stay,
    /// and can no longer sign in through it).
    func delete(_ provider: IdentityProvider, tenantName: String?, by caller: Caller) async throws {
        let now = services.now
        try await services.world.commit { tx in
            try await tx.deleteIdentityProvider(provider.id)
            return World.Outcome(result: (), changes: [], audit: [
                caller.audit("identity-provider.delete", target(tenantName, provider.name), tenant: provider.tenantID, at: now),
            ])
        }
        services.directories.forget(provider.id)
    }

    /// Signs `username` in against the provider step by step, as `POST …/{id}/test` does, under
    /// the sign-in throttle (a refused password counts as a failed sign-in of that name, from the
    /// caller's address; a throttled name or address is refused with 429 before the directory is
    /// asked), so that the test is no way around it for guessing directory passwords.
    func test(_ stored: Stored, tenantName: String?, username: String, password: String, from address: String) async throws -> DirectoryTestReport {
        let directory = try services.directories.directory(for: stored.provider, sealedBindPassword: stored.sealedBindPassword)
        return try await services.authenticator.throttled(tenant: tenantName, username: username, from: address) {
            let report = await directory.test(username: username, password: password)
            return (report, report.steps.contains { $0.step == "userBind" && !$0.ok })
        }
    }

    private func target(_ tenantName: String?, _ name: String) -> String {
        (tenantName.map { "tenants/\($0)/" } ?? "") + "identity-providers/\(name)"
    }

    private func create(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, tenantID, tenantName) = try scope(request, context)
        let body = try await JSONBody.decode(ProviderRequest.self, schema: "CreateIdentityProviderRequest", from: request, context: context)
        let created = try await create(body, tenantID: tenantID, tenantName: tenantName, by: caller)
        return try JSONBody.response(IdentityProviderView(created, tenantName: tenantName), status: .created)
    }

    /// Creates a provider as `POST …/identity-providers` does (the API and the console): the
    /// settings checked as the LDAP client would take them, the bind password sealed.
    func create(_ body: ProviderRequest, tenantID: TenantID?, tenantName: String?, by caller: Caller) async throws -> IdentityProvider {
        guard let name = body.name, let urls = body.urls, let userBaseDN = body.userBaseDN, let groupBaseDN = body.groupBaseDN else {
            throw APIError.malformed("name, urls, userBaseDN and groupBaseDN are required")
        }
        try Validate.name(name, field: "name")
        let now = services.now
        var provider = IdentityProvider(
            id: .random(), tenantID: tenantID, name: name, urls: urls, bindDN: body.bindDN ?? "", userBaseDN: userBaseDN,
            groupBaseDN: groupBaseDN, createdAt: now
        )
        try apply(body, to: &provider)
        let password = body.bindPassword ?? ""
        try check(provider, bindPassword: password)
        let sealed = try services.secrets.seal(password)
        let created = provider
        try await services.world.commit { tx in
            try await tx.insert(created, sealedBindPassword: sealed)
            return World.Outcome(result: (), changes: [], audit: [
                caller.audit("identity-provider.create", target(tenantName, name), tenant: tenantID, at: now),
            ])
        }
        return created
    }

    private func update(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let (caller, stored, tenantName) = try await find(request, context)
        let body = try await JSONBody.decode(ProviderRequest.self, schema: "UpdateIdentityProviderRequest", from: request, context: context)
        let saved = try await update(stored, with: body, tenantName: tenantName, by: caller)
        return try JSONBody.response(IdentityProviderView(saved, tenantName: tenantName))
    }

    /// Changes a provider as `PATCH …/identity-providers/{id}` does (the API and the console):
    /// what the request leaves out is kept, the bind password too.
    func update(_ stored: Stored, with body: ProviderRequest, tenantName: String?, by caller: Caller) async throws -> IdentityProvider {
        guard body.name == nil || body.name == stored.provider.name else { throw APIError.invalid("a provider cannot be renamed", field: "name") }
        var provider = stored.provider
        if let version = body.version { provider.version = version }
        if let urls = body.urls { provider.urls = urls }
        if let userBaseDN = body.userBaseDN { provider.userBaseDN = userBaseDN }
        if let groupBaseDN = body.groupBaseDN { provider.groupBaseDN = groupBaseDN }
        if let bindDN = body.bindDN { provider.bindDN = bindDN }
        try apply(body, to: &provider)
        provider.updatedAt = services.now
        let password = try body.bindPassword ?? services.secrets.open(stored.sealedBindPassword)
        try check(provider, bindPassword: password)
        let sealed = try body.bindPassword.map { try services.secrets.seal($0) }
        let edited = provider
        let saved = try await services.world.commit { tx in
            let saved = try await tx.update(edited, sealedBindPassword: sealed)
            return World.Outcome(result: saved, changes: [], audit: [
                caller.audit("identity-provider.update", target(tenantName, saved.name), tenant: saved.tenantID, at: edited.updatedAt),
            ])
        }
        services.directories.forget(saved.id)
        return saved
    }

    /// The optional settings of a create or update request.
    private func apply(_ body: ProviderRequest, to provider: inout IdentityProvider) throws {
        if let type = body.type, type != "ldap" { throw APIError.invalid("type must be ldap", field: "type") }
        if let userFilter = body.userFilter { provider.userFilter = userFilter }
        if let groupFilter = body.groupFilter { provider.groupFilter = groupFilter }
        if let attribute = body.groupNameAttribute { provider.groupNameAttribute = attribute }
        if let startTLS = body.startTLS { provider.startTLS = startTLS }
        if let caPEM = body.caPEM { provider.caPEM = caPEM.isEmpty ? nil : caPEM }
        if let depth = body.nestedGroupDepth { provider.nestedGroupDepth = depth }
    }

    /// 422 naming the field for settings the LDAP client would refuse.
    private func check(_ provider: IdentityProvider, bindPassword: String) throws {
        if !provider.bindDN.isEmpty, bindPassword.isEmpty {
            throw APIError.invalid("bindPassword is required with a bindDN (an empty password would be an anonymous bind)", field: "bindPassword")
        }
        do {
            try Directories.configuration(of: provider, bindPassword: bindPassword).validate()
        } catch let error as AuthError {
            let fields = ["urls", "bindDN", "userBaseDN", "userFilter", "groupBaseDN", "groupFilter", "groupNameAttribute", "startTLS", "caPEM", "nestedGroupDepth"]
            let field = fields.first { error.message.hasPrefix($0 + ":") || error.message.hasPrefix($0 + " ") }
            throw APIError.invalid(error.message, field: field)
        }
    }
}

/// An identity provider as the API shows it: every setting but the bind password.
struct IdentityProviderView: Encodable {
    let id: String, tenant: String?, name: String, type: String, urls: [String], bindDN: String, bindPasswordSet: Bool
    let userBaseDN: String, userFilter: String, groupBaseDN: String, groupFilter: String, groupNameAttribute: String
    let startTLS: Bool, caPEM: String?, nestedGroupDepth: Int, version: Int, createdAt: Date, updatedAt: Date

    init(_ provider: IdentityProvider, tenantName: String?) {
        id = provider.id.rawValue
        tenant = tenantName
        name = provider.name
        type = "ldap"
        urls = provider.urls
        bindDN = provider.bindDN
        bindPasswordSet = !provider.bindDN.isEmpty
        userBaseDN = provider.userBaseDN
        userFilter = provider.userFilter
        groupBaseDN = provider.groupBaseDN
        groupFilter = provider.groupFilter
        groupNameAttribute = provider.groupNameAttribute
        startTLS = provider.startTLS
        caPEM = provider.caPEM
        nestedGroupDepth = provider.nestedGroupDepth
        version = provider.version
        createdAt = provider.createdAt
        updatedAt = provider.updatedAt
    }
}
