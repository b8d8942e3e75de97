import SwiftASN1

/// The LDAPv3 operations Canopy sends (RFC 4511 §4.2, 4.3, 4.5.1, 4.12).
enum LDAPRequest: Sendable {
    case bind(dn: String, password: String)
    case unbind
    case search(LDAPSearch)
    case extended(oid: String)

    /// The StartTLS extended operation (RFC 4511 §4.14).
    static let startTLS = LDAPRequest.extended(oid: "1.3.6.1.4.1.1466.20037")
}

/// A search request.
struct LDAPSearch: Sendable {
    enum Scope: Int, Sendable {
        case baseObject = 0, singleLevel = 1, wholeSubtree = 2
    }

    var base: String
    var scope: Scope = .wholeSubtree
    var filter: LDAPFilter
    /// Attributes to return; `["1.1"]` asks for none (RFC 4511 §4.5.1.8).
    var attributes: [String]
    /// Entries at most; 0 means the server's limit.
    var sizeLimit = 0
    /// Seconds the server may spend; 0 means the server's limit.
    var timeLimit = 0
}

/// A request or response control (RFC 4511 §4.1.11).
struct LDAPControl: Sendable, Equatable {
    var oid: String
    var critical = false
    var value: [UInt8]?

    static let pagedResultsOID = "1.2.840.113556.1.4.319"

    /// The simple paged results control (RFC 2696): `size` entries per page, continuing at `cookie`.
    static func pagedResults(size: Int, cookie: [UInt8]) throws -> LDAPControl {
        var value = DER.Serializer()
        try value.appendConstructedNode(identifier: .sequence) { sequence in
            try sequence.serialize(size)
            sequence.appendPrimitiveNode(identifier: .octetString) { $0.append(contentsOf: cookie) }
        }
        return LDAPControl(oid: pagedResultsOID, value: value.serializedBytes)
    }

    /// The cookie of a paged-results response control; empty when the last page was sent.
    func pagedResultsCookie() throws -> [UInt8] {
        guard let value else { throw LDAPProtocolError("paged results control without a value") }
        let node = try BER.parse(value)
        guard case .constructed(let children) = node.content else { throw LDAPProtocolError("paged results value is not a sequence") }
        let parts = Array(children)
        guard parts.count == 2 else { throw LDAPProtocolError("paged results value has \(parts.count) parts") }
        return try parts[1].octets()
    }
}

/// An LDAP result: code, matched DN and the server's diagnostic message (RFC 4511 §4.1.9).
struct LDAPResult: Sendable, Equatable {
    var code: Int
    var matchedDN: String
    var diagnostic: String

    static let success = 0
    static let sizeLimitExceeded = 4
    static let invalidCredentials = 49

    var isSuccess: Bool { code == Self.success }

    /// The code's name from RFC 4511, for messages an administrator reads.
    var name: String {
        switch code {
        case 0: "success"
        case 1: "operationsError"
        case 2: "protocolError"
        case 3: "timeLimitExceeded"
        case 4: "sizeLimitExceeded"
        case 7: "authMethodNotSupported"
        case 8: "strongerAuthRequired"
        case 10: "referral"
        case 11: "adminLimitExceeded"
        case 13: "confidentialityRequired"
        case 32: "noSuchObject"
        case 34: "invalidDNSyntax"
        case 48: "inappropriateAuthentication"
        case 49: "invalidCredentials"
        case 50: "insufficientAccessRights"
        case 51: "busy"
        case 52: "unavailable"
        case 53: "unwillingToPerform"
        default: "result \(code)"
        }
    }

    /// "invalidCredentials (49): <diagnostic>".
    var summary: String { diagnostic.isEmpty ? "\(name) (\(code))" : "\(name) (\(code)): \(diagnostic)" }
}

/// One entry of a search result; attribute names are kept as the server spelled them and looked
/// up without regard to case.
struct LDAPEntry: Sendable, Equatable {
    var dn: String
    var attributes: [(name: String, values: [String])]

    static func == (lhs: LDAPEntry, rhs: LDAPEntry) -> Bool {
        lhs.dn == rhs.dn && lhs.attributes.map(\.name) == rhs.attributes.map(\.name) && lhs.attributes.map(\.values) == rhs.attributes.map(\.values)
    }

    /// The values of `name` (case-insensitive), empty when absent.
    func values(_ name: String) -> [String] {
        attributes.first { $0.name.lowercased() == name.lowercased() }?.values ?? []
    }
}

/// What the server sends back.
enum LDAPResponse: Sendable {
    case bind(LDAPResult)
    case searchEntry(LDAPEntry)
    case searchReference([String])
    case searchDone(LDAPResult, controls: [LDAPControl])
    case extended(LDAPResult)

    /// The last message of an operation's answer.
    var isFinal: Bool {
        switch self {
        case .searchEntry, .searchReference: false
        default: true
        }
    }
}

/// A message that breaks RFC 4511's grammar, from either side.
struct LDAPProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Encodes requests and decodes responses (RFC 4511 §4.1.1 `LDAPMessage`), with swift-asn1.
enum LDAPCodec {
    static func application(_ number: UInt) -> ASN1Identifier { ASN1Identifier(tagWithNumber: number, tagClass: .application) }
    static func context(_ number: UInt) -> ASN1Identifier { ASN1Identifier(tagWithNumber: number, tagClass: .contextSpecific) }

    /// The bytes of one `LDAPMessage`.
    static func encode(messageID: Int, _ request: LDAPRequest, controls: [LDAPControl] = []) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { message in
            try message.serialize(messageID)
            try encode(request, into: &message)
            if !controls.isEmpty {
                try message.appendConstructedNode(identifier: context(0)) { list in
                    for control in controls {
                        try list.appendConstructedNode(identifier: .sequence) { sequence in
                            sequence.octets(control.oid)
                            if control.critical { try sequence.serialize(true) }
                            if let value = control.value { sequence.octets(value) }
                        }
                    }
                }
            }
        }
        return serializer.serializedBytes
    }

    private static func encode(_ request: LDAPRequest, into message: inout DER.Serializer) throws {
        switch request {
        case .bind(let dn, let password):
            try message.appendConstructedNode(identifier: application(0)) { bind in
                try bind.serialize(3)
                bind.octets(dn)
                bind.octets(password, identifier: context(0))
            }
        case .unbind:
            message.appendPrimitiveNode(identifier: application(2)) { _ in }
        case .search(let search):
            try message.appendConstructedNode(identifier: application(3)) { body in
                body.octets(search.base)
                try body.enumerated(search.scope.rawValue)
                try body.enumerated(0)  // derefAliases: never
                try body.serialize(search.sizeLimit)
                try body.serialize(search.timeLimit)
                try body.serialize(false)
                try search.filter.encode(into: &body)
                body.appendConstructedNode(identifier: .sequence) { list in
                    for attribute in search.attributes { list.octets(attribute) }
                }
            }
        case .extended(let oid):
            message.appendConstructedNode(identifier: application(23)) { body in
                body.octets(oid, identifier: context(0))
            }
        }
    }

    /// The message id and response of one complete `LDAPMessage`.
    static func decode(_ bytes: [UInt8]) throws -> (messageID: Int, response: LDAPResponse?) {
        let root = try BER.parse(bytes)
        let parts = try root.children()
        guard parts.count >= 2 else { throw LDAPProtocolError("an LDAPMessage needs an id and an operation") }
        let messageID = try parts[0].integer()
        let operation = parts[1]
        guard operation.identifier.tagClass == .application else { throw LDAPProtocolError("operation without an application tag") }
        switch operation.identifier.tagNumber {
        case 1:
            return (messageID, .bind(try result(of: operation)))
        case 4:
            let fields = try operation.children()
            guard fields.count == 2 else { throw LDAPProtocolError("a search entry needs a DN and attributes") }
            let attributes = try fields[1].children().map { attribute -> (String, [String]) in
                let pair = try attribute.children()
                guard pair.count == 2 else { throw LDAPProtocolError("an attribute needs a type and values") }
                return (try pair[0].string(), try pair[1].children().map { try $0.string() })
            }
            return (messageID, .searchEntry(LDAPEntry(dn: try fields[0].string(), attributes: attributes.map { (name: $0.0, values: $0.1) })))
        case 5:
            var controls: [LDAPControl] = []
            if parts.count > 2, parts[2].identifier == context(0) {
                controls = try parts[2].children().map { control in
                    let fields = try control.children()
                    guard let first = fields.first else { throw LDAPProtocolError("empty control") }
                    var decoded = LDAPControl(oid: try first.string())
                    for field in fields.dropFirst() {
                        if field.identifier == .boolean { decoded.critical = try field.octets() != [0] }
                        if field.identifier == .octetString { decoded.value = try field.octets() }
                    }
                    return decoded
                }
            }
            return (messageID, .searchDone(try result(of: operation), controls: controls))
        case 19:
            return (messageID, .searchReference(try operation.children().map { try $0.string() }))
        case 24:
            return (messageID, .extended(try result(of: operation)))
        default:
            // Operations Canopy never asked for (intermediate responses): ignored.
            return (messageID, nil)
        }
    }

    private static func result(of node: ASN1Node) throws -> LDAPResult {
        let fields = try node.children()
        guard fields.count >= 3 else { throw LDAPProtocolError("an LDAPResult needs a code, a matched DN and a message") }
        return LDAPResult(code: try fields[0].integer(), matchedDN: try fields[1].string(), diagnostic: try fields[2].string())
    }

    /// The length of the first complete BER element in `bytes`, or `nil` when more bytes are
    /// needed. LDAP uses definite lengths only (RFC 4511 §5.1).
    static func frameLength(_ bytes: some Collection<UInt8>) throws -> Int? {
        var index = bytes.startIndex
        guard index != bytes.endIndex else { return nil }
        index = bytes.index(after: index)  // the tag: LDAPMessage is a SEQUENCE, one byte.
        guard index != bytes.endIndex else { return nil }
        let first = bytes[index]
        index = bytes.index(after: index)
        if first < 0x80 { return 2 + Int(first) }
        let count = Int(first & 0x7f)
        guard count > 0 else { throw LDAPProtocolError("indefinite length") }
        guard count <= 4 else { throw LDAPProtocolError("a message longer than 4 GiB") }
        var length = 0
        for _ in 0..<count {
            guard index != bytes.endIndex else { return nil }
            length = length << 8 | Int(bytes[index])
            index = bytes.index(after: index)
        }
        return 2 + count + length
    }
}

extension DER.Serializer {
    /// Appends an OCTET STRING (or an implicitly tagged one).
    mutating func octets(_ string: String, identifier: ASN1Identifier = .octetString) {
        appendPrimitiveNode(identifier: identifier) { $0.append(contentsOf: string.utf8) }
    }

    mutating func octets(_ bytes: [UInt8], identifier: ASN1Identifier = .octetString) {
        appendPrimitiveNode(identifier: identifier) { $0.append(contentsOf: bytes) }
    }

    /// Appends an ENUMERATED, which shares INTEGER's encoding.
    mutating func enumerated(_ value: Int) throws {
        var plain = DER.Serializer()
        try plain.serialize(value)
        guard case .primitive(let content) = try BER.parse(plain.serializedBytes).content else { return }
        appendPrimitiveNode(identifier: .enumerated) { $0.append(contentsOf: content) }
    }
}

extension ASN1Node {
    func children() throws -> [ASN1Node] {
        guard case .constructed(let nodes) = content else { throw LDAPProtocolError("expected a constructed element, got \(identifier)") }
        return Array(nodes)
    }

    func octets() throws -> [UInt8] {
        guard case .primitive(let bytes) = content else { throw LDAPProtocolError("expected a primitive element, got \(identifier)") }
        return Array(bytes)
    }

    func string() throws -> String { String(decoding: try octets(), as: UTF8.self) }

    /// A two's-complement INTEGER or ENUMERATED of at most 8 bytes.
    func integer() throws -> Int {
        let bytes = try octets()
        guard !bytes.isEmpty, bytes.count <= 8 else { throw LDAPProtocolError("an integer of \(bytes.count) bytes") }
        var value = bytes[0] & 0x80 != 0 ? -1 : 0
        for byte in bytes { value = value << 8 | Int(byte) }
        return value
    }
}
