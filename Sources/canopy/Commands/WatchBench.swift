import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import TestSupport

/// `canopy bench --watches N`: issue 6's memory figure. `canopy serve` runs as a child process
/// (so its memory is its own) in front of one KubeSim cluster in this process; N watches on a
/// project namespace's pods are opened through Canopy's proxy as a project member, and Canopy's
/// resident memory is read before and after, and once one pod creation has reached every watch.
struct WatchBench {
    let watches: Int

    func run() async throws {
        try await CanopyChild.withCluster { sim, adminKubeconfig, canopy in
            let kubeconfig = try await ProxyBench.setUp(server: canopy.url, ca: canopy.ca, adminKubeconfig: adminKubeconfig).kubeconfig
            let connection = try Kubeconfig(yaml: kubeconfig).connection(context: "p@c0")
            guard case .token(let token) = connection.credential else { throw BenchFailure("the member's kubeconfig has no token") }
            let before = canopy.residentMegabytes()
            let admin = try KubeClient(connection: Kubeconfig(yaml: adminKubeconfig).connection())
            let revision = try await admin.list(Pod.self, namespace: "ns-0").metadata.resourceVersion ?? "0"

            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(canopy.ca.utf8)))
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.connectionPool = .init(idleTimeout: .seconds(600), concurrentHTTP1ConnectionsPerHostSoftLimit: watches + 16)
            configuration.httpVersion = .http1Only
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            do {
                let opened = Counter(), delivered = Counter(), ended = Counter(), failed = Counter()
                let started = ContinuousClock.now
                let watchers = Task {
                    try await withThrowingTaskGroup(of: Void.self) { watchGroup in
                        for _ in 0..<watches {
                            watchGroup.addTask {
                                // A failing watch is counted and said, never thrown: a thrown error
                                // would cancel every other watch of the group.
                                do {
                                    var request = HTTPClientRequest(url: canopy.url + "/k8s/clusters/bench/c0/api/v1/namespaces/ns-0/pods?watch=1&resourceVersion=\(revision)&timeoutSeconds=600")
                                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                                    let response = try await client.execute(request, timeout: .seconds(600))
                                    guard response.status == .ok else { throw BenchFailure("a watch got HTTP \(response.status.code)") }
                                    opened.increment()
                                    var seen = false
                                    for try await chunk in response.body where chunk.readableBytesView.contains(UInt8(ascii: "A")) {
                                        delivered.increment()
                                        seen = true
                                        break
                                    }
                                    if !seen { ended.increment() }
                                } catch is CancellationError {
                                } catch {
                                    failed.increment()
                                    print("  a watch failed: \(error)")
                                }
                            }
                        }
                        try await watchGroup.waitForAll()
                    }
                }
                guard try await waitFor("watches opened", count: opened, of: watches, since: started, within: .seconds(180)) else {
                throw BenchFailure("only \(opened.value) of \(watches) watches opened within 180 s")
            }
                let open = canopy.residentMegabytes()
                print("  the cluster has \(sim.clusters["c0"]?.openWatches ?? -1) watches open")
                let sent = ContinuousClock.now
                _ = try await admin.create(Pod(metadata: ObjectMeta(name: "watched", namespace: "ns-0"), spec: .init(containers: [
                    Container(name: "c", image: "nginx", resources: ResourceRequirements(requests: ["cpu": Quantity(milli: 10), "memory": Quantity(1 << 20)])),
                ])))
                let reached = try await waitFor("watches that saw the new pod", count: delivered, of: watches, since: sent, within: .seconds(60))
                let fannedOut = ContinuousClock.now - sent
                let after = canopy.residentMegabytes()
                print(String(format: "watches: canopy serve resident memory: %.1f MiB before, %.1f MiB with %d watches open (%.1f KiB per watch), %.1f MiB after one event",
                             before, open, watches, (open - before) * 1024 / Double(watches), after))
                print(reached
                    ? "watches: the event reached all \(watches) watches in \(fannedOut)"
                    : "watches: the event reached only \(delivered.value) of \(watches) watches within 60 s (\(ended.value) ended without it, \(failed.value) failed; the cluster has \(sim.clusters["c0"]?.openWatches ?? -1) watches open)")
                watchers.cancel()
                _ = await watchers.result
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
            try await admin.shutdown()
        }
    }

    /// Waits until `count` reaches `total` (true) or `within` has passed (false), with progress.
    private func waitFor(_ what: String, count: Counter, of total: Int, since start: ContinuousClock.Instant, within: Duration) async throws -> Bool {
        var reported = 0
        while count.value < total {
            guard ContinuousClock.now - start < within else { return false }
            let now = count.value
            if now / 100 > reported / 100 { print("  \(now) of \(total) \(what)") }
            reported = now
            try await Task.sleep(for: .milliseconds(100))
        }
        return true
    }
}

/// A count shared by many tasks.
final class Counter: Sendable {
    private let atomic = Atomic<Int>(0)
    func increment() { atomic.add(1, ordering: .relaxed) }
    var value: Int { atomic.load(ordering: .relaxed) }
}

/// `canopy serve` as a child process on a free port, for figures that must be Canopy's own.
struct CanopyChild: @unchecked Sendable {
    let process: ChildProcess
    let url: String
    let ca: String

    /// Runs `body` with a KubeSim cluster `c0` in this process (its admin kubeconfig is passed)
    /// and `canopy serve` as a child (pinned to `cpu` when given); stops Canopy first (its
    /// reconciler would open new watches), then the cluster.
    static func withCluster(cpu: Int? = nil, clusterHTTP2: Bool = false, _ body: (KubeSim, String, CanopyChild) async throws -> Void) async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        let cluster = try BenchKubeSim(clusters: ["c0"], logger: logger)
        let sim = cluster.sim, simServices = cluster.services
        let folder = try BenchKubeSim.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await simServices.run() }
            guard let simURL = await cluster.url() else { return }
            let canopy = try await start(folder: folder, cpu: cpu, clusterHTTP2: clusterHTTP2)
            defer { canopy.stop() }
            try await body(sim, sim.adminKubeconfig(cluster: "c0", baseURL: simURL), canopy)
            canopy.stop()
            while canopy.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            sim.clusters["c0"]?.shutDown()
            await simServices.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }

    /// Starts it; with `cpu`, pinned to that CPU (through util-linux's `taskset`).
    static func start(folder: String, cpu: Int? = nil, clusterHTTP2: Bool = false) async throws -> CanopyChild {
        let port = try ServerProcess.freePort()
        let canopy = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        let arguments = ["serve", "--data-dir", folder, "--listen", "127.0.0.1:\(port)", "--bcrypt-cost", "4"] + (clusterHTTP2 ? ["--cluster-http2"] : [])
        let environment = ["CANOPY_ADMIN_PASSWORD": "bench-admin-password", "CANOPY_LOG_LEVEL": "critical"]
        let process = if let cpu {
            try ChildProcess("/usr/bin/taskset", ["-c", String(cpu), canopy.path] + arguments, environment: environment)
        } else {
            try ChildProcess(canopy.path, arguments, environment: environment)
        }
        let url = "https://127.0.0.1:\(port)"
        for _ in 0..<300 {
            if let pem = FileManager.default.contents(atPath: folder + "/tls.crt").map({ String(decoding: $0, as: UTF8.self) }),
               (try? await APIClient(server: url, token: nil, certificateAuthority: pem).send(.GET, "/healthz")) != nil {
                return CanopyChild(process: process, url: url, ca: pem)
            }
            guard process.isRunning else { throw BenchFailure("canopy serve exited with status \(process.terminationStatus ?? -1)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw BenchFailure("canopy serve did not answer within 30 s")
    }

    /// CPU time the child has used so far (user and system), in seconds.
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.pid)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ")
        else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmRSS of the child, in MiB.
    func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }

    func stop() {
        if process.isRunning { process.terminate() }
    }
}
