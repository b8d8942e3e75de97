import Foundation

/// One entry of the audit log: who did what, where. Written in the same transaction as the
/// change it records, so the log and the data never disagree.
public struct AuditEvent: Codable, Sendable, Equatable {
    /// Position in the log, assigned by the store; grows with every event.
    public var sequence: Int64
    public var at: Date
    public var actorID: UserID?
    /// The actor's name as `user` or `tenant/user`, kept so the log reads after the user is gone.
    public var actor: String
    /// The tenant the change happened in; `nil` for domain-level changes.
    public var tenantID: TenantID?
    public var projectID: ProjectID?
    /// A dotted verb such as `project.create` or `member.delete`.
    public var action: String
    /// What was acted on, as a path below the API root (`tenants/coke/projects/marketing`).
    public var target: String
    public var requestID: String?

    public init(
        sequence: Int64 = 0, at: Date, actorID: UserID?, actor: String, tenantID: TenantID?,
        projectID: ProjectID?, action: String, target: String, requestID: String?
    ) {
        self.sequence = sequence
        self.at = at
        self.actorID = actorID
        self.actor = actor
        self.tenantID = tenantID
        self.projectID = projectID
        self.action = action
        self.target = target
        self.requestID = requestID
    }
}
