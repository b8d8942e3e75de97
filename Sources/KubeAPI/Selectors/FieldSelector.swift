import Foundation

/// A field selector (`metadata.name=web,status.phase!=Running`): equality requirements on an
/// object's fields, addressed by dotted path.
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    /// One requirement: the field at `path` equals (or, with `negated`, differs from) `value`.
    public struct Requirement: Sendable, Hashable {
        public let path: String
        public let value: String
        public let negated: Bool

        public init(path: String, value: String, negated: Bool = false) {
            self.path = path
            self.value = value
            self.negated = negated
        }
    }

    public let requirements: [Requirement]

    public init(_ requirements: [Requirement] = []) { self.requirements = requirements }

    /// Parses `a=b,c==d,e!=f`; a backslash escapes `,`, `=` and `!` in values.
    public init(parsing text: String) throws {
        var requirements: [Requirement] = []
        for term in Self.splitUnescaped(text, on: ",") where !term.isEmpty {
            let (path, value, negated): (String, String, Bool)
            if let range = term.range(of: "!=") {
                (path, value, negated) = (String(term[..<range.lowerBound]), String(term[range.upperBound...]), true)
            } else if let range = term.range(of: "==") {
                (path, value, negated) = (String(term[..<range.lowerBound]), String(term[range.upperBound...]), false)
            } else if let range = term.range(of: "=") {
                (path, value, negated) = (String(term[..<range.lowerBound]), String(term[range.upperBound...]), false)
            } else {
                throw SelectorParseError(text: text, reason: "invalid field selector: '\(term)': must be 'key=value', 'key==value' or 'key!=value'")
            }
            let unescaped = value.replacingOccurrences(of: "\\,", with: ",").replacingOccurrences(of: "\\=", with: "=")
                .replacingOccurrences(of: "\\!", with: "!").replacingOccurrences(of: "\\\\", with: "\\")
            requirements.append(Requirement(path: path.trimmingCharacters(in: .whitespaces), value: unescaped, negated: negated))
        }
        self.init(requirements)
    }

    /// Whether the fields (read through `field`, which returns a field's text by path) satisfy
    /// every requirement.
    public func matches(_ field: (String) -> String?) -> Bool {
        requirements.allSatisfy { requirement in
            (field(requirement.path) ?? "") == requirement.value ? !requirement.negated : requirement.negated
        }
    }

    public var description: String {
        requirements.map { "\($0.path)\($0.negated ? "!=" : "=")\($0.value)" }.joined(separator: ",")
    }

    private static func splitUnescaped(_ text: String, on separator: Character) -> [String] {
        var parts: [String] = [], current = "", escaped = false
        for character in text {
            if escaped {
                current.append("\\"); current.append(character); escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == separator {
                parts.append(current); current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts
    }
}
