import Foundation
import KubeAPI

/// A list's continue token as a real API server writes it: base64url (no padding) of
/// `{"v": "meta.k8s.io/v1", "rv": <revision>, "start": <key to resume at>}`, and the 400 it
/// answers for one it cannot read.
struct ContinueToken: Codable, Equatable {
    var v = "meta.k8s.io/v1"
    var rv: Int64
    var start: String

    init(revision: Int64, start: String) {
        self.rv = revision
        self.start = start
    }

    init(decoding token: String) throws(Status) {
        guard let data = Base64URL.decode(token) else { throw Self.invalid("illegal base64 data") }
        let decoded: ContinueToken
        do { decoded = try JSONDecoder().decode(ContinueToken.self, from: data) } catch { throw Self.invalid("\(error)") }
        guard decoded.v == "meta.k8s.io/v1" else {
            throw Self.invalid("server does not recognize this encoded version \"\(decoded.v)\"")
        }
        guard decoded.rv != 0 else { throw Self.invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)") }
        guard !decoded.start.isEmpty else { throw Self.invalid("encoded start key empty (version meta.k8s.io/v1)") }
        // The server refuses a key that would climb out of the list's scope.
        guard !decoded.start.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." }) else {
            throw Self.invalid(decoded.start)
        }
        self = decoded
    }

    var encoded: String { Base64URL.encode((try? JSONEncoder().encode(self)) ?? Data()) }

    private static func invalid(_ detail: String) -> Status {
        Status(code: 400, reason: "BadRequest", message: "invalid continue token: continue key is not valid: \(detail)")
    }
}
