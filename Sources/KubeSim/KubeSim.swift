import CanopyCertificates
import Foundation
import HTTPServing
import KubeAPI
import NIOCore
import Synchronization

/// Many simulated clusters in one process, served at `/clusters/<name>/…`.
///
/// Authentication is by bearer token: the admin token (a member of `system:masters`) and any
/// tokens added with `addToken`. See Docs/KubeSim.md for what is emulated and what differs from
/// a real API server.
public final class KubeSim: Sendable {
    /// A caller as the simulated API server knows it.
    public struct UserInfo: Sendable, Equatable {
        public let name: String
        public let groups: [String]

        public init(name: String, groups: [String]) {
            self.name = name
            self.groups = groups
        }
    }

    public let clusters: [String: SimCluster]
    /// The token of the all-powerful admin (`system:masters`).
    public let adminToken: String
    /// The serving certificate for HTTPS, which is also the CA clients trust (generated at start).
    public let certificate: ServerCertificate
    /// Upgraded streams (exec, attach, port-forward sessions) still open, across all clusters.
    public var openStreams: Int { streams.withLock { $0.count } }
    /// The connection of each open stream.
    private let streams = Mutex<[ObjectIdentifier: any Channel]>([:])

    func streamOpened(on channel: any Channel) { streams.withLock { $0[ObjectIdentifier(channel)] = channel } }
    func streamClosed(on channel: any Channel) { streams.withLock { $0[ObjectIdentifier(channel)] = nil } }

    /// Drops the connection of every open stream, as a cluster that goes away mid-stream does.
    public func dropStreams() {
        for channel in streams.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
    /// Connections open to the sim's server (all clusters; tests check a client lets go of them).
    public let connections = ConnectionCounter()
    private let tokens: Mutex<[String: UserInfo]>

    /// Kubernetes version reported by `/version`: v1.36.2, the version REAL-CLUSTER.md observed.
    public static let gitVersion = "v1.36.2"

    /// The shape of every simulated cluster.
    public struct ClusterShape: Sendable {
        /// Nodes per cluster, named `node-1`, `node-2`, ….
        public var nodes: Int = 0
        public var nodeCPU: Quantity = Quantity(8)
        public var nodeMemory: Quantity = (try? Quantity(parsing: "32Gi")) ?? Quantity(0)
        public var nodePods: Int = 110
        /// Delay before a new namespace's `default` ServiceAccount exists (a real cluster: ~1 s).
        public var serviceAccountDelay: TimeInterval = 0
        /// Delay before the quota controller takes up a changed quota (a real cluster: ~1 s);
        /// see `SimCluster.quotaControllerDelay`.
        public var quotaControllerDelay: TimeInterval = 0
        /// How long a deleted namespace stays `Terminating` (a real cluster: a few seconds); see
        /// `SimCluster.namespaceDeletionDelay`.
        public var namespaceDeletionDelay: TimeInterval = 0
        /// `SimCluster.podTerminationDelay`.
        public var podTerminationDelay: TimeInterval = 0

        public init(nodes: Int = 0, nodeCPU: Quantity = Quantity(8), nodeMemory: Quantity? = nil, serviceAccountDelay: TimeInterval = 0) {
            self.nodes = nodes
            self.nodeCPU = nodeCPU
            if let nodeMemory { self.nodeMemory = nodeMemory }
            self.serviceAccountDelay = serviceAccountDelay
        }

        /// What a healthy node's kubelet reports: no pressure, ready.
        static var nodeConditions: JSON {
            let now = JSON.string(KubeTime.format(Date()))
            func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> JSON {
                .object([
                    "type": .string(type), "status": .string(status), "reason": .string(reason), "message": .string(message),
                    "lastHeartbeatTime": now, "lastTransitionTime": now,
                ])
            }
            return .array([
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ])
        }

        static let nodeInfo: JSON = .object([
            "architecture": .string("amd64"), "operatingSystem": .string("linux"), "osImage": .string("Ubuntu 24.04.3 LTS"),
            "kernelVersion": .string("6.8.0-88-generic"), "containerRuntimeVersion": .string("containerd://2.1.4"),
            "kubeletVersion": .string(KubeSim.gitVersion),
        ])

        /// The Node objects of one cluster.
        var nodeObjects: [JSON] {
            (0..<nodes).map { index in
                let resources: JSON = .object(["cpu": .string(nodeCPU.canonical), "memory": .string(nodeMemory.canonical), "pods": .string(String(nodePods))])
                return .object([
                    "apiVersion": .string("v1"), "kind": .string("Node"),
                    "metadata": .object(["name": .string("node-\(index + 1)"), "labels": .object(["kubernetes.io/hostname": .string("node-\(index + 1)")])]),
                    "status": .object([
                        "capacity": resources, "allocatable": resources, "conditions": Self.nodeConditions, "nodeInfo": Self.nodeInfo,
                        "addresses": .array([
                            .object(["type": .string("InternalIP"), "address": .string("10.0.0.\(index % 250 + 2)")]),
                            .object(["type": .string("Hostname"), "address": .string("node-\(index + 1)")]),
                        ]),
                    ]),
                ])
            }
        }
    }

    public init(
        clusterNames: [String], shape: ClusterShape = ClusterShape(), adminToken: String = "kubesim-admin-" + UUID().uuidString.lowercased(),
        host: String = "127.0.0.1", certificate: ServerCertificate? = nil, clock: @escaping @Sendable () -> Date = Date.init
    ) throws {
        self.certificate = try certificate ?? ServerCertificate.create(host: host, commonName: "KubeSim", dnsNames: Self.apiServerNames)
        let nodes = shape.nodeObjects, rootCertificate = self.certificate.certificatePEM
        clusters = Dictionary(uniqueKeysWithValues: clusterNames.map {
            ($0, SimCluster(name: $0, nodes: nodes, serviceAccountDelay: shape.serviceAccountDelay, rootCertificate: rootCertificate, clock: clock))
        })
        for cluster in clusters.values {
            cluster.quotaControllerDelay = shape.quotaControllerDelay
            cluster.namespaceDeletionDelay = shape.namespaceDeletionDelay
            cluster.podTerminationDelay = shape.podTerminationDelay
        }
        self.adminToken = adminToken
        tokens = Mutex([adminToken: UserInfo(name: "kubesim-admin", groups: ["system:masters", "system:authenticated"])])
    }

    /// The names every kube-apiserver's serving certificate carries besides the cluster's own
    /// names and addresses (kubeadm, k3s and kind alike). A `certificate` given to `init` (a
    /// self-signed one, which is also the cluster's CA) replaces the default one.
    public static let apiServerNames = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]

    /// Accepts `token` as `user` in `groups` (plus `system:authenticated`) on every cluster.
    public func addToken(_ token: String, user: String, groups: [String] = []) {
        tokens.withLock { $0[token] = UserInfo(name: user, groups: groups + ["system:authenticated"]) }
    }

    /// Reads a static token file in kube-apiserver's format — one `token,user,uid[,"group1,group2"]`
    /// per line, `#` comments — and accepts every token in it.
    public func addTokens(fromFile path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KubeSimError("cannot read token file \(path)")
        }
        for (number, line) in text.split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            var fields: [String] = []
            var current = "", quoted = false
            for character in trimmed {
                if character == "\"" { quoted.toggle() } else if character == "," && !quoted { fields.append(current); current = "" } else { current.append(character) }
            }
            fields.append(current)
            guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw KubeSimError("token file \(path), line \(number + 1): expected token,user,uid[,\"group1,group2\"]")
            }
            let groups = fields.count > 3 ? fields[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
            addToken(fields[0], user: fields[1], groups: groups)
        }
    }

    /// The caller a bearer token stands for.
    public func user(forToken token: String) -> UserInfo? {
        tokens.withLock { $0[token] }
    }

    /// A kubeconfig for the admin of one cluster served at `baseURL` (with the CA for https).
    public func adminKubeconfig(cluster: String, baseURL: String) -> String {
        kubeconfig(cluster: cluster, baseURL: baseURL, user: "\(cluster)-admin", token: adminToken)
    }

    /// A kubeconfig for one cluster with the given token.
    public func kubeconfig(cluster: String, baseURL: String, user: String, token: String) -> String {
        let authority = baseURL.hasPrefix("https:")
            ? "\n    certificate-authority-data: \(Data(certificate.certificatePEM.utf8).base64EncodedString())" : ""
        return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: \(cluster)
          cluster:
            server: \(baseURL)/clusters/\(cluster)\(authority)
        users:
        - name: \(user)
          user:
            token: \(token)
        contexts:
        - name: \(cluster)
          context:
            cluster: \(cluster)
            user: \(user)
            namespace: default
        current-context: \(cluster)

        """
    }
}

/// A KubeSim set-up error, with what to fix.
public struct KubeSimError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
