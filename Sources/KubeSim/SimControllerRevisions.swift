import Foundation
import KubeAPI

/// The history the StatefulSet and DaemonSet controllers keep (`apps/v1` ControllerRevisions),
/// which `kubectl rollout history` lists and `kubectl rollout undo` applies: one revision per
/// pod template, named `<set>-<hash>`, owned by the set, labelled as its pods, carrying the
/// set's annotations, its `data` the template as a strategic merge patch that replaces it, and
/// `revision` counting up — a template seen before takes the next number again, as after an
/// undo. Revisions past `revisionHistoryLimit` that no pod runs are deleted, oldest first.
extension SimCluster {
    func recordRevision(of set: JSON, hash: String, inUse: Set<String>) {
        guard let namespace = set[path: "metadata.namespace"]?.stringValue, let name = set[path: "metadata.name"]?.stringValue,
              let uid = set[path: "metadata.uid"]?.stringValue else { return }
        let type = Self.type("controllerrevisions")
        let revisionName = "\(name)-\(hash)"
        let revisions = owned("controllerrevisions", in: namespace, by: uid)
        let highest = revisions.compactMap { SimControllers.int($0["revision"]) }.max() ?? 0
        if var existing = revisions.first(where: { $0[path: "metadata.name"]?.stringValue == revisionName }) {
            if SimControllers.int(existing["revision"]) != highest {
                existing["revision"] = .number(Double(highest + 1))
                _ = try? performUpdate(type, namespace: namespace, name: revisionName, object: existing)
            }
        } else {
            var template = set[path: "spec.template"]?.objectValue ?? [:]
            template["$patch"] = .string("replace")
            var labels = set[path: "spec.template.metadata.labels"]?.objectValue ?? [:]
            labels["controller.kubernetes.io/hash"] = .string(hash)
            var revision = SimControllers.object(kind: "ControllerRevision", apiVersion: "apps/v1", from: nil, owner: set, namespace: namespace, name: revisionName)
            revision["spec"] = nil
            revision[path: "metadata.labels"] = .object(labels)
            revision[path: "metadata.annotations"] = set[path: "metadata.annotations"]
            revision["data"] = .object(["spec": .object(["template": .object(template)])])
            revision["revision"] = .number(Double(highest + 1))
            _ = createControlled("controllerrevisions", namespace: namespace, revision)
        }
        let limit = SimControllers.int(set[path: "spec.revisionHistoryLimit"]) ?? 10
        let idle = owned("controllerrevisions", in: namespace, by: uid)
            .filter { revision in
                let named = revision[path: "metadata.name"]?.stringValue ?? ""
                return named != revisionName && !inUse.contains(named)
            }
            .sorted { (SimControllers.int($0["revision"]) ?? 0) < (SimControllers.int($1["revision"]) ?? 0) }
        for revision in idle.dropLast(max(limit, 0)) {
            guard let named = revision[path: "metadata.name"]?.stringValue else { continue }
            _ = try? performDelete(type, namespace: namespace, name: named)
        }
    }
}
