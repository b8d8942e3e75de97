import KubeAPI

/// Request bodies are parsed into KubeAPI's `JSON` before being checked against their schema.
typealias JSONValue = JSON

extension JSON {
    /// The JSON type's name, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
