import ArgumentParser
import Foundation
import KubeAPI
import KubeSim
import Logging

/// `canopy kubesim`: simulated Kubernetes clusters for demos and tests.
struct KubeSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubesim", abstract: "Serve simulated Kubernetes clusters at http://HOST:PORT/clusters/<name>."
    )

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen: String = "127.0.0.1:6443"

    @Option(help: "Cluster names, comma-separated.")
    var clusters: String = "a"

    @Option(help: "Write an admin kubeconfig per cluster into this folder (<name>.kubeconfig).")
    var kubeconfigDir: String?

    @Option(help: "The admin token (group system:masters); generated when left out.")
    var adminToken: String?

    @Option(help: "A static token file: one token,user,uid[,\"group1,group2\"] per line.")
    var tokenFile: String?

    @Option(help: "Nodes per cluster.")
    var nodes: Int = 3

    @Option(help: "CPU of each node (capacity and allocatable).")
    var nodeCpu: String = "8"

    @Option(help: "Memory of each node (capacity and allocatable).")
    var nodeMemory: String = "32Gi"

    @Flag(help: "Serve plain HTTP. kubectl sends no bearer token over plain HTTP, so this is for API clients only.")
    var insecureHttp = false

    @Flag(help: "Offer HTTP/1.1 only (over HTTPS, clients may choose HTTP/2 otherwise, as with a real API server).")
    var http1Only = false

    func run() async throws {
        let (host, port) = try Serve.parse(listen)
        let names = clusters.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw ValidationError("--clusters needs at least one name") }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        guard (0...1000).contains(nodes) else { throw ValidationError("--nodes must be between 0 and 1000") }
        let cpu: Quantity, memory: Quantity
        do {
            (cpu, memory) = (try Quantity(parsing: nodeCpu), try Quantity(parsing: nodeMemory))
        } catch {
            throw ValidationError("--node-cpu and --node-memory must be Kubernetes quantities such as 8 and 32Gi")
        }
        var shape = KubeSim.ClusterShape(nodes: nodes, nodeCPU: cpu, nodeMemory: memory, serviceAccountDelay: 1)
        shape.namespaceDeletionDelay = 2
        shape.podTerminationDelay = 1
        let sim = try KubeSim(clusterNames: names, shape: shape, adminToken: adminToken ?? "kubesim-admin-" + UUID().uuidString.lowercased(), host: host)
        if let tokenFile { try sim.addTokens(fromFile: tokenFile) }
        let directory = kubeconfigDir
        let scheme = insecureHttp ? "http" : "https"
        let logger = Logger(label: "kubesim")
        let app = try KubeSimServer.application(sim, host: host, port: port, tls: !insecureHttp, http2: !http1Only, logger: logger) { boundPort in
                let base = "\(scheme)://\(host):\(boundPort)"
                print("KubeSim serving \(names.count) cluster(s) at \(base)/clusters/<name>")
                if let directory {
                    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    for name in names {
                        let path = "\(directory)/\(name).kubeconfig"
                        do {
                            try writePrivately(Data(sim.adminKubeconfig(cluster: name, baseURL: base).utf8), to: path)
                            print("  kubectl --kubeconfig \(path) get namespaces")
                        } catch {
                            logger.error("could not write the kubeconfig of \(name) to \(path): \(error)")
                        }
                    }
                }
        }
        try await app.runService()
    }
}
