/// The one authorization function: every API handler, the console and the kube proxy ask it.
///
/// It first decides whether the caller may *see* the target (if not: `.conceal`, answered as 404),
/// then whether any of the caller's roles that reach the target allows the action (if not:
/// `.forbid`, 403). Pure: the same principal, snapshot and request always give the same answer.
public enum Policy {
    /// Decides whether `principal` may do `action` on `target` in the world `snapshot` describes.
    public static func decide(
        _ action: Action, for principal: Principal, on target: Target, in snapshot: Snapshot
    ) -> Decision {
        guard isVisible(target, to: principal, in: snapshot) else { return .conceal }
        return isAllowed(action, for: principal, on: target, in: snapshot) ? .allow : .forbid
    }

    /// Whether the caller may know that `target` exists.
    public static func isVisible(_ target: Target, to principal: Principal, in snapshot: Snapshot) -> Bool {
        switch target {
        case .domain:
            return true
        case .tenant(let tenantID):
            guard snapshot.tenant(tenantID) != nil else { return false }
            return principal.isServiceProvider || principal.tenantID == tenantID
        case .project(let tenantID, let projectID):
            guard let tenant = snapshot.tenant(tenantID), tenant.project(projectID) != nil else { return false }
            if principal.tenantID == tenantID {
                return principal.isTenantAdmin || principal.projectRoles[projectID] != nil
            }
            return principal.isServiceProvider && tenant.tenant.mode == .enterprise
        }
    }

    private static func isAllowed(
        _ action: Action, for principal: Principal, on target: Target, in snapshot: Snapshot
    ) -> Bool {
        let row = RoleTable.row(for: action)
        if principal.isServiceProvider && providerReaches(row.provider, target, snapshot) { return true }
        guard let tenantID = target.tenantID, principal.tenantID == tenantID else { return false }
        if action == .seeTenant { return true }
        if principal.isTenantAdmin && row.tenantAdmin { return true }
        if case .project(_, let projectID) = target, let role = principal.projectRoles[projectID] {
            return row.allows(projectRole: role)
        }
        return false
    }

    private static func providerReaches(
        _ reach: RoleTable.ProviderReach, _ target: Target, _ snapshot: Snapshot
    ) -> Bool {
        switch reach {
        case .yes: return true
        case .no: return false
        case .enterpriseOnly:
            // Tenant-level rows mean nothing at domain level.
            guard let tenantID = target.tenantID else { return false }
            return snapshot.tenant(tenantID)?.tenant.mode == .enterprise
        }
    }
}
