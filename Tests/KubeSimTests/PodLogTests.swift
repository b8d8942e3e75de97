import AsyncHTTPClient
import Foundation
import KubeAPI
import KubeClient
@testable import KubeSim
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// A pod's `log` and `eviction` subresources, and the subresources KubeSim does not serve, as a
/// real server answers them, seen with the real `kubectl`.
@Suite struct PodLogTests {
    static let pods = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec: {containers: [{name: app, image: nginx}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: two}
        spec:
          initContainers: [{name: setup, image: busybox}]
          containers: [{name: app, image: nginx}, {name: sidecar, image: busybox}]
        """

    /// A raw request's status and body.
    static func send(_ client: KubeClient, _ method: HTTPMethod, _ path: String, body: String? = nil) async throws -> (status: UInt, text: String) {
        let response = try await client.forward(
            method, pathAndQuery: path, headers: body == nil ? [:] : ["Content-Type": "application/json"],
            body: body.map { .bytes(ByteBuffer(string: $0)) }, impersonation: nil, timeout: .seconds(10)
        )
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func logsShowWhatTheContainerWrote() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let cluster = sim.sim.clusters["a"]!
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pods).status == 0)
            #expect(try await kubectl.run("logs", "web").output == "")
            try cluster.writeLog(namespace: "default", pod: "web", "starting\nlistening on :80")
            try cluster.writeLog(namespace: "default", pod: "web", "GET / 200")
            try cluster.writeLog(namespace: "default", pod: "two", container: "sidecar", "sidecar up")
            #expect(try await kubectl.run("logs", "web").output == "starting\nlistening on :80\nGET / 200\n")
            #expect(try await kubectl.run("logs", "web", "--tail=1").output == "GET / 200\n")
            #expect(try await kubectl.run("logs", "web", "--limit-bytes=12").output == "starting\nlis")
            let stamped = try await kubectl.run("logs", "web", "--timestamps", "--tail=1").output
            #expect(stamped.wholeMatch(of: /20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z GET \/ 200\n/) != nil, "\(stamped)")
            #expect(try await kubectl.run("logs", "two", "-c", "sidecar").output == "sidecar up\n")
            let wrong = try await kubectl.run("logs", "two", "-c", "nope")
            #expect(wrong.status != 0 && wrong.output.contains("container nope is not valid for pod two"), "\(wrong.output)")
            let previous = try await kubectl.run("logs", "web", "--previous")
            #expect(previous.status != 0 && previous.output.contains(#"previous terminated container "app" in pod "web" not found"#), "\(previous.output)")
            // Asked without a container, a pod of several names them all, init containers first.
            let client = try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let unnamed = try await Self.send(client, .GET, "/api/v1/namespaces/default/pods/two/log")
            #expect(unnamed.status == 400 && unnamed.text.contains("a container name must be specified for pod two, choose one of: [setup app sidecar]"), "\(unnamed.text)")
            // A new pod of the same name starts with an empty log.
            #expect(try await kubectl.run("delete", "pod", "web", "--grace-period=0", "--force").status == 0)
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pods).status == 0)
            #expect(try await kubectl.run("logs", "web").output == "")
        }
    }

    @Test func aFollowedLogStreamsUntilThePodGoes() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let cluster = sim.sim.clusters["a"]!
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pods).status == 0)
            try cluster.writeLog(namespace: "default", pod: "web", "before")
            let following = try kubectl.start("logs", "-f", "web")
            try await eventually(within: 10, "the earlier line") { following.output == "before\n" }
            for index in 1...3 {
                try cluster.writeLog(namespace: "default", pod: "web", "line \(index)")
                try await eventually(within: 10, "line \(index) as it is written") { following.output.hasSuffix("line \(index)\n") }
            }
            #expect(try await following.exitStatus(within: .milliseconds(300)) == nil, "kubectl logs -f ended early: \(following.output)")
            #expect(try await kubectl.run("delete", "pod", "web", "--grace-period=0", "--force").status == 0)
            #expect(try await following.exitStatus(within: .seconds(10)) == 0, "\(following.output)")
            #expect(following.output == "before\nline 1\nline 2\nline 3\n", "\(following.output)")
        }
    }

    @Test func anEvictionDeletesThePodAndUnservedSubresourcesAreNotFound() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pods).status == 0)
            let client = try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let mismatched = try await Self.send(client, .POST, "/api/v1/namespaces/default/pods/web/eviction",
                                                 body: #"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"two"}}"#)
            #expect(mismatched.status == 400 && mismatched.text.contains("name in URL does not match name in Eviction object"), "\(mismatched.text)")
            let evicted = try await Self.send(client, .POST, "/api/v1/namespaces/default/pods/web/eviction",
                                              body: #"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web"},"deleteOptions":{"gracePeriodSeconds":0}}"#)
            #expect(evicted.status == 201, "\(evicted.text)")
            #expect(try JSONDecoder().decode(JSON.self, from: Data(evicted.text.utf8))["status"] == .string("Success"))
            try await eventually(within: 10, "the evicted pod gone") { try await kubectl.run("get", "pod", "web").status != 0 }
            // Subresources a real server does not have are 404 whatever the method; the log is read only.
            for (method, path, code) in [
                (HTTPMethod.GET, "/api/v1/namespaces/default/pods/two/nothing", UInt(404)),
                (.DELETE, "/api/v1/namespaces/default/pods/two/nothing", 404),
                (.GET, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt/status", 404),
                (.DELETE, "/api/v1/namespaces/default/pods/two/log", 405),
            ] {
                let answer = try await Self.send(client, method, path)
                #expect(answer.status == code, "\(method) \(path): \(answer.text)")
            }
            #expect(try await kubectl.run("get", "pod", "two").status == 0, "a DELETE of a subresource deleted the pod")
            // Discovery lists the subresources served, the eviction as policy/v1 (what `kubectl drain` looks for).
            let discovery = try await Self.send(client, .GET, "/api/v1")
            let resources = try JSONDecoder().decode(JSON.self, from: Data(discovery.text.utf8))["resources"]?.arrayValue ?? []
            let eviction = resources.first { $0["name"]?.stringValue == "pods/eviction" }
            #expect(eviction?["group"] == .string("policy") && eviction?["version"] == .string("v1") && eviction?["kind"] == .string("Eviction"))
            #expect(resources.contains { $0["name"]?.stringValue == "pods/log" } && !resources.contains { $0["name"]?.stringValue == "configmaps/status" })
        }
    }

    @Test func kubectlDrainEvictsAndCordons() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.pods).status == 0)
            let node = try await kubectl.run("get", "pod", "web", "-o", "jsonpath={.spec.nodeName}").output
            let drained = try await kubectl.run("drain", node, "--force", "--grace-period=0", "--timeout=30s")
            #expect(drained.status == 0, "\(drained.output)")
            #expect(drained.output.contains("evicting pod default/web") && drained.output.contains("node/\(node) drained"), "\(drained.output)")
            #expect(try await kubectl.run("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").output == "true")
        }
    }
}
