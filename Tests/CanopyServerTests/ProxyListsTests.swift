@testable import CanopyServer
import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeSim
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// Lists at cluster scope through the proxy for project users: which are gathered from their
/// namespaces, and pages of those the proxy puts together.
@Suite struct ProxyListsTests {
    /// The proxy's own paging, piece by piece.
    @Test func pagingReadsQueriesAndCutsPages() throws {
        let first = try ListPaging(query: "?labelSelector=app%3Dweb&limit=3")
        #expect(first.limit == 3 && first.start == nil && first.rest == "?labelSelector=app%3Dweb")
        #expect(first.query(for: "a") == "?labelSelector=app%3Dweb&limit=3")
        func list(_ names: [String], continue token: String? = nil) -> JSON {
            var list: JSON = .object(["kind": .string("PodList"), "items": .array(names.map { .object(["metadata": .object(["name": .string($0)])]) })])
            if let token { list[path: "metadata.continue"] = .string(token) }
            return list
        }
        // Whole answers in order, up to the limit; the next page starts the namespace that would pass it.
        var page = first.page([("a", list(["1"])), ("b", list(["2", "3"])), ("c", list(["4"]))])
        #expect(page.taken.count == 2 && page.next == ListPaging.token(start: "c"))
        page = first.page([("a", list(["1", "2"])), ("b", list(["3", "4"]))])
        #expect(page.taken.count == 1 && page.next == ListPaging.token(start: "b"))
        // A namespace the cluster paged: the next page resumes inside it with the cluster's token.
        page = first.page([("a", list(["1", "2", "3"], continue: "k+/=")), ("b", list(["4"]))])
        #expect(page.taken.count == 1 && page.next == ListPaging.token(start: "a", continue: "k+/="))
        let inside = try ListPaging(query: "?limit=3&continue=" + page.next!)
        #expect(inside.query(for: "a") == "?limit=3&continue=k%2B%2F%3D" && inside.query(for: "b") == "?limit=3")
        // A namespace the caller has lost since: the next of theirs.
        #expect(inside.remaining(of: ["0", "b", "c"]) == ["b", "c"])
        #expect(try ListPaging(query: "?continue=" + ListPaging.token(start: "aa")).remaining(of: ["a", "b"]) == ["b"])
        #expect(first.page([("a", list(["1", "2", "3"])), ("b", list([]))]).next == ListPaging.token(start: "b"))
        #expect(try ListPaging(query: "").page([("a", list(["1", "2", "3", "4"]))]).next == nil)
        for bad in ["?limit=ten", "?continue=%%", "?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6Mywic3RhcnQiOiJhIn0"] {
            #expect(throws: ProxyStatus.self, "\(bad)") { try ListPaging(query: bad) }
        }
        // Namespaces: names after the last one given, the limit at most.
        let namespaces = try ListPaging(query: "?limit=2").page(ofNamespaces: list(["a", "b", "c"]))
        #expect(namespaces["items"]?.arrayValue?.count == 2)
        let rest = try ListPaging(query: "?limit=2&continue=" + (namespaces[path: "metadata.continue"]?.stringValue ?? "")).page(ofNamespaces: list(["a", "b", "c"]))
        #expect(rest["items"]?.arrayValue?.compactMap { $0[path: "metadata.name"]?.stringValue } == ["c"] && rest[path: "metadata.continue"] == nil)
    }

    /// A list gathered from a member's namespaces holds at most `proxyGatherLimit` of Canopy's
    /// memory, all parts together: past it, 413 and what to do; in pages it is served.
    @Test func gatheredListsHoldABoundedShareOfMemory() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true, configure: { $0.proxyGatherLimit = 256 << 10 }) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let cluster = try PlacementTests.client(sim, "onprem")
                for index in 0..<3 {
                    _ = try await cluster.create(ConfigMap(
                        metadata: ObjectMeta(name: "big\(index)", namespace: "mkt-dev"), data: ["blob": String(repeating: "x", count: 100 << 10)]
                    ))
                }
                let token = fixture.tokens["coke-pm"]
                let whole = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/configmaps", token: token)
                #expect(whole.status == 413 && whole.object["reason"] as? String == "RequestEntityTooLarge", "\(whole.status) \(whole.text.prefix(300))")
                #expect((whole.object["message"] as? String)?.contains("ask for it in pages") == true, "\(whole.text.prefix(300))")
                let paged = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/configmaps?limit=1", token: token)
                #expect(paged.status == 200 && paged.items.count == 1, "\(paged.status)")
                let member = try await ProxyTests.kubectl(server, token: token, query: "style=token&project=marketing")
                defer { member.remove() }
                _ = try await member.run("config", "use-context", "marketing@onprem")
                let names = try await member.run("get", "configmaps", "-A", "--chunk-size=1", "-o", "name")
                #expect(names.status == 0 && ["big0", "big1", "big2"].allSatisfy { names.output.contains("configmap/\($0)") }, "\(names.output)")
            }
        }
    }

    /// Lists gathered at once hold no more than the server's pool together, and one tenant's no
    /// more than half of it: past either 429 with `Retry-After` (kubectl waits and retries), and
    /// what a list held goes back when it ends.
    @Test func gatheredListsTogetherHoldNoMoreThanThePool() async throws {
        let pool = GatherPool(total: 400 << 10)
        func body(_ kib: Int) -> HTTPClientResponse.Body { .bytes(ByteBuffer(repeating: 0x78, count: kib << 10)) }
        func refusal(_ holder: String, _ kib: Int) async throws -> ProxyStatus? {
            do {
                _ = try await GatherBudget(1 << 20, pool: pool, holder: holder).collect(body(kib))
                return nil
            } catch let status as ProxyStatus {
                return status
            }
        }
        var first: GatherBudget? = GatherBudget(1 << 20, pool: pool, holder: "coke")
        #expect(try await first?.collect(body(200)).count == 200 << 10)
        #expect(pool.inUse == 200 << 10 && pool.inUse(by: "coke") == 200 << 10)
        // The same tenant past its half: refused, though the pool has room.
        let own = try await refusal("coke", 50)
        #expect(own?.code == 429 && own?.reason == "TooManyRequests" && own?.retryAfter == 1)
        #expect(own?.message.contains("as much for this tenant's lists as one tenant may hold at once (200 KiB)") == true, "\(String(describing: own))")
        #expect(own?.response.headers[.retryAfter] == "1")
        // Another tenant has its own half; a third finds the pool full.
        let other = GatherBudget(1 << 20, pool: pool, holder: "pepsi")
        #expect(try await other.collect(body(150)).count == 150 << 10)
        let third = try await refusal("fanta", 100)
        #expect(third?.code == 429 && third?.message.contains("as many lists across namespaces as it holds at once (400 KiB)") == true, "\(String(describing: third))")
        #expect(pool.inUse == 350 << 10)
        // What a list held goes back when it ends.
        first = nil
        #expect(pool.inUse == 150 << 10 && pool.inUse(by: "coke") == 0)
        #expect(try await refusal("coke", 150) == nil)
        #expect(pool.inUse == 150 << 10)
        // The server's pool, and a tenant's share, are never smaller than one list's limit.
        let small = GatherPool(total: 1 << 20, listLimit: 64 << 20)
        #expect(small.total == 64 << 20 && small.share == 64 << 20)
    }

    /// A page of a member's list across many namespaces asks the cluster for as many
    /// namespaces as fill it (in waves of 8, 16 …), not for all of them with the limit each; a
    /// whole list still reads them all, in order.
    @Test func aPageAcrossManyNamespacesAsksOnlyForWhatFillsIt() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let admin = fixture.tokens["coke-admin"]
                let added = (0..<10).map { "mkt-n\($0)" }
                for name in added {
                    try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: admin, json: ["cluster": "onprem", "name": name]), 201)
                }
                try await eventually(within: 60, "the namespaces ready") {
                    let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing", token: admin)
                    let ready = (project.object["namespaces"] as? [[String: Any]] ?? []).filter { ($0["status"] as? [String: Any])?["state"] as? String == "Ready" }
                    return Set(added).isSubset(of: Set(ready.compactMap { $0["name"] as? String }))
                }
                let cluster = try PlacementTests.client(sim, "onprem")
                let namespaces = (["mkt-dev"] + added).sorted()
                for namespace in namespaces {
                    for index in 0..<2 { _ = try await cluster.create(ProxyTests.pod("p\(index)", namespace)) }
                }
                let onprem = try #require(sim.sim.clusters["onprem"])
                let token = fixture.tokens["coke-pm"]
                let path = "/k8s/clusters/coke/onprem/api/v1/pods"

                var before = onprem.lists(of: "pods")
                let page = try await server.request(.GET, path + "?limit=3", token: token)
                #expect(page.status == 200 && page.items.count == 2, "\(page.status) \(page.text.prefix(300))")
                #expect(onprem.lists(of: "pods") - before == 8)

                before = onprem.lists(of: "pods")
                let whole = try await server.request(.GET, path + "?limit=500", token: token)
                let names = whole.items.compactMap { item -> String? in
                    guard let metadata = item["metadata"] as? [String: Any] else { return nil }
                    return "\(metadata["namespace"] as? String ?? "")/\(metadata["name"] as? String ?? "")"
                }
                #expect(names == namespaces.flatMap { ["\($0)/p0", "\($0)/p1"] }, "\(names)")
                #expect((whole.object["metadata"] as? [String: Any])?["continue"] == nil)
                #expect(onprem.lists(of: "pods") - before == namespaces.count)
            }
        }
    }

    /// What the proxy asks a cluster for when it reads a view to rewrite: JSON only.
    @Test func viewsAreReadAsJSON() throws {
        func asked(_ accept: String?) throws(ProxyStatus) -> String? {
            var headers = HTTPHeaders([("User-Agent", "test")])
            if let accept { headers.add(name: "Accept", value: accept) }
            return try JSONViews.asking(headers).first(name: "Accept")
        }
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        #expect(try asked(kubectl) == kubectl)
        #expect(try asked("application/vnd.kubernetes.protobuf,application/json") == "application/json")
        #expect(try asked("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, */*") == "*/*")
        #expect(try asked(nil) == nil)
        for refused in ["application/vnd.kubernetes.protobuf", "application/yaml", "text/html"] {
            #expect(throws: ProxyStatus.self, "\(refused)") { try asked(refused) }
        }
    }

    /// A resource the cluster serves at cluster scope is the cluster's to answer, whether or not
    /// Canopy has heard of it (custom resources, newer built-ins): not gathered from namespaces.
    @Test func clusterScopedResourcesAreTheClustersToAnswer() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let cluster = try #require(sim.sim.clusters["onprem"])
                let deviceClasses = try #require(ResourceType.find(group: "resource.k8s.io", version: "v1", resource: "deviceclasses"))
                try cluster.create(deviceClasses, namespace: nil, object: .object(["metadata": .object(["name": .string("gpu")])]))
                let member = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token&project=marketing")
                defer { member.remove() }
                _ = try await member.run("config", "use-context", "marketing@onprem")

                let refused = try await member.run("get", "deviceclasses")
                #expect(refused.status != 0 && refused.output.contains("cannot list resource \"deviceclasses\" in API group \"resource.k8s.io\" at the cluster scope"), "\(refused.output)")
                // Once the cluster's RBAC lets every user read them, the member reads them.
                let admin = try PlacementTests.client(sim, "onprem")
                _ = try await admin.create(ClusterRole(metadata: ObjectMeta(name: "device-reader"), rules: [
                    PolicyRule(verbs: ["get", "list", "watch"], apiGroups: ["resource.k8s.io"], resources: ["deviceclasses"]),
                ]))
                _ = try await admin.create(ClusterRoleBinding(
                    metadata: ObjectMeta(name: "device-readers"), subjects: [.group("system:authenticated")],
                    roleRef: RoleRef(kind: "ClusterRole", name: "device-reader")
                ))
                let listed = try await member.run("get", "deviceclasses", "-o", "name")
                #expect(listed.status == 0 && listed.output.split(separator: "\n") == ["deviceclass.resource.k8s.io/gpu"], "\(listed.output)")
                // Creates at cluster scope pass through as well: who the cluster sees them as.
                let whoami = try await member.run("auth", "whoami", "-o", "json")
                let review = try JSONDecoder().decode(JSON.self, from: Data(whoami.output.utf8))
                #expect(review[path: "status.userInfo.username"]?.stringValue?.hasPrefix("canopy:coke:") == true, "\(whoami.output)")
                #expect(review[path: "status.userInfo.groups"]?.arrayValue?.contains(.string("canopy:coke:marketing:member")) == true, "\(whoami.output)")
                // A group version the cluster does not serve: its own 404.
                let absent = try await server.request(.GET, "/k8s/clusters/coke/onprem/apis/example.io/v1/widgets", token: fixture.tokens["coke-pm"])
                #expect(absent.status == 404 && absent.object["kind"] as? String == "Status", "\(absent.text)")
                // Namespaced ones are still gathered from the member's namespaces.
                let pods = try await member.run("get", "pods", "-A", "-o", "name")
                #expect(pods.status == 0, "\(pods.output)")
                // Those views are JSON: asked for protobuf alone, Canopy says so rather than answer
                // JSON the client did not ask for (or fail on a cluster's protobuf).
                for path in ["/api/v1/pods", "/api/v1/namespaces", "/api/v1/pods?watch=1", "/api/v1/namespaces?watch=1"] {
                    let protobuf = try await server.request(
                        .GET, "/k8s/clusters/coke/onprem" + path, token: fixture.tokens["coke-pm"], headers: [("Accept", "application/vnd.kubernetes.protobuf")]
                    )
                    #expect(protobuf.status == 406 && protobuf.object["reason"] as? String == "NotAcceptable", "\(path): \(protobuf.text)")
                }
                let either = try await server.request(
                    .GET, "/k8s/clusters/coke/onprem/api/v1/pods", token: fixture.tokens["coke-pm"],
                    headers: [("Accept", "application/vnd.kubernetes.protobuf, application/json")]
                )
                #expect(either.status == 200 && either.object["kind"] as? String == "PodList", "\(either.text)")
            }
        }
    }

    @Test func pagedListsAcrossTheCallersNamespacesHoldEachItemOnce() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await ProxyTests.setUp(server, sim)
                let admin = fixture.tokens["coke-admin"]
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: admin, json: ["cluster": "onprem", "name": "mkt-qa"]), 201)
                try await eventually(within: 60, "mkt-qa ready") {
                    let project = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing", token: admin)
                    let namespaces = project.object["namespaces"] as? [[String: Any]] ?? []
                    return namespaces.contains { $0["name"] as? String == "mkt-qa" && ($0["status"] as? [String: Any])?["state"] as? String == "Ready" }
                }
                let cluster = try PlacementTests.client(sim, "onprem")
                let pods = [("mkt-dev", ["a0", "a1", "a2", "a3", "a4"]), ("mkt-qa", ["b0", "b1", "b2"]), ("sales-dev", ["theirs"])]
                for (namespace, names) in pods {
                    for name in names { _ = try await cluster.create(ProxyTests.pod(name, namespace)) }
                }
                let mine = ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2"].map { "pod/\($0)" }

                let member = try await ProxyTests.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token&project=marketing")
                defer { member.remove() }
                _ = try await member.run("config", "use-context", "marketing@onprem")
                // Pages ending inside a namespace, at its end, and before one that would pass the limit.
                for size in ["1", "2", "3", "500"] {
                    let names = try await member.run("get", "pods", "-A", "--chunk-size=\(size)", "-o", "name")
                    #expect(names.status == 0 && names.output.split(separator: "\n").map(String.init) == mine, "chunk \(size): \(names.output)")
                }
                let table = try await member.run("get", "pods", "-A", "--chunk-size=2")
                let rows = table.output.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first }
                #expect(rows.map { "pod/\($0)" } == mine, "\(table.output)")
                let namespaces = try await member.run("get", "namespaces", "--chunk-size=1", "-o", "name")
                #expect(namespaces.output.split(separator: "\n") == ["namespace/mkt-dev", "namespace/mkt-qa"], "\(namespaces.output)")

                // The tokens are Canopy's: they name only the caller's own namespaces.
                let token = fixture.tokens["coke-pm"]
                var seen: [String] = [], tokens: [String] = [], next: String? = ""
                while let current = next {
                    let page = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/namespaces?limit=1" + (current.isEmpty ? "" : "&continue=\(current)"), token: token)
                    #expect(page.status == 200, "\(page.text)")
                    seen += page.items.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
                    next = (page.object["metadata"] as? [String: Any])?["continue"] as? String
                    if let next { tokens.append(next) }
                    if seen.count > 5 { break }
                }
                #expect(seen == ["mkt-dev", "mkt-qa"])
                for token in tokens {
                    let text = String(decoding: Base64URL.decode(token) ?? Data(), as: UTF8.self)
                    #expect(text.contains("mkt-") && !text.contains("sales") && !text.contains("kube-") && !text.contains("default"), "\(text)")
                }
                var podTokens: [String] = []
                next = ""
                while let current = next, podTokens.count < 20 {
                    let page = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/pods?limit=3" + (current.isEmpty ? "" : "&continue=\(current)"), token: token)
                    #expect(page.status == 200 && page.items.count <= 3, "\(page.text)")
                    next = (page.object["metadata"] as? [String: Any])?["continue"] as? String
                    if let next { podTokens.append(next) }
                }
                #expect(!podTokens.isEmpty && podTokens.count < 20)
                for token in podTokens {
                    let text = String(decoding: Base64URL.decode(token) ?? Data(), as: UTF8.self)
                    #expect(text.contains("\"start\":\"mkt-") && !text.contains("sales"), "\(text)")
                }
                // A streaming list across their namespaces (client-go's informers): their pods,
                // one bookmark ending them once every namespace's are out, then what changes.
                // The watches end after 5 s: the pod made after 1 s must fall inside them on a loaded machine too.
                let streaming = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5"
                async let streamed = server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/pods?\(streaming)", token: token)
                try await Task.sleep(for: .milliseconds(1000))
                _ = try await cluster.create(ProxyTests.pod("b3", "mkt-qa"))
                let stream = try await streamed
                let events = stream.text.split(separator: "\n").compactMap { try? JSONDecoder().decode(JSON.self, from: Data($0.utf8)) }
                let labels = events.map { "\($0["type"]?.stringValue ?? "")/\($0[path: "object.metadata.name"]?.stringValue ?? "")" }
                let end = try #require(labels.firstIndex(of: "BOOKMARK/"), "\(labels)")
                #expect(labels.filter { $0 == "BOOKMARK/" }.count == 1 && labels.count(where: { $0.hasPrefix("BOOKMARK") }) == 1, "\(labels)")
                #expect(labels[..<end].sorted() == mine.map { "ADDED/" + $0.dropFirst(4) }, "\(labels)")
                #expect(labels[(end + 1)...].contains("ADDED/b3"), "\(labels)")
                #expect(events[end][path: "object.metadata.annotations"]?["k8s.io/initial-events-end"] == .string("true"))

                // A token Canopy did not write is refused as a cluster refuses one.
                for path in ["pods?limit=2&continue=bm90IG91cnM", "namespaces?limit=1&continue=%%%"] {
                    let refused = try await server.request(.GET, "/k8s/clusters/coke/onprem/api/v1/\(path)", token: token)
                    #expect(refused.status == 400 && refused.object["reason"] as? String == "BadRequest", "\(path): \(refused.text)")
                }
            }
        }
    }
}
