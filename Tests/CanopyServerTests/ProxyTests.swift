import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// The real kubectl through Canopy's proxy in front of KubeSim.
@Suite struct ProxyTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api}
        spec:
          replicas: 1
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec:
              containers: [{name: api, image: example/api:1}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api}
        spec:
          selector: {app: api}
          ports: [{port: 80}]
        """

    static func pod(_ name: String, _ namespace: String) -> Pod {
        Pod(metadata: ObjectMeta(name: name, namespace: namespace), spec: .init(containers: [
            Container(name: "c", image: "nginx", resources: ResourceRequirements(requests: ["cpu": Quantity(milli: 10), "memory": Quantity(1 << 20)])),
        ]))
    }

    /// coke: onprem and cloud; marketing on onprem (mkt-dev) and cloud (mkt-prod); sales on onprem.
    static func setUp(_ server: TestServer, _ sim: TestKubeSim) async throws -> Fixture {
        let fixture = try await Fixture.build(server)
        try await PlacementTests.importClusters(server, sim, fixture)
        let admin = fixture.tokens["coke-admin"]
        for (project, cluster, name) in [("marketing", "onprem", "mkt-dev"), ("marketing", "cloud", "mkt-prod"), ("sales", "onprem", "sales-dev")] {
            try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/\(project)/namespaces", token: admin, json: ["cluster": cluster, "name": name]), 201)
        }
        do {
            try await eventually(within: 60, "namespaces ready") {
                let projects = try await server.request(.GET, "/api/v1/tenants/coke/projects", token: admin)
                let states = projects.items.flatMap { ($0["namespaces"] as? [[String: Any]] ?? []).map { ($0["status"] as? [String: Any])?["state"] as? String } }
                return states.count == 3 && states.allSatisfy { $0 == "Ready" }
            }
        } catch {
            // What the namespaces and clusters said when the wait ran out.
            let projects = try? await server.request(.GET, "/api/v1/tenants/coke/projects", token: admin)
            let clusters = try? await server.request(.GET, "/api/v1/tenants/coke/clusters", token: admin)
            throw TestFailure("\(error); projects: \(projects?.text ?? "-"); clusters: \(clusters?.text ?? "-")")
        }
        // Ready means pods can be admitted: each quota is already sized by the share planner.
        for (cluster, name) in [("onprem", "mkt-dev"), ("cloud", "mkt-prod"), ("onprem", "sales-dev")] {
            let hard = try await QuotaTests.hardCPU(try PlacementTests.client(sim, cluster), name)
            #expect(hard > .zero, "\(name) is Ready while its quota holds zero limits")
        }
        return fixture
    }

    static func kubectl(_ server: TestServer, token: String?, query: String = "style=token") async throws -> Kubectl {
        let config = try await server.request(.GET, "/api/v1/kubeconfig?\(query)", token: token)
        guard config.status == 200 else { throw TestFailure("kubeconfig: \(config.status) \(config.text)") }
        return try Kubectl(kubeconfig: config.text)
    }

    @Test func membersAndViewersUseKubectlAsTheirRolesAllow() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                let member = try await Self.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token&project=marketing")
                defer { member.remove() }
                let contexts = try await member.run("config", "get-contexts", "-o", "name")
                #expect(contexts.output.split(separator: "\n").sorted() == ["marketing@cloud", "marketing@onprem"], "\(contexts.output)")
                _ = try await member.run("config", "use-context", "marketing@onprem")

                let applied = try await member.run("apply", "-f", "-", input: Self.deployment)
                #expect(applied.status == 0, "\(applied.output)")
                #expect(applied.output.contains("deployment.apps/api created") && applied.output.contains("service/api created"), "\(applied.output)")
                #expect(try await member.run("get", "deployment", "api", "-o", "name").output.contains("deployment.apps/api"))
                // A field the kind does not have: refused in the cluster's words under kubectl's
                // `Strict`, or dropped with the cluster's warning passed through (`--validate=warn`).
                let typo = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndate: {a: b}\n"
                let strict = try await member.run("apply", "-f", "-", input: typo)
                #expect(strict.status != 0 && strict.output.contains(#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "date""#), "\(strict.output)")
                let warned = try await member.run("apply", "--validate=warn", "-f", "-", input: typo)
                #expect(warned.status == 0 && warned.output.contains(#"Warning: unknown field "date""#) && warned.output.contains("configmap/typo created"), "\(warned.output)")
                // The cluster's controllers roll it out; `rollout status` watches it through Canopy,
                // and `scale` goes through the scale subresource.
                let rollout = try await member.run("rollout", "status", "deployment/api", "--timeout=30s")
                #expect(rollout.status == 0 && rollout.output.contains("successfully rolled out"), "\(rollout.output)")
                let scaled = try await member.run("scale", "deployment", "api", "--replicas=2")
                #expect(scaled.status == 0 && scaled.output.contains("deployment.apps/api scaled"), "\(scaled.output)")
                try await eventually(within: 10, "two pods of api") {
                    try await member.run("get", "pods", "-l", "app=api", "-o", "name").output.split(separator: "\n").count == 2
                }
                #expect(try await member.run("auth", "can-i", "create", "deployments").output.hasPrefix("yes"))
                let canDelete = try await member.run("auth", "can-i", "delete", "resourcequota/canopy-quota")
                #expect(canDelete.output.split(separator: "\n").last == "no", "\(canDelete.output)")
                let quota = try await member.run("delete", "resourcequota", "canopy-quota")
                #expect(quota.status != 0 && quota.output.contains("Forbidden"), "\(quota.output)")
                #expect(try await member.run("delete", "-f", "-", input: Self.deployment).status == 0)
                // Jobs and cron jobs too (kubectl sends them as protobuf, passed through untouched).
                let job = try await member.run("create", "job", "once", "--image=busybox", "--", "true")
                #expect(job.status == 0 && job.output.contains("job.batch/once created"), "\(job.output)")
                let cron = try await member.run("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *")
                #expect(cron.status == 0 && cron.output.contains("cronjob.batch/nightly created"), "\(cron.output)")
                // The cluster's job controller runs the job's pod; the deployment's set and pods are
                // collected once it went.
                try await eventually(within: 10, "the job's pod, the deployment's gone") {
                    let all = try await member.run("get", "all", "-o", "name").output.split(separator: "\n").map(String.init).sorted()
                    return all.count == 3 && all[0] == "cronjob.batch/nightly" && all[1] == "job.batch/once" && all[2].hasPrefix("pod/once-")
                }
                #expect(try await member.run("delete", "job/once", "cronjob/nightly").status == 0)
                try await eventually(within: 10, "the job's pod collected") {
                    try await member.run("get", "pods", "-o", "name").output.isEmpty
                }

                // Only their own namespaces: listed, and reachable.
                let namespaces = try await member.run("get", "namespaces", "-o", "name")
                #expect(namespaces.output.split(separator: "\n") == ["namespace/mkt-dev"], "\(namespaces.output)")
                #expect(try await member.run("get", "namespaces").output.contains("mkt-dev"))
                let other = try await member.run("get", "namespace", "sales-dev")
                #expect(other.status != 0 && other.output.contains("Forbidden"), "\(other.output)")
                let foreignPods = try await member.run("get", "pods", "-n", "sales-dev")
                #expect(foreignPods.status != 0 && foreignPods.output.contains("Forbidden"))
                // Impersonation headers from the client are dropped: the request still acts as them.
                let escalate = try await member.run("get", "pods", "-n", "sales-dev", "--as", "canopy:coke:boss", "--as-group", "canopy:coke:tenant-admin")
                #expect(escalate.status != 0, "\(escalate.output)")

                // `get pods -A` gathers the pods of their namespaces on this cluster only.
                let admin = try PlacementTests.client(sim, "onprem")
                _ = try await admin.create(Self.pod("mine", "mkt-dev"))
                _ = try await admin.create(Self.pod("theirs", "sales-dev"))
                let all = try await member.run("get", "pods", "-A")
                #expect(all.status == 0 && all.output.contains("mine") && !all.output.contains("theirs"), "\(all.output)")
                let allJSON = try await member.run("get", "pods", "-A", "-o", "name")
                #expect(allJSON.output.split(separator: "\n") == ["pod/mine"], "\(allJSON.output)")

                // A viewer reads but cannot write.
                let viewer = try await Self.kubectl(server, token: fixture.tokens["coke-pv"], query: "style=token&project=marketing")
                defer { viewer.remove() }
                _ = try await viewer.run("config", "use-context", "marketing@onprem")
                #expect(try await viewer.run("get", "pods", "-o", "name").output.contains("pod/mine"))
                let write = try await viewer.run("apply", "-f", "-", input: Self.deployment)
                #expect(write.status != 0 && write.output.contains("Forbidden"), "\(write.output)")
                #expect(try await viewer.run("auth", "can-i", "create", "deployments").output.hasPrefix("no"))
                #expect(try await member.run("apply", "-f", "-", input: Self.deployment).status == 0)
                let viewerScale = try await viewer.run("scale", "deployment", "api", "--replicas=3")
                #expect(viewerScale.status != 0 && viewerScale.output.contains(#"cannot patch resource "deployments/scale" in API group "apps""#), "\(viewerScale.output)")

                // Every proxied write is in the audit log.
                let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: fixture.tokens["coke-admin"])
                let writes = audit.items.filter { ($0["action"] as? String)?.hasPrefix("kube.") == true }.compactMap { $0["target"] as? String }
                #expect(writes.contains { $0.contains("/namespaces/mkt-dev/deployments") && $0.hasSuffix("201") }, "\(writes)")
                #expect(writes.contains { $0.contains("/namespaces/mkt-dev/deployments") && $0.hasSuffix("403") }, "\(writes)")
            }
        }
    }

    @Test func clustersOutsideTheCallersReachAnswerNotFound() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                func get(_ path: String, _ who: String?, headers: [(String, String)] = []) async throws -> TestResponse {
                    try await server.request(.GET, path, token: who.flatMap { fixture.tokens[$0] }, headers: headers)
                }
                let onprem = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/pods"
                #expect(try await get(onprem, "coke-pm").status == 200)
                #expect(try await get(onprem, "coke-admin").status == 200)
                for who in ["pepsi-admin", "pepsi-pm", "provider", "coke-sales-pa"] {
                    // sales-pa has a namespace on onprem but not on cloud.
                    let path = who == "coke-sales-pa" ? "/k8s/clusters/coke/cloud/api/v1/namespaces" : onprem
                    let answer = try await get(path, who)
                    #expect(answer.status == 404, "\(who): \(answer.status)")
                    #expect(answer.object["kind"] as? String == "Status")
                }
                #expect(try await get("/k8s/clusters/coke/nowhere/api", "coke-admin").status == 404)
                // Kubeconfigs: only what the caller may reach, never another tenant's.
                #expect(try await get("/api/v1/kubeconfig?tenant=coke", "pepsi-admin").status == 404)
                #expect(try await get("/api/v1/kubeconfig?tenant=coke", "provider").status == 422)
                #expect(try await get("/api/v1/kubeconfig?project=sales", "coke-pm").status == 404)
                #expect(try await get("/api/v1/kubeconfig", nil).status == 401)
                let salesConfig = try await get("/api/v1/kubeconfig?style=token", "coke-sales-pa")
                #expect(salesConfig.status == 200 && salesConfig.text.contains("sales@onprem") && !salesConfig.text.contains("marketing@"), "\(salesConfig.text)")
                #expect(try await get(onprem, nil).status == 401)
                #expect(try await get(onprem, nil, headers: [("Authorization", "Bearer cnp_nope")]).status == 401)
                // The enterprise tenant's provider reaches its clusters as its admins do.
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/pepsi/projects/marketing/namespaces", token: fixture.tokens["pepsi-admin"], json: ["cluster": "west", "name": "p-mkt"]), 201)
                #expect(try await get("/k8s/clusters/pepsi/west/api/v1/namespaces", "provider").status == 200)

                // A cluster that is down: 503 with a Status body.
                sim.sim.clusters["onprem"]!.makeUnreachable(for: 3)
                let down = try await get(onprem, "coke-pm")
                #expect(down.status == 503)
                #expect(down.object["kind"] as? String == "Status")
            }
        }
    }

    /// Request bodies stream to the cluster, never collected by Canopy: the cluster's own limit
    /// (3 MiB on a real API server) answers in its words even for bodies far past any buffer,
    /// bodies within arrive whole, and a DELETE's body (DeleteOptions) goes along.
    @Test func requestBodiesStreamToTheCluster() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                let member = fixture.tokens["coke-pm"]
                let configMaps = "/k8s/clusters/coke/onprem/api/v1/namespaces/mkt-dev/configmaps"
                func configMap(_ name: String, bytes: Int) -> String {
                    #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"blob":"\#(String(repeating: "x", count: bytes))"}}"#
                }
                for (size, limit) in [(4 << 20, 3_145_728), (24 << 20, 3_145_728)] {
                    let refused = try await server.request(.POST, configMaps, token: member, rawBody: configMap("big", bytes: size), headers: [("Content-Type", "application/json")])
                    #expect(refused.status == 413, "\(refused.status) \(refused.text.prefix(300))")
                    #expect(refused.object["message"] as? String == "Request entity too large: limit is \(limit)", "\(refused.text.prefix(300))")
                    #expect(refused.object["reason"] as? String == "RequestEntityTooLarge")
                }

                // The most a ConfigMap may hold (1 MiB of data, as on a real server) arrives whole.
                let large = try await server.request(.POST, configMaps, token: member, rawBody: configMap("large", bytes: 1 << 20), headers: [("Content-Type", "application/json")])
                #expect(large.status == 201, "\(large.status) \(large.text.prefix(300))")
                let stored = try #require(sim.sim.clusters["onprem"]).get(try #require(ResourceType.find(group: "", version: "v1", resource: "configmaps")), namespace: "mkt-dev", name: "large")
                #expect(stored[path: "data.blob"]?.stringValue?.count == 1 << 20)

                let deleted = try await server.request(.DELETE, configMaps + "/large", token: member, rawBody: #"{"propagationPolicy":"Foreground"}"#, headers: [("Content-Type", "application/json")])
                #expect(deleted.status == 200, "\(deleted.status) \(deleted.text.prefix(300))")
                #expect(sim.sim.clusters["onprem"]!.lastDeleteOptions?["propagationPolicy"]?.stringValue == "Foreground")
            }
        }
    }

    @Test func watchesStreamAndRevokedTokensStopAtOnce() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                let kubectl = try await Self.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token&project=marketing")
                defer { kubectl.remove() }
                // The kubeconfig's token is listed among the user's tokens, and revocable.
                let tokens = try await server.request(.GET, "/api/v1/tokens", token: fixture.tokens["coke-pm"])
                let tokenID = try #require(tokens.items.first { ($0["description"] as? String)?.hasPrefix("kubeconfig") == true }?["id"] as? String)
                _ = try await kubectl.run("config", "use-context", "marketing@onprem")

                let admin = try PlacementTests.client(sim, "onprem")
                let onpremSim = try #require(sim.sim.clusters["onprem"])
                let watchesOpen = onpremSim.openWatches
                async let watched = ProcessRunner.run(
                    "timeout", ["10", "kubectl", "--kubeconfig", kubectl.kubeconfigPath, "get", "pods", "-w", "-o", "name"],
                    environment: ["HOME": kubectl.directory.path]
                )
                // Once kubectl's watch reached the cluster (a loaded machine may take seconds).
                try await eventually(within: 8, "kubectl's watch open") { onpremSim.openWatches > watchesOpen }
                _ = try await admin.create(Self.pod("streamed", "mkt-dev"))
                let output = try await watched.output
                #expect(output.contains("pod/streamed"), "\(output)")

                let namespaces = try await ProcessRunner.run(
                    "timeout", ["3", "kubectl", "--kubeconfig", kubectl.kubeconfigPath, "get", "namespaces", "-w", "-o", "name"],
                    environment: ["HOME": kubectl.directory.path]
                )
                #expect(namespaces.output.contains("namespace/mkt-dev") && !namespaces.output.contains("sales-dev"), "\(namespaces.output)")

                // `get pods -A -w`: the watches of their namespaces on the cluster, merged, as
                // names and as a table (one header); another project's pods never show.
                try Fixture.expect(await server.request(.POST, "/api/v1/tenants/coke/projects/marketing/namespaces", token: fixture.tokens["coke-admin"], json: ["cluster": "onprem", "name": "mkt-qa"]), 201)
                // Pending until its quota is sized; once Ready it takes pods.
                try await eventually(within: 60, "mkt-qa ready") {
                    let namespaces = try await server.request(.GET, "/api/v1/tenants/coke/projects/marketing/namespaces", token: fixture.tokens["coke-admin"])
                    let state = namespaces.items.first { $0["name"] as? String == "mkt-qa" }.flatMap { ($0["status"] as? [String: Any])?["state"] as? String }
                    return state == "Ready"
                }
                #expect(try await QuotaTests.hardCPU(admin, "mkt-qa") > .zero)
                #expect(try await kubectl.run("get", "pods", "-n", "mkt-qa").status == 0)
                let cluster = try #require(sim.sim.clusters["onprem"])
                let watchesBefore = cluster.openWatches
                async let names = ProcessRunner.run(
                    "timeout", ["4", "kubectl", "--kubeconfig", kubectl.kubeconfigPath, "get", "pods", "-A", "-w", "-o", "name"],
                    environment: ["HOME": kubectl.directory.path]
                )
                async let table = ProcessRunner.run(
                    "timeout", ["4", "kubectl", "--kubeconfig", kubectl.kubeconfigPath, "get", "pods", "-A", "-w"],
                    environment: ["HOME": kubectl.directory.path]
                )
                try await Task.sleep(for: .seconds(1.5))
                _ = try await admin.create(Self.pod("dev-pod", "mkt-dev"))
                _ = try await admin.create(Self.pod("qa-pod", "mkt-qa"))
                _ = try await admin.create(Self.pod("sales-pod", "sales-dev"))
                let (nameOutput, tableOutput) = try await (names.output, table.output)
                for output in [nameOutput, tableOutput] {
                    #expect(output.contains("dev-pod") && output.contains("qa-pod") && output.contains("streamed"), "\(output)")
                    #expect(!output.contains("sales-pod") && !output.contains("Error"), "\(output)")
                }
                #expect(tableOutput.components(separatedBy: "NAMESPACE").count == 2, "\(tableOutput)")
                // Once kubectl is gone, so are the four watches it had on the cluster through Canopy.
                try await eventually(within: 5, "the merged watches' parts closed") { cluster.openWatches <= watchesBefore }

                let before = try await kubectl.run("get", "pods")
                #expect(before.status == 0, "\(before.output)")
                try Fixture.expect(await server.request(.DELETE, "/api/v1/tokens/\(tokenID)", token: fixture.tokens["coke-pm"]), 204)
                let refused = try await kubectl.run("get", "pods")
                #expect(refused.status != 0 && refused.output.contains("Unauthorized"), "\(refused.output)")
            }
        }
    }

    /// The first proxied calls to a cluster arrive together (as a controller's informers would):
    /// they share one client, and every watch sees the event. (Several clients used to be made,
    /// and the ones dropped shut their connection pools down under the watches they carried.)
    @Test func concurrentWatchesThroughTheProxyAllSeeTheEvent() async throws {
        struct Seen: Error {}
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                let config = try await server.request(.GET, "/api/v1/kubeconfig?style=token&project=marketing", token: fixture.tokens["coke-pm"])
                var configuration = KubeClient.Configuration()
                configuration.retries = 0
                let member = try KubeClient(connection: Kubeconfig(yaml: config.text).connection(context: "marketing@onprem"), configuration: configuration)
                let admin = try PlacementTests.client(sim, "onprem")
                let watchers = 12
                // Each watch yields `true` when it sees the pod; the clock yields `false` 3 s after the pod is made.
                let seen = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<watchers {
                        group.addTask {
                            do {
                                try await member.watch(Pod.self, namespace: "mkt-dev") { event in
                                    if event.object.metadata.name == "fanout" { throw Seen() }
                                }
                            } catch is Seen {
                                return true
                            }
                            return false
                        }
                    }
                    group.addTask {
                        try await eventually(within: 5, "every watch open at the cluster") { sim.sim.clusters["onprem"]?.openWatches ?? 0 >= watchers }
                        _ = try await admin.create(Self.pod("fanout", "mkt-dev"))
                        try await Task.sleep(for: .seconds(3))
                        return false
                    }
                    var count = 0
                    while let result = try await group.next() {
                        guard result else { break }
                        count += 1
                    }
                    group.cancelAll()
                    return count
                }
                #expect(seen == watchers, "\(seen) of \(watchers) watches saw the event")
                try await member.shutdown()
            }
        }
    }

    @Test func anExecPluginKubeconfigKeepsWorkingAcrossTokenExpiry() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                let home = try TemporaryDirectory()
                defer { home.remove() }
                let ca = home.path + "/ca.crt"
                try (server.certificatePEM ?? "").write(toFile: ca, atomically: true, encoding: .utf8)
                let environment = [
                    "XDG_CONFIG_HOME": home.path + "/config",
                    "PATH": URL(fileURLWithPath: ProcessRunner.canopyBinary).deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                ]
                let login = try await ProcessRunner.run(ProcessRunner.canopyBinary, [
                    "login", "--server", server.baseURL, "--certificate-authority", ca, "--tenant", "coke", "--username", "pm", "--password", Fixture.password,
                ], environment: environment)
                #expect(login.status == 0, "\(login.output)")
                let kubectl = try await Self.kubectl(server, token: fixture.tokens["coke-pm"], query: "project=marketing")
                defer { kubectl.remove() }
                #expect(try String(contentsOfFile: kubectl.kubeconfigPath, encoding: .utf8).contains("command: canopy"))
                _ = try await kubectl.run("config", "use-context", "marketing@onprem")
                let first = try await kubectl.run("get", "pods", environment: environment)
                #expect(first.status == 0, "\(first.output)")

                // The minted token runs out (its cache says it expires within the minute) and is
                // revoked: the next kubectl call mints another, without the user doing anything.
                let cachePath = home.path + "/config/canopy/exec-token"
                var cached = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cachePath))) as? [String: Any])
                let formatter = ISO8601DateFormatter()
                cached["expiresAt"] = formatter.string(from: Date().addingTimeInterval(30))
                try JSONSerialization.data(withJSONObject: cached).write(to: URL(fileURLWithPath: cachePath))
                let tokens = try await server.request(.GET, "/api/v1/tokens", token: fixture.tokens["coke-pm"])
                let minted = tokens.items.filter { $0["description"] as? String == "kubectl (canopy token)" }.compactMap { $0["id"] as? String }
                #expect(minted.count == 1)
                for id in minted { try Fixture.expect(await server.request(.DELETE, "/api/v1/tokens/\(id)", token: fixture.tokens["coke-pm"]), 204) }
                let second = try await kubectl.run("get", "pods", environment: environment)
                #expect(second.status == 0, "\(second.output)")
                let after = try await server.request(.GET, "/api/v1/tokens", token: fixture.tokens["coke-pm"])
                #expect(after.items.filter { $0["description"] as? String == "kubectl (canopy token)" }.count == 2)

                // --merge into the kubeconfig kubectl already uses: its own context stays current
                // and working; Canopy's contexts are added once, however often it is merged.
                let kubeconfig = home.path + "/kube/config"
                try FileManager.default.createDirectory(atPath: home.path + "/kube", withIntermediateDirectories: true)
                try sim.kubeconfig("west").replacingOccurrences(of: "name: west", with: "name: own").replacingOccurrences(of: ": west", with: ": own")
                    .write(toFile: kubeconfig, atomically: true, encoding: .utf8)
                var withKubeconfig = environment
                withKubeconfig["KUBECONFIG"] = kubeconfig
                for _ in 0..<2 {
                    let merged = try await ProcessRunner.run(ProcessRunner.canopyBinary, ["kubeconfig", "--merge", "--project", "marketing"], environment: withKubeconfig)
                    #expect(merged.status == 0 && merged.output.contains("merged 2 context(s)"), "\(merged.output)")
                }
                let contexts = try await ProcessRunner.run("kubectl", ["config", "get-contexts", "-o", "name"], environment: withKubeconfig)
                #expect(contexts.output.split(separator: "\n").sorted() == ["marketing@cloud", "marketing@onprem", "own"], "\(contexts.output)")
                #expect(try await ProcessRunner.run("kubectl", ["config", "current-context"], environment: withKubeconfig).output == "own\n")
                #expect(try await ProcessRunner.run("kubectl", ["get", "namespaces", "-o", "name"], environment: withKubeconfig).output.contains("namespace/kube-system"))
                let throughCanopy = try await ProcessRunner.run("kubectl", ["--context", "marketing@onprem", "get", "namespaces", "-o", "name"], environment: withKubeconfig)
                #expect(throughCanopy.output == "namespace/mkt-dev\n", "\(throughCanopy.output)")
                let mode = try FileManager.default.attributesOfItem(atPath: kubeconfig)[.posixPermissions] as? Int
                #expect(mode == 0o600)
            }
        }
    }

    @Test func execRoundTripsBytesThroughTheProxyAsTheCallersRoleAllows() async throws {
        try await TestKubeSim.with(clusters: ["onprem", "cloud", "west"]) { sim in
            try await TestServer.with(tls: true) { server in
                let fixture = try await Self.setUp(server, sim)
                let member = try await Self.kubectl(server, token: fixture.tokens["coke-pm"], query: "style=token&project=marketing")
                let viewer = try await Self.kubectl(server, token: fixture.tokens["coke-pv"], query: "style=token&project=marketing")
                defer { member.remove(); viewer.remove() }
                for kubectl in [member, viewer] { _ = try await kubectl.run("config", "use-context", "marketing@onprem") }
                let created = try await member.run("apply", "-f", "-", input: Self.echoPod)
                #expect(created.status == 0, "\(created.output)")
                let input = (0..<200).map { "line \($0) ünïcödé\n" }.joined()
                let echoed = try await member.run("exec", "-i", "echo", "--", "cat", input: input)
                #expect(echoed.status == 0, "\(echoed.output.prefix(300))")
                #expect(echoed.output == input)

                // A viewer reads the pod but the cluster refuses the exec, as it says.
                let refused = try await viewer.run("exec", "-i", "echo", "--", "cat", input: "x")
                #expect(refused.status != 0)
                #expect(refused.output.contains("pods \"echo\" is forbidden: User \"canopy:coke:pv\" cannot create resource \"pods/exec\""), "\(refused.output)")
                // Another tenant's admin cannot reach the cluster at all: the member's kubeconfig
                // with Pepsi's admin token.
                let config = try await server.request(.GET, "/api/v1/kubeconfig?style=token&project=marketing", token: fixture.tokens["coke-pm"]).text
                let token = try #require(config.split(separator: "\n").first { $0.contains("token: ") }?.split(separator: " ").last)
                let outsider = try Kubectl(kubeconfig: config.replacingOccurrences(of: String(token), with: fixture.tokens["pepsi-admin"]!))
                defer { outsider.remove() }
                _ = try await outsider.run("config", "use-context", "marketing@onprem")
                let unreachable = try await outsider.run("exec", "-i", "echo", "--", "cat", input: "x")
                #expect(unreachable.status != 0 && unreachable.output.contains("NotFound"), "\(unreachable.output)")
                // Every exec is audited as a write.
                let audit = try await server.request(.GET, "/api/v1/audit?tenant=coke", token: fixture.tokens["coke-admin"])
                let targets = audit.items.compactMap { $0["target"] as? String }.filter { $0.contains("/pods/echo/exec") }
                #expect(targets.contains { $0.hasSuffix("-> 101") } && targets.contains { $0.hasSuffix("-> 403") }, "\(targets)")
            }
        }
    }

    static let echoPod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: echo}
        spec:
          containers: [{name: c, image: busybox, resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {cpu: 10m, memory: 16Mi}}}]
        """
}
