import CanopyAuth
import Crypto
import Foundation
import Testing

@Suite struct SecretBoxTests {
    @Test func sealsAndOpensAndDetectsTampering() throws {
        let box = try SecretBox(key: SymmetricKey(size: .bits256))
        let sealed = try box.seal("token: secret-value")
        #expect(sealed.hasPrefix("v1:") && !sealed.contains("secret-value"))
        #expect(try box.seal("same") != box.seal("same"))
        #expect(try box.open(sealed) == "token: secret-value")
        var bytes = [UInt8](Data(base64Encoded: String(sealed.dropFirst(3)))!)
        bytes[bytes.count / 2] ^= 1
        #expect(throws: (any Error).self) { try box.open("v1:" + Data(bytes).base64EncodedString()) }
        let other = try SecretBox(key: SymmetricKey(size: .bits256))
        #expect(throws: (any Error).self) { try other.open(sealed) }
    }

    @Test func theKeyLivesInTheDataFolderOrTheEnvironment() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secretbox-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try SecretBox.load(dataDirectory: directory, environment: [:])
        let sealed = try first.seal("kubeconfig")
        let mode = try FileManager.default.attributesOfItem(atPath: directory + "/secret.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try SecretBox.load(dataDirectory: directory, environment: [:]).open(sealed) == "kubeconfig")
        let key = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let fromEnvironment = try SecretBox.load(dataDirectory: directory, environment: ["CANOPY_SECRET_KEY": key])
        #expect(throws: (any Error).self) { try fromEnvironment.open(sealed) }
        #expect(throws: (any Error).self) { try SecretBox.load(dataDirectory: directory, environment: ["CANOPY_SECRET_KEY": "short"]) }
    }
}
