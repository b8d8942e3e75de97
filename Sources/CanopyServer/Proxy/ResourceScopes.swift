import AsyncHTTPClient
import CanopyModel
import Foundation
import KubeAPI
import KubeClient
import NIOCore
import NIOHTTP1
import Synchronization

/// Whether a resource a project user lists at cluster scope is namespaced (so `kubectl get X -A`
/// is gathered from their namespaces) or cluster-scoped (so the cluster answers as it would,
/// Forbidden unless its RBAC grants them more), as the cluster's discovery says: a real cluster
/// serves resources no list of Canopy's knows (custom resources, newer built-ins), and asking a
/// cluster-scoped one of each namespace answers 404 where the cluster would have answered.
///
/// Each cluster's API group versions are read once with Canopy's credentials and kept for five
/// minutes; a resource the last reading did not have is looked for again after 30 s (a resource
/// definition just installed). When discovery cannot be read, the last reading holds, or failing
/// that the built-in list.
final class ResourceScopes: Sendable {
    struct Reading: Sendable {
        var namespaced: Set<String>
        var served: Set<String>
        var at: ContinuousClock.Instant
    }

    private let readings = Mutex<[String: Reading]>([:])
    private let freshFor: Duration
    private let unknownRetry: Duration

    init(freshFor: Duration = .seconds(300), unknownRetry: Duration = .seconds(30)) {
        self.freshFor = freshFor
        self.unknownRetry = unknownRetry
    }

    func isNamespaced(_ resource: String, root: String, cluster: Cluster, client: KubeClient) async -> Bool {
        let key = "\(cluster.id)|\(cluster.version)|\(root)"
        let now = ContinuousClock.now
        let last = readings.withLock { $0[key] }
        if let last, now - last.at < (last.served.contains(resource) ? freshFor : unknownRetry) {
            return last.namespaced.contains(resource)
        }
        guard let reading = await Self.read(root, client: client) else {
            return last?.namespaced.contains(resource) ?? !Self.builtInClusterScoped.contains(resource)
        }
        readings.withLock { $0[key] = reading }
        return reading.namespaced.contains(resource)
    }

    /// The cluster's resources under `root` (`/api/v1`, `/apis/<group>/<version>`); none when it
    /// does not serve that group version (the cluster then answers the list itself: 404); `nil`
    /// when discovery could not be read.
    static func read(_ root: String, client: KubeClient) async -> Reading? {
        do {
            let response = try await client.forward(
                .GET, pathAndQuery: root, headers: ["Accept": "application/json"], body: nil, impersonation: nil, timeout: .seconds(10)
            )
            let body = try await response.body.collect(upTo: 8 << 20)
            if response.status == .notFound { return Reading(namespaced: [], served: [], at: .now) }
            guard response.status == .ok else { return nil }
            let list = try JSONDecoder().decode(JSON.self, from: Data(body.readableBytesView))
            var reading = Reading(namespaced: [], served: [], at: .now)
            for resource in list["resources"]?.arrayValue ?? [] {
                // Subresources (`pods/log`) are not listed at cluster scope.
                guard let name = resource["name"]?.stringValue, !name.contains("/") else { continue }
                reading.served.insert(name)
                if resource["namespaced"] == .bool(true) { reading.namespaced.insert(name) }
            }
            return reading
        } catch {
            return nil
        }
    }

    /// Built-in resources that live at cluster scope: the answer while a cluster's discovery
    /// cannot be read.
    static let builtInClusterScoped: Set<String> = [
        "namespaces", "nodes", "persistentvolumes", "componentstatuses", "clusterroles", "clusterrolebindings", "storageclasses",
        "customresourcedefinitions", "apiservices", "certificatesigningrequests", "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings", "priorityclasses",
        "runtimeclasses", "csidrivers", "csinodes", "volumeattachments", "ingressclasses", "selfsubjectaccessreviews",
        "subjectaccessreviews", "tokenreviews", "selfsubjectrulesreviews", "selfsubjectreviews", "flowschemas",
        "prioritylevelconfigurations", "ipaddresses", "servicecidrs", "volumeattributesclasses", "deviceclasses", "resourceslices",
        "mutatingadmissionpolicies", "mutatingadmissionpolicybindings", "clustertrustbundles", "storageversions",
        "storageversionmigrations",
    ]
}
