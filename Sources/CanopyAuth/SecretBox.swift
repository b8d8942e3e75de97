import Crypto
import Foundation

/// Encrypts secrets at rest (cluster credentials, directory bind passwords) with AES-256-GCM.
///
/// The key comes from `CANOPY_SECRET_KEY` (32 bytes, base64) or from `secret.key` in the data
/// folder, created on first use with mode 0600. A sealed value is `v1:` and the base64 of
/// nonce ‖ ciphertext ‖ tag; the version prefix leaves room for key rotation.
public struct SecretBox: Sendable {
    /// The key's bytes (`SymmetricKey` itself is not `Sendable`).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// A box with a known key (tests, or a key read elsewhere).
    public init(key: SymmetricKey) throws {
        guard key.bitCount == 256 else { throw AuthError(.secretKey, "the secret key must be 32 bytes") }
        keyBytes = key.withUnsafeBytes { Array($0) }
    }

    /// The box of a data folder: `CANOPY_SECRET_KEY` when set, else `DIR/secret.key` (created
    /// with a random key, mode 0600, when missing).
    public static func load(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretBox {
        if let encoded = environment["CANOPY_SECRET_KEY"] {
            guard let bytes = Data(base64Encoded: encoded), bytes.count == 32 else {
                throw AuthError(.secretKey, "CANOPY_SECRET_KEY must be 32 random bytes in base64 (e.g. `head -c 32 /dev/urandom | base64`)")
            }
            return try SecretBox(key: SymmetricKey(data: bytes))
        }
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("secret.key").path
        if let existing = FileManager.default.contents(atPath: path) {
            guard existing.count == 32 else { throw AuthError(.secretKey, "\(path) must hold exactly 32 bytes") }
            return try SecretBox(key: SymmetricKey(data: existing))
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600]) else {
            throw AuthError(.secretKey, "cannot write the secret key to \(path)")
        }
        return try SecretBox(key: key)
    }

    /// Encrypts `plaintext`; every call uses a fresh random nonce.
    public func seal(_ plaintext: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key)
        guard let combined = box.combined else { throw AuthError(.secretKey, "AES-GCM produced no output") }
        return "v1:" + combined.base64EncodedString()
    }

    /// Decrypts what `seal` produced; fails for another key or any tampering.
    public func open(_ sealed: String) throws -> String {
        guard sealed.hasPrefix("v1:"), let data = Data(base64Encoded: String(sealed.dropFirst(3))) else {
            throw AuthError(.secretKey, "not a sealed secret")
        }
        let plaintext = try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: key)
        return String(decoding: plaintext, as: UTF8.self)
    }
}
