import CanopyCertificates
import Foundation
import HTTPServing
import HTTPTypes
import Hummingbird
import KubeAPI
import NIOCore
import NIOSSL

/// The HTTP face of KubeSim: the API server's paths, verbs, discovery documents and `Status`
/// error bodies for every cluster.
public struct SimAPI: Sendable {
    public let sim: KubeSim

    public init(sim: KubeSim) { self.sim = sim }

    /// A router serving every cluster below `/clusters/{cluster}/`.
    public func router() -> Router<SimContext> {
        let router = Router(context: SimContext.self)
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on("/clusters/{cluster}/**", method: method) { request, context in
                await respond(request, context)
            }
        }
        return router
    }

    private func respond(_ request: Request, _ context: SimContext) async -> Response {
        do {
            guard let cluster = context.parameters.get("cluster").flatMap({ sim.clusters[$0] }) else {
                throw Status(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
            }
            let user = try authenticate(request, cluster: cluster, peerCertificate: await context.peerCertificate())
            let path = context.parameters.getCatchAll().map(String.init)
            if path == ["kubesim", "faults"] { return try await setFaults(request, cluster: cluster, user: user) }
            let isList = request.method == .get && request.uri.queryParameters["watch"] == nil && SimRequest.isCollection(path)
            let (fault, latency) = cluster.nextFault(isList: isList)
            if latency > 0 { try await Task.sleep(for: .milliseconds(latency)) }
            switch fault {
            case .serve:
                // Watches and followed logs end when their client goes.
                let streaming = ["watch", "follow"].contains { ["1", "true"].contains(request.uri.queryParameters[$0].map(String.init)) }
                let gone = streaming ? await clientGone(context.channel) : nil
                return try await SimRequest(cluster: cluster, user: user, request: request, path: path, clientGone: gone).respond()
            case .fail(let code):
                let status = code == 429
                    ? Status(code: 429, reason: "TooManyRequests", message: "the server has received too many requests and has asked us to try again later", details: Status.Details(retryAfterSeconds: 1))
                    : Status(code: code, reason: "InternalError", message: "Internal error occurred: injected fault")
                var response = Self.json(status, status: HTTPResponse.Status(code: code))
                if code == 429 { response.headers[.retryAfter] = "1" }
                return response
            case .drop:
                return Self.dropped(after: Data())
            case .dropMidway:
                let whole = try await SimRequest(cluster: cluster, user: user, request: request, path: path).respond()
                let collector = BodyCollector()
                try await whole.body.write(collector)
                return Self.dropped(after: collector.data.prefix(collector.data.count / 2))
            }
        } catch let status as Status {
            return Self.json(status, status: HTTPResponse.Status(code: status.code))
        } catch is NIOTooManyBytesError {
            // The API server's body limit (3 MiB), in its words.
            let status = Status(code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728")
            return Self.json(status, status: .contentTooLarge)
        } catch {
            return Self.json(Status(code: 500, reason: "InternalError", message: "\(error)"), status: .internalServerError)
        }
    }

    /// The caller: a bearer token KubeSim knows (`addToken`) or one the cluster issued to a
    /// service account (`SimTokens`), or a client certificate signed by the cluster's CA (CN is
    /// the user, O the groups); 401 otherwise.
    func authenticate(_ request: Request, cluster: SimCluster, peerCertificate: [UInt8]?) throws -> KubeSim.UserInfo {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            let token = String(header.dropFirst(7))
            guard let known = sim.user(forToken: token) ?? cluster.serviceAccountUser(forToken: token) else { throw Status.unauthorized }
            return known
        }
        guard let peerCertificate else { throw Status.unauthorized }
        let identity = try ServerCertificate.clientIdentity(derEncoded: peerCertificate)
        return KubeSim.UserInfo(name: identity.user, groups: identity.groups + ["system:authenticated"])
    }

    /// A response that sends `prefix` and then breaks the connection (a body writer that throws
    /// makes the server close it).
    static func dropped(after prefix: Data) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init { writer in
            if !prefix.isEmpty { try await writer.write(ByteBuffer(bytes: prefix)) }
            throw Status(code: 503, reason: "ServiceUnavailable", message: "connection dropped by an injected fault")
        })
    }

    /// `POST /clusters/<c>/kubesim/faults`: sets the cluster's faults (admin only); `GET` reads them.
    private func setFaults(_ request: Request, cluster: SimCluster, user: KubeSim.UserInfo) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 16)
        guard user.groups.contains("system:masters") else {
            throw Status(code: 403, reason: "Forbidden", message: "only the KubeSim admin may set faults")
        }
        if request.method == .post {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            guard let faults = try? decoder.decode(Faults.self, from: Data(buffer.readableBytesView)) else {
                throw Status(code: 400, reason: "BadRequest", message: "faults are {latencyMilliseconds, failShare, failCode, unreachableUntil, dropListsMidway}")
            }
            cluster.faults = faults
            if request.uri.queryParameters["closeWatches"] == "true" { cluster.closeWatches() }
        }
        return Self.json(cluster.faults)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let bytes: [UInt8]
        if let object = value as? JSON {
            bytes = object.serialized()
        } else {
            bytes = (try? [UInt8](encoder.encode(value))) ?? Array("{}".utf8)
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Gathers a response body in memory (to send only part of it).
final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
    var data = Data()

    func write(_ buffer: ByteBuffer) async throws { data.append(contentsOf: buffer.readableBytesView) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// KubeSim's request context: Hummingbird's basics plus the connection, to read a client
/// certificate from its TLS handler.
public struct SimContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The DER bytes of the verified client certificate, if the client presented one. An
    /// HTTP/2 request's channel is its stream; the TLS handler is its connection's.
    func peerCertificate() async -> [UInt8]? {
        let channel = self.channel
        return try? await channel.eventLoop.submit {
            let connection = channel.parent.map { (try? channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self)) == nil ? $0 : channel } ?? channel
            return try connection.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate?.toDERBytes()
        }.get()
    }
}
