/// A rule that an input breaks, naming the field (as a JSON path such as `admin.username`) and
/// saying what a valid value looks like.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
