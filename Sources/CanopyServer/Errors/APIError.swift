import Foundation
import HTTPTypes
import Hummingbird

/// An error that renders as the API's error body:
/// `{"error": {"code": "…", "message": "…", "field": "…"}}`.
///
/// Only this module turns errors into HTTP; messages here are safe to show to the caller.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?
    /// Extra response headers (`Retry-After`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    /// 400: the request is not well-formed JSON or has fields the API does not know.
    public static func malformed(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: "malformed", message: message, field: field)
    }

    /// 401: no credential, or one that is not valid.
    public static func unauthenticated(_ message: String) -> APIError {
        APIError(.unauthorized, code: "unauthenticated", message: message)
    }

    /// 403: the caller may see the object but not do this.
    public static func forbidden(_ message: String = "you are not allowed to do this") -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }

    /// 404: absent, or invisible to the caller; the two are indistinguishable on purpose.
    public static func notFound(_ what: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "\(what) not found")
    }

    /// 409: conflicts with the current state (a name taken, a stale version).
    public static func conflict(_ message: String, field: String? = nil) -> APIError {
        APIError(.conflict, code: "conflict", message: message, field: field)
    }

    /// 422: well-formed, but breaks a rule.
    public static func invalid(_ message: String, field: String? = nil) -> APIError {
        APIError(.unprocessableContent, code: "invalid", message: message, field: field)
    }

    /// 501: a route that a later part of Canopy provides.
    public static func notImplemented(_ what: String) -> APIError {
        APIError(.notImplemented, code: "not_implemented", message: "\(what) is not available in this version of Canopy yet")
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorBody(error: .init(code: code, message: message, field: field))
        let data = try JSONEncoder().encode(body)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The error body's shape.
struct ErrorBody: Codable {
    struct Detail: Codable {
        let code: String
        let message: String
        let field: String?
    }

    let error: Detail
}
