import CanopyModel
import Foundation
import Hummingbird

/// The pages every signed-in caller has: their own tokens (with the password form for a tenant's
/// local accounts) and the audit log of their scope.
extension ConsoleRoutes {
    /// The caller's own tokens (sign-ins, kubeconfigs, automation), each revocable, and for a
    /// tenant's local account the password form; after a refused change, with why.
    func tokensPage(
        _ caller: Caller, session: TokenID, passwordChanged: Bool = false, passwordError: String? = nil,
        issued: TokensPage.Issued? = nil, tokenForm: TokensPage.TokenForm = .init(), status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let now = services.now
        let tokens = try await services.world.store.tokens(of: caller.principal.user.id).sorted { $0.createdAt > $1.createdAt }
        return try ConsolePage.render("tokens", TokensPage(frame: .init(title: "Tokens", caller: caller), tokens: tokens.map { token in
            TokensPage.Row(token, now: now, session: session)
        }, password: Self.changesOwnPassword(caller) ? .init(changed: passwordChanged, error: passwordError) : nil, issued: issued, tokenForm: tokenForm), status: status)
    }

    struct TokenFormBody: Decodable {
        let description: String
        /// The lifetime in whole days, 1 to 365.
        let days: String
    }

    /// `POST /api/v1/tokens` of the API (`SessionRoutes.create`): the tokens page with the new
    /// token's secret, shown this once (the page is not cached); a refusal with what was typed.
    func createToken(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        guard let body = try await ConsolePage.form(TokenFormBody.self, from: request) else { throw APIError.malformed("the form needs description and days") }
        var typed = TokensPage.TokenForm(description: body.description.trimmed, days: body.days.trimmed)
        do {
            guard let days = Int(typed.days), (1...365).contains(days) else {
                throw APIError.invalid("the lifetime is a whole number of days from 1 to 365", field: "days")
            }
            let request = SessionRoutes.CreateTokenRequest(description: typed.description.nonEmpty ?? "console", ttlSeconds: days * 24 * 3600)
            let issued = try await SessionRoutes(services: services).create(request, for: caller, requestID: context.requestID)
            return try await tokensPage(
                caller, session: context.identity.tokenID, issued: .init(id: issued.id, token: issued.token, expires: ConsolePage.time(issued.expiresAt)),
                status: .created
            )
        } catch {
            let refusal = ErrorMiddleware.translate(error)
            guard refusal.status.code < 500 else { throw error }
            typed.error = refusal.message
            return try await tokensPage(caller, session: context.identity.tokenID, tokenForm: typed, status: refusal.status)
        }
    }

    /// The audit log in the caller's scope, newest first, 200 entries a page (`before`: those
    /// older than that sequence number), with a link to the next older page when there may be one.
    func auditPage(_ caller: Caller, tenant: String?, project: String?, before: Int64?) async throws -> Response {
        var query = try AuditRoutes(services: services).scope(tenant: tenant, project: project, caller)
        query.limit = Self.auditPageSize
        query.beforeSequence = before
        let events = try await services.world.store.audit(query).map { AuditView($0, snapshot: caller.snapshot) }
        let scope = [tenant, project].compactMap { $0 }.joined(separator: "/")
        func link(before: Int64?) -> String? {
            var link = URLComponents()
            link.path = "/ui/audit"
            let items = [("tenant", tenant), ("project", project), ("before", before.map(String.init))].compactMap { name, value in
                value.map { URLQueryItem(name: name, value: $0) }
            }
            link.queryItems = items.isEmpty ? nil : items
            return link.string
        }
        let older = events.count == Self.auditPageSize ? events.last.flatMap { link(before: $0.sequence) } : nil
        return try ConsolePage.render("audit", AuditPage(
            frame: .init(title: "Audit", caller: caller), scope: scope.isEmpty ? nil : scope,
            events: events.map {
                AuditPage.Row(
                    at: ConsolePage.time($0.at), actor: $0.actor, place: [$0.tenant, $0.project].compactMap { $0 }.joined(separator: "/"),
                    action: $0.action, target: $0.target
                )
            },
            older: older, newest: before == nil ? nil : link(before: nil)
        ))
    }

    static let auditPageSize = 200
}
