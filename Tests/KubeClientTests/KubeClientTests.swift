import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// KubeClient against KubeSim over a real loopback socket.
@Suite struct KubeClientTests {
    func client(_ sim: TestKubeSim, _ cluster: String = "a") throws -> KubeClient {
        try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig(cluster)).connection())
    }

    @Test func createGetUpdatePatchDelete() async throws {
        try await TestKubeSim.with { sim in
            let kube = try client(sim)
            let created = try await kube.create(Namespace(metadata: ObjectMeta(name: "team-a", labels: ["canopy.io/managed-by": "canopy"])))
            #expect(created.metadata.uid != nil && created.metadata.resourceVersion != nil && created.metadata.creationTimestamp != nil)
            let again = await #expect(throws: KubeError.self) { try await kube.create(Namespace(metadata: ObjectMeta(name: "team-a"))) }
            #expect(again?.httpCode == 409 && again?.reason == "AlreadyExists")
            #expect(again?.status?.message == "namespaces \"team-a\" already exists")

            let quota = try await kube.create(ResourceQuota(metadata: ObjectMeta(name: "canopy-quota", namespace: "team-a"), hard: ["requests.cpu": Quantity(4)]))
            var stale = quota
            var edited = quota
            edited.spec?.hard?["requests.cpu"] = Quantity(8)
            let updated = try await kube.update(edited)
            #expect(updated.spec?.hard?["requests.cpu"] == Quantity(8))
            #expect(updated.metadata.generation == 2)
            stale.spec?.hard?["requests.cpu"] = Quantity(2)
            let conflict = await #expect(throws: KubeError.self) { try await kube.update(stale) }
            #expect(conflict?.httpCode == 409 && conflict?.reason == "Conflict")

            let patched = try await kube.mergePatch(ResourceQuota.self, "canopy-quota", namespace: "team-a",
                                                    patch: .object(["metadata": .object(["labels": .object(["x": .string("y")])])]))
            #expect(patched.metadata.labels?["x"] == "y")
            try await kube.delete(ResourceQuota.self, "canopy-quota", namespace: "team-a")
            let missing = await #expect(throws: KubeError.self) { try await kube.get(ResourceQuota.self, "canopy-quota", namespace: "team-a") }
            #expect(missing?.status?.message == "resourcequotas \"canopy-quota\" not found")
            let noNamespace = await #expect(throws: KubeError.self) {
                try await kube.create(ConfigMap(metadata: ObjectMeta(name: "x", namespace: "nowhere"), data: [:]))
            }
            #expect(noNamespace?.httpCode == 404)
        }
    }

    @Test func listsPageAndFilter() async throws {
        try await TestKubeSim.with { sim in
            let kube = try client(sim)
            for index in 0..<25 {
                _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(index)", namespace: "default", labels: ["parity": index % 2 == 0 ? "even" : "odd"]), data: [:]))
            }
            let page = try await kube.list(ConfigMap.self, namespace: "default", limit: 10)
            #expect(page.items.count == 10 && page.metadata.continue != nil)
            // The 25 and the cluster's own `kube-root-ca.crt`, as in every namespace.
            let all = try await kube.listAll(ConfigMap.self, namespace: "default", pageSize: 7)
            #expect(all.count == 26 && Set(all.compactMap(\.metadata.name)).count == 26 && all.contains { $0.metadata.name == "kube-root-ca.crt" })
            // A list longer than the caller will hold fails rather than grow.
            await #expect(throws: KubeError.self) { try await kube.listAll(ConfigMap.self, namespace: "default", pageSize: 7, maxItems: 20) }
            // An answer larger than the client holds fails, clearly.
            var small = KubeClient.Configuration()
            small.maxAnswerBytes = 4 << 10
            let bounded = try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig("a")).connection(), configuration: small)
            do {
                _ = try await bounded.list(ConfigMap.self, namespace: "default")
                Issue.record("an answer past maxAnswerBytes was read")
            } catch let error as KubeError {
                #expect(error.code == .badResponse && error.message.contains("answered more than 4 KiB"), "\(error)")
            }
            #expect(try await bounded.list(ConfigMap.self, namespace: "default", limit: 3).items.count == 3)
            let odd = try await kube.list(ConfigMap.self, namespace: "default", labelSelector: try LabelSelector(parsing: "parity in (odd)"))
            #expect(odd.items.count == 12)
            let named = try await kube.list(ConfigMap.self, namespace: "default", fieldSelector: try FieldSelector(parsing: "metadata.name=cm-3"))
            #expect(named.items.map(\.metadata.name) == ["cm-3"])
            #expect(try await kube.version()["gitVersion"] == .string(KubeSim.gitVersion))
            #expect(try await kube.coreAPIVersions() == ["v1"])
            let groups = try await kube.apiGroups()
            #expect(groups["rbac.authorization.k8s.io"] == "rbac.authorization.k8s.io/v1" && groups["apps"] == "apps/v1")
        }
    }

    @Test func watchesSurviveServerCloseAndGone() async throws {
        try await TestKubeSim.with { sim in
            let kube = try client(sim)
            let seen = EventLog()
            let cluster = sim.sim.clusters["a"]!
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await kube.watch(ConfigMap.self, namespace: "default") { event in
                        await seen.add("\(event.type) \(event.object.metadata.name ?? "")")
                    }
                }
                _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "one", namespace: "default"), data: [:]))
                try await seen.waitFor("ADDED one")
                cluster.closeWatches()
                _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "two", namespace: "default"), data: [:]))
                try await seen.waitFor("ADDED two")
                // Expire every watch position: resuming gets 410 Gone, so the client lists again
                // and delivers every object as ADDED once more.
                cluster.expireWatches()
                _ = try await kube.create(ConfigMap(metadata: ObjectMeta(name: "three", namespace: "default"), data: [:]))
                try await seen.waitFor("ADDED three")
                try await seen.waitFor("ADDED one", times: 2)
                try await kube.delete(ConfigMap.self, "three", namespace: "default")
                try await seen.waitFor("DELETED three")
                group.cancelAll()
            }
        }
    }
}

/// Events a watch delivered, for tests to wait on.
actor EventLog {
    private var lines: [String] = []

    func add(_ line: String) { lines.append(line) }

    /// Waits (up to five seconds) until `line` has been seen `times` times.
    func waitFor(_ line: String, times: Int = 1) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while lines.filter({ $0 == line }).count < times {
            guard ContinuousClock.now < deadline else { throw TestFailure("never saw '\(line)'; saw \(lines)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Client certificates: the common name is the user, organizations are groups.
@Suite struct ClientCertificateTests {
    @Test func aClientCertificateFromTheClusterCAAuthenticates() async throws {
        try await TestKubeSim.with { sim in
            let (certificate, key) = try sim.sim.certificate.issueClientCertificate(commonName: "robot", organizations: ["system:masters"])
            let yaml = """
            clusters: [{name: a, cluster: {server: "\(sim.baseURL)/clusters/a", certificate-authority-data: \(Data(sim.sim.certificate.certificatePEM.utf8).base64EncodedString())}}]
            users: [{name: robot, user: {client-certificate-data: \(Data(certificate.utf8).base64EncodedString()), client-key-data: \(Data(key.utf8).base64EncodedString())}}]
            contexts: [{name: a, context: {cluster: a, user: robot}}]
            current-context: a
            """
            let kube = try KubeClient(connection: Kubeconfig(yaml: yaml).connection())
            let created = try await kube.create(Namespace(metadata: ObjectMeta(name: "made-by-robot")))
            #expect(created.metadata.uid != nil)

            // A certificate without groups is a plain user, subject to RBAC.
            let (plain, plainKey) = try sim.sim.certificate.issueClientCertificate(commonName: "carol")
            let carolYAML = yaml.replacingOccurrences(of: Data(certificate.utf8).base64EncodedString(), with: Data(plain.utf8).base64EncodedString())
                .replacingOccurrences(of: Data(key.utf8).base64EncodedString(), with: Data(plainKey.utf8).base64EncodedString())
            let carol = try KubeClient(connection: Kubeconfig(yaml: carolYAML).connection())
            let refused = await #expect(throws: KubeError.self) { try await carol.list(Pod.self, namespace: "default") }
            #expect(refused?.status?.message == "pods is forbidden: User \"carol\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"")
        }
    }

    @Test func aServerFromAnotherCAIsRefused() async throws {
        try await TestKubeSim.with { sim in
            try await TestKubeSim.with { other in
                // Trust the other sim's CA while talking to this one.
                let yaml = sim.kubeconfig("a").replacingOccurrences(
                    of: Data(sim.sim.certificate.certificatePEM.utf8).base64EncodedString(),
                    with: Data(other.sim.certificate.certificatePEM.utf8).base64EncodedString()
                )
                let kube = try KubeClient(connection: Kubeconfig(yaml: yaml).connection())
                let error = await #expect(throws: KubeError.self) { try await kube.get(Namespace.self, "default") }
                #expect(error?.code == .tls)
            }
        }
    }
}
