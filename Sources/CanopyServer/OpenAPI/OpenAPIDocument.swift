import Foundation
import Yams

/// The API's OpenAPI 3.1 document: served at `/api/v1/openapi.yaml`, and the source of the schemas
/// that every request body is checked against, so the document and the server cannot drift.
public struct OpenAPIDocument: Sendable {
    /// A document that cannot be read.
    struct LoadError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The document's text, as shipped in the module's resources.
    public let text: String
    /// Request and response schemas by name (`components.schemas`).
    let schemas: [String: Schema]
    /// Every operation as `METHOD /path/{param}`.
    public let operations: Set<String>
    /// The JSON schema name of each operation's success answer, by operation.
    let responseSchemas: [String: String]

    /// The document bundled with this module.
    public static let bundled: OpenAPIDocument = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8),
              let document = try? OpenAPIDocument(text: text)
        else { fatalError("the bundled openapi.yaml is missing or unreadable; the build is broken") }
        return document
    }()

    /// Parses a document.
    public init(text: String) throws {
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw LoadError("not a YAML mapping") }
        self.text = text
        let components = root["components"] as? [String: Any] ?? [:]
        schemas = try (components["schemas"] as? [String: Any] ?? [:]).mapValues(Schema.init(yaml:))
        var operations = Set<String>()
        var responseSchemas: [String: String] = [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] where Self.methods.contains(method) {
                let name = "\(method.uppercased()) \(path)"
                operations.insert(name)
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                for code in ["200", "201"] {
                    let content = (responses[code] as? [String: Any])?["content"] as? [String: Any]
                    let schema = (content?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                    if let ref = schema?["$ref"] as? String { responseSchemas[name] = String(ref.split(separator: "/").last ?? "") }
                }
            }
        }
        self.operations = operations
        self.responseSchemas = responseSchemas
    }

    private static let methods: Set<String> = ["get", "post", "put", "patch", "delete"]

    /// Checks a parsed body against the named schema.
    func check(_ value: JSONValue, against schemaName: String) throws(APIError) {
        try Schema.reference(schemaName).check(value, at: "", in: self)
    }

    /// Checks a success answer of `operation` (`GET /api/v1/…` as in the document) strictly
    /// against its declared schema: every field the server sent must be declared, with its type.
    /// Returns a description of the first mismatch, or `nil`.
    public func responseMismatch(_ data: [UInt8], operation: String) -> String? {
        guard let schema = responseSchemas[operation] else { return "no JSON response schema for \(operation)" }
        do {
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(data))
            try Schema.reference(schema).check(value, at: "", in: self, strict: true)
            return nil
        } catch let error as APIError {
            return "\(operation) → \(schema): \(error.message)"
        } catch {
            return "\(operation): not JSON (\(error))"
        }
    }

    /// Whether a schema of that name exists (for tests).
    public func hasSchema(_ name: String) -> Bool { schemas[name] != nil }
}
