import CanopyModel
import Foundation
import PostgresNIO
import SQLKit
import SQLiteNIO

/// The writes of one transaction. Every method runs inside `SQLStore.write`; nothing is visible to
/// others until the closure returns and the transaction commits.
public struct StoreTransaction: Sendable {
    let db: any SQLDatabase

    // MARK: Tenants

    public func insert(_ tenant: Tenant) async throws {
        try await run("tenant '\(tenant.name)'", """
            INSERT INTO tenants (id, name, display_name, mode, state, caps, version, created_at, updated_at)
            VALUES (\(bind: tenant.id.rawValue), \(bind: tenant.name), \(bind: tenant.displayName),
              \(bind: tenant.mode.rawValue), \(bind: tenant.state.rawValue), \(bind: try Rows.optionalJSON(tenant.caps)), 1,
              \(bind: Rows.millis(tenant.createdAt)), \(bind: Rows.millis(tenant.updatedAt)))
            """)
    }

    /// Saves `tenant` if its stored version is still `tenant.version`; returns it with the new version.
    public func update(_ tenant: Tenant) async throws -> Tenant {
        var saved = tenant
        saved.version = try await bumpVersion("tenants", tenant.id.rawValue, tenant.version, """
            UPDATE tenants SET display_name = \(bind: tenant.displayName), state = \(bind: tenant.state.rawValue),
              caps = \(bind: try Rows.optionalJSON(tenant.caps)),
              updated_at = \(bind: Rows.millis(tenant.updatedAt)), version = version + 1
            WHERE id = \(bind: tenant.id.rawValue) AND version = \(bind: tenant.version) RETURNING version
            """)
        return saved
    }

    /// Deletes a tenant and everything in it.
    public func deleteTenant(_ id: TenantID) async throws {
        for table in ["tokens", "grants", "namespaces", "projects", "clusters", "users", "identity_providers"] {
            try await db.raw("DELETE FROM \(ident: table) WHERE tenant_id = \(bind: id.rawValue)").run()
        }
        try await db.raw("DELETE FROM tenants WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Users

    public func insert(_ user: User, passwordHash: String?) async throws {
        try await run("user '\(user.username)'", """
            INSERT INTO users (id, tenant_id, username, display_name, email, source, password_hash, disabled,
              version, created_at, updated_at)
            VALUES (\(bind: user.id.rawValue), \(bind: user.tenantID?.rawValue ?? ""), \(bind: user.username),
              \(bind: user.displayName), \(bind: user.email), \(bind: user.source.rawValue), \(bind: passwordHash),
              \(bind: user.disabled ? 1 : 0), 1, \(bind: Rows.millis(user.createdAt)), \(bind: Rows.millis(user.updatedAt)))
            """)
    }

    /// Saves `user` if its stored version is still `user.version`; a non-nil `passwordHash`
    /// replaces the password.
    public func update(_ user: User, passwordHash: String? = nil) async throws -> User {
        var saved = user
        saved.version = try await bumpVersion("users", user.id.rawValue, user.version, """
            UPDATE users SET display_name = \(bind: user.displayName), email = \(bind: user.email),
              disabled = \(bind: user.disabled ? 1 : 0), password_hash = COALESCE(\(bind: passwordHash), password_hash),
              updated_at = \(bind: Rows.millis(user.updatedAt)), version = version + 1
            WHERE id = \(bind: user.id.rawValue) AND version = \(bind: user.version) RETURNING version
            """)
        return saved
    }

    /// Deletes a user with their grants and tokens.
    public func deleteUser(_ id: UserID) async throws {
        try await db.raw("DELETE FROM tokens WHERE user_id = \(bind: id.rawValue)").run()
        try await db.raw("DELETE FROM grants WHERE subject_kind = 'user' AND subject = \(bind: id.rawValue)").run()
        try await db.raw("DELETE FROM users WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Projects

    public func insert(_ project: Project) async throws {
        try await run("project '\(project.name)'", """
            INSERT INTO projects (id, tenant_id, name, display_name, cap_cpu, cap_memory, cap_resources, placements,
              pod_security, version, created_at, updated_at)
            VALUES (\(bind: project.id.rawValue), \(bind: project.tenantID.rawValue), \(bind: project.name),
              \(bind: project.displayName), \(bind: project.caps?.cpu), \(bind: project.caps?.memory),
              \(bind: try Rows.optionalJSON(project.caps?.resources)), \(bind: try Rows.json(project.placements)),
              \(bind: project.podSecurity.rawValue), 1,
              \(bind: Rows.millis(project.createdAt)), \(bind: Rows.millis(project.updatedAt)))
            """)
    }

    public func update(_ project: Project) async throws -> Project {
        var saved = project
        saved.version = try await bumpVersion("projects", project.id.rawValue, project.version, """
            UPDATE projects SET display_name = \(bind: project.displayName), cap_cpu = \(bind: project.caps?.cpu),
              cap_memory = \(bind: project.caps?.memory), cap_resources = \(bind: try Rows.optionalJSON(project.caps?.resources)),
              placements = \(bind: try Rows.json(project.placements)), pod_security = \(bind: project.podSecurity.rawValue), updated_at = \(bind: Rows.millis(project.updatedAt)),
              version = version + 1
            WHERE id = \(bind: project.id.rawValue) AND version = \(bind: project.version) RETURNING version
            """)
        return saved
    }

    /// Deletes a project with its grants and namespace placements.
    public func deleteProject(_ id: ProjectID) async throws {
        try await db.raw("DELETE FROM grants WHERE project_id = \(bind: id.rawValue)").run()
        try await db.raw("DELETE FROM namespaces WHERE project_id = \(bind: id.rawValue)").run()
        try await db.raw("DELETE FROM projects WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Grants

    public func insert(_ grant: Grant) async throws {
        let subject = Rows.subjectColumns(grant.subject)
        try await run("grant for \(subject.kind) '\(subject.value)'", """
            INSERT INTO grants (id, tenant_id, project_id, role, subject_kind, subject, created_at)
            VALUES (\(bind: grant.id.rawValue), \(bind: grant.tenantID?.rawValue ?? ""), \(bind: grant.projectID?.rawValue ?? ""),
              \(bind: grant.role.rawValue), \(bind: subject.kind), \(bind: subject.value), \(bind: Rows.millis(grant.createdAt)))
            """)
    }

    /// The grants of `role` at a tenant's level (`nil`: the domain's), their rows locked until
    /// the transaction ends on PostgreSQL, where replicas write at once (SQLite's writers take
    /// turns already): a rule over them, such as "one admin remains", holds across replicas.
    /// A transaction that waited for the lock sees what the other one committed.
    public func lockGrants(of role: Role, tenant: TenantID?) async throws -> [Grant] {
        let lock: SQLQueryString = db.dialect.name == "sqlite" ? "" : " FOR UPDATE"
        return try await db.raw("""
            SELECT * FROM grants WHERE tenant_id = \(bind: tenant?.rawValue ?? "") AND project_id = '' AND role = \(bind: role.rawValue)\(lock)
            """).all().map(Rows.grant)
    }

    public func deleteGrant(_ id: GrantID) async throws {
        try await db.raw("DELETE FROM grants WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Clusters

    /// Stores an imported cluster with its sealed credentials. A cluster whose identity is
    /// already stored anywhere in the domain fails with `duplicate`.
    public func insert(_ cluster: Cluster, sealedCredentials: String) async throws {
        let labels = String(decoding: try JSONEncoder().encode(cluster.labels), as: UTF8.self)
        try await run("cluster", """
            INSERT INTO clusters (id, tenant_id, name, identity, server, kubernetes_version, labels, capacity_cpu,
              capacity_memory, node_count, credentials, version, created_at, updated_at)
            VALUES (\(bind: cluster.id.rawValue), \(bind: cluster.tenantID?.rawValue ?? ""), \(bind: cluster.name), \(bind: cluster.identity),
              \(bind: cluster.server), \(bind: cluster.kubernetesVersion), \(bind: labels), \(bind: cluster.capacity.cpu),
              \(bind: cluster.capacity.memory), \(bind: cluster.nodeCount), \(bind: sealedCredentials), 1,
              \(bind: Rows.millis(cluster.createdAt)), \(bind: Rows.millis(cluster.updatedAt)))
            """)
    }

    /// Moves a pool cluster to a tenant; returns it with the new version.
    public func assign(_ cluster: Cluster, to tenantID: TenantID, at date: Date) async throws -> Cluster {
        var saved = cluster
        saved.tenantID = tenantID
        saved.updatedAt = date
        saved.version = try await bumpVersion("clusters", cluster.id.rawValue, cluster.version, """
            UPDATE clusters SET tenant_id = \(bind: tenantID.rawValue), updated_at = \(bind: Rows.millis(date)), version = version + 1
            WHERE id = \(bind: cluster.id.rawValue) AND version = \(bind: cluster.version) RETURNING version
            """)
        return saved
    }

    /// Deletes a cluster with the namespace placements on it.
    public func deleteCluster(_ id: ClusterID) async throws {
        try await db.raw("DELETE FROM namespaces WHERE cluster_id = \(bind: id.rawValue)").run()
        try await db.raw("DELETE FROM clusters WHERE id = \(bind: id.rawValue)").run()
    }

    /// Withdraws a clean-up request (`cluster_releases`) in this transaction; whether it was
    /// still there (the writer that did it withdraws it itself once its requester's time is up).
    public func withdrawRelease(_ id: String) async throws -> Bool {
        try await db.raw("DELETE FROM cluster_releases WHERE id = \(bind: id) RETURNING id").first() != nil
    }

    // MARK: Namespaces

    /// Stores a placement; a namespace name already placed on the cluster fails with `duplicate`.
    public func insert(_ namespace: ProjectNamespace) async throws {
        try await run("namespace '\(namespace.name)' on this cluster", """
            INSERT INTO namespaces (id, tenant_id, project_id, cluster_id, name, adopted, created_at)
            VALUES (\(bind: namespace.id.rawValue), \(bind: namespace.tenantID.rawValue), \(bind: namespace.projectID.rawValue),
              \(bind: namespace.clusterID.rawValue), \(bind: namespace.name), \(bind: namespace.adopted ? 1 : 0),
              \(bind: Rows.millis(namespace.createdAt)))
            """)
    }

    public func deleteNamespace(_ id: NamespaceID) async throws {
        try await db.raw("DELETE FROM namespaces WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Identity providers

    /// Stores a provider with its sealed bind password; a name taken in the tenant fails with `duplicate`.
    public func insert(_ provider: IdentityProvider, sealedBindPassword: String) async throws {
        try await run("identity provider '\(provider.name)'", """
            INSERT INTO identity_providers (id, tenant_id, name, settings, bind_password, version, created_at, updated_at)
            VALUES (\(bind: provider.id.rawValue), \(bind: provider.tenantID?.rawValue ?? ""), \(bind: provider.name),
              \(bind: try Rows.json(provider)), \(bind: sealedBindPassword), 1,
              \(bind: Rows.millis(provider.createdAt)), \(bind: Rows.millis(provider.updatedAt)))
            """)
    }

    /// Saves `provider` if its stored version is still `provider.version`; a non-nil sealed
    /// password replaces the stored one.
    public func update(_ provider: IdentityProvider, sealedBindPassword: String?) async throws -> IdentityProvider {
        var saved = provider
        saved.version = try await bumpVersion("identity_providers", provider.id.rawValue, provider.version, """
            UPDATE identity_providers SET settings = \(bind: try Rows.json(provider)),
              bind_password = COALESCE(\(bind: sealedBindPassword), bind_password),
              updated_at = \(bind: Rows.millis(provider.updatedAt)), version = version + 1
            WHERE id = \(bind: provider.id.rawValue) AND version = \(bind: provider.version) RETURNING version
            """)
        return saved
    }

    public func deleteIdentityProvider(_ id: IdentityProviderID) async throws {
        try await db.raw("DELETE FROM identity_providers WHERE id = \(bind: id.rawValue)").run()
    }

    // MARK: Tokens

    /// Stores a token's record under the SHA-256 hash of its secret.
    public func insert(_ token: APIToken, tenantID: TenantID?, hash: String) async throws {
        try await run("token", """
            INSERT INTO tokens (id, user_id, tenant_id, hash, description, created_at, expires_at)
            VALUES (\(bind: token.id.rawValue), \(bind: token.userID.rawValue), \(bind: tenantID?.rawValue ?? ""),
              \(bind: hash), \(bind: token.description), \(bind: Rows.millis(token.createdAt)), \(bind: Rows.millis(token.expiresAt)))
            """)
    }

    public func revokeToken(_ id: TokenID, at date: Date) async throws {
        try await db.raw("""
            UPDATE tokens SET revoked_at = \(bind: Rows.millis(date)) WHERE id = \(bind: id.rawValue) AND revoked_at IS NULL
            """).run()
    }

    /// Revokes every token of `userID` not revoked yet, in this transaction (one issued before it
    /// commits included); their ids.
    public func revokeTokens(of userID: UserID, at date: Date) async throws -> [TokenID] {
        try await db.raw("""
            UPDATE tokens SET revoked_at = \(bind: Rows.millis(date)) WHERE user_id = \(bind: userID.rawValue) AND revoked_at IS NULL RETURNING id
            """).all().map { TokenID(try $0.decode(column: "id", as: String.self)) }
    }

    // MARK: Audit

    /// Appends `event` to the audit log; returns its sequence number.
    @discardableResult
    public func append(_ event: AuditEvent) async throws -> Int64 {
        let row = try await db.raw("""
            INSERT INTO audit (at, actor_id, actor, tenant_id, project_id, action, target, request_id)
            VALUES (\(bind: Rows.millis(event.at)), \(bind: event.actorID?.rawValue), \(bind: event.actor),
              \(bind: event.tenantID?.rawValue ?? ""), \(bind: event.projectID?.rawValue ?? ""), \(bind: event.action),
              \(bind: event.target), \(bind: event.requestID)) RETURNING seq
            """).first()
        guard let row else { throw StoreError(.corrupt, "the audit insert returned no sequence number") }
        // Heard by every replica's listener when this transaction commits (the same notice
        // sent twice in one transaction is delivered once).
        if db.dialect.name == "postgresql" { try await db.raw("NOTIFY \(unsafeRaw: changeChannel)").run() }
        return try row.decode(column: "seq", as: Int64.self)
    }

    // MARK: Helpers

    private func run(_ what: String, _ sql: SQLQueryString) async throws {
        do {
            try await db.raw(sql).run()
        } catch where Self.isUniqueViolation(error) {
            throw StoreError(.duplicate, "\(what) already exists", underlying: error)
        }
    }

    private func bumpVersion(_ table: String, _ id: String, _ expected: Int, _ sql: SQLQueryString) async throws -> Int {
        if let row = try await db.raw(sql).first() {
            return try row.decode(column: "version", as: Int.self)
        }
        let exists = try await db.raw("SELECT version FROM \(ident: table) WHERE id = \(bind: id)").first()
        guard let exists else { throw StoreError(.notFound, "\(table) \(id) does not exist") }
        let current = try exists.decode(column: "version", as: Int.self)
        throw StoreError(.staleVersion, "\(table) \(id) is at version \(current), not \(expected)")
    }

    static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? SQLiteError {
            return error.reason == .constraint || error.reason == .constraintUniqueFailed
                || error.reason == .constraintPrimaryKeyFailed
        }
        if let error = error as? PSQLError {
            return error.serverInfo?[.sqlState] == "23505"
        }
        return false
    }
}
