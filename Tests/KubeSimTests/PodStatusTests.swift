import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// The status the scheduler and a kubelet give pods: what `kubectl wait`, `describe` and
/// scripts read, seen with the real `kubectl`.
@Suite struct PodStatusTests {
    @Test func aBoundPodRunsWithAKubeletsStatusAndIsReady() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("run", "web", "--image=nginx:1.27").status == 0)
            let waited = try await kubectl.run("wait", "--for=condition=Ready", "pod/web", "--timeout=10s")
            #expect(waited.status == 0 && waited.output.contains("pod/web condition met"), "\(waited.output)")
            let shown = try await kubectl.run("get", "pod", "web", "-o", """
                jsonpath={.status.conditions[*].type}|{.status.conditions[*].status}|{.status.containerStatuses[0].image}|\
                {.status.containerStatuses[0].ready}|{.status.containerStatuses[0].started}|{.status.containerStatuses[0].restartCount}|\
                {.status.containerStatuses[0].volumeMounts[0].mountPath}
                """).output
            #expect(shown == """
                PodReadyToStartContainers Initialized Ready ContainersReady PodScheduled|True True True True True|docker.io/library/nginx:1.27|\
                true|true|0|/var/run/secrets/kubernetes.io/serviceaccount
                """, "\(shown)")
            let pod = try JSONDecoder().decode(JSON.self, from: Data(try await kubectl.run("get", "pod", "web", "-o", "json").output.utf8))
            #expect(pod[path: "status.containerStatuses"]?.arrayValue?.first?[path: "state.running.startedAt"]?.stringValue != nil)
            #expect(pod[path: "status.containerStatuses"]?.arrayValue?.first?["containerID"]?.stringValue?.hasPrefix("containerd://") == true)
            #expect(pod[path: "status.podIPs"]?.arrayValue?.first?["ip"] == pod[path: "status.podIP"] && pod[path: "status.startTime"] != nil)
            let node = try await kubectl.run("get", "node", pod[path: "spec.nodeName"]?.stringValue ?? "", "-o", "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}")
            #expect(!node.output.isEmpty && pod[path: "status.hostIP"]?.stringValue == node.output, "\(node.output) \(String(describing: pod[path: "status.hostIP"]))")
            // The scheduler's event; a replace that carries no status leaves the kubelet's.
            let events = try await kubectl.run("get", "events", "--field-selector", "involvedObject.name=web,reason=Scheduled", "-o", "jsonpath={.items[*].message}")
            #expect(events.output == "Successfully assigned default/web to \(pod[path: "spec.nodeName"]?.stringValue ?? "")", "\(events.output)")
            var replaced = pod
            replaced["status"] = nil
            replaced[path: "metadata.labels.tier"] = .string("web")
            #expect(try await kubectl.run("replace", "-f", "-", input: String(decoding: replaced.serialized(), as: UTF8.self)).status == 0)
            #expect(try await kubectl.run("get", "pod", "web", "-o", "jsonpath={.metadata.labels.tier} {.status.containerStatuses[0].ready}").output == "web true")
        }
    }

    @Test func initContainersHaveRunSidecarsRunAndUnschedulablePodsSayWhy() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let pods = """
                apiVersion: v1
                kind: Pod
                metadata: {name: staged}
                spec:
                  initContainers: [{name: setup, image: busybox}, {name: proxy, image: envoy, restartPolicy: Always}]
                  containers: [{name: app, image: "registry.local:5000/team/app"}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: nowhere}
                spec:
                  nodeSelector: {disktype: hdd}
                  containers: [{name: app, image: nginx}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: pinned}
                spec:
                  nodeName: node-2
                  containers: [{name: app, image: nginx}]
                """
            #expect(try await kubectl.run("apply", "-f", "-", input: pods).status == 0)
            let staged = try await kubectl.run("get", "pod", "staged", "-o", """
                jsonpath={.status.initContainerStatuses[0].state.terminated.reason}/{.status.initContainerStatuses[0].state.terminated.exitCode}|\
                {.status.initContainerStatuses[1].state.running.startedAt}|{.status.containerStatuses[0].image}
                """).output
            let parts = staged.split(separator: "|", omittingEmptySubsequences: false)
            #expect(parts.count == 3 && parts[0] == "Completed/0" && !parts[1].isEmpty && parts[2] == "registry.local:5000/team/app:latest", "\(staged)")
            let nowhere = try await kubectl.run("get", "pod", "nowhere", "-o", """
                jsonpath={.status.phase}|{.status.conditions[0].type}={.status.conditions[0].status}|{.status.conditions[0].reason}|{.status.conditions[0].message}
                """).output
            #expect(nowhere.hasPrefix("Pending|PodScheduled=False|Unschedulable|0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."), "\(nowhere)")
            #expect(try await kubectl.run("get", "pods", "nowhere", "--no-headers").output.contains("0/1"))
            // A pod created on its node never met the scheduler: no `Scheduled` event.
            #expect(try await kubectl.run("wait", "--for=condition=Ready", "pod/pinned", "--timeout=10s").status == 0)
            let events = try await kubectl.run("get", "events", "--field-selector", "reason=Scheduled", "-o", "jsonpath={.items[*].involvedObject.name}")
            #expect(events.output == "staged", "\(events.output)")
        }
    }

    @Test func imagesAreNamedAsTheRuntimeNamesThem() {
        #expect(PodStatus.normalized("nginx") == "docker.io/library/nginx:latest")
        #expect(PodStatus.normalized("nginx:1.27") == "docker.io/library/nginx:1.27")
        #expect(PodStatus.normalized("team/app:2") == "docker.io/team/app:2")
        #expect(PodStatus.normalized("registry.k8s.io/pause:3.10") == "registry.k8s.io/pause:3.10")
        #expect(PodStatus.normalized("localhost/app") == "localhost/app:latest")
        let digest = "nginx@sha256:" + String(repeating: "ab", count: 32)
        #expect(PodStatus.imageID(digest) == "docker.io/library/" + digest)
        #expect(PodStatus.imageID("nginx:1.27").hasPrefix("docker.io/library/nginx@sha256:") && PodStatus.imageID("nginx:1.27") == PodStatus.imageID("nginx:1.27"))
        #expect(PodStatus.imageID("nginx:1.27").count == "docker.io/library/nginx@sha256:".count + 64)
    }
}
