import Crypto
import Foundation

/// An API token's secret: 256 random bits, shown to its owner once. Only `hash` is stored.
public struct TokenSecret: Sendable, Equatable {
    /// The prefix every Canopy token starts with, so that leaked tokens are easy to recognise.
    public static let prefix = "cnp_"

    /// The token as the client sends it: `cnp_` and 43 base64url characters.
    public let text: String

    /// A fresh random secret.
    public static func generate() -> TokenSecret {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return TokenSecret(text: prefix + encoded)
    }

    public init(text: String) { self.text = text }

    /// The SHA-256 of the token, as lowercase hex: what the store keeps and looks up.
    public var hash: String { Self.hash(of: text) }

    /// The SHA-256 of any presented token text.
    public static func hash(of text: String) -> String {
        // This runs on every proxied request: the text's bytes are hashed where they lie (no
        // `Data` copy, no iterator over the digest) and the hex written straight into the string.
        var text = text, hasher = SHA256()
        text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize().withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { hex in
                for (index, byte) in bytes.enumerated() {
                    hex[index * 2] = hexDigits[Int(byte >> 4)]
                    hex[index * 2 + 1] = hexDigits[Int(byte & 0x0F)]
                }
                return bytes.count * 2
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
