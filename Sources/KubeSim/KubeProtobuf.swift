import Foundation
import KubeAPI

/// Reads the Kubernetes protobuf encoding for the few kinds kubectl sends with its typed clients
/// (`kubectl create namespace|configmap|secret|serviceaccount|role|rolebinding|clusterrole|
/// clusterrolebinding|deployment|service|job|cronjob|quota|priorityclass|token`, `kubectl auth can-i`), turning
/// them into the JSON KubeSim stores. Other kinds in protobuf are refused with 415.
///
/// The envelope is the magic `k8s\0` and a `runtime.Unknown` message (1: typeMeta, 2: raw object).
enum KubeProtobuf {
    static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]

    /// The object in `data` as JSON; `nil` when the kind is not one KubeSim reads.
    static func decode(_ data: Data) throws -> JSON? {
        let bytes = [UInt8](data)
        guard bytes.starts(with: magic) else { throw bad("the protobuf body lacks the k8s magic prefix") }
        let envelope = try Message(bytes[4...])
        let typeMeta = try Message(envelope.bytes(1) ?? [])
        guard let kind = typeMeta.string(2), let apiVersion = typeMeta.string(1), let raw = envelope.bytes(2) else {
            throw bad("the protobuf envelope has no type or object")
        }
        let object = try Message(raw)
        var json: [String: JSON] = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        json["metadata"] = try objectMeta(object.bytes(1) ?? [])
        switch kind {
        case "Namespace", "ServiceAccount":
            break
        case "ConfigMap":
            json["data"] = try map(object, 2)
        case "Secret":
            let data = try object.all(2).map { entry -> (String, JSON) in
                let pair = try Message(entry)
                return (pair.string(1) ?? "", .string(Data(pair.bytes(2) ?? []).base64EncodedString()))
            }
            if !data.isEmpty { json["data"] = .object(Dictionary(data, uniquingKeysWith: { _, last in last })) }
            if let type = object.string(3) { json["type"] = .string(type) }
            json["stringData"] = try map(object, 4)
        case "RoleBinding", "ClusterRoleBinding":
            json["subjects"] = .array(try object.all(2).map { entry in
                let subject = try Message(entry)
                let fields = [1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"]
                return .object(Dictionary(uniqueKeysWithValues: fields.compactMap { field, name in subject.string(field).map { (name, JSON.string($0)) } }))
            })
            let roleRef = try Message(object.bytes(3) ?? [])
            json["roleRef"] = .object(["apiGroup": .string(roleRef.string(1) ?? ""), "kind": .string(roleRef.string(2) ?? ""), "name": .string(roleRef.string(3) ?? "")])
        case "Role", "ClusterRole":
            json["rules"] = .array(try object.all(2).map { entry in
                let rule = try Message(entry)
                let fields = [1: "verbs", 2: "apiGroups", 3: "resources", 4: "resourceNames", 5: "nonResourceURLs"]
                return .object(Dictionary(uniqueKeysWithValues: try fields.compactMap { field, name -> (String, JSON)? in
                    let values = try rule.all(field)
                    return values.isEmpty ? nil : (name, .array(values.map { .string(String(decoding: $0, as: UTF8.self)) }))
                }))
            })
        case "Deployment":
            json["spec"] = try deploymentSpec(Message(object.bytes(2) ?? []))
        case "Service":
            json["spec"] = try serviceSpec(Message(object.bytes(2) ?? []))
        case "Job":
            json["spec"] = try jobSpec(Message(object.bytes(2) ?? []))
        case "CronJob":
            json["spec"] = try cronJobSpec(Message(object.bytes(2) ?? []))
        case "ResourceQuota":
            // `kubectl create quota`: hard (1), scopes (2).
            let spec = try Message(object.bytes(2) ?? [])
            var specJSON: [String: JSON] = ["hard": try quantities(spec, 1)]
            let scopes = try spec.all(2).map { JSON.string(String(decoding: $0, as: UTF8.self)) }
            if !scopes.isEmpty { specJSON["scopes"] = .array(scopes) }
            json["spec"] = .object(specJSON.filter { $0.value != .null })
        case "PriorityClass":
            // `kubectl create priorityclass`: value (2), globalDefault (3), description (4),
            // preemptionPolicy (5).
            json["value"] = .number(Double(object.int(2) ?? 0))
            json["globalDefault"] = .bool((object.int(3) ?? 0) != 0)
            if let description = object.string(4) { json["description"] = .string(description) }
            if let policy = object.string(5) { json["preemptionPolicy"] = .string(policy) }
        case "TokenRequest":
            // `kubectl create token`: audiences (1), boundObjectRef (3: kind, apiVersion, name,
            // uid), expirationSeconds (4).
            let spec = try Message(object.bytes(2) ?? [])
            var specJSON: [String: JSON] = [:]
            let audiences = try spec.all(1).map { JSON.string(String(decoding: $0, as: UTF8.self)) }
            if !audiences.isEmpty { specJSON["audiences"] = .array(audiences) }
            if let reference = spec.bytes(3) {
                let fields = try Message(reference)
                specJSON["boundObjectRef"] = .object(Dictionary(uniqueKeysWithValues: [1: "kind", 2: "apiVersion", 3: "name", 4: "uid"].compactMap { field, name in
                    fields.string(field).map { (name, JSON.string($0)) }
                }))
            }
            if let seconds = spec.int(4) { specJSON["expirationSeconds"] = .number(Double(seconds)) }
            json["spec"] = .object(specJSON)
        case "SelfSubjectAccessReview", "SubjectAccessReview":
            let spec = try Message(object.bytes(2) ?? [])
            var specJSON: [String: JSON] = [:]
            if let resource = spec.bytes(1) {
                let attributes = try Message(resource)
                let names = [1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"]
                specJSON["resourceAttributes"] = .object(Dictionary(uniqueKeysWithValues: names.compactMap { field, name in
                    attributes.string(field).map { (name, JSON.string($0)) }
                }))
            }
            if kind == "SelfSubjectAccessReview", let nonResource = spec.bytes(2) {
                let attributes = try Message(nonResource)
                specJSON["nonResourceAttributes"] = .object(["path": .string(attributes.string(1) ?? ""), "verb": .string(attributes.string(2) ?? "")])
            }
            if kind == "SubjectAccessReview" {
                if let user = spec.string(3) { specJSON["user"] = .string(user) }
                specJSON["groups"] = .array(try spec.all(4).map { .string(String(decoding: $0, as: UTF8.self)) })
            }
            json["spec"] = .object(specJSON)
        default:
            return nil
        }
        return .object(json.filter { $0.value != .null })
    }

    private static func objectMeta(_ bytes: [UInt8]) throws -> JSON {
        let meta = try Message(bytes[...])
        var json: [String: JSON] = [:]
        for (field, name) in [(1, "name"), (2, "generateName"), (3, "namespace"), (6, "resourceVersion")] {
            if let value = meta.string(field) { json[name] = .string(value) }
        }
        json["labels"] = try map(meta, 11)
        json["annotations"] = try map(meta, 12)
        return .object(json.filter { $0.value != .null })
    }

    // MARK: What `kubectl create deployment|service` sends (k8s.io/api's generated.proto numbers)

    private static func deploymentSpec(_ spec: Message) throws -> JSON {
        var json: [String: JSON] = [:]
        if let replicas = spec.int(1) { json["replicas"] = .number(Double(replicas)) }
        if let selector = spec.bytes(2) {
            json["selector"] = .object(["matchLabels": try map(Message(selector), 1)].filter { $0.value != .null })
        }
        if let template = spec.bytes(3) { json["template"] = try podTemplate(Message(template)) }
        if let strategy = spec.bytes(4) {
            json["strategy"] = .object(try Message(strategy).string(1).map { ["type": .string($0)] } ?? [:])
        }
        for (field, name) in [(5, "minReadySeconds"), (6, "revisionHistoryLimit"), (9, "progressDeadlineSeconds")] {
            if let value = spec.int(field) { json[name] = .number(Double(value)) }
        }
        if let paused = spec.int(7) { json["paused"] = .bool(paused != 0) }
        return .object(json)
    }

    /// `kubectl create job` (batch/v1 JobSpec): the pod template and the counts it may set.
    private static func jobSpec(_ spec: Message) throws -> JSON {
        var json: [String: JSON] = [:]
        if let template = spec.bytes(6) { json["template"] = try podTemplate(Message(template)) }
        for (field, name) in [(1, "parallelism"), (2, "completions"), (3, "activeDeadlineSeconds"), (7, "backoffLimit"), (8, "ttlSecondsAfterFinished")] {
            if let value = spec.int(field) { json[name] = .number(Double(value)) }
        }
        if let suspend = spec.int(10) { json["suspend"] = .bool(suspend != 0) }
        return .object(json)
    }

    /// `kubectl create cronjob` (batch/v1 CronJobSpec): schedule, policy and the job template.
    private static func cronJobSpec(_ spec: Message) throws -> JSON {
        var json: [String: JSON] = [:]
        for (field, name) in [(1, "schedule"), (3, "concurrencyPolicy"), (8, "timeZone")] {
            if let value = spec.string(field) { json[name] = .string(value) }
        }
        if let suspend = spec.int(4) { json["suspend"] = .bool(suspend != 0) }
        if let template = spec.bytes(5) {
            let message = try Message(template)
            json["jobTemplate"] = .object(["metadata": try objectMeta(message.bytes(1) ?? []), "spec": try jobSpec(Message(message.bytes(2) ?? []))])
        }
        return .object(json)
    }

    private static func podTemplate(_ template: Message) throws -> JSON {
        .object(["metadata": try objectMeta(template.bytes(1) ?? []), "spec": try podSpec(Message(template.bytes(2) ?? []))])
    }

    private static func podSpec(_ spec: Message) throws -> JSON {
        var json: [String: JSON] = ["containers": .array(try spec.all(2).map { try container(Message($0)) })]
        let initContainers = try spec.all(20).map { try container(Message($0)) }
        if !initContainers.isEmpty { json["initContainers"] = .array(initContainers) }
        for (field, name) in [(3, "restartPolicy"), (6, "dnsPolicy"), (8, "serviceAccountName")] {
            if let value = spec.string(field) { json[name] = .string(value) }
        }
        if let grace = spec.int(4) { json["terminationGracePeriodSeconds"] = .number(Double(grace)) }
        json["nodeSelector"] = try map(spec, 7)
        return .object(json.filter { $0.value != .null })
    }

    private static func container(_ container: Message) throws -> JSON {
        var json: [String: JSON] = [:]
        for (field, name) in [(1, "name"), (2, "image"), (5, "workingDir"), (14, "imagePullPolicy")] {
            if let value = container.string(field) { json[name] = .string(value) }
        }
        for (field, name) in [(3, "command"), (4, "args")] {
            let values = try container.all(field)
            if !values.isEmpty { json[name] = .array(values.map { .string(String(decoding: $0, as: UTF8.self)) }) }
        }
        let ports = try container.all(6).map { bytes -> JSON in
            let port = try Message(bytes)
            var json: [String: JSON] = [:]
            if let name = port.string(1) { json["name"] = .string(name) }
            if let host = port.int(2) { json["hostPort"] = .number(Double(host)) }
            if let number = port.int(3) { json["containerPort"] = .number(Double(number)) }
            if let proto = port.string(4) { json["protocol"] = .string(proto) }
            return .object(json)
        }
        if !ports.isEmpty { json["ports"] = .array(ports) }
        let env = try container.all(7).map { bytes -> JSON in
            let variable = try Message(bytes)
            return .object(["name": .string(variable.string(1) ?? ""), "value": .string(variable.string(2) ?? "")])
        }
        if !env.isEmpty { json["env"] = .array(env) }
        if let resources = container.bytes(8) {
            let message = try Message(resources)
            var requirements: [String: JSON] = [:]
            for (field, name) in [(1, "limits"), (2, "requests")] {
                let amounts = try quantities(message, field)
                if amounts != .null { requirements[name] = amounts }
            }
            json["resources"] = .object(requirements)
        }
        return .object(json)
    }

    private static func serviceSpec(_ spec: Message) throws -> JSON {
        var json: [String: JSON] = [:]
        let ports = try spec.all(1).map { bytes -> JSON in
            let port = try Message(bytes)
            var json: [String: JSON] = [:]
            for (field, name) in [(1, "name"), (2, "protocol"), (6, "appProtocol")] {
                if let value = port.string(field) { json[name] = .string(value) }
            }
            if let number = port.int(3) { json["port"] = .number(Double(number)) }
            if let target = port.bytes(4) {
                let value = try Message(target)
                json["targetPort"] = value.int(1) == 1 ? .string(value.string(3) ?? "") : .number(Double(value.int(2) ?? 0))
            }
            // Go writes an unset int32 as 0; JSON leaves it out.
            if let node = port.int(5), node != 0 { json["nodePort"] = .number(Double(node)) }
            return .object(json)
        }
        if !ports.isEmpty { json["ports"] = .array(ports) }
        json["selector"] = try map(spec, 2)
        for (field, name) in [(3, "clusterIP"), (4, "type")] {
            if let value = spec.string(field) { json[name] = .string(value) }
        }
        return .object(json.filter { $0.value != .null })
    }

    /// A `map<string, Quantity>` field (a ResourceList): entries of (1: key, 2: Quantity, whose
    /// field 1 is its text).
    private static func quantities(_ message: Message, _ field: Int) throws -> JSON {
        let amounts = try message.all(field).map { entry -> (String, JSON) in
            let pair = try Message(entry)
            return (pair.string(1) ?? "", .string(try Message(pair.bytes(2) ?? []).string(1) ?? "0"))
        }
        return amounts.isEmpty ? .null : .object(Dictionary(amounts, uniquingKeysWith: { _, last in last }))
    }

    /// A `map<string, string>` field: repeated entries of (1: key, 2: value).
    private static func map(_ message: Message, _ field: Int) throws -> JSON {
        let entries = try message.all(field).map { entry -> (String, JSON) in
            let pair = try Message(entry)
            return (pair.string(1) ?? "", .string(pair.string(2) ?? ""))
        }
        return entries.isEmpty ? .null : .object(Dictionary(entries, uniquingKeysWith: { _, last in last }))
    }

    static func bad(_ message: String) -> Status {
        Status(code: 400, reason: "BadRequest", message: message)
    }

    /// The fields of one protobuf message: length-delimited ones as bytes, varints as numbers
    /// (fixed-width ones are skipped: no field read here has one).
    struct Message {
        private var fields: [Int: [[UInt8]]] = [:]
        private var numbers: [Int: UInt64] = [:]

        init(_ bytes: some Collection<UInt8>) throws {
            var reader = Array(bytes)[...]
            while !reader.isEmpty {
                let key = try Self.varint(&reader)
                let field = Int(key >> 3)
                switch key & 7 {
                case 0: numbers[field] = try Self.varint(&reader)
                case 1: guard reader.count >= 8 else { throw bad("truncated protobuf") }; reader = reader.dropFirst(8)
                case 5: guard reader.count >= 4 else { throw bad("truncated protobuf") }; reader = reader.dropFirst(4)
                case 2:
                    let length = Int(try Self.varint(&reader))
                    guard length >= 0, reader.count >= length else { throw bad("truncated protobuf") }
                    fields[field, default: []].append(Array(reader.prefix(length)))
                    reader = reader.dropFirst(length)
                default: throw bad("unsupported protobuf wire type \(key & 7)")
                }
            }
        }

        func bytes(_ field: Int) -> [UInt8]? { fields[field]?.last }
        /// The field's text; `nil` when empty, as Go's generated code writes an unset string (so
        /// an object read here shows no `""` fields a real server's JSON would omit).
        func string(_ field: Int) -> String? { bytes(field).flatMap { $0.isEmpty ? nil : String(decoding: $0, as: UTF8.self) } }
        func all(_ field: Int) throws -> [[UInt8]] { fields[field] ?? [] }
        /// A varint field as a signed 64-bit number (int32 and int64 both: negative int32 values
        /// are sign-extended to 64 bits on the wire).
        func int(_ field: Int) -> Int64? { numbers[field].map { Int64(bitPattern: $0) } }

        private static func varint(_ reader: inout ArraySlice<UInt8>) throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = reader.first {
                reader = reader.dropFirst()
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
                guard shift < 64 else { break }
            }
            throw bad("malformed protobuf varint")
        }
    }
}
