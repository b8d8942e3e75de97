import SwiftASN1

/// A search filter (RFC 4511 §4.5.1.7), parsed from its string form (RFC 4515).
///
/// Administrators write filters as templates (`(uid={username})`); `LDAPFilter.fill(_:with:)`
/// escapes each substituted value before parsing, so a value can never change the filter's
/// structure: `*)(uid=*` becomes the literal value `*)(uid=*`.
indirect enum LDAPFilter: Sendable, Equatable {
    case and([LDAPFilter])
    case or([LDAPFilter])
    case not(LDAPFilter)
    case equal(String, [UInt8])
    case substrings(String, initial: [UInt8]?, any: [[UInt8]], final: [UInt8]?)
    case greaterOrEqual(String, [UInt8])
    case lessOrEqual(String, [UInt8])
    case present(String)
    case approximate(String, [UInt8])

    /// Escapes a value for a filter string (RFC 4515 §3): `*`, `(`, `)`, `\` and NUL as `\XX`.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "*": escaped += "\\2a"
            case "(": escaped += "\\28"
            case ")": escaped += "\\29"
            case "\\": escaped += "\\5c"
            case "\0": escaped += "\\00"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// Substitutes `{name}` placeholders of `template` with escaped `values`, then parses.
    /// One pass over the template, so a value that itself reads `{dn}` stays literal.
    static func fill(_ template: String, with values: [String: String]) throws -> LDAPFilter {
        var text = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            text += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}"), let value = values[String(rest[rest.index(after: open)..<close])] else {
                throw LDAPFilterError(message: "unknown placeholder in \(template); use \(values.keys.sorted().map { "{\($0)}" }.joined(separator: " or "))")
            }
            text += escape(value)
            rest = rest[rest.index(after: close)...]
        }
        text += rest
        return try LDAPFilter(parsing: text)
    }

    /// Parses a filter string; throws `LDAPFilterError` naming the position of the first mistake.
    init(parsing text: String) throws {
        var parser = Parser(bytes: Array(text.utf8))
        self = try parser.filter()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the filter") }
    }

    /// Appends the filter's BER encoding (context tags 0…8).
    func encode(into serializer: inout DER.Serializer) throws {
        func tag(_ number: UInt) -> ASN1Identifier { ASN1Identifier(tagWithNumber: number, tagClass: .contextSpecific) }
        func assertion(_ number: UInt, _ attribute: String, _ value: [UInt8]) throws {
            serializer.appendConstructedNode(identifier: tag(number)) { pair in
                pair.octets(attribute)
                pair.octets(value)
            }
        }
        switch self {
        case .and(let filters), .or(let filters):
            let number: UInt = if case .and = self { 0 } else { 1 }
            try serializer.appendConstructedNode(identifier: tag(number)) { set in
                for filter in filters { try filter.encode(into: &set) }
            }
        case .not(let filter):
            try serializer.appendConstructedNode(identifier: tag(2)) { try filter.encode(into: &$0) }
        case .equal(let attribute, let value): try assertion(3, attribute, value)
        case .substrings(let attribute, let initial, let any, let final):
            serializer.appendConstructedNode(identifier: tag(4)) { body in
                body.octets(attribute)
                body.appendConstructedNode(identifier: .sequence) { parts in
                    if let initial { parts.octets(initial, identifier: tag(0)) }
                    for part in any { parts.octets(part, identifier: tag(1)) }
                    if let final { parts.octets(final, identifier: tag(2)) }
                }
            }
        case .greaterOrEqual(let attribute, let value): try assertion(5, attribute, value)
        case .lessOrEqual(let attribute, let value): try assertion(6, attribute, value)
        case .present(let attribute): serializer.octets(attribute, identifier: tag(7))
        case .approximate(let attribute, let value): try assertion(8, attribute, value)
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        func error(_ message: String) -> LDAPFilterError {
            LDAPFilterError(message: "\(message) at position \(index + 1) of \(String(decoding: bytes, as: UTF8.self))")
        }

        mutating func expect(_ character: Character) throws {
            guard index < bytes.count, bytes[index] == character.asciiValue! else { throw error("expected '\(character)'") }
            index += 1
        }

        mutating func filter() throws -> LDAPFilter {
            try expect("(")
            guard index < bytes.count else { throw error("unfinished filter") }
            let result: LDAPFilter
            switch bytes[index] {
            case UInt8(ascii: "&"):
                index += 1
                result = .and(try list())
            case UInt8(ascii: "|"):
                index += 1
                result = .or(try list())
            case UInt8(ascii: "!"):
                index += 1
                result = .not(try filter())
            default:
                result = try item()
            }
            try expect(")")
            return result
        }

        mutating func list() throws -> [LDAPFilter] {
            var filters: [LDAPFilter] = []
            while index < bytes.count, bytes[index] == UInt8(ascii: "(") { filters.append(try filter()) }
            guard !filters.isEmpty else { throw error("'&' and '|' need at least one filter") }
            return filters
        }

        mutating func item() throws -> LDAPFilter {
            let start = index
            while index < bytes.count, Self.isAttributeByte(bytes[index]) { index += 1 }
            let attribute = String(decoding: bytes[start..<index], as: UTF8.self)
            guard !attribute.isEmpty else { throw error("expected an attribute name") }
            guard index < bytes.count else { throw error("unfinished filter") }
            var kind = bytes[index]
            if kind == UInt8(ascii: "~") || kind == UInt8(ascii: ">") || kind == UInt8(ascii: "<") {
                index += 1
                guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { throw error("expected '='") }
            } else if kind == UInt8(ascii: ":") {
                throw error("extensible match filters are not supported")
            } else {
                kind = UInt8(ascii: "=")
            }
            try expect("=")
            // The value runs to the closing parenthesis; unescaped '*' splits substrings.
            var parts: [[UInt8]] = [[]]
            while index < bytes.count, bytes[index] != UInt8(ascii: ")") {
                let byte = bytes[index]
                if byte == UInt8(ascii: "(") { throw error("'(' inside a value must be escaped as \\28") }
                if byte == UInt8(ascii: "*") {
                    parts.append([])
                    index += 1
                } else if byte == UInt8(ascii: "\\") {
                    guard index + 2 < bytes.count, let high = hexDigitValue(bytes[index + 1]), let low = hexDigitValue(bytes[index + 2]) else {
                        throw error("'\\' must be followed by two hexadecimal digits")
                    }
                    parts[parts.count - 1].append(high << 4 | low)
                    index += 3
                } else {
                    parts[parts.count - 1].append(byte)
                    index += 1
                }
            }
            switch kind {
            case UInt8(ascii: "="):
                if parts.count == 1 { return .equal(attribute, parts[0]) }
                if parts.count == 2, parts[0].isEmpty, parts[1].isEmpty { return .present(attribute) }
                return .substrings(
                    attribute, initial: parts.first!.isEmpty ? nil : parts.first!,
                    any: parts.dropFirst().dropLast().filter { !$0.isEmpty }, final: parts.last!.isEmpty ? nil : parts.last!
                )
            default:
                guard parts.count == 1 else { throw error("'*' must be escaped as \\2a in this comparison") }
                switch kind {
                case UInt8(ascii: ">"): return .greaterOrEqual(attribute, parts[0])
                case UInt8(ascii: "<"): return .lessOrEqual(attribute, parts[0])
                default: return .approximate(attribute, parts[0])
                }
            }
        }

        static func isAttributeByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ";")
        }
    }
}

/// A filter string that does not follow RFC 4515.
public struct LDAPFilterError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}


/// The value of one hexadecimal digit (for `\XX` escapes in filters and DNs).
func hexDigitValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}
