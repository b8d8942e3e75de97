import Foundation
import KubeAPI
import KubeSim
import Testing
import TestSupport

/// KubeSim's deployment controller rolls a new template out in a real controller's steps, driven
/// by the real `kubectl`: within `maxSurge` and `maxUnavailable`, old pods before new ones with
/// `Recreate`, paused and resumed, undone to an earlier revision.
@Suite struct RolloutTests {
    /// The `ScalingReplicaSet` messages in the order they were recorded.
    static func scalings(_ kubectl: Kubectl) async throws -> [String] {
        let events = try await ControllerTests.json(kubectl, "get", "events", "--field-selector", "reason=ScalingReplicaSet")["items"]?.arrayValue ?? []
        func version(_ event: JSON) -> Int { Int(event[path: "metadata.resourceVersion"]?.stringValue ?? "") ?? 0 }
        return events.sorted { version($0) < version($1) }.compactMap { $0["message"]?.stringValue }
    }

    static func sets(_ kubectl: Kubectl) async throws -> [String: Int] {
        let items = try await ControllerTests.json(kubectl, "get", "replicasets")["items"]?.arrayValue ?? []
        return Dictionary(uniqueKeysWithValues: items.map { ($0[path: "metadata.name"]?.stringValue ?? "", SimCount.of($0[path: "spec.replicas"])) })
    }

    static func images(_ kubectl: Kubectl) async throws -> String {
        try await kubectl.run("get", "pods", "-n", "work", "-o", "jsonpath={.items[*].spec.containers[0].image}").output
    }

    @Test func aRollingUpdateStepsWithinSurgeAndUnavailabilityAndWaitsForQuota() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            _ = try await kubectl.run("apply", "-f", "-", input: ControllerTests.deployment("api", replicas: 4, cpu: "100m"))
            #expect(try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s").status == 0)
            // The API server's defaults.
            let spec = try await ControllerTests.json(kubectl, "get", "deployment", "api")["spec"]
            #expect(spec?[path: "strategy.type"] == .string("RollingUpdate") && spec?[path: "strategy.rollingUpdate.maxSurge"] == .string("25%")
                && spec?[path: "strategy.rollingUpdate.maxUnavailable"] == .string("25%") && spec?["revisionHistoryLimit"] == .number(10), "\(String(describing: spec))")
            let first = try #require(try await Self.sets(kubectl).keys.first)

            // 4 replicas, 25 % each way: the new set starts at one pod (5 at most), the old one
            // never drops more than one below 4 available; each step is a scaling of one set.
            _ = try await kubectl.run("set", "image", "deployment/api", "-n", "work", "c=example/api:2")
            let rollout = try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s")
            #expect(rollout.status == 0 && rollout.output.contains("successfully rolled out"), "\(rollout.output)")
            let sets = try await Self.sets(kubectl)
            let second = try #require(sets.keys.first { $0 != first })
            #expect(sets == [first: 0, second: 4])
            let steps = try await Self.scalings(kubectl).dropFirst()
            #expect(steps.first == "Scaled up replica set \(second) from 0 to 1", "\(steps)")
            #expect(steps.last?.hasSuffix("to 4") == true || steps.last?.hasSuffix("to 0") == true, "\(steps)")
            #expect(steps.count >= 4 && !steps.contains("Scaled down replica set \(first) from 4 to 0"), "\(steps)")
            let annotations = try await ControllerTests.json(kubectl, "get", "replicaset", second)[path: "metadata.annotations"]
            #expect(annotations?["deployment.kubernetes.io/max-replicas"] == .string("5") && annotations?["deployment.kubernetes.io/revision"] == .string("2"), "\(String(describing: annotations))")
            #expect(try await Self.images(kubectl) == Array(repeating: "example/api:2", count: 4).joined(separator: " "))

            // None unavailable, and a quota with no room for the surge pod: the rollout waits, the
            // old pods keep running. (With 25 % unavailable it would go on, an old pod first.)
            _ = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}"#)
            _ = try await kubectl.run("create", "quota", "compute", "-n", "work", "--hard=requests.cpu=400m")
            _ = try await kubectl.run("set", "image", "deployment/api", "-n", "work", "c=example/api:3")
            try await eventually(within: 10, "the surge pod refused") {
                try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=FailedCreate", "-o", "name").output.isEmpty == false
            }
            let waiting = try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=1s")
            #expect(waiting.status != 0 && waiting.output.contains("0 out of 4 new replicas have been updated"), "\(waiting.output)")
            #expect(try await Self.images(kubectl) == Array(repeating: "example/api:2", count: 4).joined(separator: " "))
            // No progress for progressDeadlineSeconds: the rollout has timed out, as kubectl says.
            _ = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"progressDeadlineSeconds":2}}"#)
            try await eventually(within: 10, "the deadline passed") {
                let conditions = try await ControllerTests.json(kubectl, "get", "deployment", "api")[path: "status.conditions"]?.arrayValue ?? []
                return conditions.contains { $0["reason"] == .string("ProgressDeadlineExceeded") && $0["status"] == .string("False") }
            }
            let timedOut = try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=5s")
            #expect(timedOut.status != 0 && timedOut.output.contains(#"deployment "api" exceeded its progress deadline"#), "\(timedOut.output)")
            // No surge, one unavailable: an old pod goes first each time.
            // (The deadline's condition stays until the controller sees progress, as a real one's
            // does: `rollout status` says so until then.)
            _ = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":1}}}}"#)
            try await eventually(within: 20, "rolled out without surge") {
                try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=5s").status == 0
            }
            #expect(try await Self.images(kubectl) == Array(repeating: "example/api:3", count: 4).joined(separator: " "))

            // The strategy's validation, in a real server's words.
            let zero = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":0}}}}"#)
            #expect(zero.status != 0 && zero.output.contains(#"The Deployment "api" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"#), "\(zero.output)")
            let forbidden = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"strategy":{"type":"Recreate"}}}"#)
            #expect(forbidden.status != 0 && forbidden.output.contains("spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"), "\(forbidden.output)")
            let percent = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"half"}}}}"#)
            #expect(percent.status != 0 && percent.output.contains(#"spec.strategy.rollingUpdate.maxSurge: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%'"#), "\(percent.output)")
        }
    }

    @Test func recreatePauseUndoAndHistory() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            _ = try await kubectl.run("apply", "-f", "-", input: ControllerTests.deployment("api", replicas: 3, cpu: "100m"))
            #expect(try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s").status == 0)
            let first = try #require(try await Self.sets(kubectl).keys.first)

            // Recreate: the old set goes to zero and its pods away before the new set is made.
            _ = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}"#)
            _ = try await kubectl.run("set", "image", "deployment/api", "-n", "work", "c=example/api:2")
            #expect(try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s").status == 0)
            let second = try #require(try await Self.sets(kubectl).keys.first { $0 != first })
            let steps = try await Self.scalings(kubectl)
            #expect(steps.suffix(2) == ["Scaled down replica set \(first) from 3 to 0", "Scaled up replica set \(second) from 0 to 3"], "\(steps)")

            // Paused, a new template makes no set; resumed, it rolls out.
            _ = try await kubectl.run("rollout", "pause", "deployment/api", "-n", "work")
            _ = try await kubectl.run("set", "image", "deployment/api", "-n", "work", "c=example/api:3")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await Self.sets(kubectl).count == 2)
            let paused = try await ControllerTests.json(kubectl, "get", "deployment", "api")[path: "status.conditions"]?.arrayValue ?? []
            #expect(paused.contains { $0["reason"] == .string("DeploymentPaused") && $0["status"] == .string("Unknown") }, "\(paused)")
            _ = try await kubectl.run("rollout", "resume", "deployment/api", "-n", "work")
            #expect(try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s").status == 0)
            #expect(try await Self.images(kubectl) == "example/api:3 example/api:3 example/api:3")

            // Undo: the earlier template's set comes back under the next revision; no new set.
            let undo = try await kubectl.run("rollout", "undo", "deployment/api", "-n", "work")
            #expect(undo.status == 0, "\(undo.output)")
            #expect(try await kubectl.run("rollout", "status", "deployment/api", "-n", "work", "--timeout=20s").status == 0)
            #expect(try await Self.images(kubectl) == "example/api:2 example/api:2 example/api:2")
            let sets = try await Self.sets(kubectl)
            #expect(sets.count == 3 && sets[second] == 3, "\(sets)")
            let history = try await kubectl.run("rollout", "history", "deployment/api", "-n", "work")
            let revisions = history.output.split(separator: "\n").compactMap { Int($0.split(separator: " ").first ?? "") }
            #expect(revisions == [1, 3, 4], "\(history.output)")

            // revisionHistoryLimit: idle old sets beyond it are deleted, the oldest first.
            _ = try await kubectl.run("patch", "deployment", "api", "-n", "work", "-p", #"{"spec":{"revisionHistoryLimit":1}}"#)
            try await eventually(within: 10, "the history pruned") { Set(try await Self.sets(kubectl).keys).count == 2 }
            let kept = try await Self.sets(kubectl)
            #expect(kept[second] == 3 && kept[first] == nil, "\(kept)")
        }
    }
    @Test func aStatefulSetReplacesItsPodsFromTheHighestOrdinalDown() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            // Deleted pods take half a second to go: each ordinal waits for its old pod.
            try #require(sim.sim.clusters["a"]).podTerminationDelay = 0.5
            _ = try await kubectl.run("apply", "-f", "-", input: ControllerTests.statefulSet(image: "postgres:16"))
            #expect(try await kubectl.run("rollout", "status", "statefulset/db", "-n", "work", "--timeout=20s").status == 0)
            let spec = try await ControllerTests.json(kubectl, "get", "statefulset", "db")["spec"]
            #expect(spec?[path: "updateStrategy.type"] == .string("RollingUpdate") && spec?[path: "updateStrategy.rollingUpdate.partition"] == .number(0)
                && spec?["podManagementPolicy"] == .string("OrderedReady"), "\(String(describing: spec))")

            // A new template: one pod at a time, db-2 first, each made again at the new revision.
            _ = try await kubectl.run("set", "image", "statefulset/db", "-n", "work", "c=postgres:17")
            let rollout = try await kubectl.run("rollout", "status", "statefulset/db", "-n", "work", "--timeout=20s")
            #expect(rollout.status == 0 && rollout.output.contains("partitioned roll out complete: 3 new pods have been updated"), "\(rollout.output)")
            #expect(try await Self.images(kubectl) == "postgres:17 postgres:17 postgres:17")
            let deleted = try await ControllerTests.json(kubectl, "get", "events", "--field-selector", "reason=SuccessfulDelete")["items"]?.arrayValue ?? []
            let order = deleted.sorted { (Int($0[path: "metadata.resourceVersion"]?.stringValue ?? "") ?? 0) < (Int($1[path: "metadata.resourceVersion"]?.stringValue ?? "") ?? 0) }
                .compactMap { $0["message"]?.stringValue }
            #expect(order == ["delete Pod db-2 in StatefulSet db successful", "delete Pod db-1 in StatefulSet db successful", "delete Pod db-0 in StatefulSet db successful"], "\(order)")
            #expect(try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=FailedCreate", "-o", "name").output.isEmpty)
            let status = try await ControllerTests.json(kubectl, "get", "statefulset", "db")["status"]
            #expect(status?["currentRevision"] == status?["updateRevision"] && status?["updatedReplicas"] == .number(3), "\(String(describing: status))")

            // OnDelete: a new template waits until a pod is deleted by someone.
            _ = try await kubectl.run("patch", "statefulset", "db", "-n", "work", "-p", #"{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}"#)
            _ = try await kubectl.run("set", "image", "statefulset/db", "-n", "work", "c=postgres:18")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await Self.images(kubectl) == "postgres:17 postgres:17 postgres:17")
            _ = try await kubectl.run("delete", "pod", "db-1", "-n", "work")
            try await eventually(within: 10, "db-1 made again at the new revision") {
                try await Self.images(kubectl) == "postgres:17 postgres:18 postgres:17"
            }
        }
    }
    @Test func aDaemonSetReplacesItsPodsNodeByNode() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            _ = try await kubectl.run("create", "namespace", "work")
            let nodes = ControllerTests.names(try await ControllerTests.json(kubectl, "get", "nodes")).count
            let set = """
                apiVersion: apps/v1
                kind: DaemonSet
                metadata: {name: agent, namespace: work}
                spec:
                  selector: {matchLabels: {app: agent}}
                  template:
                    metadata: {labels: {app: agent}}
                    spec: {containers: [{name: c, image: "agent:1"}]}

                """
            _ = try await kubectl.run("apply", "-f", "-", input: set)
            #expect(try await kubectl.run("rollout", "status", "daemonset/agent", "-n", "work", "--timeout=20s").status == 0)
            #expect(try await ControllerTests.json(kubectl, "get", "daemonset", "agent")[path: "spec.updateStrategy.rollingUpdate.maxUnavailable"] == .number(1))
            _ = try await kubectl.run("set", "image", "daemonset/agent", "-n", "work", "c=agent:2")
            let rollout = try await kubectl.run("rollout", "status", "daemonset/agent", "-n", "work", "--timeout=20s")
            #expect(rollout.status == 0 && rollout.output.contains(#"daemon set "agent" successfully rolled out"#), "\(rollout.output)")
            #expect(try await Self.images(kubectl) == Array(repeating: "agent:2", count: nodes).joined(separator: " "))
            let deleted = try await kubectl.run("get", "events", "-n", "work", "--field-selector", "reason=SuccessfulDelete", "-o", "name").output
            #expect(deleted.split(separator: "\n").count == nodes, "\(deleted)")
            let status = try await ControllerTests.json(kubectl, "get", "daemonset", "agent")["status"]
            #expect(status?["updatedNumberScheduled"] == .number(Double(nodes)) && status?["numberAvailable"] == .number(Double(nodes)), "\(String(describing: status))")
        }
    }

    /// A deployment's pods count as available only once ready for `minReadySeconds`: ready at
    /// once, available later, and `rollout status` waits for that.
    @Test func podsAreAvailableOnlyAfterMinReadySeconds() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let manifest = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: slow}
                spec:
                  replicas: 2
                  minReadySeconds: 3
                  selector: {matchLabels: {app: slow}}
                  template:
                    metadata: {labels: {app: slow}}
                    spec: {containers: [{name: c, image: nginx}]}
                """
            let started = ContinuousClock.now
            #expect(try await kubectl.run("apply", "-f", "-", input: manifest).status == 0)
            try await eventually(within: 10, "two ready pods") {
                try await kubectl.run("get", "replicasets", "-l", "app=slow", "-o", "jsonpath={.items[0].status.readyReplicas}").output == "2"
            }
            let early = try await kubectl.run("get", "replicasets", "-l", "app=slow", "-o", "jsonpath={.items[0].spec.minReadySeconds}/{.items[0].status.availableReplicas}").output
            if ContinuousClock.now - started < .seconds(2) { #expect(early == "3/", "\(early)") }
            let rolled = try await kubectl.run("rollout", "status", "deployment/slow", "--timeout=20s")
            #expect(rolled.status == 0, "\(rolled.output)")
            #expect(ContinuousClock.now - started >= .seconds(2), "available before minReadySeconds")
            #expect(try await kubectl.run("get", "deployment", "slow", "-o", "jsonpath={.status.availableReplicas}").output == "2")
        }
    }
}
