/// A typed identifier: `Identifier<Tenant>` and `Identifier<Project>` cannot be mixed up even
/// though both are strings underneath.
///
/// Identifiers are opaque, random and never reused; names (which people choose and may reuse
/// after a delete) are separate fields.
public struct Identifier<Tag>: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The identifier's text, as stored and as it appears in the API.
    public let rawValue: String

    /// Wraps an existing identifier's text.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A fresh random identifier: 16 random bytes as lowercase hex (128 bits, collision-free in
    /// practice).
    public static func random() -> Self {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<2).map { _ in
            let value = generator.next() as UInt64
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
        return Self(hex)
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Dictionaries keyed by identifiers encode as JSON objects, not as key-value arrays.
extension Identifier: CodingKeyRepresentable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public var codingKey: any CodingKey { Key(stringValue: rawValue) }
    public init?<T: CodingKey>(codingKey: T) { self.init(codingKey.stringValue) }
}

public typealias TenantID = Identifier<Tenant>
public typealias UserID = Identifier<User>
public typealias ProjectID = Identifier<Project>
public typealias GrantID = Identifier<Grant>
public typealias TokenID = Identifier<APIToken>
