import Foundation

/// The subset of JSON Schema that Canopy's OpenAPI document uses for request bodies: enough to
/// refuse unknown fields, wrong types and missing required fields before any handler runs.
indirect enum Schema: Sendable {
    case object(properties: [String: Schema], required: Set<String>, allowsOtherFields: Bool)
    case array(items: Schema, maxItems: Int?)
    case string(allowed: [String]?, maxLength: Int?)
    case integer(minimum: Int?, maximum: Int?)
    case number(minimum: Double?, maximum: Double?)
    /// An object whose every value follows one schema (`additionalProperties: {…}`).
    case map(values: Schema)
    case boolean
    case reference(String)
    case any

    /// Reads one schema from the parsed YAML of the OpenAPI document.
    init(yaml: Any) throws {
        guard let node = yaml as? [String: Any] else { throw OpenAPIDocument.LoadError("a schema is not a mapping") }
        if let ref = node["$ref"] as? String {
            self = .reference(String(ref.split(separator: "/").last ?? ""))
            return
        }
        switch node["type"] as? String {
        case "object" where node["additionalProperties"] is [String: Any]:
            self = .map(values: try Schema(yaml: node["additionalProperties"] as Any))
        case "object":
            let properties = try (node["properties"] as? [String: Any] ?? [:]).mapValues(Schema.init(yaml:))
            let required = Set(node["required"] as? [String] ?? [])
            self = .object(properties: properties, required: required, allowsOtherFields: node["additionalProperties"] as? Bool ?? true)
        case "array":
            self = .array(items: try node["items"].map(Schema.init(yaml:)) ?? .any, maxItems: node["maxItems"] as? Int)
        case "string":
            self = .string(allowed: node["enum"] as? [String], maxLength: node["maxLength"] as? Int)
        case "integer":
            self = .integer(minimum: node["minimum"] as? Int, maximum: node["maximum"] as? Int)
        case "number":
            self = .number(minimum: (node["minimum"] as? NSNumber)?.doubleValue, maximum: (node["maximum"] as? NSNumber)?.doubleValue)
        case "boolean":
            self = .boolean
        default:
            self = .any
        }
    }

    /// Checks `value` against this schema; throws a 400 naming the offending field. With
    /// `strict`, every object must declare every field it has (how responses are checked:
    /// nothing the server sends may be missing from the document).
    func check(_ value: JSONValue, at path: String, in document: OpenAPIDocument, strict: Bool = false) throws(APIError) {
        let label = path.isEmpty ? "the body" : "'\(path)'"
        switch (self, value) {
        case (.any, _):
            return
        case (.reference(let name), _):
            guard let schema = document.schemas[name] else { return }
            try schema.check(value, at: path, in: document, strict: strict)
        case (.object(let properties, let required, let allowsOtherFields), .object(let fields)):
            // An object schema without properties is a free-form map (labels).
            for key in fields.keys.sorted() where properties[key] == nil && ((strict && !properties.isEmpty) || !allowsOtherFields) {
                let field = Self.join(path, key)
                throw .malformed("unknown field '\(field)'", field: field)
            }
            for key in required.sorted() where fields[key] == nil || fields[key] == .null {
                let field = Self.join(path, key)
                throw .malformed("missing required field '\(field)'", field: field)
            }
            for (key, fieldValue) in fields.sorted(by: { $0.key < $1.key }) where fieldValue != .null {
                try properties[key]?.check(fieldValue, at: Self.join(path, key), in: document, strict: strict)
            }
        case (.array(let items, let maxItems), .array(let elements)):
            if let maxItems, elements.count > maxItems {
                throw .malformed("\(label) has more than \(maxItems) items", field: path)
            }
            for (index, element) in elements.enumerated() {
                try items.check(element, at: "\(path)[\(index)]", in: document, strict: strict)
            }
        case (.string(let allowed, let maxLength), .string(let text)):
            if let allowed, !allowed.contains(text) {
                throw .malformed("\(label) must be one of: \(allowed.joined(separator: ", "))", field: path)
            }
            if let maxLength, text.count > maxLength {
                throw .malformed("\(label) must be at most \(maxLength) characters", field: path)
            }
        case (.integer(let minimum, let maximum), .number(let number)):
            guard number.rounded() == number, abs(number) < 9e15 else {
                throw .malformed("\(label) must be a whole number", field: path)
            }
            if let minimum, number < Double(minimum) { throw .malformed("\(label) must be at least \(minimum)", field: path) }
            if let maximum, number > Double(maximum) { throw .malformed("\(label) must be at most \(maximum)", field: path) }
        case (.number(let minimum, let maximum), .number(let number)):
            guard number.isFinite else { throw .malformed("\(label) must be a finite number", field: path) }
            if let minimum, number < minimum { throw .malformed("\(label) must be at least \(Self.show(minimum))", field: path) }
            if let maximum, number > maximum { throw .malformed("\(label) must be at most \(Self.show(maximum))", field: path) }
        case (.map(let values), .object(let fields)):
            for (key, fieldValue) in fields.sorted(by: { $0.key < $1.key }) {
                try values.check(fieldValue, at: Self.join(path, key), in: document, strict: strict)
            }
        case (.boolean, .bool):
            return
        default:
            throw .malformed("\(label) must be \(expectedType), not \(value.typeName)", field: path)
        }
    }

    private var expectedType: String {
        switch self {
        case .object, .map: "an object"
        case .number: "a number"
        case .array: "an array"
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        case .reference, .any: "a value"
        }
    }

    private static func show(_ number: Double) -> String {
        number == number.rounded() ? String(Int(number)) : String(number)
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}
