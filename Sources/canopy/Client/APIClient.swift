import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A small client of Canopy's HTTP API for the admin CLI.
struct APIClient {
    let server: String
    let token: String?
    var certificateAuthority: String? = nil
    var insecureSkipTLSVerify = false

    /// An error answer from the server, shown to the user as `error: message`.
    struct Failure: Error, CustomStringConvertible {
        let status: Int
        let code: String
        let message: String
        var description: String { "\(message) (HTTP \(status), \(code))" }
    }

    /// How long one request may take: a cluster's clean-up (a cascade delete) may take a minute,
    /// more when another replica does it.
    static let timeout: TimeAmount = .seconds(120)

    /// Sends one request; returns the body of a 2xx answer, throws `Failure` otherwise.
    func send(_ method: HTTPMethod, _ path: String, body: [String: Any]? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: server.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let client = try makeClient()
        let data: Data
        let status: HTTPResponseStatus
        do {
            let response = try await client.execute(request, timeout: Self.timeout)
            data = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
            status = response.status
            // As kubectl does: the server's warnings on standard error.
            for warning in response.headers["Warning"] {
                FileHandle.standardError.write(Data("Warning: \(Self.warningText(warning))\n".utf8))
            }
            if client !== HTTPClient.shared { try await client.shutdown() }
        } catch {
            if client !== HTTPClient.shared { try? await client.shutdown() }
            throw error
        }
        guard (200..<300).contains(status.code) else {
            let parsed = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            let error = parsed?["error"] as? [String: Any]
            throw Failure(
                status: Int(status.code), code: error?["code"] as? String ?? "unknown",
                message: error?["message"] as? String ?? String(decoding: data, as: UTF8.self)
            )
        }
        return data
    }

    /// The text of a `Warning` header (`299 - "text"`, quotes and backslashes escaped); the
    /// header as it is when it has another form.
    static func warningText(_ header: String) -> String {
        guard let open = header.firstIndex(of: "\""), header.hasSuffix("\""), open < header.index(before: header.endIndex) else { return header }
        var text = "", escaped = false
        for character in header[header.index(after: open)..<header.index(before: header.endIndex)] {
            if escaped || character != "\\" { text.append(character); escaped = false } else { escaped = true }
        }
        return text
    }

    /// The shared client, or one that trusts the saved CA or skips verification.
    private func makeClient() throws -> HTTPClient {
        guard certificateAuthority != nil || insecureSkipTLSVerify else { return HTTPClient.shared }
        var tls = TLSConfiguration.makeClientConfiguration()
        if insecureSkipTLSVerify { tls.certificateVerification = .none }
        if let certificateAuthority {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificateAuthority.utf8)))
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }
}
