import CanopyModel
import CanopyReconciler
import Foundation
import KubeAPI

/// The rules on caps and reservations (DESIGN.md §2). Form errors (a quantity that does not
/// parse or is negative) are 400; breaking a rule between figures is 422 with the figures named.
enum QuotaRules {
    /// Each cap a quantity; other resources named as a ResourceQuota would name them.
    static func caps(_ caps: ResourceCaps, field: String) throws {
        for (name, value) in caps.byQuotaName {
            let path = name == QuotaResource.cpu ? "\(field).cpu" : name == QuotaResource.memory ? "\(field).memory" : "\(field).resources.\(name)"
            guard (try? Quantity(parsing: value)).map({ $0.nanos >= 0 }) ?? false, value.count <= 64 else {
                throw APIError.malformed("\(path) must be a non-negative Kubernetes quantity such as 4, 500m, 1.5, 32Gi or 1e3", field: path)
            }
        }
        for name in (caps.resources ?? [:]).keys.sorted() where !isQuotaResourceName(name) {
            throw APIError.invalid(
                "\(field).resources: '\(name)' is not a quota resource Canopy plans; use cpu and memory for requests.cpu and "
                    + "requests.memory, and names such as pods, requests.storage or requests.nvidia.com/gpu for others",
                field: "\(field).resources.\(name)"
            )
        }
    }

    /// `pods`, `services`, `requests.storage`, `requests.<domain>/<name>`, `count/<resource>`…
    static func isQuotaResourceName(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 253, ![QuotaResource.cpu, QuotaResource.memory, "cpu", "memory"].contains(name) else { return false }
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/")
        guard name.unicodeScalars.allSatisfy(allowed.contains), name.filter({ $0 == "/" }).count <= 1 else { return false }
        return name.first?.isLetter == true && name.last.map { $0.isLetter || $0.isNumber } == true
    }

    /// The rules between `project` (as it would be saved) and the rest of `tenant`: placement
    /// settings only for the tenant's clusters; per cluster and resource, reservations summing
    /// to at most 100 %; no reservation above the project's caps (per cluster and in total)
    /// or, summed over the tenant, above the tenant's cap.
    static func check(_ project: Project, in tenant: TenantSnapshot) throws {
        for clusterID in project.placements.keys where tenant.clusters[clusterID] == nil {
            throw APIError.invalid("placements: a cluster of these settings is no longer in the tenant", field: "placements")
        }
        var projects = tenant.projects
        projects[project.id] = project
        for resource in [QuotaResource.cpu, QuotaResource.memory] {
            var reservedByProject: Int64 = 0
            for (clusterID, settings) in project.placements.sorted(by: { $0.key < $1.key }) {
                guard let cluster = tenant.clusters[clusterID], let percent = settings.reservation?.byQuotaName[resource] else { continue }
                let label = resource == QuotaResource.cpu ? "CPU" : "memory"
                let others = projects.values.filter { $0.id != project.id }.compactMap { other -> (String, Double)? in
                    guard let theirs = other.placements[clusterID]?.reservation?.byQuotaName[resource], theirs > 0 else { return nil }
                    return (other.name, theirs)
                }.sorted { $0.0 < $1.0 }
                let total = others.reduce(percent) { $0 + $1.1 }
                if total > 100 {
                    let list = others.map { "\($0.0) \(format($0.1))%" }.joined(separator: ", ")
                    throw APIError.invalid(
                        "reservations of cluster '\(cluster.name)' would sum to \(format(total))% of its \(label) "
                            + "(\(project.name) \(format(percent))%, \(list)); at most 100%",
                        field: "placements"
                    )
                }
                let capacity = capacityAmount(cluster, resource)
                let reserved = Int64((Double(capacity) * percent / 100).rounded(.down))
                reservedByProject += reserved
                if let cap = settings.caps?.byQuotaName[resource].flatMap({ PlanUnits.amount(parsing: $0, resource) }), reserved > cap {
                    throw APIError.invalid(
                        "the reservation of \(format(percent))% of cluster '\(cluster.name)' is \(show(reserved, resource)) \(label), "
                            + "more than the project's cap there of \(show(cap, resource))",
                        field: "placements"
                    )
                }
            }
            if let cap = PlanUnits.amounts(project.caps)[resource], reservedByProject > cap {
                throw APIError.invalid(
                    "the project's reservations add up to \(show(reservedByProject, resource)) \(resource == QuotaResource.cpu ? "CPU" : "memory"), "
                        + "more than its cap of \(show(cap, resource))",
                    field: "placements"
                )
            }
        }
        try checkTenantCaps(tenant.tenant.caps, projects: Array(projects.values), in: tenant)
    }

    /// Σ of every reservation in the tenant against the tenant's caps.
    static func checkTenantCaps(_ caps: ResourceCaps?, projects: [Project], in tenant: TenantSnapshot) throws {
        let limits = PlanUnits.amounts(caps)
        for resource in [QuotaResource.cpu, QuotaResource.memory] {
            guard let cap = limits[resource] else { continue }
            var total: Int64 = 0
            for project in projects {
                for (clusterID, settings) in project.placements {
                    guard let cluster = tenant.clusters[clusterID], let percent = settings.reservation?.byQuotaName[resource] else { continue }
                    total += Int64((Double(capacityAmount(cluster, resource)) * percent / 100).rounded(.down))
                }
            }
            if total > cap {
                throw APIError.invalid(
                    "the tenant's reservations add up to \(show(total, resource)) \(resource == QuotaResource.cpu ? "CPU" : "memory"), "
                        + "more than the tenant's cap of \(show(cap, resource))",
                    field: "caps"
                )
            }
        }
    }

    /// Caps set below what the project uses now: allowed (never clamped), and said.
    static func warnings(for project: Project, state: Reconciler.QuotaState?) -> [String] {
        guard let state else { return [] }
        var used: [String: Int64] = [:]
        for placement in state.tree.projects.first(where: { $0.id == project.id.rawValue })?.placements ?? [] {
            for namespace in placement.namespaces {
                for (resource, amount) in namespace.used { used[resource, default: 0] += amount }
            }
        }
        return PlanUnits.amounts(project.caps).sorted { $0.key < $1.key }.compactMap { resource, cap in
            guard let now = used[resource], now > cap else { return nil }
            return "the cap of \(show(cap, resource)) \(resource) is below the \(show(now, resource)) the project uses now: "
                + "nothing running is stopped, but new pods are refused until usage falls below it"
        }
    }

    static func capacityAmount(_ cluster: Cluster, _ resource: String) -> Int64 {
        let text = resource == QuotaResource.cpu ? cluster.capacity.cpu : cluster.capacity.memory
        return text.flatMap { PlanUnits.amount(parsing: $0, resource) } ?? 0
    }

    static func show(_ amount: Int64, _ resource: String) -> String { PlanUnits.quantity(amount, resource).canonical }

    static func format(_ percent: Double) -> String {
        percent == percent.rounded() ? String(Int(percent)) : String(format: "%.2f", percent)
    }
}
