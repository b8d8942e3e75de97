import CanopyModel
import Foundation
import SQLKit

/// Conversions between model values and table rows. Times are stored as milliseconds since
/// 1970 in BIGINT columns, which both backends handle the same way; "no tenant" and "no
/// project" are stored as '' so that unique constraints treat them as equal.
enum Rows {
    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    static func optionalDate(_ millis: Int64?) -> Date? { millis.map(date) }

    /// A value as a JSON text column.
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    /// A JSON text column decoded, `nil` when the column is NULL.
    static func optionalJSON<T: Decodable>(_ row: any SQLRow, _ column: String) throws -> T? {
        guard let text = try row.decode(column: column, as: String?.self) else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// A value as a JSON text column, NULL for `nil`.
    static func optionalJSON(_ value: (some Encodable)?) throws -> String? {
        try value.map { try json($0) }
    }

    /// An identity provider from its row: the settings column with the row's version and times.
    static func identityProvider(_ row: any SQLRow) throws -> (provider: IdentityProvider, sealedBindPassword: String) {
        var provider = try JSONDecoder().decode(IdentityProvider.self, from: Data(try row.decode(column: "settings", as: String.self).utf8))
        provider.version = try row.decode(column: "version", as: Int.self)
        provider.updatedAt = date(try row.decode(column: "updated_at", as: Int64.self))
        return (provider, try row.decode(column: "bind_password", as: String.self))
    }

    static func tenant(_ row: any SQLRow) throws -> Tenant {
        Tenant(
            id: TenantID(try row.decode(column: "id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            displayName: try row.decode(column: "display_name", as: String.self),
            mode: try enumValue(row, "mode"),
            state: try enumValue(row, "state"),
            caps: try optionalJSON(row, "caps"),
            version: try row.decode(column: "version", as: Int.self),
            createdAt: date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: date(try row.decode(column: "updated_at", as: Int64.self))
        )
    }

    static func user(_ row: any SQLRow) throws -> User {
        let tenant = try row.decode(column: "tenant_id", as: String.self)
        return User(
            id: UserID(try row.decode(column: "id", as: String.self)),
            tenantID: tenant.isEmpty ? nil : TenantID(tenant),
            username: try row.decode(column: "username", as: String.self),
            displayName: try row.decode(column: "display_name", as: String.self),
            email: try row.decode(column: "email", as: String?.self),
            source: try enumValue(row, "source"),
            disabled: try row.decode(column: "disabled", as: Int64.self) != 0,
            version: try row.decode(column: "version", as: Int.self),
            createdAt: date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: date(try row.decode(column: "updated_at", as: Int64.self))
        )
    }

    static func project(_ row: any SQLRow) throws -> Project {
        let cpu = try row.decode(column: "cap_cpu", as: String?.self)
        let memory = try row.decode(column: "cap_memory", as: String?.self)
        let others: [String: String]? = try optionalJSON(row, "cap_resources")
        let caps = ResourceCaps(cpu: cpu, memory: memory, resources: others)
        return Project(
            id: ProjectID(try row.decode(column: "id", as: String.self)),
            tenantID: TenantID(try row.decode(column: "tenant_id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            displayName: try row.decode(column: "display_name", as: String.self),
            caps: caps.isEmpty ? nil : caps,
            podSecurity: try enumValue(row, "pod_security"),
            placements: try optionalJSON(row, "placements") ?? [:],
            version: try row.decode(column: "version", as: Int.self),
            createdAt: date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: date(try row.decode(column: "updated_at", as: Int64.self))
        )
    }

    static func grant(_ row: any SQLRow) throws -> Grant {
        let tenant = try row.decode(column: "tenant_id", as: String.self)
        let project = try row.decode(column: "project_id", as: String.self)
        let kind = try row.decode(column: "subject_kind", as: String.self)
        let subject = try row.decode(column: "subject", as: String.self)
        return Grant(
            id: GrantID(try row.decode(column: "id", as: String.self)),
            tenantID: tenant.isEmpty ? nil : TenantID(tenant),
            projectID: project.isEmpty ? nil : ProjectID(project),
            role: try enumValue(row, "role"),
            subject: kind == "group" ? .group(subject) : .user(UserID(subject)),
            createdAt: date(try row.decode(column: "created_at", as: Int64.self))
        )
    }

    static func cluster(_ row: any SQLRow) throws -> Cluster {
        let labels = try row.decode(column: "labels", as: String.self)
        let tenant = try row.decode(column: "tenant_id", as: String.self)
        return Cluster(
            id: ClusterID(try row.decode(column: "id", as: String.self)),
            tenantID: tenant.isEmpty ? nil : TenantID(tenant),
            name: try row.decode(column: "name", as: String.self),
            identity: try row.decode(column: "identity", as: String.self),
            server: try row.decode(column: "server", as: String.self),
            kubernetesVersion: try row.decode(column: "kubernetes_version", as: String.self),
            labels: (try? JSONDecoder().decode([String: String].self, from: Data(labels.utf8))) ?? [:],
            capacity: ResourceCaps(cpu: try row.decode(column: "capacity_cpu", as: String?.self), memory: try row.decode(column: "capacity_memory", as: String?.self)),
            nodeCount: try row.decode(column: "node_count", as: Int.self),
            version: try row.decode(column: "version", as: Int.self),
            createdAt: date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: date(try row.decode(column: "updated_at", as: Int64.self))
        )
    }

    static func namespace(_ row: any SQLRow) throws -> ProjectNamespace {
        ProjectNamespace(
            id: NamespaceID(try row.decode(column: "id", as: String.self)),
            tenantID: TenantID(try row.decode(column: "tenant_id", as: String.self)),
            projectID: ProjectID(try row.decode(column: "project_id", as: String.self)),
            clusterID: ClusterID(try row.decode(column: "cluster_id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            adopted: try row.decode(column: "adopted", as: Int64.self) != 0,
            createdAt: date(try row.decode(column: "created_at", as: Int64.self))
        )
    }

    static func subjectColumns(_ subject: Subject) -> (kind: String, value: String) {
        switch subject {
        case .user(let id): ("user", id.rawValue)
        case .group(let name): ("group", name)
        }
    }

    static func token(_ row: any SQLRow) throws -> APIToken {
        APIToken(
            id: TokenID(try row.decode(column: "id", as: String.self)),
            userID: UserID(try row.decode(column: "user_id", as: String.self)),
            description: try row.decode(column: "description", as: String.self),
            createdAt: date(try row.decode(column: "created_at", as: Int64.self)),
            expiresAt: date(try row.decode(column: "expires_at", as: Int64.self)),
            lastUsedAt: optionalDate(try row.decode(column: "last_used_at", as: Int64?.self)),
            revokedAt: optionalDate(try row.decode(column: "revoked_at", as: Int64?.self))
        )
    }

    static func audit(_ row: any SQLRow) throws -> AuditEvent {
        let tenant = try row.decode(column: "tenant_id", as: String.self)
        let project = try row.decode(column: "project_id", as: String.self)
        return AuditEvent(
            sequence: try row.decode(column: "seq", as: Int64.self),
            at: date(try row.decode(column: "at", as: Int64.self)),
            actorID: try row.decode(column: "actor_id", as: String?.self).map(UserID.init),
            actor: try row.decode(column: "actor", as: String.self),
            tenantID: tenant.isEmpty ? nil : TenantID(tenant),
            projectID: project.isEmpty ? nil : ProjectID(project),
            action: try row.decode(column: "action", as: String.self),
            target: try row.decode(column: "target", as: String.self),
            requestID: try row.decode(column: "request_id", as: String?.self)
        )
    }

    private static func enumValue<T: RawRepresentable>(_ row: any SQLRow, _ column: String) throws -> T
    where T.RawValue == String {
        let raw = try row.decode(column: column, as: String.self)
        guard let value = T(rawValue: raw) else {
            throw StoreError(.corrupt, "column \(column) holds unknown value '\(raw)'")
        }
        return value
    }
}
