import Foundation
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// Quantities, quotas and limit ranges are checked as a real API server checks them: a quantity it
/// cannot decode is a 400, a quota or limit range that breaks a rule a 422 in its words, on create
/// and on update, nothing of a refused write kept.
@Suite struct SpecValidationTests {
    static let pattern = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

    @Test func quantitiesThatDoNotDecodeAreBadRequests() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let quota = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: v1
                kind: ResourceQuota
                metadata: {name: compute}
                spec: {hard: {cpu: lots}}
                """)
            #expect(quota.status != 0)
            #expect(quota.output.contains("Error from server (BadRequest)") && quota.output.contains("ResourceQuota in version \"v1\" cannot be handled as a ResourceQuota: \(Self.pattern)"), "\(quota.output)")
            #expect(try await kubectl.run("get", "resourcequota", "compute").status != 0)
            let pod = try await kubectl.run("apply", "-f", "-", input: KubectlTests.pod.replacingOccurrences(of: "cpu: 100m", with: "cpu: 5Gu"))
            #expect(pod.output.contains("Pod in version \"v1\" cannot be handled as a Pod: unable to parse quantity's suffix"), "\(pod.output)")
            let deployment = try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment.replacingOccurrences(of: "image: example/api:1}", with: "image: example/api:1, resources: {requests: {memory: 1.2.3Gi}}}"))
            #expect(deployment.output.contains("Deployment in version \"v1\" cannot be handled as a Deployment: unable to parse numeric part of quantity"), "\(deployment.output)")
            #expect(try await kubectl.run("get", "deployments", "-o", "name").output.isEmpty)
        }
    }

    @Test func quotasAreValidatedAsARealServerValidatesThem() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let path = "/api/v1/namespaces/default/resourcequotas"
            let bad = try await RBACTests.post(client, path, #"{"metadata":{"name":"compute"},"spec":{"hard":{"cpu":"-1","foo":"1","pods":"1500m"}}}"#)
            #expect(bad.0 == 422)
            let causes = bad.1[path: "details.causes"]?.arrayValue?.map { "\($0["field"]?.stringValue ?? ""): \($0["message"]?.stringValue ?? "")" }
            #expect(causes == [
                "spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
                "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
                "spec.hard[pods]: Invalid value: \"1500m\": must be an integer",
            ], "\(bad.1)")
            #expect(bad.1["message"]?.stringValue?.hasPrefix("ResourceQuota \"compute\" is invalid: [spec.hard[cpu]: Invalid value: \"-1\"") == true)
            // Object counts, per-class storage and extended resources are names with a prefix.
            let good = try await RBACTests.post(client, path, #"{"metadata":{"name":"compute"},"spec":{"hard":{"cpu":"2","count/deployments.apps":"3","gold.storageclass.storage.k8s.io/requests.storage":"10Gi","requests.nvidia.com/gpu":"1"}}}"#)
            #expect(good.0 == 201, "\(good.1)")
            // An update is checked too, and a refused one changes nothing.
            var quota = try await client.get(ResourceQuota.self, "compute", namespace: "default")
            quota.spec?.hard?["count/deployments.apps"] = Quantity(milli: 2500)
            let refused = await #expect(throws: KubeError.self) { try await client.update(quota) }
            #expect(refused?.status?.message == "ResourceQuota \"compute\" is invalid: spec.hard[count/deployments.apps]: Invalid value: \"2500m\": must be an integer")
            #expect(try await client.get(ResourceQuota.self, "compute", namespace: "default").spec?.hard?["count/deployments.apps"] == Quantity(3))
        }
    }

    @Test func limitRangesKeepMinDefaultRequestDefaultAndMaxInOrder() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let inverted = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: v1
                kind: LimitRange
                metadata: {name: defaults}
                spec:
                  limits:
                  - type: Container
                    default: {cpu: 500m}
                    defaultRequest: {cpu: 800m}
                    max: {memory: 1Gi}
                    min: {memory: 2Gi}
                  - type: Pod
                    default: {cpu: 1}
                """)
            #expect(inverted.status != 0)
            for cause in [
                "spec.limits[0].defaultRequest[cpu]: Invalid value: \"800m\": default request value 800m is greater than default limit value 500m",
                "spec.limits[0].min[memory]: Invalid value: \"2Gi\": min value 2Gi is greater than max value 1Gi",
                "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
            ] {
                #expect(inverted.output.contains(cause), "\(inverted.output)")
            }
            #expect(try await kubectl.run("get", "limitrange", "defaults").status != 0)
            let unknown = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: v1
                kind: LimitRange
                metadata: {name: defaults}
                spec:
                  limits:
                  - {type: Container, defaultRequest: {pods: 1}}
                  - {type: Container, maxLimitRequestRatio: {cpu: 500m}}
                """)
            #expect(unknown.output.contains("spec.limits[0].defaultRequest[pods]: Invalid value: \"pods\": must be a standard resource for containers"), "\(unknown.output)")
            #expect(unknown.output.contains("spec.limits[1].type: Duplicate value: \"Container\""), "\(unknown.output)")
            #expect(unknown.output.contains("spec.limits[1].maxLimitRequestRatio[cpu]: Invalid value: \"500m\": ratio 500m is less than 1"), "\(unknown.output)")
            // What Canopy writes (`canopy-defaults`: default requests only) is valid.
            let canopys = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: v1
                kind: LimitRange
                metadata: {name: canopy-defaults}
                spec: {limits: [{type: Container, defaultRequest: {cpu: 100m, memory: 128Mi}}]}
                """)
            #expect(canopys.output.contains("limitrange/canopy-defaults created"), "\(canopys.output)")
        }
    }
}
