import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// Lists in pages, with continue tokens in a real API server's form (REAL-CLUSTER.md: Canopy's
/// proxy must not assume more of them than they promise).
@Suite struct ListPagingTests {
    static let configMaps = ResourceType.find(group: "", version: "v1", resource: "configmaps")!

    /// Namespaces a and b; config maps a/m0…a/m4 and b/m0…b/m2.
    static func cluster() throws -> SimCluster {
        let cluster = SimCluster(name: "paging")
        for namespace in ["a", "b"] {
            try cluster.create(SimCluster.namespaceType, namespace: nil, object: .object(["metadata": .object(["name": .string(namespace)])]))
        }
        for (namespace, count) in [("a", 5), ("b", 3)] {
            for index in 0..<count {
                try cluster.create(Self.configMaps, namespace: namespace, object: .object(["metadata": .object(["name": .string("m\(index)")])]))
            }
        }
        return cluster
    }

    static func names(_ items: [JSON]) -> [String] {
        items.map { "\($0[path: "metadata.namespace"]?.stringValue ?? "")/\($0[path: "metadata.name"]?.stringValue ?? "")" }
    }

    /// Every page of a list, `limit` at a time.
    static func all(_ cluster: SimCluster, namespace: String?, limit: Int) throws -> (names: [String], tokens: [String]) {
        var names: [String] = [], tokens: [String] = [], token: String?
        repeat {
            let page = try cluster.list(Self.configMaps, namespace: namespace, limit: limit, continue: token)
            #expect(page.items.count <= limit)
            names += Self.names(page.items)
            token = page.continue
            if let token { tokens.append(token) }
        } while token != nil
        return (names, tokens)
    }

    static func decoded(_ token: String) throws -> JSON {
        try JSONDecoder().decode(JSON.self, from: try #require(Base64URL.decode(token)))
    }

    @Test func tokensResumeRelativeToTheListsScope() throws {
        let cluster = try Self.cluster()
        let inA = try Self.all(cluster, namespace: "a", limit: 2)
        #expect(inA.names == ["a/m0", "a/m1", "a/m2", "a/m3", "a/m4"])
        let first = try Self.decoded(try #require(inA.tokens.first))
        #expect(first["v"] == .string("meta.k8s.io/v1") && first["start"] == .string("m1\u{0}"), "\(first)")
        guard case .number(let revision)? = first["rv"] else { throw TestFailure("no rv in \(first)") }
        #expect(revision > 0)

        let everywhere = try Self.all(cluster, namespace: nil, limit: 3)
        #expect(everywhere.names == ["a/m0", "a/m1", "a/m2", "a/m3", "a/m4", "b/m0", "b/m1", "b/m2"])
        #expect(try Self.decoded(everywhere.tokens[0])["start"] == .string("a/m2\u{0}"))

        // A token read in one namespace resumes another at the same name: what etcd's key ranges
        // give a client that mixes them up (each namespace's list is its own key range).
        let crossed = try cluster.list(Self.configMaps, namespace: "b", continue: inA.tokens[0])
        #expect(Self.names(crossed.items) == ["b/m2"])

        // Cluster-scoped objects: the name alone.
        let namespaces = try cluster.list(SimCluster.namespaceType, namespace: nil, limit: 1)
        #expect(try Self.decoded(try #require(namespaces.continue))["start"] == .string("a\u{0}"))
    }

    @Test func unreadableTokensAreBadRequests() throws {
        let cluster = try Self.cluster()
        func refusal(_ token: String) -> Status? {
            do {
                _ = try cluster.list(Self.configMaps, namespace: "a", continue: token)
                return nil
            } catch {
                return error
            }
        }
        func encoded(_ json: String) -> String { Base64URL.encode(Data(json.utf8)) }
        let cases = [
            ("not base64!", "illegal base64 data"),
            (encoded("[1]"), ""),
            (encoded(#"{"v":"v9","rv":3,"start":"m1"}"#), "server does not recognize this encoded version \"v9\""),
            (encoded(#"{"v":"meta.k8s.io/v1","rv":0,"start":"m1"}"#), "incorrect encoded start resourceVersion (version meta.k8s.io/v1)"),
            (encoded(#"{"v":"meta.k8s.io/v1","rv":3,"start":""}"#), "encoded start key empty (version meta.k8s.io/v1)"),
            (encoded(#"{"v":"meta.k8s.io/v1","rv":3,"start":"../b/m0"}"#), "../b/m0"),
        ]
        for (token, detail) in cases {
            let status = refusal(token)
            #expect(status?.code == 400 && status?.reason == "BadRequest", "\(token): \(String(describing: status))")
            #expect(status?.message?.hasPrefix("invalid continue token: continue key is not valid: \(detail)") == true, "\(String(describing: status?.message))")
        }
    }
}
