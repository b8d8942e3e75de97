import HTTPTypes
import Hummingbird
import KubeAPI

/// The fields a kind has, as a real server's typed decoding knows them: what it keeps of a
/// written object, and what it calls an unknown field (`fieldValidation`).
///
/// A real API server decodes every write into Go structs, so a field the kind does not have is
/// never stored: with `fieldValidation=Strict` (what `kubectl` sends) the write is refused, with
/// `Warn` (the default) it is dropped with a `Warning` header, with `Ignore` dropped silently.
/// KubeSim keeps JSON, so it needs the shapes to do the same. Where a shape says `.open`, the
/// part is not looked into (maps whose keys are the user's, and parts not described here): a
/// field missing from a shape would refuse what a real server accepts, so shapes err on the side
/// of naming too much.
indirect enum FieldShape: Sendable {
    /// A scalar (or a list of scalars) whose type is not checked.
    case value
    /// A scalar of this Go type.
    case scalar(GoScalar)
    /// A map of the user's keys (labels, data, resource lists), or a part not described.
    case open
    /// An object: a Go struct of this name (`v1.<name>`) with these fields.
    case fields(String, [String: FieldShape])
    /// A list of one shape; `keys` are its merge keys (server-side apply names an item by them:
    /// `containers[name="app"]`), none for an atomic list.
    case list(FieldShape, keys: [String])

    /// A struct named `go` whose fields are `scalars` and `nested`. Each scalar is written
    /// `name` (not type-checked), `name:s`, `name:b`, `name:i32`, `name:i64` (a string, a bool,
    /// an int32, an int64) or `name:[s]` (a list of strings), separated by spaces.
    static func object(_ go: String, _ scalars: String, _ nested: [String: FieldShape] = [:]) -> FieldShape {
        var fields = nested
        for token in scalars.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = token.split(separator: ":", maxSplits: 1)
            let name = String(parts[0])
            switch parts.count > 1 ? String(parts[1]) : "" {
            case "s": fields[name] = .scalar(.string)
            case "b": fields[name] = .scalar(.bool)
            case "i32": fields[name] = .scalar(.int32)
            case "i64": fields[name] = .scalar(.int64)
            case "[s]": fields[name] = .list(.scalar(.string), keys: [])
            default: fields[name] = .value
            }
        }
        return .fields(go, fields)
    }

    /// A list of structs named `go` whose fields are `scalars` and `nested`.
    static func items(_ go: String, _ scalars: String, _ nested: [String: FieldShape] = [:], keys: [String] = []) -> FieldShape {
        .list(object(go, scalars, nested), keys: keys)
    }

    /// A list of objects not looked into.
    static let openItems = FieldShape.list(.open, keys: [])

    /// The Go type a value of this shape decodes into, as Go prints it (`v1.Container`,
    /// `[]string`); `nil` where KubeSim does not check.
    var goType: String? {
        switch self {
        case .scalar(let scalar): scalar.rawValue
        case .fields(let name, _): "v1." + name
        case .list(let item, _): item.goType.map { "[]" + $0 }
        case .value, .open: nil
        }
    }
}

/// The Go scalar types of API fields.
enum GoScalar: String, Sendable {
    case string, bool, int32, int64
}

/// A field the kind does not have, as a real server names it.
struct UnknownField: Sendable, Equatable {
    /// As strict decoding names it: `spec.template.spec.containers[0].lifecycle.preStart`.
    let path: String
    /// As server-side apply names it: `.spec.template.spec.containers[name="app"].lifecycle.preStart`.
    let applyPath: String
}

/// What to do with unknown fields (`fieldValidation`).
enum FieldValidation: String, Sendable {
    case ignore = "Ignore", warn = "Warn", strict = "Strict"

    /// The request's directive (`Warn` when none is given, as since v1.23); anything else is
    /// refused as a real server refuses it, naming the options kind of the verb.
    init(query value: String?, options: String) throws(Status) {
        guard let value, !value.isEmpty else {
            self = .warn
            return
        }
        guard let directive = FieldValidation(rawValue: value) else {
            throw Status.invalid(kind: options, "", causes: [
                Status.Cause(reason: "FieldValueNotSupported", message: "Unsupported value: \(ObjectMetaValidation.quoted(value)): supported values: \"Ignore\", \"Strict\", \"Warn\"", field: "fieldValidation"),
            ], group: "meta.k8s.io")
        }
        self = directive
    }

    /// The text of a `Warning` header for each unknown field: `299 - "unknown field \"spec.x\""`.
    static func warningHeader(_ field: UnknownField) -> String {
        "299 - " + ObjectMetaValidation.quoted("unknown field \(ObjectMetaValidation.quoted(field.path))")
    }

    /// `strict decoding error: unknown field "a", unknown field "b"`.
    static func strictError(_ fields: [UnknownField]) -> String {
        "strict decoding error: " + fields.map { "unknown field \(ObjectMetaValidation.quoted($0.path))" }.joined(separator: ", ")
    }

    /// A create or update refused by the decoder (a value of the wrong type, or unknown fields
    /// under `Strict`): its 400.
    static func refusedBody(_ error: String, type: ResourceType) -> Status {
        Status(code: 400, reason: "BadRequest", message: "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): \(error)")
    }

    /// A patch whose result does not decode: a 422 about the field `patch`, whose value is what
    /// the patch made (`shown`).
    static func refusedPatch(_ error: String, shown: String) -> Status {
        Status.invalid(kind: "", "", causes: [
            Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(ObjectMetaValidation.quoted(shown)): \(error)", field: "patch"),
        ])
    }

    /// A server-side apply whose configuration does not fit the kind's schema (fields it does
    /// not have, whatever the directive, or values of the wrong type): the typed conversion
    /// fails, which a real server answers with a 500 and no reason.
    static func refusedApply(_ errors: [String], type: ResourceType, namespace: String?, name: String) -> Status {
        let text = errors.count == 1 ? errors[0] : (["errors:"] + errors.map { "  " + $0 }).joined(separator: "\n")
        return Status(code: 500, reason: "", message: "failed to create typed patch object (\(namespace ?? "")/\(name); \(type.group)/\(type.version), Kind=\(type.kind)): \(text)")
    }
}

/// Drops the fields a kind does not have, as a real server's decoding does.
enum FieldPruning {
    /// `object` without the fields its kind does not have, and those fields in the order a
    /// real server reports them (sorted by path here: JSON objects keep no order in KubeSim).
    /// Kinds without a shape are kept whole.
    static func prune(_ object: JSON, type: ResourceType) -> (object: JSON, unknown: [UnknownField]) {
        guard let shape = FieldShapes.shape(of: type) else { return (object, []) }
        var unknown: [UnknownField] = []
        let kept = prune(object, shape: shape, path: "", applyPath: "", unknown: &unknown)
        return (kept, unknown)
    }

    /// Server-side apply reports the first unknown field of each object only.
    static func firstPerObject(_ fields: [UnknownField]) -> [UnknownField] {
        var seen: Set<String> = []
        return fields.filter { field in
            let parent = field.applyPath[..<(field.applyPath.lastIndex(of: ".") ?? field.applyPath.startIndex)]
            return seen.insert(String(parent)).inserted
        }
    }

    private static func prune(_ value: JSON, shape: FieldShape, path: String, applyPath: String, unknown: inout [UnknownField]) -> JSON {
        switch (shape, value) {
        case (.fields(_, let fields), .object(let members)):
            var kept: [String: JSON] = [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                let memberPath = path.isEmpty ? name : "\(path).\(name)", memberApplyPath = "\(applyPath).\(name)"
                if let memberShape = fields[name] {
                    kept[name] = prune(member, shape: memberShape, path: memberPath, applyPath: memberApplyPath, unknown: &unknown)
                } else {
                    unknown.append(UnknownField(path: memberPath, applyPath: memberApplyPath))
                }
            }
            return .object(kept)
        case (.list(let item, let keys), .array(let elements)):
            return .array(elements.enumerated().map { index, element in
                prune(element, shape: item, path: "\(path)[\(index)]", applyPath: applyPath + itemName(element, keys: keys, index: index), unknown: &unknown)
            })
        default:
            return value
        }
    }

    /// How server-side apply names a list item: by its merge keys (`[name="app"]`,
    /// `[containerPort=80,protocol="TCP"]`), or by its index.
    static func itemName(_ element: JSON, keys: [String], index: Int) -> String {
        let values = keys.compactMap { key -> String? in
            switch element[key] {
            case .string(let text)?: "\(key)=\(ObjectMetaValidation.quoted(text))"
            case .number(let number)?: "\(key)=\(SpecValidation.quantityText(.number(number)) ?? "")"
            default: nil
            }
        }
        guard !keys.isEmpty, values.count == keys.count else { return "[\(index)]" }
        return "[" + values.joined(separator: ",") + "]"
    }
}

/// Go's `%+v` of a decoded JSON value (`map[a:1 b:[x y]]`), as a real server prints a strategic
/// merge patch in its messages.
enum GoValue {
    static func render(_ value: JSON) -> String {
        switch value {
        case .null: "<nil>"
        case .bool(let flag): flag ? "true" : "false"
        case .string(let text): text
        case .number(let number): float(number)
        case .array(let items): "[" + items.map(render).joined(separator: " ") + "]"
        case .object(let members): "map[" + members.sorted { $0.key < $1.key }.map { "\($0.key):\(render($0.value))" }.joined(separator: " ") + "]"
        }
    }

    /// A float64 as `%v` prints it (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits
    /// that read back the same, in exponent form (`1e+06`) when the exponent is below -4 or 6
    /// and up.
    static func float(_ number: Double) -> String {
        guard number != 0, number.isFinite else { return number == 0 ? "0" : "\(number)" }
        // Swift's description has the same shortest digits: "1234.5", "1e-05", "1.5e+20".
        var text = "\(abs(number))", exponent = 0
        if let mark = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: mark)...]) ?? 0
            text = String(text[..<mark])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        var point = parts[0].count + exponent
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1, digits.last == "0" { digits.removeLast() }
        let sign = number < 0 ? "-" : "", power = point - 1
        if power < -4 || power >= 6 {
            let mantissa = digits.count > 1 ? "\(digits.first!)." + digits.dropFirst() : digits
            return sign + mantissa + "e" + (power < 0 ? "-" : "+") + (abs(power) < 10 ? "0" : "") + "\(abs(power))"
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
        return sign + digits.prefix(point) + "." + digits.dropFirst(point)
    }
}

extension Response {
    /// The answer with a `Warning` header for each field dropped, as a real server warns.
    func warning(_ dropped: [UnknownField]) -> Response {
        var response = self
        for field in dropped { response.headers.append(HTTPField(name: .warning, value: FieldValidation.warningHeader(field))) }
        return response
    }
}

extension HTTPField.Name {
    static let warning = HTTPField.Name("Warning")!
}

extension SimCluster {
    /// The fields dropped from writes with a warning (`deployments.apps/web: spec.replica`), the latest
    /// thousand: how a test checks that a client wrote only what the API has.
    public var unknownFieldsWarned: [String] { droppedFields.withLock { $0 } }
}

/// A value of the wrong JSON type for its field (a string where an `int32` belongs), as Go's
/// decoder finds it: the first one, in path order.
struct TypeMismatch: Sendable, Equatable {
    /// What the JSON holds: `string`, `number`, `bool`, `array`, `object`, or `number 1.5` for a
    /// number an integer field cannot hold.
    let found: String
    /// The Go struct the field is in, and the field's path from the object (no indexes).
    let owner: String
    let field: String
    let goType: String
    /// The field as server-side apply names it (`.spec.replicas`).
    let applyPath: String
    let value: JSON

    /// `encoding/json`'s words, as a create or update (or a JSON or merge patch) is refused.
    var decodeError: String { "json: cannot unmarshal \(found) into Go struct field \(owner).\(field) of type \(goType)" }

    /// The unstructured converter's words, as a strategic merge patch is refused.
    var conversionError: String {
        if goType.hasPrefix("[]") { return "cannot restore slice from \(goKind)" }
        if goType.hasPrefix("v1.") { return "cannot restore struct from: \(goKind)" }
        if goType == "string", goKind == "int64" { return "cannot convert int64 to string" }
        return "unrecognized type: \(goType)"
    }

    /// Structured merge diff's words, as a server-side apply is refused.
    var applyError: String {
        let held = "&value.valueUnstructured{Value:\(goSyntax)}"
        switch goType {
        case "int32", "int64": return "\(applyPath): expected numeric (int or float), got \(goKind)"
        case "string": return "\(applyPath): expected string, got \(held)"
        case "bool": return "\(applyPath): expected boolean, got \(held)"
        default: return "\(applyPath): expected \(goType.hasPrefix("[]") ? "list" : "map"), got \(held)"
        }
    }

    /// The Go kind the value decodes to without a schema (integral numbers as `int64`).
    private var goKind: String {
        switch value {
        case .string: "string"
        case .bool: "bool"
        case .number(let number): number.rounded() == number ? "int64" : "float64"
        case .array: "[]interface {}"
        case .object: "map[string]interface {}"
        case .null: "<nil>"
        }
    }

    private var goSyntax: String {
        if case .string(let text) = value { return ObjectMetaValidation.quoted(text) }
        return GoValue.render(value)
    }
}

/// Finds the values of the wrong type, as a real server's typed decoding does.
enum FieldTypes {
    static func firstMismatch(_ object: JSON, type: ResourceType) -> TypeMismatch? {
        guard let shape = FieldShapes.shape(of: type) else { return nil }
        return check(object, shape: shape, owner: type.kind, field: "", applyPath: "")
    }

    private static func check(_ value: JSON, shape: FieldShape, owner: String, field: String, applyPath: String) -> TypeMismatch? {
        if case .null = value { return nil }
        func mismatch(_ found: String, _ goType: String) -> TypeMismatch {
            TypeMismatch(found: found, owner: owner, field: field, goType: goType, applyPath: applyPath, value: value)
        }
        switch (shape, value) {
        case (.value, _), (.open, _): return nil
        case (.scalar(let scalar), _): return found(value, for: scalar).map { mismatch($0, scalar.rawValue) }
        case (.fields(let name, let fields), .object(let members)):
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                guard let memberShape = fields[key] else { continue }
                let path = field.isEmpty ? key : "\(field).\(key)"
                if let found = check(member, shape: memberShape, owner: name, field: path, applyPath: "\(applyPath).\(key)") { return found }
            }
            return nil
        case (.list(let item, let keys), .array(let elements)):
            for (index, element) in elements.enumerated() {
                let itemPath = applyPath + FieldPruning.itemName(element, keys: keys, index: index)
                if let found = check(element, shape: item, owner: owner, field: field, applyPath: itemPath) { return found }
            }
            return nil
        default:
            // A struct or a list given something else.
            return shape.goType.map { mismatch(kind(value), $0) }
        }
    }

    /// What Go's decoder says it found, or `nil` when `value` fits `scalar`.
    private static func found(_ value: JSON, for scalar: GoScalar) -> String? {
        switch (scalar, value) {
        case (.string, .string), (.bool, .bool): return nil
        case (.int32, .number(let number)), (.int64, .number(let number)):
            let limit = scalar == .int32 ? Double(Int32.max) : 9.2e18
            guard number.rounded() != number || abs(number) > limit else { return nil }
            return "number " + (number.rounded() == number && abs(number) < 9e18 ? String(Int64(number)) : "\(number)")
        default: return kind(value)
        }
    }

    private static func kind(_ value: JSON) -> String {
        switch value {
        case .string: "string"
        case .number: "number"
        case .bool: "bool"
        case .array: "array"
        case .object: "object"
        case .null: "null"
        }
    }
}
