import CanopyAuth
import CanopyModel
import CanopyStore
import Hummingbird
import Logging
import NIOCore

/// Turns every error a handler throws into the API's error body with the right status, logs the
/// internal detail under the request id, and stamps `X-Request-Id` on every answer.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = CanopyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.logger[metadataKey: "request-id"] = .string(context.requestID)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = Self.translate(error)
            if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            } else {
                context.logger.debug("request refused", metadata: ["error": "\(error)", "status": "\(apiError.status.code)"])
            }
            response = try apiError.response(from: request, context: context)
        }
        response.headers[.init("X-Request-Id")!] = context.requestID
        return response
    }

    /// Maps any error to what the caller may be told.
    static func translate(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, code: "too_large", message: "the request body is larger than 1 MiB")
        case let error as ValidationError:
            return .invalid("\(error.field) \(error.message)", field: error.field)
        case let error as AuthError:
            switch error.code {
            case .throttled:
                var apiError = APIError(.tooManyRequests, code: "throttled", message: error.message)
                apiError.headers[.retryAfter] = String(error.retryAfter ?? 60)
                return apiError
            case .directoryUnavailable, .directoryTLS, .directoryMisconfigured:
                // Details are in the log and in the provider's test endpoint, not for whoever signs in.
                return APIError(
                    .serviceUnavailable, code: "directory_unavailable",
                    message: "the directory cannot be reached to check this sign-in; local accounts can still sign in, and a tenant admin can run the identity provider's test"
                )
            default:
                return .unauthenticated(error.message)
            }
        case let error as StoreError:
            switch error.code {
            case .staleVersion:
                return .conflict("the object was changed by someone else; read it again and retry with its current version", field: "version")
            case .duplicate:
                return .conflict("the name is already taken", field: "name")
            case .notFound:
                return .notFound("object")
            default:
                return APIError(.serviceUnavailable, code: "unavailable", message: "the store is unavailable; try again shortly")
            }
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge:
                return APIError(.contentTooLarge, code: "too_large", message: "the request body is larger than 1 MiB")
            case .notFound:
                return .notFound("route")
            case .methodNotAllowed:
                return APIError(.methodNotAllowed, code: "method_not_allowed", message: "this method is not allowed here")
            default:
                return APIError(error.status, code: "http_\(error.status.code)", message: error.status.reasonPhrase)
            }
        default:
            return APIError(.internalServerError, code: "internal", message: "an internal error occurred; the request id is in the logs")
        }
    }
}
