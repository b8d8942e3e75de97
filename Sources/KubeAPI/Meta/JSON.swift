/// Any JSON value: how KubeSim stores objects, and the "untyped object" for kinds without a
/// Swift type. Object keys keep no order; encoders that need one sort them.
public enum JSON: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSON].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 9e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// A member of an object (`nil` for anything else or a missing key).
    public subscript(key: String) -> JSON? {
        get {
            if case .object(let fields) = self { return fields[key] }
            return nil
        }
        set {
            guard case .object(var fields) = self else { return }
            fields[key] = newValue
            self = .object(fields)
        }
    }

    /// The value at a dotted path (`metadata.name`). Setting creates missing objects on the way;
    /// setting `nil` removes the member.
    public subscript(path path: String) -> JSON? {
        get { path.split(separator: ".").reduce(Optional(self)) { value, key in value?[String(key)] } }
        set { setValue(newValue, at: path.split(separator: ".").map(String.init)[...]) }
    }

    private mutating func setValue(_ value: JSON?, at keys: ArraySlice<String>) {
        guard let first = keys.first else { return }
        guard case .object(var fields) = self else { return }
        if keys.count == 1 {
            fields[first] = value
        } else {
            var child = fields[first] ?? .object([:])
            if case .object = child {} else { child = .object([:]) }
            child.setValue(value, at: keys.dropFirst())
            fields[first] = child
        }
        self = .object(fields)
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSON]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as a string map (labels, annotations); `nil` unless every member is a string.
    public var stringMap: [String: String]? {
        guard let object = objectValue else { return nil }
        var map: [String: String] = [:]
        for (key, value) in object {
            guard let text = value.stringValue else { return nil }
            map[key] = text
        }
        return map
    }

    /// Converts a Codable value to JSON.
    public init(encoding value: some Encodable) throws {
        let data = try JSONEncoderBox.encoder.encode(value)
        self = try JSONEncoderBox.decoder.decode(JSON.self, from: data)
    }

    /// Converts this JSON to a Codable value.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONEncoderBox.decoder.decode(T.self, from: JSONEncoderBox.encoder.encode(self))
    }
}

import Foundation

enum JSONEncoderBox {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static let decoder = JSONDecoder()
}
