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
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for method in (item as? [String: Any] ?? [:]).keys where Self.methods.contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        self.operations = operations
    }

    private static let methods: Set<String> = ["get", "post", "put", "patch", "delete"]

    /// Checks a parsed body against the named schema.
    func check(_ value: JSONValue, against schemaName: String) throws(APIError) {
        try Schema.reference(schemaName).check(value, at: "", in: self)
    }

    /// Whether a schema of that name exists (for tests).
    public func hasSchema(_ name: String) -> Bool { schemas[name] != nil }
}
