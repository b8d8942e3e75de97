import CanopyModel
import CanopyStore
import HTTPTypes

/// The audit events of proxied writes, and the quota refusals they carry to other replicas.
extension KubeProxy {
    /// A quota refusal's audit target ends in this, then the requested amounts and `)`.
    static let quotaRefusalMark = " (exceeded quota, requested: "

    /// Records a proxied write: who, where, what, and how the cluster answered (for a quota
    /// refusal, what was requested: the other replicas' share planners read it there).
    func audit(
        _ method: HTTPRequest.Method, target: KubePath, status: Int, quotaRequest: String? = nil, principal: Principal, tenant: TenantSnapshot,
        cluster: Cluster, requestID: String?
    ) async throws {
        let verb = switch method {
        case .post: "create"
        case .put: "update"
        case .patch: "patch"
        default: "delete"
        }
        let event = AuditEvent(
            at: services.now, actorID: principal.user.id, actor: "\(tenant.tenant.name)/\(principal.user.username)",
            tenantID: tenant.tenant.id, projectID: nil, action: "kube.\(verb)",
            target: "clusters/\(cluster.name)\(target.path) -> \(status)" + (quotaRequest.map { Self.quotaRefusalMark + $0 + ")" } ?? ""),
            requestID: requestID
        )
        try await services.world.commit { _ in World.Outcome(result: (), changes: [], audit: [event]) }
    }

    /// The quota refusal an audit target records (see `audit`): the cluster's name, the
    /// namespace, and the refusal as the share planner reads it (`requested: …`).
    static func quotaRefusal(inAuditTarget text: String) -> (cluster: String, namespace: String, message: String)? {
        guard text.hasPrefix("clusters/"), let mark = text.range(of: Self.quotaRefusalMark), let arrow = text.range(of: " -> ") else { return nil }
        let route = text[text.index(text.startIndex, offsetBy: "clusters/".count)..<arrow.lowerBound]
        guard let slash = route.firstIndex(of: "/"), let namespace = KubePath(String(route[slash...])).namespaceOfObject else { return nil }
        let requested = text[mark.upperBound...].dropLast()
        return (String(route[..<slash]), namespace, "requested: \(requested) ")
    }
}
