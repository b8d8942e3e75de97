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
    /// A scalar, or a list of scalars.
    case value
    /// A map of the user's keys (labels, data, resource lists), or a part not described.
    case open
    /// An object with these fields.
    case fields([String: FieldShape])
    /// A list of objects of one shape; `keys` are its merge keys (server-side apply names an
    /// item by them: `containers[name="app"]`), none for an atomic list.
    case list(FieldShape, keys: [String])

    /// An object whose fields are `scalars` (space-separated) and `nested`.
    static func object(_ scalars: String, _ nested: [String: FieldShape] = [:]) -> FieldShape {
        var fields = nested
        for name in scalars.split(separator: " ") { fields[String(name)] = .value }
        return .fields(fields)
    }

    /// A list of objects whose fields are `scalars` and `nested`.
    static func items(_ scalars: String, _ nested: [String: FieldShape] = [:], keys: [String] = []) -> FieldShape {
        .list(object(scalars, nested), keys: keys)
    }

    /// A list of objects not looked into.
    static let openItems = FieldShape.list(.open, keys: [])
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

    /// A create or update refused (`Strict`): the decoder's 400.
    static func refusedBody(_ fields: [UnknownField], type: ResourceType) -> Status {
        Status(code: 400, reason: "BadRequest", message: "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): \(strictError(fields))")
    }

    /// A patch refused (`Strict`): a 422 about the field `patch`, whose value is what the patch
    /// made (`shown`).
    static func refusedPatch(_ fields: [UnknownField], shown: String) -> Status {
        Status.invalid(kind: "", "", causes: [
            Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(ObjectMetaValidation.quoted(shown)): \(strictError(fields))", field: "patch"),
        ])
    }

    /// A server-side apply with fields the kind does not have, whatever the directive: the
    /// typed conversion fails, which a real server answers with a 500 and no reason.
    static func refusedApply(_ fields: [UnknownField], type: ResourceType, namespace: String?, name: String) -> Status {
        let errors = fields.map { "\($0.applyPath): field not declared in schema" }
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
        case (.fields(let fields), .object(let members)):
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
    private static func itemName(_ element: JSON, keys: [String], index: Int) -> String {
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
    /// The fields dropped from writes with a warning so far (`deployments.apps/web:
    /// spec.replica`): how a test checks that a client wrote only what the API has.
    public var unknownFieldsWarned: [String] { droppedFields.withLock { $0 } }
}
