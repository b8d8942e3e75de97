/// The names Canopy's users and roles carry inside a cluster (DESIGN.md, "In the clusters").
///
/// The proxy impersonates them and the reconciler's bindings name them, so both must build them
/// here and nowhere else.
public enum ClusterIdentity {
    /// A tenant user: `canopy:<tenant>:<user>`.
    public static func user(tenant: String, username: String) -> String { "canopy:\(tenant):\(username)" }

    /// Everyone holding a project role: `canopy:<tenant>:<project>:admin|member|viewer`.
    public static func projectGroup(tenant: String, project: String, role: Role) -> String {
        "canopy:\(tenant):\(project):\(role.rawValue)"
    }

    /// The tenant's admins: `canopy:<tenant>:tenant-admin`.
    public static func tenantAdminGroup(tenant: String) -> String { "canopy:\(tenant):tenant-admin" }

    /// A directory group: `canopy:<tenant>:group:<name>`.
    public static func directoryGroup(tenant: String, name: String) -> String { "canopy:\(tenant):group:\(name)" }
}
