import Foundation
import KubeAPI
@testable import KubeSim
import Testing
import TestSupport

/// A pod's spec and a stateful set's change only where a real server lets them: anything else
/// is one `spec: Forbidden` in its words, and nothing of the update is kept.
@Suite struct SpecUpdateTests {
    @Test func aPodChangesOnlyItsImagesDeadlineAndTolerations() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: KubectlTests.pod).status == 0)
            let image = try await kubectl.run("set", "image", "pod/web", "nginx=nginx:1.27")
            #expect(image.status == 0, "\(image.output)")
            let deadline = try await kubectl.run("patch", "pod", "web", "-p", #"{"spec":{"activeDeadlineSeconds":600,"tolerations":[{"key":"gpu","operator":"Exists"}]}}"#)
            #expect(deadline.status == 0, "\(deadline.output)")

            // A changed request, as someone re-applying an edited manifest would send it.
            let resized = try await kubectl.run("apply", "-f", "-", input: KubectlTests.pod.replacingOccurrences(of: "cpu: 100m", with: "cpu: 200m"))
            #expect(resized.status != 0)
            #expect(resized.output.contains("The Pod \"web\" is invalid: spec: Forbidden: \(SpecUpdates.podRule)"), "\(resized.output)")
            #expect(resized.output.contains("Containers:"), "the changed field is named: \(resized.output)")
            let untolerated = try await kubectl.run("patch", "pod", "web", "--type=json", "-p", #"[{"op":"remove","path":"/spec/tolerations"}]"#)
            #expect(untolerated.status != 0 && untolerated.output.contains("pod updates may not change fields other than"), "\(untolerated.output)")
            let stored = try await kubectl.run("get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image} {.spec.containers[0].resources.requests.cpu} {.spec.tolerations[0].key} {.spec.activeDeadlineSeconds}")
            #expect(stored.output == "nginx:1.27 100m gpu 600", "\(stored.output)")
            #expect(try await kubectl.run("label", "pod", "web", "tier=front").status == 0, "its metadata still changes")
        }
    }

    static let statefulSet = """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          serviceName: db
          replicas: 1
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec:
              containers: [{name: db, image: postgres:16}]
        """

    @Test func aStatefulSetChangesOnlyWhatARealServerLetsChange() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: Self.statefulSet).status == 0)
            #expect(try await kubectl.run("scale", "statefulset", "db", "--replicas=2").status == 0)
            let template = try await kubectl.run("apply", "-f", "-", input: Self.statefulSet.replacingOccurrences(of: "postgres:16", with: "postgres:17"))
            #expect(template.status == 0, "\(template.output)")
            let renamed = try await kubectl.run("patch", "statefulset", "db", "--type=merge", "-p", #"{"spec":{"serviceName":"other"}}"#)
            #expect(renamed.status != 0)
            #expect(renamed.output.contains("The StatefulSet \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"), "\(renamed.output)")
            let claims = try await kubectl.run("patch", "statefulset", "db", "--type=merge", "-p", #"{"spec":{"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}"#)
            #expect(claims.status != 0 && claims.output.contains("updates to statefulset spec for fields other than"), "\(claims.output)")
            let stored = try await kubectl.run("get", "statefulset", "db", "-o", "jsonpath={.spec.serviceName} {.spec.template.spec.containers[0].image} {.spec.volumeClaimTemplates}")
            #expect(stored.output == "db postgres:17 ", "\(stored.output)")
        }
    }
}
