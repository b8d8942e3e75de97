import KubeAPI

/// The API server's validation of an object's metadata (apimachinery's `ValidateObjectMeta`,
/// run on every create and update): the name by its kind's rule, `generateName`, label keys and
/// values, annotation keys and their total size, in a real server's words
/// (`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of …`).
enum ObjectMetaValidation {
    /// How a kind's names are checked.
    enum NameRule {
        /// Most kinds: `example.com`, up to 253 characters.
        case subdomain
        /// Namespaces and StatefulSets: one DNS label, up to 63 characters.
        case label
        /// Services: a label that starts with a letter.
        case dns1035Label
        /// RBAC kinds: anything that fits in a path segment (`canopy:member` is fine).
        case pathSegment
    }

    static func nameRule(for type: ResourceType) -> NameRule {
        switch (type.group, type.resource) {
        case ("", "namespaces"), ("apps", "statefulsets"): .label
        case ("", "services"): .dns1035Label
        case ("rbac.authorization.k8s.io", _): .pathSegment
        default: .subdomain
        }
    }

    /// The annotations' total size limit (keys and values), 256 KiB.
    static let annotationsLimit = 256 << 10

    /// The metadata's validation errors as a 422's causes, in the order a real server lists them
    /// (labels and annotations in key order, where Go's map order is random).
    static func causes(of object: JSON, type: ResourceType) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        func invalid(_ field: String, _ value: String, _ messages: [String]) {
            for message in messages {
                causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(quoted(value)): \(message)", field: field))
            }
        }
        let rule = nameRule(for: type)
        if let prefix = object[path: "metadata.generateName"]?.stringValue, !prefix.isEmpty {
            invalid("metadata.generateName", prefix, nameErrors(prefix, rule: rule, prefix: true))
        }
        if let name = object[path: "metadata.name"]?.stringValue, !name.isEmpty {
            invalid("metadata.name", name, nameErrors(name, rule: rule, prefix: false))
            if type.group == "batch", type.resource == "cronjobs", name.utf8.count > 52 {
                // The controller appends `-<11 digits>` to name a job, whose limit is 63.
                invalid("metadata.name", name, ["must be no more than 52 characters"])
            }
        } else {
            causes.append(Status.Cause(reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name"))
        }
        if case .object(let labels) = object[path: "metadata.labels"] {
            for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
                invalid("metadata.labels", key, labelKeyErrors(key))
                invalid("metadata.labels", value.stringValue ?? "", labelValueErrors(value.stringValue ?? ""))
            }
        }
        if case .object(let annotations) = object[path: "metadata.annotations"] {
            var size = 0
            for (key, value) in annotations.sorted(by: { $0.key < $1.key }) {
                invalid("metadata.annotations", key, labelKeyErrors(key.lowercased()))
                size += key.utf8.count + (value.stringValue?.utf8.count ?? 0)
            }
            if size > annotationsLimit {
                causes.append(Status.Cause(reason: "FieldValueTooLong", message: "Too long: may not be more than \(annotationsLimit) bytes", field: "metadata.annotations"))
            }
        }
        return causes
    }

    static func nameErrors(_ name: String, rule: NameRule, prefix: Bool) -> [String] {
        switch rule {
        case .subdomain: subdomainErrors(prefix ? maskTrailingDash(name) : name)
        case .label: dnsLabelErrors(prefix ? maskTrailingDash(name) : name)
        case .dns1035Label: dns1035LabelErrors(prefix ? maskTrailingDash(name) : name)
        case .pathSegment: pathSegmentErrors(name, prefix: prefix)
        }
    }

    /// A `generateName` is checked as the name it starts: its trailing dash stands for what
    /// follows (apimachinery's `maskTrailingDash`, which replaces the last two characters).
    static func maskTrailingDash(_ name: String) -> String {
        guard name.utf8.count > 1, name.hasSuffix("-") else { return name }
        return String(name.dropLast(2)) + "a"
    }

    // MARK: apimachinery's formats

    static let labelFormat = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    static let subdomainFormat = labelFormat + "(\\." + labelFormat + ")*"
    static let dns1035Format = "[a-z]([-a-z0-9]*[a-z0-9])?"
    static let labelKeyFormat = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

    static func dnsLabelErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 63 { errors.append(tooLong(63)) }
        if !isDNSLabel(value) {
            if isSubdomain(value) {
                errors.append("must not contain dots")
            } else {
                errors.append(regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", labelFormat, "my-name", "123-abc"))
            }
        }
        return errors
    }

    static func subdomainErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 253 { errors.append(tooLong(253)) }
        if !isSubdomain(value) {
            errors.append(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", subdomainFormat, "example.com"))
        }
        return errors
    }

    static func dns1035LabelErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 63 { errors.append(tooLong(63)) }
        if !isDNSLabel(value) || !(value.utf8.first.map(isLowerLetter) ?? false) {
            errors.append(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", dns1035Format, "my-name", "abc-123"))
        }
        return errors
    }

    static func pathSegmentErrors(_ value: String, prefix: Bool) -> [String] {
        if !prefix, value == "." || value == ".." { return ["may not be '\(value)'"] }
        return ["/", "%"].filter { value.contains($0) }.map { "may not contain '\($0)'" }
    }

    /// A label key (or an annotation key, lower-cased): an optional DNS subdomain prefix and `/`,
    /// then a name of up to 63 characters.
    static func labelKeyErrors(_ key: String) -> [String] {
        var errors: [String] = []
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            return ["a valid label key " + regexError(labelKeyMessage, labelKeyFormat, "MyName", "my.name", "123-abc") + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        let name = String(parts[parts.count - 1])
        if parts.count == 2 {
            let prefix = String(parts[0])
            if prefix.isEmpty {
                errors.append("prefix part must be non-empty")
            } else {
                errors += subdomainErrors(prefix).map { "prefix part " + $0 }
            }
        }
        if name.isEmpty {
            errors.append("name part must be non-empty")
        } else if name.utf8.count > 63 {
            errors.append("name part " + tooLong(63))
        }
        if !isLabelKeyName(name) { errors.append("name part " + regexError(labelKeyMessage, labelKeyFormat, "MyName", "my.name", "123-abc")) }
        return errors
    }

    static func labelValueErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 63 { errors.append(tooLong(63)) }
        if !value.isEmpty, !isLabelKeyName(value) {
            errors.append(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", "(\(labelKeyFormat))?", "MyValue", "my_value", "12345"))
        }
        return errors
    }

    /// `IsConfigMapKey`, for ConfigMap and Secret keys: `[-._a-zA-Z0-9]+`, up to 253 characters,
    /// not `.` or `..` nor starting with `..`.
    static func configKeyErrors(_ key: String) -> [String] {
        var errors: [String] = []
        if key.utf8.count > 253 { errors.append(tooLong(253)) }
        let allowed = key.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
        if key.isEmpty || !allowed {
            errors.append(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+", "key.name", "KEY_NAME", "key-name"))
        }
        if key == "." || key == ".." {
            errors.append("must not be '\(key)'")
        } else if key.hasPrefix("..") {
            errors.append("must not start with '..'")
        }
        return errors
    }

    static let labelKeyMessage = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

    static func tooLong(_ limit: Int) -> String { "must be no more than \(limit) characters" }

    /// apimachinery's `RegexError`: the message, its examples (each followed by a comma, joined
    /// by " or ", hence the double spaces) and the pattern.
    static func regexError(_ message: String, _ format: String, _ examples: String...) -> String {
        "\(message) (e.g. " + examples.map { "'\($0)', " }.joined(separator: " or ") + "regex used for validation is '\(format)')"
    }

    /// Go's `%q` of a string, as field errors print values (printable ASCII kept, the rest escaped).
    static func quoted(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: result += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    // MARK: Character classes

    static func isLowerLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") }
    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerLetter(byte) || isDigit(byte) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, length aside.
    static func isDNSLabel(_ value: some StringProtocol) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        let edge = { (byte: UInt8) in isLowerLetter(byte) || isDigit(byte) }
        return edge(first) && edge(last) && bytes.allSatisfy { edge($0) || $0 == UInt8(ascii: "-") }
    }

    /// Labels joined by dots, length aside.
    static func isSubdomain(_ value: String) -> Bool {
        value.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel($0) }
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
    static func isLabelKeyName(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
