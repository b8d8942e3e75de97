import Foundation
import KubeAPI

/// What happens to a pod on create, inside the cluster's lock so that it is atomic per cluster
/// (and therefore per namespace, as quota admission is on a real server): LimitRange defaults,
/// ResourceQuota admission with the real "exceeded quota" message, and binding to a node.
enum PodAdmission {
    /// The compute resources a quota can constrain, and how a pod's usage of them is counted.
    static let computeResources = ["cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]

    /// Fills missing container requests and limits as the API server does: its defaulting first
    /// (a limit without a request is the request), then the namespace's LimitRanges (`default`
    /// limits, `defaultRequest` requests, or the default limit where there is no default request).
    static func applyLimitRanges(_ pod: inout JSON, limitRanges: [JSON]) {
        guard var containers = pod[path: "spec.containers"]?.arrayValue else { return }
        let items = limitRanges.flatMap { $0[path: "spec.limits"]?.arrayValue ?? [] }.filter { $0["type"]?.stringValue == "Container" }
        for index in containers.indices {
            for resource in ["cpu", "memory"] {
                // The API server's defaulting, before admission: a limit without a request is
                // the request too (the LimitRange's default request does not override it).
                if containers[index][path: "resources.requests.\(resource)"] == nil, let limit = containers[index][path: "resources.limits.\(resource)"] {
                    containers[index][path: "resources.requests.\(resource)"] = limit
                }
                if containers[index][path: "resources.limits.\(resource)"] == nil,
                   let value = items.compactMap({ $0[path: "default.\(resource)"] }).first {
                    containers[index][path: "resources.limits.\(resource)"] = value
                }
                if containers[index][path: "resources.requests.\(resource)"] == nil,
                   let value = items.compactMap({ $0[path: "defaultRequest.\(resource)"] }).first
                    ?? containers[index][path: "resources.limits.\(resource)"] {
                    containers[index][path: "resources.requests.\(resource)"] = value
                }
            }
        }
        pod[path: "spec.containers"] = .array(containers)
    }

    /// The pod's validation of container resources (after the LimitRange defaults, as on a real
    /// server): no request above its limit.
    static func validateResources(_ pod: JSON, name: String) throws(Status) {
        var causes: [Status.Cause] = []
        for (index, container) in (pod[path: "spec.containers"]?.arrayValue ?? []).enumerated() {
            let requests = quantities(container[path: "resources.requests"]), limits = quantities(container[path: "resources.limits"])
            for (resource, request) in requests.sorted(by: { $0.key < $1.key }) {
                guard let limit = limits[resource], request > limit else { continue }
                causes.append(Status.Cause(reason: "FieldValueInvalid",
                                           message: "Invalid value: \"\(request.canonical)\": must be less than or equal to \(resource) limit of \(limit.canonical)",
                                           field: "spec.containers[\(index)].resources.requests"))
            }
        }
        if !causes.isEmpty { throw Status.invalid(kind: "Pod", name, causes: causes) }
    }

    /// A pod's usage of every quota resource it counts against.
    static func usage(of pod: JSON) -> [String: Quantity] {
        let phase = pod[path: "status.phase"]?.stringValue
        guard phase != "Succeeded" && phase != "Failed" else { return [:] }
        var usage: [String: Quantity] = ["pods": Quantity(1), "count/pods": Quantity(1)]
        for container in pod[path: "spec.containers"]?.arrayValue ?? [] {
            for (kind, prefix) in [("requests", "requests."), ("limits", "limits.")] {
                for resource in ["cpu", "memory"] {
                    guard let quantity = SpecValidation.quantity(container[path: "resources.\(kind).\(resource)"]) else { continue }
                    usage[prefix + resource] = (usage[prefix + resource] ?? Quantity(nanos: 0, format: quantity.format)) + quantity
                    if kind == "requests" { usage[resource] = (usage[resource] ?? Quantity(nanos: 0, format: quantity.format)) + quantity }
                }
            }
        }
        return usage
    }

    /// Checks `pod` against every quota of its namespace; returns the quotas with the pod's
    /// usage added (to be stored), or throws the API server's refusal. A quota enforces its
    /// `status.hard` (what the quota controller last took up), as a real API server does: one
    /// the controller has not seen yet enforces nothing.
    static func admit(_ pod: JSON, named name: String, quotas: [JSON]) throws(Status) -> [JSON] {
        let requested = usage(of: pod)
        var updated: [JSON] = []
        for quota in quotas where QuotaScopes.matchesPod(quota, pod) {
            let quotaName = quota[path: "metadata.name"]?.stringValue ?? ""
            let hard = quantities(quota[path: "status.hard"])
            guard !hard.isEmpty else { continue }
            let used = quantities(quota[path: "status.used"])
            // Every constrained compute resource must be specified by every container.
            let missing = hard.keys.filter { computeResources.contains($0) && requested[$0] == nil }.sorted()
            if !missing.isEmpty {
                let containers = (pod[path: "spec.containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.joined(separator: ",")
                throw Status.admissionForbidden("pods", name, reason: "failed quota: \(quotaName): must specify \(missing.map { "\($0) for: \(containers)" }.joined(separator: "; "))")
            }
            let exceeded = hard.keys.filter { key in
                guard let delta = requested[key] else { return false }
                return (used[key] ?? .zero) + delta > hard[key]!
            }.sorted()
            if !exceeded.isEmpty {
                func list(_ values: [String: Quantity]) -> String {
                    exceeded.map { "\($0)=\((values[$0] ?? .zero).canonical)" }.joined(separator: ",")
                }
                throw Status.admissionForbidden("pods", name, reason: "exceeded quota: \(quotaName), requested: \(list(requested)), used: \(list(used)), limited: \(list(hard))")
            }
            var next = quota
            var newUsed = used
            for key in hard.keys { newUsed[key] = (used[key] ?? .zero) + (requested[key] ?? .zero) }
            next[path: "status.used"] = .object(newUsed.mapValues { .string($0.canonical) })
            updated.append(next)
        }
        return updated
    }

    /// A quota with `status.hard` and `status.used` recomputed from the pods of its namespace
    /// (those its scopes match).
    static func recount(_ quota: JSON, pods: [JSON]) -> JSON {
        let hard = quantities(quota[path: "spec.hard"])
        var used: [String: Quantity] = [:]
        for key in hard.keys { used[key] = .zero }
        for pod in pods where QuotaScopes.matchesPod(quota, pod) {
            for (key, value) in usage(of: pod) where hard[key] != nil { used[key] = (used[key] ?? .zero) + value }
        }
        var next = quota
        next[path: "status.hard"] = quota[path: "spec.hard"]
        next[path: "status.used"] = .object(used.mapValues { .string($0.canonical) })
        return next
    }

    /// The first node whose allocatable CPU and memory, less what its pods request, fits the
    /// pod; `nil` when none does.
    static func fit(_ pod: JSON, nodes: [JSON], pods: [JSON]) -> String? {
        sorted(nodes).first { misfits(pod, on: $0, pods: pods).isEmpty }?[path: "metadata.name"]?.stringValue
    }

    /// Why no node takes the pod, in the scheduler's words: `0/3 nodes are available: 3
    /// Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for
    /// incoming pod.` (each reason with the number of nodes it applies to, sorted).
    static func unschedulable(_ pod: JSON, nodes: [JSON], pods: [JSON]) -> String {
        var counts: [String: Int] = [:], unresolvable = 0
        for node in nodes {
            let reasons = misfits(pod, on: node, pods: pods)
            for reason in reasons { counts[reason, default: 0] += 1 }
            if reasons.contains(where: NodePlacement.isUnresolvable) { unresolvable += 1 }
        }
        let reasons = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let total = nodes.count
        // Preemption could help only where resources were short.
        let preemption = [(total - unresolvable, "No preemption victims found for incoming pod"), (unresolvable, "Preemption is not helpful for scheduling")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        return "0/\(total) nodes are available: \(reasons.isEmpty ? "no nodes available to schedule pods" : reasons). "
            + "preemption: 0/\(total) nodes are available: \(preemption.isEmpty ? "no nodes available" : preemption)."
    }

    /// What keeps the pod off `node`: the first filter that refuses it (`NodePlacement`), else
    /// `Insufficient cpu`, `Insufficient memory`, `Too many pods`.
    private static func misfits(_ pod: JSON, on node: JSON, pods: [JSON]) -> [String] {
        guard let name = node[path: "metadata.name"]?.stringValue else { return ["node has no name"] }
        if let misfit = NodePlacement.misfit(pod, on: node) { return [misfit] }
        let wants = usage(of: pod)
        let allocatable = quantities(node[path: "status.allocatable"])
        let placed = pods.filter { $0[path: "spec.nodeName"]?.stringValue == name }.map(usage(of:))
        var reasons = ["cpu", "memory"].filter { resource in
            let taken = placed.reduce(Quantity.zero) { $0 + ($1["requests.\(resource)"] ?? .zero) }
            return taken + (wants["requests.\(resource)"] ?? .zero) > (allocatable[resource] ?? .zero)
        }.map { "Insufficient \($0)" }
        if let limit = allocatable["pods"], Quantity(placed.count + 1) > limit { reasons.append("Too many pods") }
        return reasons
    }

    private static func sorted(_ nodes: [JSON]) -> [JSON] {
        nodes.sorted { ($0[path: "metadata.name"]?.stringValue ?? "") < ($1[path: "metadata.name"]?.stringValue ?? "") }
    }

    static func quantities(_ value: JSON?) -> [String: Quantity] {
        var result: [String: Quantity] = [:]
        for (key, value) in value?.objectValue ?? [:] {
            if let quantity = SpecValidation.quantity(value) { result[key] = quantity }
        }
        return result
    }
}
