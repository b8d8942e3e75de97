import Foundation
import KubeAPI

/// ConfigMaps and Secrets as a real server reads and checks them (`ValidateConfigMap`,
/// `ValidateSecret` and their updates): bytes in base64, a Secret's `stringData` folded into
/// its `data`, 1 MiB at most, the keys each Secret type needs, and nothing changed once
/// `immutable` is set.
enum ConfigValidation {
    /// What a ConfigMap's data or a Secret's may total (`MaxSecretSize`).
    static let maxSize = 1 << 20

    // MARK: Decoding

    /// Decodes as a real server does: byte fields must be standard base64 (a 400 otherwise, in
    /// Go's words); a Secret's `stringData` goes into its `data` (winning over the same key)
    /// and is not kept; a Secret without a type is `Opaque`.
    static func decode(_ object: inout JSON, type: ResourceType) throws(Status) {
        guard type.group.isEmpty, type.resource == "secrets" || type.resource == "configmaps" else { return }
        let bytesField = type.resource == "secrets" ? "data" : "binaryData"
        for (_, value) in (object[bytesField]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard case .string(let text) = value else { continue }
            if let position = base64Problem(text) {
                throw Status(code: 400, reason: "BadRequest", message: "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): illegal base64 data at input byte \(position)")
            }
        }
        guard type.resource == "secrets" else { return }
        if let strings = object["stringData"]?.objectValue {
            var data = object["data"]?.objectValue ?? [:]
            for (key, value) in strings { data[key] = .string(Data((value.stringValue ?? "").utf8).base64EncodedString()) }
            object["data"] = .object(data)
        }
        object["stringData"] = nil
        if (object["type"]?.stringValue ?? "").isEmpty { object["type"] = .string("Opaque") }
    }

    /// Where Go's `base64.StdEncoding` stops reading `text`, or `nil` when it reads it whole
    /// (line breaks are skipped, as Go skips them).
    static func base64Problem(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        var index = 0, inQuantum = 0, quantumStart = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                index += 1
                continue
            }
            if inQuantum == 0 { quantumStart = index }
            if byte == UInt8(ascii: "=") {
                // Padding only ends a quantum of two or three characters, and nothing follows it.
                guard inQuantum >= 2 else { return index }
                var end = index + 1
                if inQuantum == 2 {
                    // A second "=" must follow: its absence at the end is reported there, anything
                    // else in its place at the first.
                    while end < bytes.count, bytes[end] == UInt8(ascii: "\n") || bytes[end] == UInt8(ascii: "\r") { end += 1 }
                    guard end < bytes.count else { return bytes.count }
                    guard bytes[end] == UInt8(ascii: "=") else { return end - 1 }
                    end += 1
                }
                while end < bytes.count, bytes[end] == UInt8(ascii: "\n") || bytes[end] == UInt8(ascii: "\r") { end += 1 }
                return end < bytes.count ? end : nil
            }
            guard isBase64(byte) else { return index }
            inQuantum = (inQuantum + 1) % 4
            index += 1
        }
        return inQuantum == 0 ? nil : quantumStart
    }

    private static func isBase64(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
    }

    // MARK: Validation

    /// A ConfigMap's keys (each once across `data` and `binaryData`) and total size.
    static func configMapCauses(_ object: JSON) -> [Status.Cause] {
        var causes = SpecValidation.keyCauses(object, fields: ["data"])
        let data = object["data"]?.objectValue ?? [:], binary = object["binaryData"]?.objectValue ?? [:]
        for key in data.keys.sorted() where binary[key] != nil {
            causes.append(SpecValidation.invalid("data[\(key)]", key, "duplicate of key present in binaryData"))
        }
        causes += SpecValidation.keyCauses(object, fields: ["binaryData"])
        let size = data.values.reduce(0) { $0 + ($1.stringValue?.utf8.count ?? 0) } + decodedSize(binary)
        // The path of the whole object prints as `[]`.
        if size > maxSize { causes.append(tooLong("[]")) }
        return causes
    }

    /// A Secret's keys, total size, and the keys its type needs.
    static func secretCauses(_ object: JSON) -> [Status.Cause] {
        var causes = SpecValidation.keyCauses(object, fields: ["data"])
        let data = object["data"]?.objectValue ?? [:]
        if decodedSize(data) > maxSize { causes.append(tooLong("data")) }
        func required(_ key: String) -> Status.Cause { SpecValidation.required("data[\(key)]") }
        switch object["type"]?.stringValue ?? "" {
        case "kubernetes.io/service-account-token":
            if (object[path: "metadata.annotations"]?["kubernetes.io/service-account.name"]?.stringValue ?? "").isEmpty {
                causes.append(SpecValidation.required("metadata.annotations[kubernetes.io/service-account.name]"))
            }
        case "kubernetes.io/dockercfg": if data[".dockercfg"] == nil { causes.append(required(".dockercfg")) }
        case "kubernetes.io/dockerconfigjson": if data[".dockerconfigjson"] == nil { causes.append(required(".dockerconfigjson")) }
        case "kubernetes.io/basic-auth":
            if data["username"] == nil, data["password"] == nil { causes += [required("username"), required("password")] }
        case "kubernetes.io/ssh-auth":
            if (data["ssh-privatekey"]?.stringValue ?? "").isEmpty { causes.append(required("ssh-privatekey")) }
        case "kubernetes.io/tls":
            if data["tls.crt"] == nil { causes.append(required("tls.crt")) }
            if data["tls.key"] == nil { causes.append(required("tls.key")) }
        default: break
        }
        return causes
    }

    /// An update of an immutable ConfigMap or Secret, or of a Secret's type.
    static func updateCauses(_ type: ResourceType, replacement: JSON, current: JSON) -> [Status.Cause] {
        guard type.group.isEmpty, type.resource == "secrets" || type.resource == "configmaps" else { return [] }
        var causes: [Status.Cause] = []
        if type.resource == "secrets", let old = current["type"]?.stringValue, let new = replacement["type"]?.stringValue, new != old {
            causes.append(SpecValidation.invalid("type", new, "field is immutable"))
        }
        guard current["immutable"] == .bool(true) else { return causes }
        let immutable = "field is immutable when `immutable` is set"
        if replacement["immutable"] != .bool(true) { causes.append(forbidden("immutable", immutable)) }
        for field in type.resource == "secrets" ? ["data"] : ["data", "binaryData"] where empty(replacement[field]) != empty(current[field]) {
            causes.append(forbidden(field, immutable))
        }
        return causes
    }

    private static func empty(_ map: JSON?) -> JSON {
        guard let fields = map?.objectValue, !fields.isEmpty else { return .null }
        return .object(fields)
    }

    private static func decodedSize(_ map: [String: JSON]) -> Int {
        map.values.reduce(0) { total, value in
            let text = (value.stringValue ?? "").filter { $0 != "\n" && $0 != "\r" }
            let padding = text.reversed().prefix { $0 == "=" }.count
            return total + text.utf8.count / 4 * 3 - padding
        }
    }

    private static func tooLong(_ field: String) -> Status.Cause {
        Status.Cause(reason: "FieldValueTooLong", message: "Too long: may not be more than \(maxSize) bytes", field: field)
    }

    private static func forbidden(_ field: String, _ detail: String) -> Status.Cause {
        Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: \(detail)", field: field)
    }
}
