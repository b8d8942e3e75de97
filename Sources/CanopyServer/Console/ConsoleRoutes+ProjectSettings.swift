import CanopyModel
import Foundation
import Hummingbird

/// The project page's settings form, for those who may set a project's caps and reservations:
/// display name, project-wide CPU and memory caps, and on each of the tenant's clusters a
/// reservation (percent of the cluster's CPU and memory) and caps. It goes through the API's
/// `ProjectRoutes.update` (`PATCH …/projects/{p}`), so the same rules refuse the same settings
/// (reservations over 100 % of a cluster, above the caps or the tenant's cap; caps that are not
/// quantities), with the API's message and status on the page and what was typed kept.
struct ProjectSettingsForm {
    struct ClusterRow {
        let cluster: String
        var reservedCPU = "", reservedMemory = "", capCPU = "", capMemory = ""
    }

    var displayName = "", cpu = "", memory = ""
    var clusters: [ClusterRow] = []
    /// The project's version when the page was drawn (a hidden field; see `ConsolePage.version`).
    var version: Int?
    var error: String?

    /// The form as the project stands.
    init(_ project: Project, in tenant: TenantSnapshot) {
        displayName = project.displayName
        version = project.version
        cpu = project.caps?.cpu ?? ""
        memory = project.caps?.memory ?? ""
        clusters = tenant.clusters.values.sorted { $0.name < $1.name }.map { cluster in
            let settings = project.placements[cluster.id]
            return ClusterRow(
                cluster: cluster.name, reservedCPU: settings?.reservation?.cpuPercent.map(QuotaRules.format) ?? "",
                reservedMemory: settings?.reservation?.memoryPercent.map(QuotaRules.format) ?? "",
                capCPU: settings?.caps?.cpu ?? "", capMemory: settings?.caps?.memory ?? ""
            )
        }
    }

    /// The form as submitted: `displayName`, `cpu`, `memory`, `version`, and for each of the
    /// tenant's clusters `reservedCPU_<cluster>`, `reservedMemory_<cluster>`, `capCPU_<cluster>` and
    /// `capMemory_<cluster>` (a cluster name is a DNS label: it holds no `_`). `nil` when the
    /// project-wide fields are missing; throws when the version is not a number.
    init?(fields: [String: String], clusters names: [String]) throws {
        guard let displayName = fields["displayName"], let cpu = fields["cpu"], let memory = fields["memory"] else { return nil }
        version = try ConsolePage.version(fields["version"])
        self.displayName = displayName.trimmed
        self.cpu = cpu.trimmed
        self.memory = memory.trimmed
        clusters = names.compactMap { name in
            let row = ["reservedCPU", "reservedMemory", "capCPU", "capMemory"].map { fields["\($0)_\(name)"]?.trimmed }
            guard row.contains(where: { $0 != nil }) else { return nil }
            return ClusterRow(cluster: name, reservedCPU: row[0] ?? "", reservedMemory: row[1] ?? "", capCPU: row[2] ?? "", capMemory: row[3] ?? "")
        }
    }

    /// The API's request for these settings. An empty field clears what it sets (an empty display
    /// name leaves the name as it is); the caps' other resources, which the form does not show,
    /// are kept.
    func request(for project: Project, in tenant: TenantSnapshot) throws -> ProjectRoutes.UpdateProjectRequest {
        var caps = project.caps ?? ResourceCaps()
        caps.cpu = cpu.nonEmpty
        caps.memory = memory.nonEmpty
        let placements = try clusters.map { row in
            var clusterCaps = tenant.cluster(named: row.cluster).flatMap { project.placements[$0.id]?.caps } ?? ResourceCaps()
            clusterCaps.cpu = row.capCPU.nonEmpty
            clusterCaps.memory = row.capMemory.nonEmpty
            let reservation = Reservation(
                cpuPercent: try Self.percent(row.reservedCPU, "CPU", row.cluster), memoryPercent: try Self.percent(row.reservedMemory, "memory", row.cluster)
            )
            return ProjectRoutes.PlacementSettingsRequest(cluster: row.cluster, reservation: reservation, caps: clusterCaps)
        }
        return .init(displayName: displayName.nonEmpty, caps: caps, podSecurity: nil, placements: placements, version: version)
    }

    private static func percent(_ text: String, _ label: String, _ cluster: String) throws -> Double? {
        guard !text.isEmpty else { return nil }
        guard let value = Double(text.hasSuffix("%") ? String(text.dropLast()) : text) else {
            throw APIError.invalid("the \(label) reservation on '\(cluster)' is not a number: a percentage from 0 to 100", field: "reservation")
        }
        return value
    }
}

extension ConsoleRoutes {
    /// `PATCH …/projects/{p}` of the API with the settings form; back to the project's page.
    func saveProjectSettings(_ request: Request, _ context: AuthenticatedContext) async throws -> Response {
        let caller = try Caller(context, services)
        let (tenant, project) = try caller.project(request.parameter("tenant", context), request.parameter("project", context))
        try caller.require(.manageProjects, on: .project(tenant.tenant.id, project.id), "project")
        guard let fields = try await ConsolePage.form([String: String].self, from: request),
              let typed = try ProjectSettingsForm(fields: fields, clusters: tenant.clusters.values.map(\.name).sorted())
        else {
            throw APIError.malformed("the form needs displayName, cpu and memory")
        }
        return try await ConsolePage.submit({
            _ = try await ProjectRoutes(services: services).update(project, in: tenant, with: try typed.request(for: project, in: tenant), by: caller)
        }, then: "/ui/tenants/\(tenant.tenant.name)/projects/\(project.name)") { message, status in
            var refused = typed
            let current = (try? caller.project(tenant.tenant.name, project.name))?.1.version
            (refused.error, refused.version) = ConsolePage.refusal(message, status, of: "this project", drawn: typed.version, current: current)
            return try projectPage(caller, tenant: tenant.tenant.name, project: project.name, settings: refused, status: status)
        }
    }
}
