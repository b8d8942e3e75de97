import ArgumentParser
import CanopyServer
import Foundation
import KubeSim
import ServiceLifecycle
import Logging

/// `canopy demo`: a whole example domain on loopback, in a temporary folder.
///
/// Three simulated clusters (KubeSim, in-process, HTTPS); an msp tenant `coke` owning two of
/// them and an enterprise tenant `pepsi` owning the third; the project `marketing` spanning
/// coke's two clusters with an admin, a member and a viewer; pepsi's project `web`. `kubectl`
/// through Canopy's proxy arrives with the proxy issue; until then the tour shows the clusters'
/// own view with impersonation.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run an example Canopy domain on loopback.")

    @Option(help: "Keep the store here instead of a temporary folder.")
    var dataDir: String?

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free one).")
    var listen: String = "127.0.0.1:8443"

    @Flag(help: "Create the example domain, print how to use it, and stop (for scripts and tests).")
    var exitAfterSetup = false

    static let adminPassword = "demo-admin-password"
    static let userPassword = "demo-password"

    func run() async throws {
        let (host, port) = try Serve.parse(listen)
        let directory = dataDir ?? FileManager.default.temporaryDirectory.appendingPathComponent("canopy-demo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "canopy-demo")
        logger.logLevel = .warning
        let configuration = ServerConfiguration(
            dataDirectory: directory, host: host, port: port, bcryptCost: 8, adminPassword: Self.adminPassword, tls: true
        )
        let (ready, readyContinuation) = AsyncStream<CanopyServer.Ready>.makeStream()
        let serverLogger = logger
        // Three simulated clusters, served over HTTPS on a free port beside Canopy.
        var shape = KubeSim.ClusterShape(nodes: 3, serviceAccountDelay: 1)
        shape.namespaceDeletionDelay = 2
        shape.podTerminationDelay = 1
        let sim = try KubeSim(clusterNames: Self.clusters.map(\.name), shape: shape)
        let (simReady, simContinuation) = AsyncStream<Int>.makeStream()
        let simApp = try KubeSimServer.application(sim, host: "127.0.0.1", port: 0, logger: logger) { simContinuation.yield($0) }
        // Ctrl-C stops Canopy first (it watches the clusters), then the clusters: a cluster that
        // stopped on the signal too would wait for Canopy's watches forever.
        let simServices = ServiceGroup(configuration: .init(services: [simApp], gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simServices.run() }
            guard let simPort = await simReady.first(where: { _ in true }) else { return }
            let simURL = "https://127.0.0.1:\(simPort)"
            group.addTask {
                try await CanopyServer.run(configuration, logger: serverLogger, handleSignals: true) { ready in
                    readyContinuation.yield(ready)
                }
                for cluster in sim.clusters.values { cluster.shutDown() }
                await simServices.triggerGracefulShutdown()
            }
            guard let running = await ready.first(where: { _ in true }) else { return }
            let server = "https://\(host):\(running.port)"
            print("Starting Canopy demo in \(directory) …")
            try await populate(server, ca: running.certificatePEM, sim: sim, simURL: simURL, directory: directory)
            printTour(server, directory: directory)
            if exitAfterSetup {
                await running.stop()
            } else {
                print("\nPress Ctrl-C to stop.")
            }
            try await group.waitForAll()
        }
        if dataDir == nil { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// The demo's clusters and the tenant that imports each.
    static let clusters: [(name: String, tenant: String, labels: [String: String])] = [
        ("onprem-d20", "coke", ["provider": "onprem", "region": "d20"]),
        ("azure-eastus", "coke", ["provider": "azure", "region": "eastus"]),
        ("azure-westeu", "pepsi", ["provider": "azure", "region": "westeurope"]),
    ]

    /// Builds the example domain through the HTTP API, showing progress.
    private func populate(_ server: String, ca: String?, sim: KubeSim, simURL: String, directory: String) async throws {
        let anonymous = APIClient(server: server, token: nil, certificateAuthority: ca)
        let token = try await Self.token(anonymous, tenant: nil, username: "admin", password: Self.adminPassword)
        let admin = APIClient(server: server, token: token, certificateAuthority: ca)
        let steps: [(String, String, [String: Any])] = [
            ("tenant coke (msp)", "/api/v1/tenants", ["name": "coke", "displayName": "Coca-Cola", "mode": "msp", "admin": ["username": "coke-admin", "password": Self.userPassword]]),
            ("tenant pepsi (enterprise)", "/api/v1/tenants", ["name": "pepsi", "displayName": "PepsiCo", "mode": "enterprise", "admin": ["username": "pepsi-admin", "password": Self.userPassword]]),
        ]
        for (what, path, body) in steps {
            _ = try await admin.send(.POST, path, body: body)
            print("  created \(what)")
        }
        let cokeAdmin = APIClient(server: server, token: try await Self.token(anonymous, tenant: "coke", username: "coke-admin", password: Self.userPassword), certificateAuthority: ca)
        let pepsiAdmin = APIClient(server: server, token: try await Self.token(anonymous, tenant: "pepsi", username: "pepsi-admin", password: Self.userPassword), certificateAuthority: ca)
        for cluster in Self.clusters {
            let kubeconfig = sim.adminKubeconfig(cluster: cluster.name, baseURL: simURL)
            let path = "\(directory)/\(cluster.name).kubeconfig"
            _ = FileManager.default.createFile(atPath: path, contents: Data(kubeconfig.utf8), attributes: [.posixPermissions: 0o600])
            let client = cluster.tenant == "coke" ? cokeAdmin : pepsiAdmin
            _ = try await client.send(.POST, "/api/v1/tenants/\(cluster.tenant)/clusters", body: ["name": cluster.name, "kubeconfig": kubeconfig, "labels": cluster.labels])
            print("  imported simulated cluster \(cluster.name) into \(cluster.tenant)")
        }
        _ = try await cokeAdmin.send(.POST, "/api/v1/tenants/coke/projects", body: [
            "name": "marketing", "displayName": "Marketing", "caps": ["cpu": "16", "memory": "64Gi"],
            "placements": [
                ["cluster": "onprem-d20", "namespaces": ["marketing-dev"], "reservation": ["cpuPercent": 25, "memoryPercent": 25]],
                ["cluster": "azure-eastus", "namespaces": ["marketing-prod"]],
            ],
        ])
        print("  created project coke/marketing: marketing-dev on onprem-d20 (25 % of it reserved), marketing-prod on azure-eastus; caps 16 CPUs, 64 GiB")
        for (user, role) in [("alice", "admin"), ("bob", "member"), ("carol", "viewer")] {
            _ = try await cokeAdmin.send(.POST, "/api/v1/tenants/coke/users", body: ["username": user, "password": Self.userPassword])
            _ = try await cokeAdmin.send(.POST, "/api/v1/tenants/coke/projects/marketing/members", body: ["user": user, "role": role])
            print("  created coke/\(user), project \(role) of marketing")
        }
        _ = try await pepsiAdmin.send(.POST, "/api/v1/tenants/pepsi/projects", body: [
            "name": "web", "placements": [["cluster": "azure-westeu", "namespaces": ["web"]]],
        ])
        print("  created project pepsi/web on azure-westeu")
        try await waitUntilReady(cokeAdmin, "/api/v1/tenants/coke/projects/marketing")
        try await waitUntilReady(pepsiAdmin, "/api/v1/tenants/pepsi/projects/web")
        // kubectl through Canopy: a kubeconfig per project user, with a token of a week.
        for user in ["alice", "bob", "carol"] {
            let client = APIClient(server: server, token: try await Self.token(anonymous, tenant: "coke", username: user, password: Self.userPassword), certificateAuthority: ca)
            let kubeconfig = try await client.send(.GET, "/api/v1/kubeconfig?style=token&ttlSeconds=604800&project=marketing")
            let path = "\(directory)/\(user).kubeconfig"
            _ = FileManager.default.createFile(atPath: path, contents: kubeconfig, attributes: [.posixPermissions: 0o600])
        }
        print("  wrote kubeconfigs for alice, bob and carol (kubectl through Canopy's proxy)")
    }

    /// Waits (up to 60 s) until every namespace of a project reports Ready, showing progress.
    private func waitUntilReady(_ client: APIClient, _ path: String) async throws {
        let deadline = Date().addingTimeInterval(60)
        var last = ""
        while Date() < deadline {
            let project = try JSONSerialization.jsonObject(with: try await client.send(.GET, path)) as? [String: Any] ?? [:]
            let namespaces = project["namespaces"] as? [[String: Any]] ?? []
            let states = namespaces.map { namespace in
                "\(namespace["cluster"] as? String ?? "?")/\(namespace["name"] as? String ?? "?") \((namespace["status"] as? [String: Any])?["state"] as? String ?? "?")"
            }
            let line = states.joined(separator: ", ")
            if line != last { print("  reconciling \(project["name"] as? String ?? ""): \(line)") }
            last = line
            if !namespaces.isEmpty, namespaces.allSatisfy({ ($0["status"] as? [String: Any])?["state"] as? String == "Ready" }) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw CLIError("the project's namespaces did not become Ready within 60 s: \(last); see `canopy cluster get` for the clusters' reconcile status")
    }

    private static func token(_ client: APIClient, tenant: String?, username: String, password: String) async throws -> String {
        var body: [String: Any] = ["username": username, "password": password]
        if let tenant { body["tenant"] = tenant }
        let data = try await client.send(.POST, "/api/v1/login", body: body)
        guard let token = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String else {
            throw CLIError("sign-in returned no token")
        }
        return token
    }

    private func printTour(_ server: String, directory: String) {
        print("""

        Canopy demo is running at \(server)  (API document: \(server)/api/v1/openapi.yaml)

        The console: \(server)/ui  (the certificate is self-signed: \(directory)/tls.crt; sign in
        as any user below, tenant empty for admin)

        Sign-ins (password for all tenant users: \(Self.userPassword)):
          domain admin (service provider)   admin / \(Self.adminPassword)
          coke tenant admin (msp tenant)     coke-admin
          pepsi tenant admin (enterprise)    pepsi-admin
          coke/marketing admin, member, viewer: alice, bob, carol

        Try the CLI (the server's certificate is \(directory)/tls.crt):
          canopy login --server \(server) --certificate-authority \(directory)/tls.crt --username admin --password \(Self.adminPassword)
          canopy tenant list
          canopy project list --tenant coke        # 403: coke is an msp tenant, sealed from the provider
          canopy login --server \(server) --certificate-authority \(directory)/tls.crt --tenant coke --username bob --password \(Self.userPassword)
          canopy whoami
          canopy namespace list --tenant coke --project marketing
          canopy tenant get pepsi                  # 404: coke's users cannot learn pepsi exists
          canopy kubeconfig --output /tmp/bob.kubeconfig   # exec style: `canopy token` mints short-lived tokens

        kubectl through Canopy (contexts marketing@onprem-d20 and marketing@azure-eastus):
          kubectl --kubeconfig \(directory)/bob.kubeconfig get namespaces            # only marketing's
          kubectl --kubeconfig \(directory)/bob.kubeconfig create deployment web --image=nginx --replicas=3
          kubectl --kubeconfig \(directory)/bob.kubeconfig rollout status deployment/web   # the cluster's controllers made its pods
          kubectl --kubeconfig \(directory)/bob.kubeconfig wait --for=condition=Ready pods -l app=web   # as scripts wait for pods
          kubectl --kubeconfig \(directory)/bob.kubeconfig get pods -A               # pods of bob's namespaces only
          kubectl --kubeconfig \(directory)/bob.kubeconfig delete resourcequota canopy-quota   # Forbidden
          kubectl --kubeconfig \(directory)/carol.kubeconfig create configmap x      # Forbidden: carol is a viewer
          kubectl --kubeconfig \(directory)/alice.kubeconfig --context marketing@azure-eastus get all

        The clusters themselves (their admin kubeconfigs): what Canopy made, and that it puts back
        what is changed behind its back:
          kubectl --kubeconfig \(directory)/onprem-d20.kubeconfig -n marketing-dev get resourcequota,limitrange,networkpolicy,rolebinding
          kubectl --kubeconfig \(directory)/onprem-d20.kubeconfig -n marketing-dev delete rolebinding canopy:viewer   # back within a second
        """)
    }
}
