/// Every validation rule of the model, in one place. Each function throws a `ValidationError`
/// naming the field and the rule.
public enum Validate {
    /// Longest display name accepted, in characters.
    public static let maxDisplayNameLength = 256
    /// Shortest password accepted, in characters.
    public static let minPasswordLength = 8
    /// bcrypt reads only the first 72 bytes, so longer passwords are refused rather than silently
    /// truncated.
    public static let maxPasswordBytes = 72

    /// A name that becomes part of URLs and Kubernetes objects: a DNS-1123 label — 1 to 63
    /// characters, lowercase letters, digits and '-', starting and ending with a letter or digit.
    public static func name(_ value: String, field: String) throws(ValidationError) {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else {
            throw ValidationError(field: field, message: "must not be empty")
        }
        guard bytes.count <= 63 else {
            throw ValidationError(field: field, message: "must be at most 63 characters (DNS label)")
        }
        let allowed = bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        guard allowed, isLowerAlphanumeric(bytes.first!), isLowerAlphanumeric(bytes.last!) else {
            throw ValidationError(
                field: field,
                message: "must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
            )
        }
    }

    /// A free-text label shown to people: at most 256 characters, no control characters.
    public static func displayName(_ value: String, field: String) throws(ValidationError) {
        guard value.count <= maxDisplayNameLength else {
            throw ValidationError(field: field, message: "must be at most \(maxDisplayNameLength) characters")
        }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ValidationError(field: field, message: "must not contain control characters")
        }
    }

    /// A new local password: 8 characters to 72 bytes.
    public static func password(_ value: String, field: String) throws(ValidationError) {
        guard value.count >= minPasswordLength else {
            throw ValidationError(field: field, message: "must be at least \(minPasswordLength) characters")
        }
        guard value.utf8.count <= maxPasswordBytes else {
            throw ValidationError(field: field, message: "must be at most \(maxPasswordBytes) bytes")
        }
    }

    /// A directory group's name as used in a grant: 1 to 256 characters, no control characters.
    public static func groupName(_ value: String, field: String) throws(ValidationError) {
        guard !value.isEmpty else { throw ValidationError(field: field, message: "must not be empty") }
        try displayName(value, field: field)
    }

    /// An e-mail address: something@something, at most 254 characters.
    public static func email(_ value: String, field: String) throws(ValidationError) {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard value.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !value.contains(where: \.isWhitespace)
        else {
            throw ValidationError(field: field, message: "must be an e-mail address such as ann@example.com")
        }
    }

    /// A non-negative Kubernetes quantity such as `4`, `500m`, `1.5`, `32Gi` or `1e3`.
    public static func quantity(_ value: String, field: String) throws(ValidationError) {
        guard isQuantity(value) else {
            throw ValidationError(
                field: field,
                message: "must be a non-negative Kubernetes quantity such as 4, 500m, 1.5, 32Gi or 1e3"
            )
        }
    }

    private static let suffixes: Set<String> = [
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ]

    private static func isQuantity(_ value: String) -> Bool {
        guard !value.isEmpty, value.count <= 64 else { return false }
        var rest = Substring(value)
        if rest.first == "+" { rest = rest.dropFirst() }
        let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        rest = rest.dropFirst(number.count)
        let pieces = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, pieces.count <= 2, pieces.contains(where: { !$0.isEmpty }) else {
            return false
        }
        if suffixes.contains(String(rest)) { return true }
        if rest.first == "e" || rest.first == "E" {
            let exponent = rest.dropFirst().drop { $0 == "+" || $0 == "-" }
            return !exponent.isEmpty && exponent.allSatisfy { $0.isASCII && $0.isNumber }
                && rest.dropFirst().count - exponent.count <= 1
        }
        return false
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
