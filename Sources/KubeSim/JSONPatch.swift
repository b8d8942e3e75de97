import KubeAPI

/// RFC 7386 merge patches and RFC 6902 JSON patches over `JSON` values.
enum JSONPatch {
    /// Merges `patch` into `target`: objects merge member by member, `null` removes, anything
    /// else replaces (lists included).
    static func merge(_ patch: JSON, into target: JSON) -> JSON {
        guard case .object(let patchFields) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in patchFields {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = merge(value, into: result[key] ?? .null)
            }
        }
        return .object(result)
    }

    /// The merge key of lists that strategic merge patches merge element by element (the
    /// `patchMergeKey` of Kubernetes' types); other lists are replaced.
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name", "env": "name",
        "volumeMounts": "mountPath", "volumeDevices": "devicePath", "ports": "containerPort", "imagePullSecrets": "name",
        "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
    ]

    /// A strategic merge patch as kubectl's client-side apply sends it: maps merge as in a JSON
    /// merge patch, lists with a known merge key merge element by element (`$patch: delete`
    /// removes one), `$setElementOrder/…` and `$retainKeys` directives are honoured by ignoring
    /// them (order and pruning follow the patch), and other lists are replaced.
    static func strategicMerge(_ patch: JSON, into target: JSON) -> JSON {
        guard case .object(let patchFields) = patch else { return patch }
        if patchFields["$patch"] == .string("replace") {
            return .object(patchFields.filter { $0.key != "$patch" })
        }
        var result = target.objectValue ?? [:]
        for (key, value) in patchFields {
            if key.hasPrefix("$setElementOrder/") || key == "$retainKeys" || key == "$patch" { continue }
            if value == .null {
                result[key] = nil
            } else if case .array(let items) = value, let mergeKey = mergeKeys[key], case .array(let current)? = result[key],
                      items.allSatisfy({ $0[mergeKey] != nil }) {
                var merged = current
                for item in items {
                    let index = merged.firstIndex { $0[mergeKey] == item[mergeKey] }
                    if item["$patch"] == .string("delete") {
                        if let index { merged.remove(at: index) }
                    } else if let index {
                        merged[index] = strategicMerge(item, into: merged[index])
                    } else {
                        merged.append(strategicMerge(item, into: .object([:])))
                    }
                }
                result[key] = .array(merged)
            } else if case .object = value {
                result[key] = strategicMerge(value, into: result[key] ?? .object([:]))
            } else {
                result[key] = value
            }
        }
        return .object(result)
    }

    /// Applies the operations of a JSON patch (`add`, `remove`, `replace`, `test`, `copy`, `move`).
    static func apply(_ patch: JSON, to target: JSON) throws -> JSON {
        guard let operations = patch.arrayValue else { throw bad("a JSON patch must be an array of operations") }
        var document = target
        for operation in operations {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw bad("every JSON patch operation needs 'op' and 'path'")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add": document = try set(document, pointer, operation["value"] ?? .null, inserting: true)
            case "replace":
                _ = try get(document, pointer)
                document = try set(document, pointer, operation["value"] ?? .null, inserting: false)
            case "remove": document = try remove(document, pointer)
            case "test":
                guard try get(document, pointer) == operation["value"] else { throw bad("test operation failed at \(path)") }
            case "copy", "move":
                guard let from = operation["from"]?.stringValue else { throw bad("\(op) needs 'from'") }
                let source = try parsePointer(from)
                let value = try get(document, source)
                if op == "move" { document = try remove(document, source) }
                document = try set(document, pointer, value, inserting: true)
            default: throw bad("unknown JSON patch operation '\(op)'")
            }
        }
        return document
    }

    private static func bad(_ message: String) -> Status {
        Status(code: 422, reason: "Invalid", message: message)
    }

    private static func parsePointer(_ path: String) throws -> [String] {
        guard path.isEmpty || path.hasPrefix("/") else { throw bad("invalid JSON pointer '\(path)'") }
        return path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func get(_ document: JSON, _ pointer: [String]) throws -> JSON {
        var current = document
        for token in pointer {
            if let object = current.objectValue, let next = object[token] {
                current = next
            } else if let array = current.arrayValue, let index = Int(token), array.indices.contains(index) {
                current = array[index]
            } else {
                throw bad("path /\(pointer.joined(separator: "/")) does not exist")
            }
        }
        return current
    }

    private static func set(_ document: JSON, _ pointer: [String], _ value: JSON, inserting: Bool) throws -> JSON {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        if var object = document.objectValue {
            if rest.isEmpty {
                object[token] = value
            } else {
                guard let child = object[token] else { throw bad("path /\(pointer.joined(separator: "/")) does not exist") }
                object[token] = try set(child, rest, value, inserting: inserting)
            }
            return .object(object)
        }
        if var array = document.arrayValue {
            if rest.isEmpty {
                if token == "-" && inserting { array.append(value); return .array(array) }
                guard let index = Int(token), index >= 0, index <= array.count, inserting || index < array.count else {
                    throw bad("array index \(token) is out of range")
                }
                if inserting { array.insert(value, at: index) } else { array[index] = value }
                return .array(array)
            }
            guard let index = Int(token), array.indices.contains(index) else { throw bad("array index \(token) is out of range") }
            array[index] = try set(array[index], rest, value, inserting: inserting)
            return .array(array)
        }
        throw bad("path /\(pointer.joined(separator: "/")) does not exist")
    }

    private static func remove(_ document: JSON, _ pointer: [String]) throws -> JSON {
        guard let token = pointer.first else { throw bad("cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        if var object = document.objectValue {
            guard let child = object[token] else { throw bad("path /\(pointer.joined(separator: "/")) does not exist") }
            object[token] = rest.isEmpty ? nil : try remove(child, rest)
            return .object(object)
        }
        if var array = document.arrayValue, let index = Int(token), array.indices.contains(index) {
            if rest.isEmpty { array.remove(at: index) } else { array[index] = try remove(array[index], rest) }
            return .array(array)
        }
        throw bad("path /\(pointer.joined(separator: "/")) does not exist")
    }
}
