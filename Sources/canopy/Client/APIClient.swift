import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A small client of Canopy's HTTP API for the admin CLI.
struct APIClient {
    let server: String
    let token: String?

    /// An error answer from the server, shown to the user as `error: message`.
    struct Failure: Error, CustomStringConvertible {
        let status: Int
        let code: String
        let message: String
        var description: String { "\(message) (HTTP \(status), \(code))" }
    }

    /// Sends one request; returns the body of a 2xx answer, throws `Failure` otherwise.
    func send(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: server.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        let data = Data(buffer.readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            let parsed = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let error = parsed?["error"] as? [String: Any]
            throw Failure(
                status: Int(response.status.code), code: error?["code"] as? String ?? "unknown",
                message: error?["message"] as? String ?? String(decoding: data, as: UTF8.self)
            )
        }
        return data
    }
}
