import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// Pods and pod templates are stored with a real server's defaults, which `kubectl get -o yaml`
/// shows although the manifest never said them.
@Suite struct PodDefaultsTests {
    @Test func podsAndTemplatesGetARealServersDefaults() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let manifest = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  replicas: 1
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      containers: [{name: c, image: "nginx:1.27", ports: [{containerPort: 80}]}]
                """
            #expect(try await kubectl.run("apply", "-f", "-", input: manifest).status == 0)
            let template = try await kubectl.run("get", "deployment", "web", "-o", """
                jsonpath={.spec.template.spec.dnsPolicy} {.spec.template.spec.restartPolicy} {.spec.template.spec.schedulerName} \
                {.spec.template.spec.terminationGracePeriodSeconds} {.spec.template.spec.securityContext} \
                {.spec.template.spec.containers[0].imagePullPolicy} {.spec.template.spec.containers[0].terminationMessagePath} \
                {.spec.template.spec.containers[0].terminationMessagePolicy} {.spec.template.spec.containers[0].ports[0].protocol}
                """)
            #expect(template.output == "ClusterFirst Always default-scheduler 30 {} IfNotPresent /dev/termination-log File TCP", "\(template.output)")
            try await eventually(within: 10, "the deployment's pod") {
                try await kubectl.run("get", "pods", "-l", "app=web", "-o", "name").output.hasPrefix("pod/web-")
            }
            let pod = try await kubectl.run("get", "pods", "-l", "app=web", "-o", """
                jsonpath={.items[0].spec.enableServiceLinks} {.items[0].spec.serviceAccountName} {.items[0].spec.serviceAccount} \
                {.items[0].spec.dnsPolicy} {.items[0].spec.containers[0].imagePullPolicy}
                """)
            #expect(pod.output == "true default default ClusterFirst IfNotPresent", "\(pod.output)")
            // Applied again, the same manifest changes nothing: no second ReplicaSet.
            let again = try await kubectl.run("apply", "-f", "-", input: manifest)
            #expect(again.output.contains("deployment.apps/web unchanged"), "\(again.output)")
            #expect(try await kubectl.run("get", "replicasets", "-o", "name").output.split(separator: "\n").count == 1)
        }
    }

    /// Each pod's QoS class, set by the server on create and kept by updates.
    @Test func podsGetTheirQoSClass() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let pods: [(String, String, String)] = [
                ("bare", "{}", "BestEffort"),
                ("requests", "{requests: {cpu: 100m}}", "Burstable"),
                ("limits", "{limits: {cpu: 200m, memory: 64Mi}}", "Guaranteed"),
                ("equal", "{requests: {cpu: 200m, memory: 64Mi}, limits: {cpu: 200m, memory: 64Mi}}", "Guaranteed"),
                ("lower", "{requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 200m, memory: 64Mi}}", "Burstable"),
                ("cpu-only", "{limits: {cpu: 200m}}", "Burstable"),
            ]
            for (name, resources, _) in pods {
                let created = try await kubectl.run("create", "-f", "-", input: "apiVersion: v1\nkind: Pod\nmetadata: {name: \(name)}\nspec:\n  containers: [{name: c, image: nginx, resources: \(resources)}]\n")
                #expect(created.status == 0, "\(name): \(created.output)")
            }
            #expect(try await kubectl.run("label", "pod", "limits", "tier=db").status == 0)
            for (name, _, qos) in pods {
                #expect(try await kubectl.run("get", "pod", name, "-o", "jsonpath={.status.qosClass}").output == qos, "\(name)")
            }
        }
    }

    /// The pull policy by the image's tag: `latest`, or none, is `Always`; a registry's port is
    /// no tag; a digest is `IfNotPresent`.
    @Test func pullPoliciesFollowTheImagesTag() {
        let table: [(String, String)] = [
            ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
            ("registry.local:5000/team/app", "Always"), ("registry.local:5000/team/app:2", "IfNotPresent"),
            ("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent"),
        ]
        for (image, policy) in table {
            let defaulted = PodDefaults.container(.object(["name": .string("c"), "image": .string(image)]))
            #expect(defaulted["imagePullPolicy"] == .string(policy), "\(image)")
        }
        let given = PodDefaults.container(.object(["name": .string("c"), "image": .string("busybox"), "imagePullPolicy": .string("Never")]))
        #expect(given["imagePullPolicy"] == .string("Never"))
    }
}
