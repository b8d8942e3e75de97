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
        let presented: String? =
            if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
                String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            } else {
                request.cookies[Self.cookieName]?.value
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
