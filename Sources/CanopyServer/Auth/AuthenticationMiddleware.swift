import Hummingbird

/// Reads `Authorization: Bearer …` (or the console's `canopy_session` cookie) and, when it names a
/// valid token, records the caller in the context. Requests without a valid credential go on
/// anonymous; routes that need a caller refuse them through `AuthenticatedContext`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = CanopyRequestContext

    /// The console's session cookie.
    static let cookieName = "canopy_session"

    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let presented: String?
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            presented = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else {
            presented = request.cookies[Self.cookieName]?.value
            // A browser sends the cookie with whatever a page asks; a change made with it must
            // come from the console's own pages (the cookie is also SameSite=Strict).
            if presented != nil, ![.get, .head, .options].contains(request.method), !SameOrigin.holds(for: request) {
                throw APIError.forbidden(
                    "a change made with the console's session cookie must come from the console's own pages (Origin); API clients send a bearer token"
                )
            }
        }
        if let presented {
            guard let identity = try await authenticator.identity(forToken: presented) else {
                throw APIError.unauthenticated("the token is invalid, expired or revoked; sign in again")
            }
            context.identity = identity
        }
        return try await next(request, context)
    }
}
