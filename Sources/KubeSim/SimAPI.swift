import Foundation
import Hummingbird
import KubeAPI
import NIOCore

/// The HTTP face of KubeSim: the API server's paths, verbs, discovery documents and `Status`
/// error bodies for every cluster.
public struct SimAPI: Sendable {
    public let sim: KubeSim

    public init(sim: KubeSim) { self.sim = sim }

    /// A router serving every cluster below `/clusters/{cluster}/`.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on("/clusters/{cluster}/**", method: method) { request, context in
                await respond(request, context)
            }
        }
        return router
    }

    private func respond(_ request: Request, _ context: BasicRequestContext) async -> Response {
        do {
            guard let cluster = context.parameters.get("cluster").flatMap({ sim.clusters[$0] }) else {
                throw Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
            }
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                  let user = sim.user(forToken: String(header.dropFirst(7)))
            else { throw Status.unauthorized }
            let path = context.parameters.getCatchAll().map(String.init)
            return try await SimRequest(cluster: cluster, user: user, request: request, path: path).respond()
        } catch let status as Status {
            return Self.json(status, status: HTTPResponse.Status(code: status.code))
        } catch {
            return Self.json(Status(code: 500, reason: "InternalError", message: "\(error)"), status: .internalServerError)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
