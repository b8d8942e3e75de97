/// A distinguished name in its string form (RFC 4514), parsed into relative names so that two
/// spellings of one entry compare equal (`CN=Dev Team, ou=Groups` and `cn=dev team,ou=groups`).
///
/// Attribute values are compared without regard to case, as the directory's usual matching rules
/// (`caseIgnoreMatch`, `distinguishedNameMatch`) do for names.
struct DistinguishedName: Hashable, Sendable, CustomStringConvertible {
    /// Attribute type and value pairs, one list per RDN, leftmost (most specific) first.
    let rdns: [[Attribute]]

    struct Attribute: Hashable, Sendable {
        let type: String
        let value: String
    }

    /// Parses `text`; throws `LDAPProtocolError` for a malformed name.
    init(_ text: String) throws {
        var rdns: [[Attribute]] = []
        var current: [Attribute] = []
        var type = ""
        var value: [UInt8] = []
        var readingValue = false
        let bytes = Array(text.utf8)
        var index = 0
        func finishAttribute() throws {
            let trimmedType = type.trimmingSpaces()
            guard !trimmedType.isEmpty else { throw LDAPProtocolError("a DN attribute without a type in \(text)") }
            let valueText = String(decoding: value, as: UTF8.self).trimmingSpaces()
            current.append(Attribute(type: trimmedType.lowercased(), value: valueText))
            type = ""
            value = []
            readingValue = false
        }
        while index < bytes.count {
            let byte = bytes[index]
            if !readingValue {
                if byte == UInt8(ascii: "=") {
                    readingValue = true
                } else {
                    type.unicodeScalars.append(Unicode.Scalar(byte))
                }
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { throw LDAPProtocolError("a DN ends in '\\': \(text)") }
                if index + 2 < bytes.count, let high = hexDigitValue(bytes[index + 1]), let low = hexDigitValue(bytes[index + 2]) {
                    value.append(high << 4 | low)
                    index += 3
                } else {
                    value.append(bytes[index + 1])
                    index += 2
                }
            case UInt8(ascii: ","), UInt8(ascii: ";"):
                try finishAttribute()
                rdns.append(current)
                current = []
                index += 1
            case UInt8(ascii: "+"):
                try finishAttribute()
                index += 1
            default:
                value.append(byte)
                index += 1
            }
        }
        if readingValue || !type.trimmingSpaces().isEmpty {
            guard readingValue else { throw LDAPProtocolError("a DN attribute without a value in \(text)") }
            try finishAttribute()
            rdns.append(current)
        }
        self.rdns = rdns.map { $0.sorted { ($0.type, $0.value) < ($1.type, $1.value) } }
    }

    /// The name in a canonical spelling: lower-case types and values, special characters escaped.
    var normalized: String {
        rdns.map { rdn in rdn.map { "\($0.type)=\(Self.escape($0.value.lowercased()))" }.joined(separator: "+") }.joined(separator: ",")
    }

    var description: String { normalized }

    static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool { lhs.normalized == rhs.normalized }
    func hash(into hasher: inout Hasher) { hasher.combine(normalized) }

    /// Escapes an attribute value for a DN string (RFC 4514 §2.4).
    static func escape(_ value: String) -> String {
        var escaped = ""
        let scalars = Array(value.unicodeScalars)
        for (offset, scalar) in scalars.enumerated() {
            switch scalar {
            case ",", "+", "\"", "\\", "<", ">", ";", "=":
                escaped += "\\\(scalar)"
            case "#" where offset == 0, " " where offset == 0 || offset == scalars.count - 1:
                escaped += "\\\(scalar)"
            case "\0":
                escaped += "\\00"
            default:
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars = scalars.dropFirst() }
        while scalars.last == " " { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
