import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// The real `kubectl` against KubeSim over HTTPS.
@Suite struct KubectlTests {
    static let pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          labels: {app: web}
        spec:
          containers:
          - name: nginx
            image: nginx
            resources:
              requests: {cpu: 100m, memory: 64Mi}
        """

    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: api
        spec:
          replicas: 2
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec:
              containers: [{name: api, image: example/api:1}]
        """

    @Test func kubectlAppliesGetsLabelsAndDeletes() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let first = try await kubectl.run("apply", "-f", "-", input: Self.pod)
            #expect(first.output.contains("pod/web created"), "\(first.output)")
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pod).output.contains("pod/web unchanged"))
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.deployment).output.contains("deployment.apps/api created"))

            // Re-applying a changed image: the strategic merge keeps the container's other fields.
            let changed = Self.deployment.replacingOccurrences(of: "image: example/api:1}", with: "image: example/api:2, resources: {requests: {cpu: 100m}}}")
            #expect(try await kubectl.run("apply", "-f", "-", input: changed).output.contains("deployment.apps/api configured"))
            let again = Self.deployment.replacingOccurrences(of: "image: example/api:1}", with: "image: example/api:3, resources: {requests: {cpu: 100m}}}")
            #expect(try await kubectl.run("apply", "-f", "-", input: again).output.contains("deployment.apps/api configured"))
            let applied = try JSONDecoder().decode(JSON.self, from: Data(try await kubectl.run("get", "deployment", "api", "-o", "json").output.utf8))
            let container = applied[path: "spec.template.spec.containers"]?.arrayValue?.first
            #expect(container?["image"] == .string("example/api:3"))
            #expect(container?[path: "resources.requests.cpu"] == .string("100m"))
            #expect(applied[path: "spec.template.spec"]?.objectValue?.keys.contains { $0.hasPrefix("$") } == false)

            let serverSide = try await kubectl.run("apply", "--server-side", "-f", "-", input: Self.deployment.replacingOccurrences(of: "name: api\n", with: "name: api-ssa\n"))
            #expect(serverSide.output.contains("deployment.apps/api-ssa serverside-applied"), "\(serverSide.output)")
            let replicas = try await kubectl.run("apply", "--server-side", "-f", "-", input: Self.deployment.replacingOccurrences(of: "name: api\n", with: "name: api-ssa\n").replacingOccurrences(of: "replicas: 2", with: "replicas: 5"))
            #expect(replicas.status == 0)
            #expect(try await kubectl.run("get", "deployment", "api-ssa", "-o", "jsonpath={.spec.replicas}").output == "5")

            let wide = try await kubectl.run("get", "pods", "-o", "wide").output
            #expect(wide.contains("NAME") && wide.contains("READY") && wide.contains("NODE") && wide.contains("web"))
            let namespaces = try await kubectl.run("get", "namespaces").output
            #expect(namespaces.contains("STATUS") && namespaces.contains("kube-system") && namespaces.contains("Active"))

            #expect(try await kubectl.run("label", "pod", "web", "tier=front").output.contains("pod/web labeled"))
            let json = try await kubectl.run("get", "pod", "web", "-o", "json").output
            let object = try JSONDecoder().decode(JSON.self, from: Data(json.utf8))
            #expect(object[path: "metadata.labels"]?.stringMap == ["app": "web", "tier": "front"])
            #expect(object[path: "metadata.annotations"]?["kubectl.kubernetes.io/last-applied-configuration"] != nil)
            #expect(try await kubectl.run("get", "pods", "-l", "tier=front", "-o", "name").output.trimmingCharacters(in: .whitespacesAndNewlines) == "pod/web")

            let describe = try await kubectl.run("describe", "pod", "web").output
            #expect(describe.contains("Labels:") && describe.contains("app=web"))
            #expect(try await kubectl.run("delete", "pod", "web").output.contains("pod \"web\" deleted"))
            let missing = try await kubectl.run("get", "pod", "web")
            #expect(missing.status != 0 && missing.output.contains("Error from server (NotFound): pods \"web\" not found"))
        }
    }

    @Test func kubectlSeesTheQuotaRefusalAndWatches() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let quota = """
                apiVersion: v1
                kind: ResourceQuota
                metadata: {name: compute}
                spec:
                  hard: {requests.cpu: "1", requests.memory: 1Gi, limits.cpu: "2", limits.memory: 2Gi}
                """
            #expect(try await kubectl.run("apply", "-f", "-", input: quota).output.contains("resourcequota/compute created"))
            func pod(_ name: String, _ cpu: String, _ memory: String) -> String {
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: \(name)}
                spec:
                  containers:
                  - name: c
                    image: nginx
                    resources:
                      requests: {cpu: \(cpu), memory: \(memory)}
                      limits: {cpu: \(cpu), memory: \(memory)}
                """
            }
            // Watch pods while one is created; the watch ends by its own timeout (8 s: kubectl
            // starting, discovering and printing within 3 s was too tight on a loaded machine).
            async let watch = kubectl.run("get", "pods", "--watch", "--request-timeout=8s")
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await kubectl.run("apply", "-f", "-", input: pod("small", "500m", "256Mi")).output.contains("pod/small created"))
            let big = try await kubectl.run("apply", "-f", "-", input: pod("big2", "4", "8Gi"))
            #expect(big.status != 0)
            #expect(big.output.contains("pods \"big2\" is forbidden: exceeded quota: compute, requested: limits.cpu=4,limits.memory=8Gi,requests.cpu=4,requests.memory=8Gi, used: limits.cpu=500m,limits.memory=256Mi,requests.cpu=500m,requests.memory=256Mi, limited: limits.cpu=2,limits.memory=2Gi,requests.cpu=1,requests.memory=1Gi"), "\(big.output)")
            let watched = try await watch.output
            #expect(watched.contains("small") && watched.contains("Running"), "\(watched)")
        }
    }

    /// `kubectl create deployment|service` send protobuf (kubectl's typed clients); `get all`
    /// finds its kinds by discovery's `all` category.
    @Test func kubectlCreatesDeploymentsAndServicesAndGetsAll() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let created = try await kubectl.run("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=8080")
            #expect(created.output.contains("deployment.apps/web created"), "\(created.output)")
            let deployment = try JSONDecoder().decode(JSON.self, from: Data(try await kubectl.run("get", "deployment", "web", "-o", "json").output.utf8))
            #expect(deployment[path: "spec.replicas"] == .number(2) && deployment[path: "spec.selector.matchLabels"] == .object(["app": .string("web")]), "\(deployment)")
            let container = deployment[path: "spec.template.spec.containers"]?.arrayValue?.first
            #expect(container?["name"] == .string("nginx") && container?["image"] == .string("nginx:1.27"), "\(String(describing: container))")
            #expect(container?["ports"]?.arrayValue?.first?["containerPort"] == .number(8080))
            #expect(deployment[path: "spec.template.metadata.labels"] == .object(["app": .string("web")]))

            let service = try await kubectl.run("create", "service", "clusterip", "web", "--tcp=80:8080")
            #expect(service.output.contains("service/web created"), "\(service.output)")
            let spec = try JSONDecoder().decode(JSON.self, from: Data(try await kubectl.run("get", "service", "web", "-o", "json").output.utf8))
            let port = spec[path: "spec.ports"]?.arrayValue?.first
            #expect(port?["port"] == .number(80) && port?["targetPort"] == .number(8080) && port?["protocol"] == .string("TCP"), "\(spec)")
            #expect(spec[path: "spec.selector"] == .object(["app": .string("web")]) && spec[path: "spec.type"] == .string("ClusterIP"))

            let all = try await kubectl.run("get", "all", "-o", "name")
            #expect(all.status == 0 && all.output.contains("deployment.apps/web") && all.output.contains("service/web"), "\(all.output)")
        }
    }

    /// Services get what a real server gives them: a cluster IP from 10.96.0.0/12 and node ports
    /// from 30000–32767, each once in the cluster, kept when an update leaves them out.
    @Test func servicesGetAddressesAndNodePortsOnce() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            func field(_ service: String, _ path: String) async throws -> String {
                try await kubectl.run("get", "service", service, "-o", "jsonpath={\(path)}").output
            }
            _ = try await kubectl.run("create", "service", "clusterip", "web", "--tcp=80:8080")
            let address = try await field("web", ".spec.clusterIP")
            let addresses = try await field("web", ".spec.clusterIPs[0]")
            #expect(address == "10.96.0.11" && addresses == address, "\(address)")
            let table = try await kubectl.run("get", "service", "web", "--no-headers")
            #expect(table.output.split(separator: " ").prefix(3) == ["web", "ClusterIP", "10.96.0.11"], "\(table.output)")
            _ = try await kubectl.run("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080")
            #expect(try await field("np", ".spec.ports[0].nodePort") == "30080")
            #expect(try await field("np", ".spec.clusterIP") == "10.96.0.12")
            let taken = try await kubectl.run("create", "service", "nodeport", "np2", "--tcp=81:8080", "--node-port=30080")
            #expect(taken.status != 0 && taken.output.contains(#"Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#), "\(taken.output)")
            let outside = try await kubectl.run("create", "service", "nodeport", "np3", "--tcp=81:8080", "--node-port=80")
            #expect(outside.status != 0 && outside.output.contains("provided port is not in the valid range. The range of valid ports is 30000-32767"), "\(outside.output)")
            _ = try await kubectl.run("create", "service", "nodeport", "np4", "--tcp=82:8080")
            #expect(try await field("np4", ".spec.ports[0].nodePort") == "30000")
            let sameAddress = "apiVersion: v1\nkind: Service\nmetadata: {name: twin}\nspec: {clusterIP: 10.96.0.11, ports: [{port: 80}]}\n"
            let twin = try await kubectl.run("apply", "-f", "-", input: sameAddress)
            #expect(twin.status != 0 && twin.output.contains("failed to allocate IP 10.96.0.11: provided IP is already allocated"), "\(twin.output)")
            // Applied again without its address or node port, a service keeps both; changed, refused.
            let manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: np}\nspec: {type: NodePort, selector: {app: np}, ports: [{port: 80, targetPort: 8080}]}\n"
            #expect(try await kubectl.run("apply", "-f", "-", input: manifest).status == 0)
            #expect(try await kubectl.run("replace", "-f", "-", input: manifest).status == 0)
            let (kept, keptPort) = (try await field("np", ".spec.clusterIP"), try await field("np", ".spec.ports[0].nodePort"))
            #expect(kept == "10.96.0.12" && keptPort == "30080", "\(kept) \(keptPort)")
            let moved = try await kubectl.run("patch", "service", "web", "-p", #"{"spec":{"clusterIP":"10.96.0.99"}}"#)
            #expect(moved.status != 0 && moved.output.contains(#"spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set"#), "\(moved.output)")
        }
    }

    /// The workload kinds project members use beyond Deployments (Jobs, CronJobs, StatefulSets,
    /// DaemonSets), claims and ingresses: applied, listed by `get all` as on a real server,
    /// counted by `count/<resource>.<group>` quotas, and reachable through the `edit` role.
    @Test func kubectlAppliesBatchAndOtherWorkloadKinds() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            let job = """
                apiVersion: batch/v1
                kind: Job
                metadata: {name: once, namespace: work}
                spec:
                  backoffLimit: 2
                  template:
                    spec:
                      restartPolicy: Never
                      containers: [{name: c, image: busybox}]

                """
            let manifests = [
                job,
                """
                apiVersion: batch/v1
                kind: CronJob
                metadata: {name: nightly, namespace: work}
                spec:
                  schedule: "0 3 * * *"
                  jobTemplate:
                    spec:
                      template:
                        spec:
                          restartPolicy: Never
                          containers: [{name: c, image: busybox}]

                """,
                """
                apiVersion: apps/v1
                kind: StatefulSet
                metadata: {name: db, namespace: work}
                spec:
                  serviceName: db
                  selector: {matchLabels: {app: db}}
                  template:
                    metadata: {labels: {app: db}}
                    spec: {containers: [{name: c, image: postgres}]}

                """,
                """
                apiVersion: apps/v1
                kind: DaemonSet
                metadata: {name: agent, namespace: work}
                spec:
                  selector: {matchLabels: {app: agent}}
                  template:
                    metadata: {labels: {app: agent}}
                    spec: {containers: [{name: c, image: agent}]}

                """,
                """
                apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: {name: data, namespace: work}
                spec:
                  accessModes: [ReadWriteOnce]
                  resources: {requests: {storage: 1Gi}}

                """,
                """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata: {name: web, namespace: work}
                spec:
                  defaultBackend: {service: {name: web, port: {number: 80}}}

                """,
            ]
            let applied = try await kubectl.run("apply", "-f", "-", input: manifests.joined(separator: "---\n"))
            for created in ["job.batch/once", "cronjob.batch/nightly", "statefulset.apps/db", "daemonset.apps/agent", "persistentvolumeclaim/data", "ingress.networking.k8s.io/web"] {
                #expect(applied.output.contains("\(created) created"), "\(created): \(applied.output)")
            }
            // The controllers made their pods: the job's, the set's first, one per node (3).
            try await eventually(within: 10, "the workloads' pods") {
                let all = Set(try await kubectl.run("get", "all", "-n", "work", "-o", "name").output.split(separator: "\n").map(String.init))
                let pods = all.filter { $0.hasPrefix("pod/") }
                return all.subtracting(pods) == ["job.batch/once", "cronjob.batch/nightly", "statefulset.apps/db", "daemonset.apps/agent"]
                    && pods.contains("pod/db-0") && pods.count { $0.hasPrefix("pod/once-") } == 1 && pods.count { $0.hasPrefix("pod/agent-") } == 3 && pods.count == 5
            }
            #expect(try await kubectl.run("get", "pvc,ing", "-n", "work", "-o", "name").output.split(separator: "\n") == ["persistentvolumeclaim/data", "ingress.networking.k8s.io/web"])
            // Their tables have a real server's columns (KubeSim's pods run once bound: ready).
            func table(_ resource: String) async throws -> [[String]] {
                try await kubectl.run("get", resource, "-n", "work").output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            }
            let jobs = try await table("jobs")
            #expect(jobs.first == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"] && jobs.last.map { Array($0.prefix(3)) } == ["once", "Running", "0/1"], "\(jobs)")
            let cronJobs = try await table("cronjobs")
            #expect(cronJobs.first == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"], "\(cronJobs)")
            #expect(cronJobs.last.map { Array($0.prefix(10)) } == ["nightly", "0", "3", "*", "*", "*", "<none>", "False", "0", "<none>"], "\(cronJobs)")
            let sets = try await table("statefulsets,daemonsets")
            #expect(sets.contains { Array($0.prefix(2)) == ["statefulset.apps/db", "1/1"] }, "\(sets)")
            #expect(sets.contains { Array($0.prefix(6)) == ["daemonset.apps/agent", "3", "3", "3", "3", "3"] }, "\(sets)")
            let claims = try await table("pvc")
            #expect(claims.first.map { Array($0.prefix(6)) } == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES"], "\(claims)")
            #expect(claims.last.map { Array($0.prefix(3)) } == ["data", "Pending", "RWO"], "\(claims)")
            // `kubectl create job|cronjob` send protobuf; what they set is kept.
            #expect(try await kubectl.run("create", "job", "j1", "-n", "work", "--image=busybox", "--", "echo", "hi").output.contains("job.batch/j1 created"))
            let jobSpec = try await kubectl.run("get", "job", "j1", "-n", "work", "-o", "jsonpath={.spec.template.spec}")
            // What they set is kept, with the server's pod defaults around it.
            #expect(jobSpec.output == #"{"containers":[{"command":["echo","hi"],"image":"busybox","imagePullPolicy":"Always","name":"j1","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Never","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}"#, "\(jobSpec.output)")
            #expect(try await kubectl.run("create", "cronjob", "c1", "-n", "work", "--image=busybox", "--schedule=*/5 * * * *").output.contains("cronjob.batch/c1 created"))
            let cron = try await kubectl.run("get", "cronjob", "c1", "-n", "work", "-o", "jsonpath={.spec.schedule} {.spec.jobTemplate.spec.template.spec.restartPolicy}")
            #expect(cron.output == "*/5 * * * * OnFailure", "\(cron.output)")
            for name in ["job/j1", "cronjob/c1"] { _ = try await kubectl.run("delete", "-n", "work", name) }
            // A count quota on jobs.batch admits no second Job.
            let quota = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: jobs, namespace: work}\nspec: {hard: {count/jobs.batch: \"1\"}}\n"
            _ = try await kubectl.run("apply", "-f", "-", input: quota)
            try await eventually(within: 10, "the quota counts the job") {
                try await kubectl.run("get", "resourcequota", "jobs", "-n", "work", "-o", "jsonpath={.status.used}").output.contains("count/jobs.batch")
            }
            let second = try await kubectl.run("apply", "-f", "-", input: job.replacingOccurrences(of: "name: once", with: "name: twice"))
            #expect(second.output.contains("jobs.batch \"twice\" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=1, limited: count/jobs.batch=1"), "\(second.output)")
            // The edit role reaches batch, as on a real server.
            _ = try await kubectl.run("create", "rolebinding", "dev", "-n", "work", "--clusterrole=edit", "--user=dev")
            #expect(try await kubectl.run("auth", "can-i", "create", "cronjobs.batch", "-n", "work", "--as", "dev").output.hasPrefix("yes"))
            #expect(try await kubectl.run("auth", "can-i", "create", "cronjobs.batch", "-n", "default", "--as", "dev").output.hasPrefix("no"))
        }
    }

    /// `kubectl auth whoami`: the identity the request was served as, impersonation applied.
    @Test func kubectlAuthWhoamiShowsTheIdentity() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let me = try await kubectl.run("auth", "whoami", "-o", "json")
            let review = try JSONDecoder().decode(JSON.self, from: Data(me.output.utf8))
            #expect(review["kind"] == .string("SelfSubjectReview") && review[path: "status.userInfo.username"] == .string("kubesim-admin"), "\(me.output)")
            let other = try await kubectl.run("auth", "whoami", "--as", "alice", "--as-group", "team", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
            #expect(other.output == "alice [\"team\",\"system:authenticated\"]", "\(other.output)")
        }
    }

    @Test func kubectlWithoutAValidTokenIsUnauthorized() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.sim.kubeconfig(cluster: "a", baseURL: sim.baseURL, user: "intruder", token: "wrong"))
            defer { kubectl.remove() }
            let result = try await kubectl.run("get", "pods")
            #expect(result.status != 0 && result.output.contains("You must be logged in to the server"))
        }
    }
}
