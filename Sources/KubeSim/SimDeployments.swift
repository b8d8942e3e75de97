import Foundation
import KubeAPI

/// A Deployment's strategy as the API server defaults and validates it, and as the deployment
/// controller resolves it: `maxSurge` rounded up, `maxUnavailable` rounded down, never both zero.
enum DeploymentStrategy {
    /// The API server's defaults (`defaults.go`): one replica, `RollingUpdate` with 25 % and
    /// 25 %, ten old sets kept, a progress deadline of 600 s.
    static func applyDefaults(_ deployment: inout JSON) {
        if deployment[path: "spec.replicas"] == nil { deployment[path: "spec.replicas"] = .number(1) }
        if deployment[path: "spec.strategy.type"] == nil { deployment[path: "spec.strategy.type"] = .string("RollingUpdate") }
        if deployment[path: "spec.strategy.type"]?.stringValue == "RollingUpdate" {
            for field in ["maxUnavailable", "maxSurge"] where deployment[path: "spec.strategy.rollingUpdate.\(field)"] == nil {
                deployment[path: "spec.strategy.rollingUpdate.\(field)"] = .string("25%")
            }
        }
        if deployment[path: "spec.revisionHistoryLimit"] == nil { deployment[path: "spec.revisionHistoryLimit"] = .number(10) }
        if deployment[path: "spec.progressDeadlineSeconds"] == nil { deployment[path: "spec.progressDeadlineSeconds"] = .number(600) }
    }

    /// The strategy's validation (422 causes), with a real server's words
    /// (`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0`).
    static func causes(of deployment: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        func invalid(_ field: String, _ message: String, reason: String = "FieldValueInvalid") {
            causes.append(Status.Cause(reason: reason, message: message, field: field))
        }
        let strategy = deployment[path: "spec.strategy"]
        switch strategy?["type"]?.stringValue {
        case "Recreate":
            if strategy?["rollingUpdate"] != nil {
                invalid("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'", reason: "FieldValueForbidden")
            }
        case "RollingUpdate":
            var values: [String: Int] = [:]
            for field in ["maxUnavailable", "maxSurge"] {
                let path = "spec.strategy.rollingUpdate.\(field)"
                let value = deployment[path: path]
                switch value {
                case .string(let text) where percent(text) == nil:
                    invalid(path, "Invalid value: \"\(text)\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
                case .number(let number) where number < 0:
                    invalid(path, "Invalid value: \(Int(number)): must be greater than or equal to 0")
                case .string, .number, nil:
                    values[field] = scaled(value, of: 100, roundUp: field == "maxSurge") ?? 0
                default:
                    invalid(path, "Invalid value: \(value.map { String(decoding: $0.serialized(), as: UTF8.self) } ?? "null"): must be an integer or percentage (e.g '5%')")
                }
            }
            if values["maxUnavailable"] == 0 && values["maxSurge"] == 0 {
                invalid("spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: \(rendered(deployment[path: "spec.strategy.rollingUpdate.maxUnavailable"])): may not be 0 when `maxSurge` is 0")
            }
            if case .string(let text) = deployment[path: "spec.strategy.rollingUpdate.maxUnavailable"], let value = percent(text), value > 100 {
                invalid("spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: \"\(text)\": must not be greater than 100%")
            }
        case let other:
            invalid("spec.strategy.type", "Unsupported value: \"\(other ?? "")\": supported values: \"Recreate\", \"RollingUpdate\"", reason: "FieldValueNotSupported")
        }
        return causes
    }

    private static func percent(_ text: String) -> Int? {
        guard text.hasSuffix("%"), text.count > 1, text.dropLast().allSatisfy(\.isASCII), text.dropLast().allSatisfy(\.isNumber) else { return nil }
        return Int(text.dropLast())
    }

    private static func rendered(_ value: JSON?) -> String {
        if case .string(let text) = value { return "\"\(text)\"" }
        return value?.numberValue.map { String(Int($0)) } ?? "null"
    }

    /// `intstr.GetScaledValueFromIntOrPercent`: a count as it is, a percentage of `total`.
    static func scaled(_ value: JSON?, of total: Int, roundUp: Bool) -> Int? {
        switch value {
        case .number(let number): return Int(number)
        case .string(let text):
            guard let share = percent(text) else { return nil }
            let exact = Double(share * total) / 100
            return Int(roundUp ? exact.rounded(.up) : exact.rounded(.down))
        default: return nil
        }
    }

    /// `ResolveFenceposts`: how many pods above the wanted count a rollout may run, and how
    /// many below it may be unavailable (one, when both come to zero).
    static func fenceposts(of deployment: JSON, wanted: Int) -> (surge: Int, unavailable: Int) {
        guard deployment[path: "spec.strategy.type"]?.stringValue == "RollingUpdate" else { return (0, 0) }
        let surge = scaled(deployment[path: "spec.strategy.rollingUpdate.maxSurge"], of: wanted, roundUp: true) ?? 0
        let unavailable = scaled(deployment[path: "spec.strategy.rollingUpdate.maxUnavailable"], of: wanted, roundUp: false) ?? 0
        return (surge, surge == 0 && unavailable == 0 ? 1 : min(unavailable, wanted))
    }
}

/// The deployment controller of KubeSim's controller-manager: one ReplicaSet per template
/// (`<name>-<pod-template-hash>`), rolled as the real controller rolls (`rolling.go`,
/// `recreate.go`): the new set grows while all the sets' replicas stay within `maxSurge` of the
/// wanted count, the old ones shrink while the available pods stay within `maxUnavailable` of
/// it; with `Recreate` the old pods go before the new set is made. Each step is one sync, the
/// next comes from the sets' changes, as the real controller's does from its informers.
extension SimCluster {
    func syncDeployment(_ namespace: String, _ name: String) -> Bool {
        guard var deployment = current("deployments", namespace, name), deployment[path: "metadata.deletionTimestamp"] == nil,
              let uid = deployment[path: "metadata.uid"]?.stringValue else { return true }
        let hash = SimControllers.templateHash(deployment[path: "spec.template"] ?? .object([:]))
        let newName = "\(name)-\(hash)"
        let wanted = SimControllers.int(deployment[path: "spec.replicas"]) ?? 1
        let (surge, unavailable) = DeploymentStrategy.fenceposts(of: deployment, wanted: wanted)
        let sets = owned("replicasets", in: namespace, by: uid)
        var newSet = sets.first { $0[path: "metadata.name"]?.stringValue == newName }
        // Oldest first, as the controller scales them down.
        let olds = sets.filter { $0[path: "metadata.name"]?.stringValue != newName }.sorted {
            ($0[path: "metadata.creationTimestamp"]?.stringValue ?? "", $0[path: "metadata.name"]?.stringValue ?? "")
                < ($1[path: "metadata.creationTimestamp"]?.stringValue ?? "", $1[path: "metadata.name"]?.stringValue ?? "")
        }
        func replicas(_ set: JSON?) -> Int { SimControllers.int(set?[path: "spec.replicas"]) ?? 0 }
        func available(_ set: JSON?) -> Int { SimControllers.int(set?[path: "status.availableReplicas"]) ?? 0 }
        var succeeded = true
        var created = false

        /// Scales `set` and answers it as it now is (`nil` when the write failed: the key is
        /// tried again).
        @discardableResult
        func scale(_ set: JSON, to count: Int) -> JSON? {
            let from = replicas(set)
            guard from != count, let setName = set[path: "metadata.name"]?.stringValue else { return set }
            var scaled = set
            scaled[path: "spec.replicas"] = .number(Double(count))
            scaled[path: "spec.minReadySeconds"] = deployment[path: "spec.minReadySeconds"]
            var annotations = set[path: "metadata.annotations"]?.objectValue ?? [:]
            annotations["deployment.kubernetes.io/desired-replicas"] = .string(String(wanted))
            annotations["deployment.kubernetes.io/max-replicas"] = .string(String(wanted + surge))
            scaled[path: "metadata.annotations"] = .object(annotations)
            guard let updated = try? performUpdate(Self.type("replicasets"), namespace: namespace, name: setName, object: scaled) else {
                succeeded = false
                return nil
            }
            recordEvent(about: deployment, reason: "ScalingReplicaSet", message: "Scaled \(count > from ? "up" : "down") replica set \(setName) from \(from) to \(count)", component: "deployment-controller")
            return updated
        }
        /// Makes the set of the current template with `count` replicas, under the next revision.
        func makeNewSet(_ count: Int) {
            let revision = (sets.compactMap { Self.revision(of: $0) }.max() ?? 0) + 1
            let set = SimControllers.replicaSet(of: deployment, hash: hash, replicas: count, revision: revision, maxReplicas: wanted + surge)
            switch createControlled("replicasets", namespace: namespace, set) {
            case .success(let set):
                newSet = set
                created = true
                recordEvent(about: deployment, reason: "ScalingReplicaSet", message: "Scaled up replica set \(newName) from 0 to \(count)", component: "deployment-controller")
            case .failure(let status):
                succeeded = false
                recordEvent(about: deployment, reason: "FailedCreate", warning: true, message: "Failed to create new replica set \"\(newName)\": \(status.message ?? "")", component: "deployment-controller")
            }
        }

        let paused = deployment[path: "spec.paused"]?.boolValue == true
        let activeOlds = olds.filter { replicas($0) > 0 }
        if paused {
            // A paused deployment is only scaled: its newest active set takes the count.
            if let target = newSet.flatMap({ replicas($0) > 0 ? $0 : nil }) ?? activeOlds.last { scale(target, to: wanted) }
        } else if deployment[path: "spec.strategy.type"]?.stringValue == "Recreate" {
            for old in activeOlds { scale(old, to: 0) }
            let oldPods = olds.contains { (SimControllers.int($0[path: "status.replicas"]) ?? 0) > 0 }
            if activeOlds.isEmpty && !oldPods {
                if let existing = newSet { scale(existing, to: wanted) } else { makeNewSet(wanted) }
            }
        } else if activeOlds.isEmpty {
            // Nothing to roll from: the set simply takes the wanted count.
            if let existing = newSet { scale(existing, to: wanted) } else { makeNewSet(wanted) }
        } else {
            let total = sets.reduce(0) { $0 + replicas($1) }
            let fresh = replicas(newSet)
            var grown = false
            if fresh > wanted, let existing = newSet {
                grown = scale(existing, to: wanted) != nil
            } else if fresh < wanted {
                let count = fresh + max(0, min(wanted + surge - total, wanted - fresh))
                if let existing = newSet {
                    grown = count != fresh && scale(existing, to: count) != nil
                } else {
                    makeNewSet(count)
                    grown = newSet != nil
                }
            }
            if !grown {
                // Shrink the old sets: first their unavailable pods, then available ones while
                // enough stay available.
                let minAvailable = wanted - unavailable
                var room = total - minAvailable - (replicas(newSet) - available(newSet))
                var shrunk = activeOlds
                for index in shrunk.indices where room > 0 {
                    let old = shrunk[index], down = min(room, replicas(old) - available(old))
                    guard down > 0, let scaled = scale(old, to: replicas(old) - down) else { continue }
                    shrunk[index] = scaled
                    room -= down
                }
                var excess = sets.reduce(0) { $0 + available($1) } - minAvailable
                for old in shrunk where excess > 0 {
                    let down = min(replicas(old), excess)
                    guard down > 0, scale(old, to: replicas(old) - down) != nil else { continue }
                    excess -= down
                }
            }
        }
        if let set = newSet, let setRevision = Self.revision(of: set), let latest = olds.compactMap(Self.revision(of:)).max(), setRevision < latest {
            // An earlier template again (`kubectl rollout undo`): its set takes the next revision.
            var renumbered = set
            renumbered[path: "metadata.annotations"] = .object((set[path: "metadata.annotations"]?.objectValue ?? [:]).merging([
                "deployment.kubernetes.io/revision": .string(String(latest + 1)),
            ]) { $1 })
            if let updated = try? performUpdate(Self.type("replicasets"), namespace: namespace, name: newName, object: renumbered) { newSet = updated }
        }
        // The deployment carries the revision of its current set, as `kubectl rollout history` reads it.
        if let revision = newSet.flatMap(Self.revision(of:)), deployment[path: "metadata.annotations"]?["deployment.kubernetes.io/revision"]?.stringValue != String(revision) {
            var annotations = deployment[path: "metadata.annotations"]?.objectValue ?? [:]
            annotations["deployment.kubernetes.io/revision"] = .string(String(revision))
            deployment[path: "metadata.annotations"] = .object(annotations)
            if let updated = try? performUpdate(Self.type("deployments"), namespace: namespace, name: name, object: deployment) { deployment = updated }
        }
        pruneHistory(of: deployment, olds: olds)
        writeDeploymentStatus(deployment, newName: newName, wanted: wanted, unavailable: unavailable, paused: paused, created: created)
        return succeeded
    }

    static func revision(of set: JSON) -> Int? {
        Int(set[path: "metadata.annotations"]?["deployment.kubernetes.io/revision"]?.stringValue ?? "")
    }

    /// Old sets scaled to zero beyond `revisionHistoryLimit` are deleted, the oldest revisions first.
    private func pruneHistory(of deployment: JSON, olds: [JSON]) {
        guard let namespace = deployment[path: "metadata.namespace"]?.stringValue else { return }
        let limit = SimControllers.int(deployment[path: "spec.revisionHistoryLimit"]) ?? 10
        let idle = olds.filter { (SimControllers.int($0[path: "spec.replicas"]) ?? 0) == 0 && (SimControllers.int($0[path: "status.replicas"]) ?? 0) == 0 }
            .sorted { (Self.revision(of: $0) ?? 0) < (Self.revision(of: $1) ?? 0) }
        for set in idle.prefix(max(0, idle.count - limit)) {
            guard let setName = set[path: "metadata.name"]?.stringValue else { continue }
            _ = try? performDelete(Self.type("replicasets"), namespace: namespace, name: setName)
        }
    }

    private func writeDeploymentStatus(_ deployment: JSON, newName: String, wanted: Int, unavailable: Int, paused: Bool, created: Bool) {
        guard let namespace = deployment[path: "metadata.namespace"]?.stringValue, let name = deployment[path: "metadata.name"]?.stringValue else { return }
        // The sets as they are now (the new one may have been created or scaled above).
        let all = owned("replicasets", in: namespace, by: deployment[path: "metadata.uid"]?.stringValue ?? "")
        func sum(_ field: String, _ sets: [JSON]) -> Int { sets.reduce(0) { $0 + (SimControllers.int($1[path: "status.\(field)"]) ?? 0) } }
        let fresh = all.filter { $0[path: "metadata.name"]?.stringValue == newName }
        let (replicas, updated, ready, available) = (sum("replicas", all), sum("replicas", fresh), sum("readyReplicas", all), sum("availableReplicas", all))
        var status: [String: JSON] = ["observedGeneration": deployment[path: "metadata.generation"] ?? .number(1)]
        for (field, value) in [("replicas", replicas), ("updatedReplicas", updated), ("readyReplicas", ready), ("availableReplicas", available),
                               ("unavailableReplicas", max(0, wanted - available))] where value > 0 {
            status[field] = .number(Double(value))
        }
        // Progress (`progress.go`): more new, ready or available pods or fewer old ones than the
        // status said, or a new set, renews `Progressing`; none for `progressDeadlineSeconds`
        // turns it False (`ProgressDeadlineExceeded`), which `kubectl rollout status` reports.
        let before = deployment["status"]
        func old(_ field: String) -> Int { SimControllers.int(before?[field]) ?? 0 }
        let progressed = created || updated > old("updatedReplicas") || replicas - updated < old("replicas") - old("updatedReplicas")
            || ready > old("readyReplicas") || available > old("availableReplicas")
        let previous = (before?["conditions"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Progressing" }
        let deadline = SimControllers.int(deployment[path: "spec.progressDeadlineSeconds"]).map(TimeInterval.init)
        let lastProgress = previous?["lastUpdateTime"]?.stringValue.flatMap(KubeTime.parse)
        let complete = updated == wanted && replicas == wanted && available == wanted
        let progressing: (type: String, status: String, reason: String, message: String)
        if paused {
            progressing = ("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        } else if complete {
            progressing = ("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"\(newName)\" has successfully progressed.")
        } else if created {
            progressing = ("Progressing", "True", "NewReplicaSetCreated", "Created new replica set \"\(newName)\"")
        } else if !progressed, let deadline, let lastProgress, previous?["status"]?.stringValue != "Unknown",
                  clock().timeIntervalSince(lastProgress) >= deadline || previous?["reason"]?.stringValue == "ProgressDeadlineExceeded" {
            progressing = ("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \"\(newName)\" has timed out progressing.")
        } else {
            progressing = ("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"\(newName)\" is progressing.")
        }
        var conditions: [(type: String, status: String, reason: String, message: String)] = [
            available >= wanted - unavailable
                ? ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
                : ("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
            progressing,
        ]
        if let failure = fresh.first?[path: "status.conditions"]?.arrayValue?.first(where: { $0["type"]?.stringValue == "ReplicaFailure" }) {
            conditions.append(("ReplicaFailure", "True", "FailedCreate", failure["message"]?.stringValue ?? ""))
        }
        let now = KubeTime.format(clock())
        var written = SimControllers.conditions(conditions, previous: deployment[path: "status.conditions"], now: now, updateTimes: true)?.arrayValue ?? []
        if progressed && progressing.reason == "ReplicaSetUpdated", let index = written.firstIndex(where: { $0["type"]?.stringValue == "Progressing" }) {
            written[index]["lastUpdateTime"] = .string(now)
        }
        status["conditions"] = .array(written)
        writeStatus("deployments", namespace, name, status)
        // A rollout under way is looked at again when its deadline would pass: one timer from
        // each progress (or new spec), not one from every sync.
        let respecified = before?["observedGeneration"] != deployment[path: "metadata.generation"]
        if progressing.reason == "ReplicaSetUpdated" || progressing.reason == "NewReplicaSetCreated", progressed || respecified, let deadline {
            let since = written.first { $0["type"]?.stringValue == "Progressing" }?["lastUpdateTime"]?.stringValue.flatMap(KubeTime.parse) ?? clock()
            let remaining = max(0, deadline - clock().timeIntervalSince(since)) + 0.001
            state.withLock { $0.work }?.add(.workload(kind: "Deployment", namespace: namespace, name: name), after: remaining)
        }
    }
}
