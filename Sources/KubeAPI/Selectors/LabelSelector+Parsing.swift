/// Why a selector text cannot be read.
public struct SelectorParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "unable to parse requirement: \(reason) in '\(text)'" }
}

extension LabelSelector {
    /// Parses the text form; keys and values are checked against Kubernetes' label syntax.
    public init(parsing text: String) throws {
        var scanner = SelectorScanner(text: text)
        var requirements: [Requirement] = []
        scanner.skipSpaces()
        while !scanner.isAtEnd {
            requirements.append(try scanner.requirement())
            scanner.skipSpaces()
            if scanner.isAtEnd { break }
            guard scanner.take(",") else { throw scanner.error("expected ','") }
            scanner.skipSpaces()
            if scanner.isAtEnd { throw scanner.error("found '', expected: identifier after ','") }
        }
        self.init(requirements)
    }
}

/// A hand-written scanner for selector text.
struct SelectorScanner {
    let text: String
    private var rest: Substring

    init(text: String) {
        self.text = text
        rest = Substring(text)
    }

    var isAtEnd: Bool { rest.isEmpty }

    mutating func skipSpaces() { rest = rest.drop { $0 == " " } }

    mutating func take(_ token: String) -> Bool {
        guard rest.hasPrefix(token) else { return false }
        rest = rest.dropFirst(token.count)
        return true
    }

    func error(_ reason: String) -> SelectorParseError { SelectorParseError(text: text, reason: reason) }

    mutating func word() -> String {
        let word = rest.prefix { !" ,=!()".contains($0) }
        rest = rest.dropFirst(word.count)
        return String(word)
    }

    mutating func requirement() throws -> LabelSelector.Requirement {
        if take("!") {
            skipSpaces()
            return .doesNotExist(try key())
        }
        let key = try key()
        skipSpaces()
        if take("==") || take("=") {
            skipSpaces()
            return .equals(key, try value())
        }
        if take("!=") {
            skipSpaces()
            return .notEquals(key, try value())
        }
        let saved = rest
        let keyword = word()
        if keyword == "in" || keyword == "notin" {
            skipSpaces()
            let values = try valueSet()
            return keyword == "in" ? .in(key, values) : .notIn(key, values)
        }
        rest = saved
        return .exists(key)
    }

    mutating func valueSet() throws -> Set<String> {
        guard take("(") else { throw error("expected '('") }
        skipSpaces()
        if rest.hasPrefix(")") { throw error("for 'in', 'notin' operators, values set can't be empty") }
        var values = Set<String>()
        while true {
            skipSpaces()
            values.insert(try value())
            skipSpaces()
            if take(")") { break }
            guard take(",") else { throw error("expected ',' or ')'") }
        }
        return values
    }

    mutating func key() throws -> String {
        let key = word()
        guard LabelSyntax.isValidKey(key) else { throw error("invalid label key \"\(key)\"") }
        return key
    }

    mutating func value() throws -> String {
        let value = word()
        guard LabelSyntax.isValidValue(value) else { throw error("invalid label value \"\(value)\"") }
        return value
    }
}

/// Kubernetes' label key and value syntax.
public enum LabelSyntax {
    /// `[prefix/]name`: name up to 63 characters of alphanumerics, `-`, `_`, `.`, starting and
    /// ending alphanumeric; prefix a DNS subdomain up to 253 characters.
    public static func isValidKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return isName(parts[0])
        case 2: return isSubdomain(parts[0]) && isName(parts[1])
        default: return false
        }
    }

    /// Empty, or up to 63 characters of alphanumerics, `-`, `_`, `.`, starting and ending
    /// alphanumeric.
    public static func isValidValue(_ value: String) -> Bool { value.isEmpty || isName(Substring(value)) }

    static func isName(_ name: Substring) -> Bool {
        guard (1...63).contains(name.count), let first = name.first, let last = name.last else { return false }
        return isAlphanumeric(first) && isAlphanumeric(last)
            && name.allSatisfy { isAlphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    static func isSubdomain(_ name: Substring) -> Bool {
        guard (1...253).contains(name.count) else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last, label.count <= 63 else { return false }
            return isLowerAlphanumeric(first) && isLowerAlphanumeric(last) && label.allSatisfy { isLowerAlphanumeric($0) || $0 == "-" }
        }
    }

    static func isAlphanumeric(_ character: Character) -> Bool { character.isASCII && (character.isLetter || character.isNumber) }
    static func isLowerAlphanumeric(_ character: Character) -> Bool { character.isASCII && (character.isLowercase || character.isNumber) }
}
