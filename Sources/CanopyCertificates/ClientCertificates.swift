import Crypto
import Foundation
import SwiftASN1
import X509

extension ServerCertificate {
    /// Issues a client certificate signed by this (self-signed, CA) certificate: the common name
    /// is the user, each organization a group — how Kubernetes reads client certificates.
    public func issueClientCertificate(commonName: String, organizations: [String] = [], now: Date = Date()) throws -> (certificatePEM: String, keyPEM: String) {
        let subject = try DistinguishedName {
            for organization in organizations { OrganizationName(organization) }
            CommonName(commonName)
        }
        let issued = try issue(subject: subject, now: now, extensions: try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.clientAuth])
        })
        return (issued.certificatePEM, issued.keyPEM)
    }

    /// Issues a server certificate for `localhost` and 127.0.0.1 signed by this (self-signed, CA)
    /// certificate: what a server with its own CA presents (the tests' directory server).
    public func issueServerCertificate(commonName: String, now: Date = Date()) throws -> ServerCertificate {
        try issue(subject: try DistinguishedName { CommonName(commonName) }, now: now, extensions: try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
        })
    }

    /// A new P-256 key and a certificate for it, signed by this certificate, valid for a year.
    private func issue(subject: DistinguishedName, now: Date, extensions: Certificate.Extensions) throws -> ServerCertificate {
        let authority = try Certificate(pemEncoded: certificatePEM)
        let authorityKey = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(365 * 24 * 3600),
            issuer: authority.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: .init(authorityKey)
        )
        return ServerCertificate(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: key.pemRepresentation)
    }

    /// The user (common name) and groups (organizations) of a DER-encoded client certificate.
    public static func clientIdentity(derEncoded bytes: [UInt8]) throws -> (user: String, groups: [String]) {
        let certificate = try Certificate(derEncoded: bytes)
        var user = ""
        var groups: [String] = []
        for rdn in certificate.subject {
            for attribute in rdn {
                if attribute.type == .RDNAttributeType.commonName { user = Self.text(attribute.value) }
                if attribute.type == .RDNAttributeType.organizationName { groups.append(Self.text(attribute.value)) }
            }
        }
        return (user, groups)
    }

    private static func text(_ value: RelativeDistinguishedName.Attribute.Value) -> String {
        String(describing: value)
    }
}
