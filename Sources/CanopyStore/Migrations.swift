import SQLKit

/// The schema, as numbered steps. A step, once released, never changes: a new need is a new step.
/// `SQLStore.migrate()` applies the missing ones at start, each in its own transaction.
enum Migrations {
    /// The steps in order; index + 1 is the version number recorded in `schema_migrations`.
    static func steps(dialect: String) -> [[String]] {
        let serial = dialect == "postgresql" ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            [
                """
                CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
                  mode TEXT NOT NULL, state TEXT NOT NULL, version BIGINT NOT NULL,
                  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE users (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, username TEXT NOT NULL,
                  display_name TEXT NOT NULL, email TEXT, source TEXT NOT NULL, password_hash TEXT,
                  disabled BIGINT NOT NULL, version BIGINT NOT NULL, created_at BIGINT NOT NULL,
                  updated_at BIGINT NOT NULL, UNIQUE (tenant_id, username))
                """,
                """
                CREATE TABLE projects (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL,
                  display_name TEXT NOT NULL, cap_cpu TEXT, cap_memory TEXT, version BIGINT NOT NULL,
                  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (tenant_id, name))
                """,
                """
                CREATE TABLE grants (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, project_id TEXT NOT NULL,
                  role TEXT NOT NULL, subject_kind TEXT NOT NULL, subject TEXT NOT NULL, created_at BIGINT NOT NULL,
                  UNIQUE (tenant_id, project_id, subject_kind, subject))
                """,
                """
                CREATE TABLE tokens (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
                  hash TEXT NOT NULL UNIQUE, description TEXT NOT NULL, created_at BIGINT NOT NULL,
                  expires_at BIGINT NOT NULL, last_used_at BIGINT, revoked_at BIGINT)
                """,
                "CREATE INDEX tokens_user ON tokens (user_id)",
                """
                CREATE TABLE audit (seq \(serial), at BIGINT NOT NULL, actor_id TEXT, actor TEXT NOT NULL,
                  tenant_id TEXT NOT NULL, project_id TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
                  request_id TEXT)
                """,
                "CREATE INDEX audit_scope ON audit (tenant_id, project_id, seq)",
            ],
            [
                // identity is unique across the domain: one physical cluster, one tenant.
                """
                CREATE TABLE clusters (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL,
                  identity TEXT NOT NULL UNIQUE, server TEXT NOT NULL, kubernetes_version TEXT NOT NULL,
                  labels TEXT NOT NULL, capacity_cpu TEXT, capacity_memory TEXT, node_count BIGINT NOT NULL,
                  credentials TEXT NOT NULL, version BIGINT NOT NULL, created_at BIGINT NOT NULL,
                  updated_at BIGINT NOT NULL, UNIQUE (tenant_id, name))
                """,
            ],
            [
                // A namespace name is unique per cluster, across projects.
                """
                CREATE TABLE namespaces (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, project_id TEXT NOT NULL,
                  cluster_id TEXT NOT NULL, name TEXT NOT NULL, adopted BIGINT NOT NULL, created_at BIGINT NOT NULL,
                  UNIQUE (cluster_id, name))
                """,
                "CREATE INDEX namespaces_project ON namespaces (project_id)",
                "ALTER TABLE projects ADD COLUMN pod_security TEXT NOT NULL DEFAULT 'baseline'",
            ],
            [
                // settings: the provider as JSON (no password); bind_password: sealed.
                """
                CREATE TABLE identity_providers (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL,
                  settings TEXT NOT NULL, bind_password TEXT NOT NULL, version BIGINT NOT NULL,
                  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (tenant_id, name))
                """,
            ],
            [
                // Caps and reservations as JSON: other quota resources of a project's caps, the
                // per-cluster settings of a project (keyed by cluster id), a tenant's caps.
                "ALTER TABLE projects ADD COLUMN cap_resources TEXT",
                "ALTER TABLE projects ADD COLUMN placements TEXT NOT NULL DEFAULT '{}'",
                "ALTER TABLE tenants ADD COLUMN caps TEXT",
            ],
            [
                // Failed sign-ins per throttle key (a user name or a source address), kept for the
                // throttle's window and shared by every replica on the database.
                "CREATE TABLE sign_in_failures (key TEXT NOT NULL, at BIGINT NOT NULL)",
                "CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at)",
                "CREATE INDEX sign_in_failures_at ON sign_in_failures (at)",
            ],
            [
                // Leases: which replica does a job that only one may do at a time (writing to
                // the clusters), until when (milliseconds since 1970, each replica's clock).
                "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL)",
            ],
            [
                // Settings that every replica must agree on (a check of the secret key).
                "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            ],
            [
                // Cluster clean-ups a replica that does not write to the clusters hands to the one
                // that does (state: requested, working, done, failed; times in milliseconds).
                """
                CREATE TABLE cluster_releases (id TEXT PRIMARY KEY, cluster_id TEXT NOT NULL, action TEXT NOT NULL,
                  timeout_ms BIGINT NOT NULL, requested_at BIGINT NOT NULL, start_by BIGINT NOT NULL, state TEXT NOT NULL,
                  writes BIGINT NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '')
                """,
            ],
        ]
    }
}
