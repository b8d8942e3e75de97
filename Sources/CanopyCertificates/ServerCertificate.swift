import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The server's TLS identity: a self-signed certificate (which is its own CA, so clients such as
/// `kubectl` can trust it by name) and its P-256 key, kept in the data folder as `tls.crt` and
/// `tls.key` (mode 0600) and reused on every start.
public struct ServerCertificate: Sendable {
    /// The certificate in PEM, to hand to clients as the CA to trust.
    public let certificatePEM: String
    /// The private key in PEM.
    public let keyPEM: String

    public init(certificatePEM: String, keyPEM: String) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }

    /// Loads the pair from `directory`, creating it on first start. The certificate names
    /// `localhost`, 127.0.0.1, ::1 and `host`, and is valid for ten years.
    public static func loadOrCreate(in directory: String, host: String) throws -> ServerCertificate {
        let folder = URL(fileURLWithPath: directory)
        let certificateURL = folder.appendingPathComponent("tls.crt"), keyURL = folder.appendingPathComponent("tls.key")
        if let certificate = try? String(contentsOf: certificateURL, encoding: .utf8), let key = try? String(contentsOf: keyURL, encoding: .utf8) {
            return ServerCertificate(certificatePEM: certificate, keyPEM: key)
        }
        let created = try create(host: host)
        // The key's file is made readable by its owner only before the key goes into it; if it
        // cannot be made, nothing is written (the key would get the umask's permissions).
        guard FileManager.default.createFile(atPath: keyURL.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: keyURL.path])
        }
        try created.keyPEM.write(to: keyURL, atomically: false, encoding: .utf8)
        try created.certificatePEM.write(to: certificateURL, atomically: true, encoding: .utf8)
        return created
    }

    /// A new self-signed pair, valid for `localhost`, 127.0.0.1, ::1 (unless `loopback` is false),
    /// `host` and `dnsNames`.
    public static func create(
        host: String, commonName: String = "Canopy server", dnsNames: [String] = [], loopback: Bool = true, now: Date = Date()
    ) throws -> ServerCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Canopy")
            CommonName(commonName)
        }
        var names: [GeneralName] = loopback ? [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                                               .ipAddress(ASN1OctetString(contentBytes: ArraySlice(Array(repeating: 0, count: 15) + [1])))] : []
        if let address = IPv4(host) {
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))))
        } else if !host.isEmpty, host != "localhost", host != "0.0.0.0", host != "::" {
            names.append(.dnsName(host))
        }
        names += dnsNames.map { .dnsName($0) }
        let subjectAlternativeNames = names
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 24 * 3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(subjectAlternativeNames)
            },
            issuerPrivateKey: .init(key)
        )
        return ServerCertificate(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: key.pemRepresentation)
    }

    /// A NIOSSL server configuration presenting this certificate.
    public func serverTLSConfiguration() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        )
    }

    private static func IPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".").compactMap { UInt8($0) }
        return parts.count == 4 && text.split(separator: ".").count == 4 ? parts : nil
    }
}
