import KubeAPI

/// The labels and annotations that mark what Canopy owns in a cluster.
public enum ManagedLabels {
    public static let managedBy = "canopy.io/managed-by"
    public static let managedByValue = "canopy"
    public static let tenant = "canopy.io/tenant"
    public static let project = "canopy.io/project"
    /// On a namespace Canopy took over rather than created: removing the placement gives it back.
    public static let adopted = "canopy.io/adopted"
    public static let podSecurityEnforce = "pod-security.kubernetes.io/enforce"

    /// Selects everything Canopy manages.
    public static let selector = LabelSelector(matching: [managedBy: managedByValue])

    /// Whether an object carries Canopy's mark.
    public static func isManaged(_ metadata: ObjectMeta) -> Bool {
        metadata.labels?[managedBy] == managedByValue
    }

    /// The labels every object of `tenant` (and `project`, when it belongs to one) carries.
    static func labels(tenant: String, project: String?) -> [String: String] {
        var labels = [managedBy: managedByValue, self.tenant: tenant]
        if let project { labels[self.project] = project }
        return labels
    }
}
