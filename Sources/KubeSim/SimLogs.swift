import Foundation
import HTTPServing
import Hummingbird
import KubeAPI
import NIOCore
import Synchronization

/// What the containers of a cluster's pods have written. KubeSim runs nothing, so a container
/// writes only what a test or a caller of `SimCluster.writeLog` gives it. Kept per pod (by
/// uid: a new pod of the same name starts empty) and container, the last `limit` lines each;
/// followers (`kubectl logs -f`) get each line as it is written.
final class PodLogs: Sendable {
    struct Line: Sendable {
        let time: Date
        let text: String
    }

    private struct Key: Hashable {
        let uid: String
        let container: String
    }

    private struct State {
        var lines: [Key: [Line]] = [:]
        var followers: [UUID: (key: Key, continuation: AsyncStream<Line>.Continuation)] = [:]
    }

    static let limit = 10_000
    private let state = Mutex(State())

    func append(uid: String, container: String, _ line: Line) {
        let key = Key(uid: uid, container: container)
        state.withLock { state in
            state.lines[key, default: []].append(line)
            if state.lines[key]!.count > Self.limit + Self.limit / 4 { state.lines[key]!.removeFirst(state.lines[key]!.count - Self.limit) }
            for follower in state.followers.values where follower.key == key { follower.continuation.yield(line) }
        }
    }

    /// The lines written so far and, when `follow`, a stream of those written from then on
    /// (taken at once, so none falls between); `stop(id)` ends it.
    func read(uid: String, container: String, follow: Bool) -> (lines: [Line], more: AsyncStream<Line>?, id: UUID) {
        let key = Key(uid: uid, container: container), id = UUID()
        return state.withLock { state in
            guard follow else { return (state.lines[key] ?? [], nil, id) }
            let (stream, continuation) = AsyncStream<Line>.makeStream(bufferingPolicy: .bufferingNewest(Self.limit))
            state.followers[id] = (key, continuation)
            return (state.lines[key] ?? [], stream, id)
        }
    }

    func stop(_ id: UUID) {
        state.withLock { $0.followers.removeValue(forKey: id) }?.continuation.finish()
    }

    /// Forgets the lines of pods that are gone.
    func keep(uids: Set<String>) {
        state.withLock { state in state.lines = state.lines.filter { uids.contains($0.key.uid) } }
    }
}

extension SimCluster {
    /// Writes `text` (one line) to the log of `container` (the pod's first container if nil) of
    /// a pod, as if the container had printed it; followers of that log get it at once.
    public func writeLog(namespace: String, pod: String, container: String? = nil, _ text: String) throws(Status) {
        let object = try get(Self.type("pods"), namespace: namespace, name: pod)
        let first = object[path: "spec.containers"]?.arrayValue?.first?["name"]?.stringValue
        guard let name = container ?? first, PodLogRequest.containers(of: object).contains(name) else {
            throw Status(code: 400, reason: "BadRequest", message: "container \(container ?? "") is not valid for pod \(pod)")
        }
        let uid = object[path: "metadata.uid"]?.stringValue ?? ""
        // The lines of pods that have gone are let go as new ones are written.
        logs.keep(uids: Set(state.withLock { ($0.objects[Self.type("pods")] ?? [:]).values.compactMap { $0[path: "metadata.uid"]?.stringValue } }))
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            logs.append(uid: uid, container: name, PodLogs.Line(time: clock(), text: String(line)))
        }
    }
}

/// `GET …/pods/<name>/log`, as the API server and a kubelet answer it: the container named by
/// `container`, or the pod's only one (400 naming the choices when it has several, or for a
/// container it does not have); `previous` (a 400: no container of KubeSim's ever restarted),
/// `timestamps`, `tailLines`, `sinceSeconds`, `limitBytes`; `follow` keeps the answer open,
/// each new line written as it comes, until the pod goes or the client leaves. A pod not yet
/// bound to a node has an empty log, as a real server answers it. `text/plain`.
struct PodLogRequest {
    let cluster: SimCluster
    let namespace: String
    let name: String
    let query: [String: String]
    let clientGone: ClientGone?

    /// Every container of the pod, init containers first, as the real message lists them.
    static func containers(of pod: JSON) -> [String] {
        ["initContainers", "containers", "ephemeralContainers"].flatMap { field in
            (pod[path: "spec.\(field)"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        }
    }

    func respond() throws -> Response {
        let pod = try cluster.get(SimCluster.type("pods"), namespace: namespace, name: name)
        let container = try self.container(of: pod)
        if ["1", "true"].contains(query["previous"]) {
            throw Status(code: 400, reason: "BadRequest", message: "previous terminated container \"\(container)\" in pod \"\(name)\" not found")
        }
        let headers: HTTPFields = [.contentType: "text/plain"]
        guard pod[path: "spec.nodeName"]?.stringValue.map({ !$0.isEmpty }) == true else { return Response(status: .ok, headers: headers) }
        let uid = pod[path: "metadata.uid"]?.stringValue ?? ""
        let follow = ["1", "true"].contains(query["follow"])
        let (lines, more, id) = cluster.logs.read(uid: uid, container: container, follow: follow)
        var shown = lines
        if let since = query["sinceSeconds"].flatMap(Int.init) {
            let from = cluster.clock().addingTimeInterval(-TimeInterval(since))
            shown = shown.filter { $0.time >= from }
        }
        if let tail = query["tailLines"].flatMap(Int.init), tail >= 0 { shown = Array(shown.suffix(tail)) }
        var renderer = Renderer(timestamps: ["1", "true"].contains(query["timestamps"]), budget: query["limitBytes"].flatMap(Int.init) ?? Int.max)
        let first = shown.compactMap { renderer.render($0) }.reduce(into: ByteBuffer()) { all, part in var part = part; all.writeBuffer(&part) }
        guard let more else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: first))
        }
        let cluster = self.cluster, namespace = self.namespace, clientGone = self.clientGone, afterFirst = renderer
        return Response(status: .ok, headers: headers, body: .init { writer in
            defer { cluster.logs.stop(id) }
            var renderer = afterFirst
            if first.readableBytes > 0 { try await writer.write(first) }
            // The log ends when the pod goes (its containers stop) or the client leaves.
            let gone = ClientGoneRegistration()
            defer { gone.cancel() }
            clientGone?.whenGone(gone) { cluster.logs.stop(id) }
            let pods = try cluster.watch(SimCluster.type("pods"), namespace: namespace, selector: LabelSelector(), after: cluster.revision)
            let watching = Task {
                for await event in pods where event.type == "DELETED" && event.object[path: "metadata.uid"]?.stringValue == uid { break }
                cluster.logs.stop(id)
            }
            defer { watching.cancel() }
            // Gone already, between the read and the watch: nothing more will come.
            if (try? cluster.get(SimCluster.type("pods"), namespace: namespace, name: name))?[path: "metadata.uid"]?.stringValue != uid { cluster.logs.stop(id) }
            for await line in more {
                guard let buffer = renderer.render(line) else { break }
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        })
    }

    /// Lines as a kubelet sends them: with `timestamps`, RFC 3339 with nanoseconds (Go's
    /// `RFC3339Nano`, trailing zeros dropped) and a space first; cut at `limitBytes` in all.
    struct Renderer {
        let timestamps: Bool
        var budget: Int

        mutating func render(_ line: PodLogs.Line) -> ByteBuffer? {
            guard budget > 0 else { return nil }
            var bytes = Array(((timestamps ? Self.timestamp(line.time) + " " : "") + line.text + "\n").utf8)
            if bytes.count > budget { bytes = Array(bytes.prefix(budget)) }
            budget -= bytes.count
            return ByteBuffer(bytes: bytes)
        }

        static func timestamp(_ time: Date) -> String {
            let seconds = time.timeIntervalSince1970.rounded(.down)
            let nanos = Int((time.timeIntervalSince1970 - seconds) * 1_000_000_000)
            var fraction = String(format: "%09d", nanos)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            let whole = KubeTime.format(Date(timeIntervalSince1970: seconds))
            return fraction.isEmpty ? whole : whole.dropLast() + "." + fraction + "Z"
        }
    }

    private func container(of pod: JSON) throws(Status) -> String {
        let all = Self.containers(of: pod)
        if let asked = query["container"], !asked.isEmpty {
            guard all.contains(asked) else { throw Status(code: 400, reason: "BadRequest", message: "container \(asked) is not valid for pod \(name)") }
            return asked
        }
        let containers = (pod[path: "spec.containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        switch containers.count {
        case 1: return containers[0]
        case 0: throw Status(code: 400, reason: "BadRequest", message: "a container name must be specified for pod \(name)")
        default: throw Status(code: 400, reason: "BadRequest", message: "a container name must be specified for pod \(name), choose one of: [\(all.joined(separator: " "))]")
        }
    }
}
