import Foundation
import HTTPServing
import Hummingbird
import KubeAPI
import NIOCore
import Yams

/// The verbs on one resource target: get, list, watch, create, update, patch, delete.
struct SimVerbs {
    let request: SimRequest
    let target: SimRequest.Target

    var cluster: SimCluster { request.cluster }
    var type: ResourceType { target.type }
    /// The query as Go's `url.ParseQuery` reads it, as a real server does: `+` is a space (kubectl
    /// sends `-l 'app in (a,b)'` so), `%XX` a byte; a repeated key's first value.
    var query: [String: String] {
        var result: [String: String] = [:]
        for pair in (request.request.uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let key = decoded(parts[0])
            if result[key] == nil { result[key] = parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return result
    }

    func respond() async throws -> Response {
        if let name = target.name, let subresource = target.subresource {
            return try await respondToSubresource(name, subresource)
        }
        switch (request.request.method, target.name) {
        case (.get, nil):
            if ["1", "true"].contains(query["watch"]) { return try watch() }
            return try list()
        case (.get, let name?):
            let object = try cluster.get(type, namespace: target.namespace, name: name)
            if wantsTable { return SimAPI.json(SimTable.table([object], type: type, revision: nil, includeObject: query["includeObject"], now: Date())) }
            return SimAPI.json(object)
        case (.post, nil):
            let (object, dropped) = try decoded(try await body(), directive: try FieldValidation(query: query["fieldValidation"], options: "CreateOptions"))
            let created = try cluster.create(type, namespace: target.namespace, object: object)
            return SimAPI.json(created, status: .created).warning(dropped)
        case (.put, let name?):
            let (object, dropped) = try decoded(try await body(), directive: try FieldValidation(query: query["fieldValidation"], options: "UpdateOptions"))
            return SimAPI.json(try cluster.update(type, namespace: target.namespace, name: name, object: object)).warning(dropped)
        case (.patch, let name?):
            let directive = try FieldValidation(query: query["fieldValidation"], options: "PatchOptions")
            if (request.request.headers[.contentType] ?? "").hasPrefix("application/apply-patch") {
                return try await serverSideApply(name)
            }
            return try await patch(name, directive: directive)
        case (.delete, let name?):
            // DeleteOptions may come in the body (`kubectl delete --cascade=…`) or the query; the
            // sim keeps the last body for tests to see, and its garbage collector follows the
            // propagation policy.
            let headers = request.request.headers
            var propagation = query["propagationPolicy"]
            var grace = query["gracePeriodSeconds"].flatMap { Int($0) }
            if (headers[.contentLength].flatMap { Int($0) } ?? 0) > 0 || headers[.transferEncoding] != nil {
                let options = try await body()
                cluster.lastDeleteOptions = options
                propagation = options["propagationPolicy"]?.stringValue ?? (options["orphanDependents"] == .bool(true) ? "Orphan" : propagation)
                grace = options["gracePeriodSeconds"]?.numberValue.map { Int($0) } ?? grace
            }
            return SimAPI.json(try cluster.delete(type, namespace: target.namespace, name: name, propagation: propagation, gracePeriod: grace))
        case (.delete, nil):
            let items = try cluster.list(type, namespace: target.namespace, labelSelector: try labelSelector()).items
            for item in items {
                if let name = item[path: "metadata.name"]?.stringValue { _ = try? cluster.delete(type, namespace: target.namespace, name: name) }
            }
            return SimAPI.json(listBody(items, revision: cluster.revision, continue: nil))
        default:
            throw Status(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
        }
    }

    private func labelSelector() throws -> LabelSelector {
        do {
            return try query["labelSelector"].map { try LabelSelector(parsing: $0) } ?? LabelSelector()
        } catch {
            throw Status(code: 400, reason: "BadRequest", message: "\(error)")
        }
    }

    /// The request's `fieldSelector`; 400 when it does not parse.
    private func fieldSelector() throws -> FieldSelector {
        do { return try query["fieldSelector"].map { try FieldSelector(parsing: $0) } ?? FieldSelector() } catch {
            throw Status(code: 400, reason: "BadRequest", message: "\(error)")
        }
    }

    private func list() throws -> Response {
        let fields = try fieldSelector()
        let page = try cluster.list(
            type, namespace: target.namespace, labelSelector: try labelSelector(), fieldSelector: fields,
            limit: query["limit"].flatMap(Int.init), continue: query["continue"]
        )
        if wantsTable {
            var table = SimTable.table(page.items, type: type, revision: page.revision, includeObject: query["includeObject"], now: Date())
            if let token = page.continue { table[path: "metadata.continue"] = .string(token) }
            return SimAPI.json(table)
        }
        return SimAPI.json(listBody(page.items, revision: page.revision, continue: page.continue))
    }

    /// Whether the client asked for the Table form (`kubectl get`).
    private var wantsTable: Bool { SimTable.isRequested(request.request.headers[.accept]) }

    private func listBody(_ items: [JSON], revision: Int64, continue token: String?) -> JSON {
        var metadata: [String: JSON] = ["resourceVersion": .string(String(revision))]
        if let token { metadata["continue"] = .string(token) }
        return .object([
            "apiVersion": .string(type.apiVersion), "kind": .string(type.kind + "List"),
            "metadata": .object(metadata), "items": .array(items),
        ])
    }

    /// A watch: one JSON event per line, until the cluster closes it or `timeoutSeconds` passes.
    private func watch() throws -> Response {
        // No resourceVersion, or 0: begin with the objects there are now (real servers' "start at
        // most recent" and "start at any"), not with the history kept.
        let after = query["resourceVersion"].flatMap(Int64.init).flatMap { $0 == 0 ? nil : $0 }
        let initialEvents = try Self.initialEvents(query)
        let stream: AsyncStream<SimCluster.Event>
        do {
            stream = try cluster.watch(type, namespace: target.namespace, selector: try labelSelector(), after: after, initialEvents: initialEvents)
        } catch let status as Status where status.code == 410 {
            // A real server answers a too-old watch with 200 and one ERROR event.
            let line = Self.line(["type": .string("ERROR"), "object": (try? JSON(encoding: status)) ?? .null])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: line)))
        }
        let fields = try fieldSelector()
        let timeout = Duration.seconds(Int(query["timeoutSeconds"] ?? "1800") ?? 1800)
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let type = self.type
        let cluster = self.cluster
        let table = wantsTable
        let includeObject = query["includeObject"]
        let clientGone = request.clientGone
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init { writer in
            // Events and the timeout meet in one stream, so that only this task writes; the
            // watch ends when its client goes.
            enum Item: Sendable { case event(SimCluster.Event), timeout }
            let (items, input) = AsyncStream<Item>.makeStream()
            let gone = ClientGoneRegistration()
            defer { gone.cancel() }
            clientGone?.whenGone(gone) { input.finish() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in stream { input.yield(.event(event)) }
                    input.finish()
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    input.yield(.timeout)
                    input.finish()
                }
                for await item in items {
                    switch item {
                    case .event(let event):
                        let isBookmark = event.type == "BOOKMARK"
                        guard isBookmark || fields.matches({ event.object[path: $0]?.stringValue }) else { continue }
                        let object = table && !isBookmark
                            ? SimTable.table([event.object], type: type, revision: event.revision, includeObject: includeObject, now: Date())
                            : event.object
                        try await writer.write(ByteBuffer(bytes: Self.line(["type": .string(event.type), "object": object])))
                    case .timeout:
                        if bookmarks {
                            let bookmark: JSON = .object(["kind": .string(type.kind), "apiVersion": .string(type.apiVersion),
                                                          "metadata": .object(["resourceVersion": .string(String(cluster.revision))])])
                            try await writer.write(ByteBuffer(bytes: Self.line(["type": .string("BOOKMARK"), "object": bookmark])))
                        }
                    }
                }
                group.cancelAll()
            }
            try await writer.finish(nil)
        })
    }

    /// A streaming list's options (`sendInitialEvents`, `resourceVersionMatch`), checked as a real
    /// server checks them: `true` when the watch begins with the current objects and a bookmark.
    static func initialEvents(_ query: [String: String]) throws(Status) -> Bool {
        let initial = query["sendInitialEvents"].map { $0 == "true" || $0 == "1" }
        let match = query["resourceVersionMatch"] ?? ""
        var causes: [Status.Cause] = []
        func forbidden(_ message: String) {
            causes.append(Status.Cause(reason: "FieldValueForbidden", message: "Forbidden: \(message)", field: "resourceVersionMatch"))
        }
        if initial != nil, match != "NotOlderThan" { forbidden("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan") }
        if !match.isEmpty {
            if initial == nil { forbidden("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided") }
            if match != "NotOlderThan" {
                causes.append(Status.Cause(
                    reason: "FieldValueNotSupported", message: "Unsupported value: \"\(match)\": supported values: \"NotOlderThan\"",
                    field: "resourceVersionMatch"
                ))
            }
        }
        guard causes.isEmpty else { throw Status.invalid(kind: "ListOptions", "", causes: causes, group: "meta.k8s.io") }
        return initial == true
    }

    static func line(_ event: [String: JSON]) -> [UInt8] {
        JSON.object(event).serialized() + [UInt8(ascii: "\n")]
    }

    func body() async throws -> JSON {
        try await SimBody.read(request.request)
    }
}

/// Request bodies: JSON, or Kubernetes protobuf for the kinds kubectl's typed clients send.
enum SimBody {
    static func read(_ request: Request) async throws -> JSON {
        let contentType = request.headers[.contentType] ?? "application/json"
        let buffer = try await request.body.collect(upTo: 3 << 20)
        if contentType.hasPrefix("application/vnd.kubernetes.protobuf") {
            if let object = try KubeProtobuf.decode(Data(buffer.readableBytesView)) { return object }
            throw Status(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
        }
        do {
            return try JSONDecoder().decode(JSON.self, from: Data(buffer.readableBytesView))
        } catch {
            throw Status(code: 400, reason: "BadRequest", message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
        }
    }
}

extension SimVerbs {
    /// Server-side apply (`kubectl apply --server-side`): creates the object when it is missing,
    /// otherwise merges the applied configuration into it. Field ownership and conflicts between
    /// managers are not tracked (see Docs/KubeSim.md).
    func serverSideApply(_ name: String) async throws -> Response {
        let buffer = try await request.request.body.collect(upTo: 3 << 20)
        let data = Data(buffer.readableBytesView)
        let applied: JSON
        if let json = try? JSONDecoder().decode(JSON.self, from: data) {
            applied = json
        } else if let text = String(data: data, encoding: .utf8), let yaml = try? Yams.load(yaml: text), let json = JSON(yamlValue: yaml) {
            applied = json
        } else {
            throw Status(code: 400, reason: "BadRequest", message: "the body of the apply request is neither JSON nor YAML")
        }
        guard applied[path: "metadata.name"]?.stringValue == name else {
            throw Status(code: 400, reason: "BadRequest", message: "the name of the object (\(applied[path: "metadata.name"]?.stringValue ?? "")) does not match the name on the URL (\(name))")
        }
        // The typed conversion of an applied configuration fails on a field the kind does not
        // have, whatever `fieldValidation` says.
        if let mismatch = FieldTypes.firstMismatch(applied, type: type) {
            throw FieldValidation.refusedApply([mismatch.applyError], type: type, namespace: target.namespace, name: name)
        }
        let unknown = FieldPruning.prune(applied, type: type).unknown
        if !unknown.isEmpty {
            let errors = FieldPruning.firstPerObject(unknown).map { "\($0.applyPath): field not declared in schema" }
            throw FieldValidation.refusedApply(errors, type: type, namespace: target.namespace, name: name)
        }
        if let current = try? cluster.get(type, namespace: target.namespace, name: name) {
            var merged = JSONPatch.merge(applied, into: current)
            merged[path: "metadata.resourceVersion"] = nil
            return SimAPI.json(try cluster.update(type, namespace: target.namespace, name: name, object: merged))
        }
        return SimAPI.json(try cluster.create(type, namespace: target.namespace, object: applied), status: .created)
    }

    /// JSON merge patch, strategic merge patch and JSON patch. Fields the patch adds that the
    /// kind does not have are dropped, with a warning, or refuse the patch (`directive`).
    func patch(_ name: String, directive: FieldValidation) async throws -> Response {
        let current = try cluster.get(type, namespace: target.namespace, name: name)
        let patch = try await body()
        let result = try patched(current, with: patch)
        let (object, dropped) = FieldPruning.prune(result, type: type)
        // A real server shows what the patch made: the patched object, or a strategic merge
        // patch itself as Go prints a map (decoded by the unstructured converter, in its words).
        // Rendered only for a refusal: most patches are taken.
        let strategic = (request.request.headers[.contentType] ?? "").hasPrefix("application/strategic-merge-patch+json")
        func shown() -> String { strategic ? GoValue.render(patch) : String(decoding: result.serialized(), as: UTF8.self) }
        if let mismatch = FieldTypes.firstMismatch(result, type: type) {
            throw FieldValidation.refusedPatch(strategic ? mismatch.conversionError : mismatch.decodeError, shown: shown())
        }
        if directive == .strict, !dropped.isEmpty { throw FieldValidation.refusedPatch(FieldValidation.strictError(dropped), shown: shown()) }
        let updated = try cluster.update(type, namespace: target.namespace, name: name, object: object)
        return SimAPI.json(updated).warning(noted(directive == .warn ? dropped : [], name: name))
    }

    /// A written object without the fields its kind does not have, refused instead when the
    /// directive is `Strict`; the fields to warn about.
    func decoded(_ body: JSON, directive: FieldValidation) throws(Status) -> (JSON, [UnknownField]) {
        // A value of the wrong type fails the decoding whatever the directive, before any
        // unknown field is counted.
        if let mismatch = FieldTypes.firstMismatch(body, type: type) { throw FieldValidation.refusedBody(mismatch.decodeError, type: type) }
        let (object, dropped) = FieldPruning.prune(body, type: type)
        if directive == .strict, !dropped.isEmpty { throw FieldValidation.refusedBody(FieldValidation.strictError(dropped), type: type) }
        return (object, noted(directive == .warn ? dropped : [], name: object[path: "metadata.name"]?.stringValue ?? ""))
    }

    /// Keeps `dropped` in the cluster's record of dropped fields (`SimCluster.unknownFieldsWarned`).
    private func noted(_ dropped: [UnknownField], name: String) -> [UnknownField] {
        if !dropped.isEmpty {
            cluster.droppedFields.withLock { record in
                record += dropped.map { "\(type.qualifiedName)/\(name): \($0.path)" }
                // A long-running sim keeps the latest thousand.
                if record.count > 1000 { record.removeFirst(record.count - 1000) }
            }
        }
        return dropped
    }

    /// `current` with `patch` applied.
    func patched(_ current: JSON, with patch: JSON) throws -> JSON {
        let contentType = request.request.headers[.contentType] ?? ""
        var patched: JSON
        if contentType.hasPrefix("application/json-patch+json") {
            patched = try JSONPatch.apply(patch, to: current)
        } else if contentType.hasPrefix("application/merge-patch+json") {
            patched = JSONPatch.merge(patch, into: current)
        } else if contentType.hasPrefix("application/strategic-merge-patch+json") {
            patched = JSONPatch.strategicMerge(patch, into: current)
        } else {
            throw Status(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        }
        if patch[path: "metadata.resourceVersion"] == nil { patched[path: "metadata.resourceVersion"] = nil }
        return patched
    }
}

extension JSON {
    /// A YAML document as loaded by Yams, as JSON (`nil` for values JSON cannot hold).
    init?(yamlValue value: Any) {
        switch value {
        case let text as String: self = .string(text)
        case let flag as Bool: self = .bool(flag)
        case let number as Int: self = .number(Double(number))
        case let number as Double: self = .number(number)
        case let list as [Any]:
            var items: [JSON] = []
            for item in list {
                guard let converted = JSON(yamlValue: item) else { return nil }
                items.append(converted)
            }
            self = .array(items)
        case let map as [String: Any]:
            var fields: [String: JSON] = [:]
            for (key, item) in map {
                guard let converted = JSON(yamlValue: item) else { return nil }
                fields[key] = converted
            }
            self = .object(fields)
        case is NSNull: self = .null
        default: return nil
        }
    }
}
