import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import NIOCore
import Testing
import TestSupport

/// Streaming lists (`watch` with `sendInitialEvents=true`, what client-go's informers ask for
/// when their WatchListClient feature is on), as a real API server answers them.
@Suite struct StreamingListTests {
    static func client(_ sim: TestKubeSim) throws -> KubeClient {
        var configuration = KubeClient.Configuration()
        configuration.retries = 0
        return try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig("a")).connection(), configuration: configuration)
    }

    static func configMap(_ name: String) -> ConfigMap {
        ConfigMap(metadata: ObjectMeta(name: name, namespace: "default"), data: [:])
    }

    /// The body of a GET as events (lines of JSON), or its status and text.
    static func get(_ client: KubeClient, _ pathAndQuery: String) async throws -> (status: UInt, events: [JSON], text: String) {
        let response = try await client.forward(.GET, pathAndQuery: pathAndQuery, headers: [:], body: nil, impersonation: nil, timeout: .seconds(20))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let events = text.split(separator: "\n").compactMap { try? JSONDecoder().decode(JSON.self, from: Data($0.utf8)) }
        return (response.status.code, events, text)
    }

    @Test func aStreamingListBeginsWithTheObjectsAndABookmark() async throws {
        try await TestKubeSim.with { sim in
            let client = try Self.client(sim)
            for name in ["m0", "m1"] { _ = try await client.create(Self.configMap(name)) }
            let before = try await client.list(ConfigMap.self, namespace: "default").metadata.resourceVersion
            let query = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2"
            async let watched = Self.get(client, "/api/v1/namespaces/default/configmaps?\(query)")
            try await Task.sleep(for: .milliseconds(700))
            _ = try await client.create(Self.configMap("m2"))
            let events = try await watched.events
            let kinds = events.map { "\($0["type"]?.stringValue ?? "")/\($0[path: "object.metadata.name"]?.stringValue ?? "")" }
            #expect(kinds.prefix(5) == ["ADDED/kube-root-ca.crt", "ADDED/m0", "ADDED/m1", "BOOKMARK/", "ADDED/m2"], "\(kinds)")
            let bookmark = events.first { $0["type"] == .string("BOOKMARK") }
            #expect(bookmark?[path: "object.metadata.annotations"]?["k8s.io/initial-events-end"] == .string("true"))
            #expect(bookmark?[path: "object.metadata.resourceVersion"]?.stringValue == before, "\(String(describing: bookmark))")
            #expect(bookmark?[path: "object.kind"] == .string("ConfigMap"))
        }
    }

    /// A watch with no resourceVersion (or 0) begins with the objects there are now, each ADDED,
    /// as a real server's does; a watch from a resourceVersion gets what happened after it.
    @Test func aWatchWithoutResourceVersionBeginsWithTheObjectsThereAreNow() async throws {
        try await TestKubeSim.with { sim in
            let client = try Self.client(sim)
            for name in ["m0", "m1", "gone"] { _ = try await client.create(Self.configMap(name)) }
            let before = try await client.list(ConfigMap.self, namespace: "default").metadata.resourceVersion ?? ""
            try await client.delete(ConfigMap.self, "gone", namespace: "default")
            func names(_ query: String) async throws -> [String] {
                try await Self.get(client, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1\(query)").events.map {
                    "\($0["type"]?.stringValue ?? "")/\($0[path: "object.metadata.name"]?.stringValue ?? "")"
                }
            }
            // The namespace's own kube-root-ca.crt first, as a real cluster lists it.
            #expect(try await names("") == ["ADDED/kube-root-ca.crt", "ADDED/m0", "ADDED/m1"])
            #expect(try await names("&resourceVersion=0") == ["ADDED/kube-root-ca.crt", "ADDED/m0", "ADDED/m1"])
            #expect(try await names("&resourceVersion=\(before)") == ["DELETED/gone"])
        }
    }

    @Test func streamingListOptionsAreCheckedAsARealServerChecksThem() async throws {
        try await TestKubeSim.with { sim in
            let client = try Self.client(sim)
            let cases = [
                ("sendInitialEvents=true", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
                ("resourceVersionMatch=NotOlderThan", "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"),
                ("sendInitialEvents=true&resourceVersionMatch=Exact", "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"]"),
            ]
            for (query, message) in cases {
                let answer = try await Self.get(client, "/api/v1/namespaces/default/configmaps?watch=1&\(query)")
                let status = try JSONDecoder().decode(JSON.self, from: Data(answer.text.utf8))
                #expect(answer.status == 422 && status["reason"] == .string("Invalid") && status["message"] == .string(message), "\(query): \(answer.text)")
                #expect(status[path: "details.kind"] == .string("ListOptions") && status[path: "details.group"] == .string("meta.k8s.io"))
            }
            // sendInitialEvents=false with NotOlderThan: an ordinary watch.
            let plain = try await Self.get(client, "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
            #expect(plain.status == 200 && !plain.events.contains { $0["type"] == .string("BOOKMARK") }, "\(plain.text)")
        }
    }
}
