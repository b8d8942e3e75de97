import Foundation
import KubeAPI

/// The StatefulSet, DaemonSet and Job controllers of KubeSim's controller-manager.
extension SimCluster {
    /// The API server's defaults for a DaemonSet (`SetDefaults_DaemonSet`).
    static func applyDaemonSetDefaults(_ set: inout JSON) {
        if set[path: "spec.updateStrategy.type"] == nil { set[path: "spec.updateStrategy.type"] = .string("RollingUpdate") }
        if set[path: "spec.updateStrategy.type"]?.stringValue == "RollingUpdate" {
            if set[path: "spec.updateStrategy.rollingUpdate.maxUnavailable"] == nil { set[path: "spec.updateStrategy.rollingUpdate.maxUnavailable"] = .number(1) }
            if set[path: "spec.updateStrategy.rollingUpdate.maxSurge"] == nil { set[path: "spec.updateStrategy.rollingUpdate.maxSurge"] = .number(0) }
        }
        if set[path: "spec.revisionHistoryLimit"] == nil { set[path: "spec.revisionHistoryLimit"] = .number(10) }
    }

    /// The API server's defaults for a StatefulSet (`SetDefaults_StatefulSet`).
    static func applyStatefulSetDefaults(_ set: inout JSON) {
        if set[path: "spec.podManagementPolicy"] == nil { set[path: "spec.podManagementPolicy"] = .string("OrderedReady") }
        if set[path: "spec.updateStrategy.type"] == nil { set[path: "spec.updateStrategy.type"] = .string("RollingUpdate") }
        if set[path: "spec.updateStrategy.type"]?.stringValue == "RollingUpdate", set[path: "spec.updateStrategy.rollingUpdate.partition"] == nil {
            set[path: "spec.updateStrategy.rollingUpdate.partition"] = .number(0)
        }
        if set[path: "spec.persistentVolumeClaimRetentionPolicy"] == nil {
            set[path: "spec.persistentVolumeClaimRetentionPolicy"] = .object(["whenDeleted": .string("Retain"), "whenScaled": .string("Retain")])
        }
        if set[path: "spec.replicas"] == nil { set[path: "spec.replicas"] = .number(1) }
        if set[path: "spec.revisionHistoryLimit"] == nil { set[path: "spec.revisionHistoryLimit"] = .number(10) }
    }

    /// Pods `<name>-0` … `<name>-(n-1)`, each after its claims from `volumeClaimTemplates`
    /// (`<template>-<name>-<ordinal>`, kept when the pod goes, as the default retention policy
    /// keeps them). With the default `OrderedReady` policy a pod is created only once the ones
    /// before it run; surplus pods are deleted from the highest ordinal down; a new template
    /// replaces the pods one at a time from the highest ordinal down.
    func syncStatefulSet(_ namespace: String, _ name: String) -> Bool {
        guard let set = current("statefulsets", namespace, name), set[path: "metadata.deletionTimestamp"] == nil,
              let uid = set[path: "metadata.uid"]?.stringValue else { return true }
        let wanted = SimControllers.int(set[path: "spec.replicas"]) ?? 1
        let ordered = set[path: "spec.podManagementPolicy"]?.stringValue != "Parallel"
        let revision = "\(name)-\(SimControllers.templateHash(set[path: "spec.template"] ?? .null))"
        var pods: [Int: JSON] = [:]
        // A terminating pod keeps its name until it is gone: its ordinal waits for it.
        var terminating: Set<Int> = []
        for pod in owned("pods", in: namespace, by: uid) {
            guard let podName = pod[path: "metadata.name"]?.stringValue, podName.hasPrefix("\(name)-"), let ordinal = Int(podName.dropFirst(name.count + 1)) else { continue }
            if SimControllers.isActive(pod) { pods[ordinal] = pod } else if pod[path: "metadata.deletionTimestamp"] != nil { terminating.insert(ordinal) }
        }
        let revisionsInUse = Set(pods.values.compactMap(SimControllers.revisionHash(of:)) + [set[path: "status.currentRevision"]?.stringValue].compactMap { $0 })
        recordRevision(of: set, hash: String(revision.dropFirst(name.count + 1)), inUse: revisionsInUse)
        var failed = false
        creating: for ordinal in 0..<max(wanted, 0) {
            if terminating.contains(ordinal) {
                if ordered { break } else { continue }
            }
            if let pod = pods[ordinal] {
                if ordered && !SimControllers.isRunning(pod) { break }
                continue
            }
            let podName = "\(name)-\(ordinal)"
            guard let volumes = claims(of: set, for: podName) else {
                failed = true
                break
            }
            var pod = SimControllers.object(kind: "Pod", apiVersion: "v1", from: set[path: "spec.template"], owner: set, namespace: namespace, name: podName, labels: [
                "statefulset.kubernetes.io/pod-name": podName, "apps.kubernetes.io/pod-index": String(ordinal), "controller-revision-hash": revision,
            ])
            pod[path: "spec.hostname"] = .string(podName)
            if let service = set[path: "spec.serviceName"]?.stringValue, !service.isEmpty { pod[path: "spec.subdomain"] = .string(service) }
            if !volumes.isEmpty { pod[path: "spec.volumes"] = .array(volumes) }
            switch createControlled("pods", namespace: namespace, pod) {
            case .success(let created):
                pods[ordinal] = created
                recordEvent(about: set, reason: "SuccessfulCreate", message: "create Pod \(podName) in StatefulSet \(name) successful", component: "statefulset-controller")
                if ordered && !SimControllers.isRunning(created) { break creating }
            case .failure(let status):
                recordEvent(about: set, reason: "FailedCreate", warning: true,
                            message: "create Pod \(podName) in StatefulSet \(name) failed error: \(status.message ?? "")", component: "statefulset-controller")
                failed = true
                break creating
            }
        }
        for ordinal in pods.keys.sorted(by: >) where ordinal >= wanted {
            let podName = "\(name)-\(ordinal)"
            guard (try? performDelete(Self.type("pods"), namespace: namespace, name: podName)) != nil else { continue }
            pods[ordinal] = nil
            recordEvent(about: set, reason: "SuccessfulDelete", message: "delete Pod \(podName) in StatefulSet \(name) successful", component: "statefulset-controller")
        }
        // A new template rolls (`RollingUpdate`, the default): once every pod runs, the pod of
        // the highest ordinal (at or above `partition`) still at an earlier revision is
        // deleted, to be made again at the new one by the next sync; `OnDelete` waits for
        // someone to delete them.
        let partition = SimControllers.int(set[path: "spec.updateStrategy.rollingUpdate.partition"]) ?? 0
        if !failed, terminating.isEmpty, set[path: "spec.updateStrategy.type"]?.stringValue != "OnDelete", pods.count == wanted, pods.values.allSatisfy(SimControllers.isRunning),
           let stale = pods.keys.sorted(by: >).first(where: { $0 >= partition && SimControllers.revisionHash(of: pods[$0]!) != revision }) {
            let podName = "\(name)-\(stale)"
            if (try? performDelete(Self.type("pods"), namespace: namespace, name: podName)) != nil {
                pods[stale] = nil
                recordEvent(about: set, reason: "SuccessfulDelete", message: "delete Pod \(podName) in StatefulSet \(name) successful", component: "statefulset-controller")
            }
        }
        let running = pods.values.count(where: SimControllers.isRunning)
        let updated = pods.values.count { SimControllers.revisionHash(of: $0) == revision }
        let previous = set[path: "status.currentRevision"]?.stringValue ?? revision
        let currentRevision = updated == wanted && pods.count == wanted ? revision : previous
        var status: [String: JSON] = [
            "observedGeneration": set[path: "metadata.generation"] ?? .number(1), "replicas": .number(Double(pods.count)),
            "currentRevision": .string(currentRevision), "updateRevision": .string(revision), "collisionCount": .number(0),
        ]
        let atCurrent = pods.values.count { SimControllers.revisionHash(of: $0) == currentRevision }
        for (field, value) in [("currentReplicas", atCurrent), ("updatedReplicas", updated), ("readyReplicas", running)] where value > 0 {
            status[field] = .number(Double(value))
        }
        status["availableReplicas"] = .number(Double(running))
        writeStatus("statefulsets", namespace, name, status)
        return !failed
    }

    /// The volumes of pod `podName` of a stateful set: its own, and one per claim template,
    /// whose claim is created when missing. `nil` when a claim was refused (reported as the
    /// controller reports it).
    private func claims(of set: JSON, for podName: String) -> [JSON]? {
        let name = set[path: "metadata.name"]?.stringValue ?? "", namespace = set[path: "metadata.namespace"]?.stringValue ?? ""
        var volumes = set[path: "spec.template.spec.volumes"]?.arrayValue ?? []
        for claimTemplate in set[path: "spec.volumeClaimTemplates"]?.arrayValue ?? [] {
            let templateName = claimTemplate[path: "metadata.name"]?.stringValue ?? ""
            let claimName = "\(templateName)-\(podName)"
            volumes.append(.object(["name": .string(templateName), "persistentVolumeClaim": .object(["claimName": .string(claimName)])]))
            guard current("persistentvolumeclaims", namespace, claimName) == nil else { continue }
            let labels = (set[path: "spec.selector.matchLabels"]?.stringMap ?? [:])
            let claim = SimControllers.object(kind: "PersistentVolumeClaim", apiVersion: "v1", from: claimTemplate, owner: nil, namespace: namespace, name: claimName, labels: labels)
            if case .failure(let status) = createControlled("persistentvolumeclaims", namespace: namespace, claim) {
                recordEvent(about: set, reason: "FailedCreate", warning: true,
                            message: "create Claim \(claimName) for Pod \(podName) in StatefulSet \(name) failed error: \(status.message ?? "")", component: "statefulset-controller")
                return nil
            }
            recordEvent(about: set, reason: "SuccessfulCreate", message: "create Claim \(claimName) Pod \(podName) in StatefulSet \(name) success", component: "statefulset-controller")
        }
        return volumes
    }

    /// One pod per node its pods may run on (`<name>-<suffix>`, bound to its node); pods on
    /// nodes that went, or that no longer take them, are deleted.
    func syncDaemonSet(_ namespace: String, _ name: String) -> Bool {
        guard let set = current("daemonsets", namespace, name), set[path: "metadata.deletionTimestamp"] == nil,
              let uid = set[path: "metadata.uid"]?.stringValue else { return true }
        // The nodes its pods may run on: their selector, affinity and tolerations decide.
        let template = set[path: "spec.template"] ?? .null
        let nodes = state.withLock { ($0.objects[Self.type("nodes")] ?? [:]).values }
            .filter { NodePlacement.misfit(template, on: $0, daemon: true) == nil }.compactMap { $0[path: "metadata.name"]?.stringValue }.sorted()
        let revision = SimControllers.templateHash(set[path: "spec.template"] ?? .null)
        let generation = String(SimControllers.int(set[path: "metadata.generation"]) ?? 1)
        var pods = owned("pods", in: namespace, by: uid).filter(SimControllers.isActive)
        recordRevision(of: set, hash: revision, inUse: Set(pods.compactMap(SimControllers.revisionHash(of:)).map { "\(name)-\($0)" }))
        var failed = false
        for node in nodes where !pods.contains(where: { $0[path: "spec.nodeName"]?.stringValue == node }) {
            var pod = SimControllers.object(kind: "Pod", apiVersion: "v1", from: set[path: "spec.template"], owner: set, namespace: namespace,
                                            generateName: "\(name)-", labels: ["controller-revision-hash": revision, "pod-template-generation": generation])
            PodMutations.pinDaemonPod(&pod, to: node)
            pod[path: "spec.nodeName"] = .string(node)
            switch createControlled("pods", namespace: namespace, pod) {
            case .success(let created):
                pods.append(created)
                recordEvent(about: set, reason: "SuccessfulCreate", message: "Created pod: \(created[path: "metadata.name"]?.stringValue ?? "")", component: "daemonset-controller")
            case .failure(let status):
                recordEvent(about: set, reason: "FailedCreate", warning: true, message: "Error creating: \(status.message ?? "")", component: "daemonset-controller")
                failed = true
            }
        }
        for pod in pods where !nodes.contains(pod[path: "spec.nodeName"]?.stringValue ?? "") {
            guard let podName = pod[path: "metadata.name"]?.stringValue, (try? performDelete(Self.type("pods"), namespace: namespace, name: podName)) != nil else { continue }
            pods.removeAll { $0[path: "metadata.name"]?.stringValue == podName }
            recordEvent(about: set, reason: "SuccessfulDelete", message: "Deleted pod: \(podName)", component: "daemonset-controller")
        }
        // A new template rolls node by node (`RollingUpdate`, the default): old pods are deleted
        // while no more than `maxUnavailable` nodes lack a running pod, each node getting its
        // new pod at the next sync; `OnDelete` waits for someone to delete them.
        func isCurrent(_ pod: JSON) -> Bool { SimControllers.revisionHash(of: pod) == revision }
        if !failed, set[path: "spec.updateStrategy.type"]?.stringValue != "OnDelete" {
            let allowed = DeploymentStrategy.scaled(set[path: "spec.updateStrategy.rollingUpdate.maxUnavailable"], of: nodes.count, roundUp: true) ?? 1
            var unavailable = nodes.count - pods.count(where: SimControllers.isRunning)
            for pod in pods where !isCurrent(pod) && unavailable < max(allowed, 1) {
                guard let podName = pod[path: "metadata.name"]?.stringValue, (try? performDelete(Self.type("pods"), namespace: namespace, name: podName)) != nil else { continue }
                pods.removeAll { $0[path: "metadata.name"]?.stringValue == podName }
                unavailable += 1
                recordEvent(about: set, reason: "SuccessfulDelete", message: "Deleted pod: \(podName)", component: "daemonset-controller")
            }
        }
        let running = pods.count(where: SimControllers.isRunning)
        var status: [String: JSON] = [
            "observedGeneration": set[path: "metadata.generation"] ?? .number(1), "desiredNumberScheduled": .number(Double(nodes.count)),
            "currentNumberScheduled": .number(Double(pods.count)), "numberMisscheduled": .number(0), "numberReady": .number(Double(running)),
        ]
        let updated = pods.count(where: isCurrent)
        if updated > 0 { status["updatedNumberScheduled"] = .number(Double(updated)) }
        for field in ["numberAvailable"] where running > 0 { status[field] = .number(Double(running)) }
        if nodes.count > running { status["numberUnavailable"] = .number(Double(nodes.count - running)) }
        writeStatus("daemonsets", namespace, name, status)
        return !failed
    }

    /// Runs `parallelism` pods (1 by default) until `completions` of them succeeded (1 by
    /// default; a work queue's job, with parallelism and no completions, until one did). No
    /// kubelet runs them here, so a pod succeeds only when something marks it so. A suspended
    /// job's pods are deleted.
    func syncJob(_ namespace: String, _ name: String) -> Bool {
        guard let job = current("jobs", namespace, name), job[path: "metadata.deletionTimestamp"] == nil,
              let uid = job[path: "metadata.uid"]?.stringValue else { return true }
        let all = owned("pods", in: namespace, by: uid)
        let succeeded = all.count { $0[path: "status.phase"]?.stringValue == "Succeeded" }
        let failedPods = all.count { $0[path: "status.phase"]?.stringValue == "Failed" }
        var active = all.filter(SimControllers.isActive)
        let parallelism = SimControllers.int(job[path: "spec.parallelism"]) ?? 1
        let completions = SimControllers.int(job[path: "spec.completions"]) ?? (job[path: "spec.parallelism"] == nil ? 1 : nil)
        let complete = completions.map { succeeded >= $0 } ?? (succeeded > 0)
        let suspended = job[path: "spec.suspend"] == .bool(true)
        let wanted = complete || suspended ? 0 : min(parallelism, completions.map { $0 - succeeded } ?? parallelism)
        var failed = false
        while active.count < wanted {
            let pod = SimControllers.object(kind: "Pod", apiVersion: "v1", from: job[path: "spec.template"], owner: job, namespace: namespace, generateName: "\(name)-", labels: [
                "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name,
            ])
            switch createControlled("pods", namespace: namespace, pod) {
            case .success(let created):
                active.append(created)
                recordEvent(about: job, reason: "SuccessfulCreate", message: "Created pod: \(created[path: "metadata.name"]?.stringValue ?? "")", component: "job-controller")
                continue
            case .failure(let status):
                recordEvent(about: job, reason: "FailedCreate", warning: true, message: "Error creating: \(status.message ?? "")", component: "job-controller")
                failed = true
            }
            break
        }
        if active.count > wanted {
            for pod in active.suffix(active.count - wanted) {
                guard let podName = pod[path: "metadata.name"]?.stringValue, (try? performDelete(Self.type("pods"), namespace: namespace, name: podName)) != nil else { continue }
                active.removeAll { $0[path: "metadata.name"]?.stringValue == podName }
                recordEvent(about: job, reason: "SuccessfulDelete", message: "Deleted pod: \(podName)", component: "job-controller")
            }
        }
        writeJobStatus(job, active: active, succeeded: succeeded, failed: failedPods, complete: complete)
        return !failed
    }

    private func writeJobStatus(_ job: JSON, active: [JSON], succeeded: Int, failed failedPods: Int, complete: Bool) {
        guard let namespace = job[path: "metadata.namespace"]?.stringValue, let name = job[path: "metadata.name"]?.stringValue else { return }
        let suspended = job[path: "spec.suspend"] == .bool(true)
        let now = KubeTime.format(clock())
        var status = job["status"]?.objectValue ?? [:]
        status["active"] = active.isEmpty ? nil : .number(Double(active.count))
        status["ready"] = .number(Double(active.count(where: SimControllers.isRunning)))
        status["succeeded"] = succeeded > 0 ? .number(Double(succeeded)) : nil
        status["failed"] = failedPods > 0 ? .number(Double(failedPods)) : nil
        if status["startTime"] == nil, !suspended { status["startTime"] = .string(now) }
        if complete {
            if status["completionTime"] == nil { status["completionTime"] = .string(now) }
            status["conditions"] = SimControllers.conditions([
                ("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
            ], previous: job[path: "status.conditions"], now: now, updateTimes: true)
        }
        writeStatus("jobs", namespace, name, status)
    }
}
