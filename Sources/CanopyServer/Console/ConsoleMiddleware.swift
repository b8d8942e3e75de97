import CanopyStore
import Hummingbird
import HTTPTypes

/// In front of every console page: reads the session cookie, refuses a form posted from another
/// site, answers errors as pages (a GET without a valid session goes to the sign-in page), and
/// stamps the headers that keep the pages out of frames, caches and other origins' scripts.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = CanopyRequestContext

    let authenticator: Authenticator
    /// Names who is signed in on error pages.
    let world: World
    let secureCookies: Bool

    /// The session cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
    /// page sends it), `Secure` over HTTPS, for the whole server (the API accepts it too).
    static func sessionCookie(_ token: String, maxAge: Int, secure: Bool) -> Cookie {
        Cookie(name: AuthenticationMiddleware.cookieName, value: token, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        // Not `no-referrer`: with it a browser sends `Origin: null` on the console's own forms,
        // which the same-origin check must then refuse (Chromium in ConsoleBrowserTests did).
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let presented = request.cookies[AuthenticationMiddleware.cookieName]?.value
        if let presented, !presented.isEmpty {
            context.identity = try await authenticator.identity(forToken: presented)
        }
        var response: Response
        if request.method != .get, request.method != .head, !SameOrigin.holds(for: request) {
            response = try ConsolePage.error(
                .forbidden, "This form was sent from another site's page (its Origin is not this server's); open the console and send it from there.",
                signedInAs: signedInAs(context.identity)
            )
        } else {
            do {
                response = try await next(request, context)
            } catch {
                let refusal = ErrorMiddleware.translate(error)
                if refusal.status == .unauthorized {
                    // No session, or one that ended: sign in again (and forget the stale cookie).
                    response = ConsolePage.redirect(to: "/ui/login")
                    if presented != nil { response.setCookie(Self.sessionCookie("", maxAge: 0, secure: secureCookies)) }
                } else {
                    if refusal.status.code >= 500 {
                        context.logger.error("console page failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
                    }
                    response = try ConsolePage.error(refusal.status, refusal.message, signedInAs: signedInAs(context.identity))
                    for header in refusal.headers { response.headers.append(header) }
                }
            }
        }
        for header in Self.securityHeaders where response.headers[header.name] == nil { response.headers.append(header) }
        return response
    }

    /// `boss (coke)` for a session's identity, as every page's header shows it.
    private func signedInAs(_ identity: Identity?) -> String? {
        guard let identity else { return nil }
        let snapshot = world.snapshot
        guard let user = snapshot.user(identity.userID, in: identity.tenantID) else { return "signed in" }
        return ConsolePage.Frame.label(username: user.username, tenant: identity.tenantID.flatMap { snapshot.tenant($0)?.tenant.name })
    }
}

/// Whether a browser sent a request from a page of this very server.
enum SameOrigin {
    /// The request's `Origin` names the host it was sent to (scheme aside: the listener decides
    /// that); without `Origin`, the browser's `Sec-Fetch-Site` says `same-origin`. A request with
    /// neither (not a browser's) does not hold.
    static func holds(for request: Request) -> Bool {
        if let origin = request.headers[.origin] {
            guard let host = request.head.authority, let separator = origin.range(of: "://") else { return false }
            return origin[separator.upperBound...].lowercased() == host.lowercased()
        }
        return request.headers[HTTPField.Name("Sec-Fetch-Site")!] == "same-origin"
    }
}
