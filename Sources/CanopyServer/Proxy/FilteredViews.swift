import AsyncHTTPClient
import Foundation
import HTTPServing
import Hummingbird
import KubeAPI
import KubeClient
import NIOCore
import NIOHTTP1
import Synchronization

/// `kubectl get namespaces` for a project user: the cluster's list (read with Canopy's own
/// credentials) reduced to the caller's namespaces, as JSON or Table, and as a watch.
struct NamespaceListFilter {
    let client: KubeClient
    let allowed: Set<String>
    let deadline: TimeAmount
    /// The most of the cluster's list held at once (`ServerConfiguration.proxyGatherLimit`).
    let limit: Int
    /// What all gathered lists together may hold.
    let pool: GatherPool
    /// Whose share of the pool the list draws on: the caller's tenant.
    let holder: String

    func respond(path: String, query: String, headers: HTTPHeaders, isWatch: Bool, clientGone: ClientGone?) async throws -> Response {
        // A list is read whole and paged here: the cluster's pages would hold other projects'
        // namespaces, and its continue tokens name them.
        let paging = isWatch ? nil : try ListPaging(query: query)
        let response = try await client.forward(
            .GET, pathAndQuery: path + (paging?.rest ?? query), headers: try JSONViews.asking(headers), body: nil, impersonation: nil,
            timeout: deadline
        )
        guard response.status == .ok else { return try await KubeProxy.streamed(response, client: client, waitForFirstBytes: true) }
        let contentType = response.headers.first(name: "Content-Type") ?? "application/json"
        guard contentType.hasPrefix("application/json") else {
            // Only JSON can be filtered; anything else would show other projects' namespaces.
            throw ProxyStatus(406, "NotAcceptable", "only JSON answers are available for namespace lists through Canopy")
        }
        if let paging {
            let data = try await GatherBudget(limit, pool: pool, holder: holder).collect(response.body)
            let list = try JSONDecoder().decode(JSON.self, from: data)
            return Self.json(paging.page(ofNamespaces: Self.filter(list, allowed: allowed) ?? list), status: 200)
        }
        let allowed = allowed
        let body = UpstreamBody(response, client: client)
        return Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody { writer in
            try await WatchEvents.forEach(in: body.rest(until: clientGone)) { event in
                var event = event
                if let object = event["object"], event["type"]?.stringValue != "BOOKMARK" && event["type"]?.stringValue != "ERROR" {
                    guard let kept = Self.filter(object, allowed: allowed, dropEmpty: true) else { return }
                    event["object"] = kept
                }
                try await writer.write(WatchEvents.line(event))
            }
            try await writer.finish(nil)
        })
    }

    /// A list, a Table or one object, keeping only allowed namespaces; `nil` when one object (or,
    /// with `dropEmpty`, a Table) has nothing left.
    static func filter(_ object: JSON, allowed: Set<String>, dropEmpty: Bool = false) -> JSON? {
        var result = object
        if object["kind"]?.stringValue == "Table" {
            let rows = (object["rows"]?.arrayValue ?? []).filter { row in
                let name = row[path: "object.metadata.name"]?.stringValue ?? row["cells"]?.arrayValue?.first?.stringValue
                return name.map(allowed.contains) ?? false
            }
            if dropEmpty && rows.isEmpty { return nil }
            result["rows"] = .array(rows)
            return result
        }
        if let items = object["items"]?.arrayValue {
            result["items"] = .array(items.filter { ($0[path: "metadata.name"]?.stringValue).map(allowed.contains) ?? false })
            return result
        }
        return (object[path: "metadata.name"]?.stringValue).map(allowed.contains) == true ? object : nil
    }

    static func json(_ value: JSON, status: Int) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }
}

/// `kubectl get pods -A` for a project user: the same list asked of each of their namespaces on
/// the cluster (as them), merged into one answer, JSON or Table; and `kubectl get pods -A -w`:
/// the same watch opened on each of their namespaces, the events merged into one stream.
struct FanOut {
    let client: KubeClient
    let impersonation: KubeClient.Impersonation
    let deadline: TimeAmount
    /// The most all the namespaces' answers may hold at once (`ServerConfiguration.proxyGatherLimit`).
    let gatherLimit: Int
    /// What all gathered lists together may hold.
    let pool: GatherPool
    /// Whose share of the pool the list draws on: the caller's tenant.
    let holder: String

    func respond(target: KubePath, query: String, namespaces: [String], headers: HTTPHeaders) async throws -> Response {
        guard let (root, resource) = target.clusterWideResource else { throw ProxyStatus.notFound }
        let paging = try ListPaging(query: query)
        let asked = paging.remaining(of: namespaces)
        let headers = try JSONViews.asking(headers)
        let budget = GatherBudget(gatherLimit, pool: pool, holder: holder)
        // With a limit, namespaces are asked in waves (8, then 16, 32 …) until the page is full
        // or the cluster paged one: asking all at once with the limit each (kubectl's 500) made
        // a page of 500 cost namespaces × 500 items of the cluster's work and of the budget,
        // which refused large projects' `get pods -A` outright. Without one, all at once.
        var parts: [(namespace: String, answer: JSON)] = []
        var count = 0, wave = paging.limit == nil ? max(asked.count, 1) : 8
        while parts.count < asked.count {
            let batch = Array(asked[parts.count..<min(parts.count + wave, asked.count)])
            wave *= 2
            let answers = try await withThrowingTaskGroup(of: (Int, UInt, Data).self) { group in
                for (index, namespace) in batch.enumerated() {
                    group.addTask {
                        let response = try await client.forward(
                            .GET, pathAndQuery: "\(root)/namespaces/\(namespace)/\(resource)\(paging.query(for: namespace))", headers: headers,
                            body: nil, impersonation: impersonation, timeout: .seconds(60)
                        )
                        return (index, response.status.code, try await budget.collect(response.body))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }
            }
            if let refused = answers.first(where: { $0.1 != 200 }) {
                return Response(status: .init(code: Int(refused.1)), headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: refused.2)))
            }
            var paged = false
            for answer in answers {
                let list = try JSONDecoder().decode(JSON.self, from: answer.2)
                parts.append((batch[answer.0], list))
                count += ListPaging.entries(of: list).values.count
                paged = paged || !(list[path: "metadata.continue"]?.stringValue ?? "").isEmpty
            }
            if let limit = paging.limit, paged || count >= limit { break }
        }
        let (taken, next) = paging.page(parts, following: parts.count < asked.count ? asked[parts.count] : nil)
        var merged = taken.first ?? .object(["kind": .string("List"), "apiVersion": .string("v1"), "items": .array([])])
        for part in taken.dropFirst() {
            for key in ["rows", "items"] {
                if let more = part[key]?.arrayValue { merged[key] = .array((merged[key]?.arrayValue ?? []) + more) }
            }
        }
        // A watch resumes from the merged list's resourceVersion: the oldest of the parts' (a
        // cluster's resourceVersions are one counter across namespaces), so that no namespace
        // misses an event; a part listed later may see one again. Without numbers, none.
        let versions = taken.map { $0[path: "metadata.resourceVersion"]?.stringValue }
        let numbers = versions.compactMap { $0.flatMap { Int64($0) } }
        merged[path: "metadata.resourceVersion"] = .string(numbers.count == versions.count ? numbers.min().map(String.init) ?? "" : "")
        merged[path: "metadata.remainingItemCount"] = nil
        merged[path: "metadata.continue"] = next.map(JSON.string)
        return NamespaceListFilter.json(merged, status: 200)
    }

    /// The watch on each namespace, merged: events as they come from any of them; bookmarks are
    /// left out (each namespace's would claim progress for all), but for a streaming list
    /// (`sendInitialEvents=true`, client-go's informers) the bookmark that ends the initial objects
    /// is sent once, when every namespace has sent its own; a Table's column definitions
    /// come once, with the first event. The stream ends when any of the watches ends (the client
    /// lists and watches again, as after any watch's end); a namespace whose watch is refused
    /// answers for all.
    func respondWatch(
        target: KubePath, query: String, namespaces: [String], headers: HTTPHeaders, clientGone: ClientGone
    ) async throws -> Response {
        guard let (root, resource) = target.clusterWideResource else { throw ProxyStatus.notFound }
        let headers = try JSONViews.asking(headers)
        let responses = try await withThrowingTaskGroup(of: (Int, HTTPClientResponse).self) { group in
            for (index, namespace) in namespaces.enumerated() {
                group.addTask {
                    let response = try await client.forward(
                        .GET, pathAndQuery: "\(root)/namespaces/\(namespace)/\(resource)\(query)", headers: headers, body: nil,
                        impersonation: impersonation, timeout: deadline
                    )
                    return (index, response)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }.map(\.1)
        }
        if let refused = responses.first(where: { $0.status != .ok }) {
            return try await KubeProxy.streamed(refused, client: client, waitForFirstBytes: true)
        }
        let contentType = responses.first?.headers.first(name: "Content-Type") ?? "application/json"
        guard contentType.hasPrefix("application/json") else {
            throw ProxyStatus(406, "NotAcceptable", "only JSON answers are available for watches across namespaces through Canopy")
        }
        let bodies = responses.map { UpstreamBody($0, client: client) }
        let (merged, continuation) = AsyncThrowingStream<JSON, any Error>.makeStream()
        let readers = Task {
            await withTaskGroup(of: Void.self) { group in
                for body in bodies {
                    group.addTask {
                        do {
                            try await WatchEvents.forEach(in: body.rest()) { event in
                                if event["type"]?.stringValue != "BOOKMARK" || WatchEvents.endsInitialEvents(event) { continuation.yield(event) }
                            }
                            continuation.finish()
                        } catch {
                            continuation.finish(throwing: error)
                        }
                    }
                }
            }
            continuation.finish()
        }
        let gone = ClientGoneRegistration()
        continuation.onTermination = { _ in
            readers.cancel()
            gone.cancel()
        }
        clientGone.whenGone(gone) { continuation.finish() }
        let parts = bodies.count
        return Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody { writer in
            var columnsSent = false
            var initialEnds: [Int64] = []
            for try await event in merged {
                var event = event
                if WatchEvents.endsInitialEvents(event) {
                    // A streaming list's end: once every namespace's initial objects are out, at
                    // the oldest of their resourceVersions (as a merged list's).
                    initialEnds.append(Int64(event[path: "object.metadata.resourceVersion"]?.stringValue ?? "") ?? 0)
                    guard initialEnds.count == parts else { continue }
                    event[path: "object.metadata.resourceVersion"] = .string(String(initialEnds.min() ?? 0))
                    try await writer.write(WatchEvents.line(event))
                    continue
                }
                if event[path: "object.kind"]?.stringValue == "Table" {
                    if columnsSent { event[path: "object.columnDefinitions"] = .array([]) }
                    columnsSent = true
                }
                try await writer.write(WatchEvents.line(event))
            }
            try await writer.finish(nil)
        })
    }
}

/// The views Canopy reads and rewrites (filtered, merged) are read as JSON: a client that also
/// accepts protobuf (client-go's `application/vnd.kubernetes.protobuf,application/json`) would
/// otherwise be answered in protobuf by a real cluster, which Canopy cannot filter.
enum JSONViews {
    /// `headers` with `Accept` reduced to its JSON media ranges (kubectl's Table offers among
    /// them); 406 when it offers none.
    static func asking(_ headers: HTTPHeaders) throws(ProxyStatus) -> HTTPHeaders {
        let offers = headers[canonicalForm: "Accept"]
        guard !offers.isEmpty else { return headers }
        let json = offers.map { String($0).trimmingCharacters(in: .whitespaces) }.filter { offer in
            let type = offer.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
            return type == "application/json" || type == "application/*" || type == "*/*"
        }
        guard !json.isEmpty else {
            throw ProxyStatus(406, "NotAcceptable", "only JSON answers (application/json) are available for this list through Canopy")
        }
        var headers = headers
        headers.replaceOrAdd(name: "Accept", value: json.joined(separator: ","))
        return headers
    }
}

/// A watch's body: one JSON event per line.
enum WatchEvents {
    /// Calls `body` with each event of `chunks`, as each line completes; lines that are not JSON
    /// are skipped; a line past `WatchLines.defaultMaxLine` ends the stream.
    static func forEach(in chunks: AsyncThrowingStream<ByteBuffer, any Error>, _ body: (JSON) async throws -> Void) async throws {
        var lines = WatchLines()
        for try await chunk in chunks {
            for line in try lines.feed(chunk.readableBytesView) {
                guard let event = try? JSONDecoder().decode(JSON.self, from: Data(line)), event["object"] != nil else { continue }
                try await body(event)
            }
        }
    }

    /// Whether `event` is the bookmark that ends a streaming list's initial objects.
    static func endsInitialEvents(_ event: JSON) -> Bool {
        event["type"]?.stringValue == "BOOKMARK" && event[path: "object.metadata.annotations"]?["k8s.io/initial-events-end"]?.stringValue == "true"
    }

    /// An event as a line to send.
    static func line(_ event: JSON) -> ByteBuffer {
        ByteBuffer(bytes: event.serialized() + [UInt8(ascii: "\n")])
    }
}
