import CanopyModel
import Foundation
import KubeAPI
import KubeClient
import Logging

/// Checks a kubeconfig before a cluster is imported: that it is usable, that the cluster answers,
/// that the credentials may do what the reconciler and the proxy need, and what the cluster is
/// (identity, version, capacity). Every refusal says which of these failed and what to fix.
struct ClusterImporter {
    /// What the import learned about the cluster.
    struct Facts {
        let identity: String
        let server: String
        let version: String
        let capacity: ResourceCaps
        let nodeCount: Int
    }

    /// The permissions Canopy needs, checked with SelfSubjectAccessReview at cluster scope.
    static let required: [(verb: String, group: String, resource: String)] = [
        ("get", "", "namespaces"), ("create", "", "namespaces"), ("delete", "", "namespaces"), ("list", "", "nodes"),
        ("create", "rbac.authorization.k8s.io", "rolebindings"), ("create", "rbac.authorization.k8s.io", "clusterroles"),
        ("create", "", "resourcequotas"), ("update", "", "resourcequotas"), ("create", "", "limitranges"),
        ("create", "networking.k8s.io", "networkpolicies"), ("impersonate", "", "users"), ("impersonate", "", "groups"),
    ]

    let logger: Logger

    func inspect(kubeconfig: String) async throws -> Facts {
        let connection: Kubeconfig.Connection
        do {
            connection = try Kubeconfig(yaml: kubeconfig).connection()
        } catch {
            throw APIError.invalid("the kubeconfig cannot be used: \(error)", field: "kubeconfig")
        }
        var configuration = KubeClient.Configuration()
        configuration.timeout = .seconds(10)
        configuration.retries = 0
        let client: KubeClient
        do {
            client = try KubeClient(connection: connection, configuration: configuration, logger: logger)
        } catch {
            throw APIError.invalid("the kubeconfig's TLS material cannot be read: \(error)", field: "kubeconfig")
        }
        do {
            let version = try await client.version()["gitVersion"]?.stringValue ?? "unknown"
            var missing: [String] = []
            for permission in Self.required {
                let review = try await client.create(SelfSubjectAccessReview(ResourceAttributes(verb: permission.verb, group: permission.group, resource: permission.resource)))
                if review.status?.allowed != true { missing.append("\(permission.verb) \(permission.resource)") }
            }
            guard missing.isEmpty else {
                throw APIError.invalid(
                    "the credentials lack permissions Canopy needs: \(missing.joined(separator: ", ")); bind them to the cluster-admin ClusterRole",
                    field: "kubeconfig"
                )
            }
            let identity = try await client.get(Namespace.self, "kube-system").metadata.uid ?? ""
            let nodes = try await client.listAll(Node.self)
            let cpu = nodes.reduce(Quantity.zero) { $0 + ($1.status?.allocatable?["cpu"] ?? .zero) }
            let memory = nodes.reduce(Quantity(nanos: 0, format: .binarySI)) { $0 + ($1.status?.allocatable?["memory"] ?? .zero) }
            return Facts(
                identity: identity, server: connection.server, version: version,
                capacity: ResourceCaps(cpu: cpu.canonical, memory: memory.canonical), nodeCount: nodes.count
            )
        } catch let error as APIError {
            throw error
        } catch let error as KubeError {
            throw APIError.invalid(Self.explain(error, server: connection.server), field: "kubeconfig")
        }
    }

    /// What went wrong talking to the cluster, and what to do about it.
    static func explain(_ error: KubeError, server: String) -> String {
        switch error.code {
        case .unreachable, .timeout:
            "the cluster at \(server) cannot be reached; check the server URL and that the cluster is up"
        case .tls:
            "TLS with \(server) failed; check the kubeconfig's certificate-authority and client certificate"
        default:
            if error.httpCode == 401 {
                "the cluster at \(server) refused the credentials (401 Unauthorized); give a valid token or client certificate"
            } else if error.httpCode == 403 {
                "the credentials may not read the cluster (\(error.status?.message ?? "403 Forbidden")); bind them to the cluster-admin ClusterRole"
            } else {
                "the cluster at \(server) answered \(error.httpCode.map(String.init) ?? "an error"): \(error.status?.message ?? error.message)"
            }
        }
    }
}
