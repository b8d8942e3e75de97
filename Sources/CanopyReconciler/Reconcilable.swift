import KubeAPI

/// A kind the reconciler owns: how to tell whether a cluster's copy already says what Canopy
/// wants, and how to write Canopy's fields over it.
///
/// Only the fields Canopy sets are compared: labels and annotations as a subset (the API server
/// and other tools add their own), the rest exactly. Comparing typed values makes defaults and
/// notations (`1Gi` against `1024Mi`) compare equal, so a steady cluster sees no writes.
protocol Reconcilable: KubeResource {
    func specMatches(_ observed: Self) -> Bool
    /// `observed` with Canopy's spec fields written over it.
    func withSpec(onto observed: Self) -> Self
    /// Whether `observed` differs in a field the API server will not let an update change
    /// (a binding's roleRef): it must be deleted and created again.
    func mustReplace(_ observed: Self) -> Bool
    /// A merge patch that writes Canopy's fields over `observed` without a resourceVersion
    /// precondition, for kinds the cluster itself updates often; `nil`: update instead.
    func patch(over observed: Self) throws -> JSON?
}

extension Reconcilable {
    func mustReplace(_ observed: Self) -> Bool { false }
    func patch(over observed: Self) throws -> JSON? { nil }

    var key: String { "\(metadata.namespace ?? "")/\(metadata.name ?? "")" }

    func isSatisfied(by observed: Self) -> Bool {
        Self.contains(observed.metadata.labels, metadata.labels)
            && Self.contains(observed.metadata.annotations, metadata.annotations)
            && specMatches(observed)
    }

    /// `observed` with Canopy's labels, annotations and spec written over it, keeping its
    /// resourceVersion so that a concurrent change answers 409 rather than being lost.
    func applied(onto observed: Self) -> Self {
        var result = withSpec(onto: observed)
        result.apiVersion = Self.typeAPIVersion
        result.kind = Self.typeKind
        result.metadata.labels = (observed.metadata.labels ?? [:]).merging(metadata.labels ?? [:]) { _, new in new }
        if let annotations = metadata.annotations {
            result.metadata.annotations = (observed.metadata.annotations ?? [:]).merging(annotations) { _, new in new }
        }
        return result
    }

    static func contains(_ observed: [String: String]?, _ wanted: [String: String]?) -> Bool {
        guard let wanted else { return true }
        let observed = observed ?? [:]
        return wanted.allSatisfy { observed[$0.key] == $0.value }
    }
}

extension Namespace: Reconcilable {
    func specMatches(_ observed: Namespace) -> Bool { true }
    func withSpec(onto observed: Namespace) -> Namespace { observed }
}

extension ClusterRole: Reconcilable {
    func specMatches(_ observed: ClusterRole) -> Bool { (rules ?? []) == (observed.rules ?? []) }
    func withSpec(onto observed: ClusterRole) -> ClusterRole {
        var result = observed
        result.rules = rules
        return result
    }
}

/// RoleBindings and ClusterRoleBindings: subjects are Canopy's, the roleRef cannot change.
protocol Binding: Reconcilable {
    var subjects: [RBACSubject]? { get set }
    var roleRef: RoleRef { get }
}

extension Binding {
    func specMatches(_ observed: Self) -> Bool {
        (subjects ?? []) == (observed.subjects ?? []) && roleRef == observed.roleRef
    }
    func mustReplace(_ observed: Self) -> Bool { roleRef != observed.roleRef }
    func withSpec(onto observed: Self) -> Self {
        var result = observed
        result.subjects = subjects
        return result
    }
}

extension ClusterRoleBinding: Binding {}
extension RoleBinding: Binding {}

extension ResourceQuota: Reconcilable {
    func specMatches(_ observed: ResourceQuota) -> Bool { spec?.hard ?? [:] == observed.spec?.hard ?? [:] }

    /// Quota admission rewrites the status at every pod it admits, so an update with the
    /// resourceVersion would often conflict: the hard limits are patched instead.
    func patch(over observed: ResourceQuota) throws -> JSON? {
        var hard: [String: JSON] = [:]
        for key in (observed.spec?.hard ?? [:]).keys { hard[key] = .null }
        for (key, value) in spec?.hard ?? [:] { hard[key] = .string(value.canonical) }
        return .object([
            "metadata": .object(["labels": try JSON(encoding: metadata.labels ?? [:])]),
            "spec": .object(["hard": .object(hard)]),
        ])
    }
    func withSpec(onto observed: ResourceQuota) -> ResourceQuota {
        var result = observed
        result.spec = spec
        return result
    }
}

extension LimitRange: Reconcilable {
    func specMatches(_ observed: LimitRange) -> Bool { spec == observed.spec }
    func withSpec(onto observed: LimitRange) -> LimitRange {
        var result = observed
        result.spec = spec
        return result
    }
}

extension NetworkPolicy: Reconcilable {
    func specMatches(_ observed: NetworkPolicy) -> Bool { spec == observed.spec }
    func withSpec(onto observed: NetworkPolicy) -> NetworkPolicy {
        var result = observed
        result.spec = spec
        return result
    }
}
