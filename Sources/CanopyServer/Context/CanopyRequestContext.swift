import CanopyModel
import Hummingbird
import Logging
import NIOCore

/// The context of every request: who is calling (once the authentication middleware has looked),
/// from where, and the request id that ties logs to answers.
public struct CanopyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller, when a valid token or session cookie came with the request.
    public var identity: Identity?
    /// The peer's IP address, for sign-in throttling.
    public let remoteAddress: String
    /// Random per request; sent back as `X-Request-Id` and attached to every log line.
    public var requestID: String
    /// The connection the request came on.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        requestID = String(UInt64.random(in: .min ... .max), radix: 16)
        identity = nil
    }

    /// Request bodies are limited to 1 MiB; larger ones are answered 413.
    public var maxUploadSize: Int { 1 << 20 }
}

/// A caller that presented a valid credential.
public struct Identity: Sendable {
    public let userID: UserID
    public let tenantID: TenantID?
    /// The token that authenticated the request.
    public let tokenID: TokenID
    /// Directory groups (empty for local users; filled by directory sign-in).
    public let groups: Set<String>
}

/// The context of requests that passed authentication: handlers below it can never see an
/// anonymous caller, because the context cannot be built without one.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let identity: Identity
    public let requestID: String
    /// The client's address (sign-in throttling counts failures per address too).
    public let remoteAddress: String

    public init(context: CanopyRequestContext) throws {
        guard let identity = context.identity else {
            throw APIError.unauthenticated("a bearer token or session cookie is required; sign in with POST /api/v1/login")
        }
        coreContext = context.coreContext
        self.identity = identity
        requestID = context.requestID
        remoteAddress = context.remoteAddress
    }

    public var maxUploadSize: Int { 1 << 20 }
}
