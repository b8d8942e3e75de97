import KubeAPI

/// The objects that name each owner's uid in their `ownerReferences`, kept up to date from every
/// change the cluster records, so that the garbage collector finds an object's dependents
/// without reading every object of the cluster (as the real one keeps its dependency graph).
struct OwnerIndex {
    struct Reference: Hashable {
        var type: ResourceType
        var namespace: String?
        var name: String
    }

    private var dependents: [String: Set<Reference>] = [:]
    private var ownersOf: [Reference: Set<String>] = [:]

    mutating func note(_ event: SimCluster.Event) {
        guard let name = event.object[path: "metadata.name"]?.stringValue else { return }
        let reference = Reference(type: event.resource, namespace: event.object[path: "metadata.namespace"]?.stringValue, name: name)
        let before = ownersOf[reference] ?? []
        let after: Set<String> = event.type == "DELETED" ? [] : Set((event.object[path: "metadata.ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue })
        guard before != after else { return }
        for uid in before.subtracting(after) {
            dependents[uid]?.remove(reference)
            if dependents[uid]?.isEmpty == true { dependents[uid] = nil }
        }
        for uid in after.subtracting(before) { dependents[uid, default: []].insert(reference) }
        ownersOf[reference] = after.isEmpty ? nil : after
    }

    /// The objects naming `uid` as an owner.
    func dependents(of uid: String) -> Set<Reference> { dependents[uid] ?? [] }
}
