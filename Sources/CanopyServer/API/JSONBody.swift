import Foundation
import Hummingbird

/// Reading request bodies and writing responses as JSON.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Reads the body (at most the context's upload limit: 413 beyond), checks it against the
    /// named schema of the OpenAPI document (400 for malformed JSON, naming the position, for
    /// unknown fields and wrong types, naming the field), then decodes it.
    static func decode<T: Decodable>(
        _ type: T.Type, schema: String, from request: Request, context: some RequestContext
    ) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let data = Data(buffer.readableBytesView)
        guard !data.isEmpty else { throw APIError.malformed("a JSON body is required") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw APIError.malformed("the body is not valid JSON: \(syntaxError(in: data) ?? describe(error))")
        }
        try OpenAPIDocument.bundled.check(value, against: schema)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw APIError.malformed("the body does not match \(schema): \(describe(error))")
        }
    }

    /// A JSON response.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// Where a syntax error is, as Foundation's parser reports it ("around character N"), turned
    /// into a line and column.
    private static func syntaxError(in data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            guard let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String else { return nil }
            guard let range = text.range(of: "character "),
                  let offset = Int(text[range.upperBound...].prefix { $0.isNumber })
            else { return text }
            let prefix = data.prefix(offset)
            let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column = offset - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
            return "\(text.trimmingCharacters(in: CharacterSet(charactersIn: "."))) (line \(line), column \(column))"
        }
    }

    /// The most useful words of a decoding error: the position for syntax errors, the path for
    /// type mismatches.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError {
                let text = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(underlying)"
                return text
            }
            return context.debugDescription
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
