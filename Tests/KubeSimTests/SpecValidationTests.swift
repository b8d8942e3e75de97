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

    @Test func bindingsAndRulesAreValidatedAndARoleRefNeverChanges() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let bindings = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
            let bare = try await RBACTests.post(client, bindings, #"{"metadata":{"name":"devs"},"roleRef":{"apiGroup":"rbac","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"Group","name":"devs","apiGroup":"example.com"},{"kind":"Robot","name":""}]}"#)
            let causes = bare.1[path: "details.causes"]?.arrayValue?.map { "\($0["field"]?.stringValue ?? ""): \($0["message"]?.stringValue ?? "")" }
            #expect(causes == [
                "roleRef.apiGroup: Unsupported value: \"rbac\": supported values: \"rbac.authorization.k8s.io\"",
                "subjects[0].apiGroup: Unsupported value: \"example.com\": supported values: \"rbac.authorization.k8s.io\"",
                "subjects[1].name: Required value",
                "subjects[1].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
            ], "\(bare.1)")
            // Left out, the API groups are filled in, as a real server's defaults do.
            let defaulted = try await RBACTests.post(client, bindings, #"{"metadata":{"name":"readers"},"roleRef":{"kind":"ClusterRole","name":"view"},"subjects":[{"kind":"Group","name":"devs"},{"kind":"ServiceAccount","name":"ci"}]}"#)
            #expect(defaulted.0 == 201 && defaulted.1[path: "roleRef.apiGroup"] == .string("rbac.authorization.k8s.io"), "\(defaulted.1)")
            #expect(defaulted.1["subjects"]?.arrayValue?.map { $0["apiGroup"]?.stringValue } == ["rbac.authorization.k8s.io", nil])
            let clusterWide = try await RBACTests.post(client, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", #"{"metadata":{"name":"devs"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"view"},"subjects":[{"kind":"ServiceAccount","name":"ci"}]}"#)
            #expect(clusterWide.1["message"]?.stringValue == "ClusterRoleBinding.rbac.authorization.k8s.io \"devs\" is invalid: [roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\", subjects[0].namespace: Required value]", "\(clusterWide.1)")
            let rules = try await RBACTests.post(client, "/apis/rbac.authorization.k8s.io/v1/clusterroles", #"{"metadata":{"name":"reader"},"rules":[{"resources":["pods"],"verbs":["get"]},{"nonResourceURLs":["/healthz"],"resources":["pods"],"verbs":[]}]}"#)
            #expect(rules.1["message"]?.stringValue == "ClusterRole.rbac.authorization.k8s.io \"reader\" is invalid: [rules[0].apiGroups: Required value: resource rules must supply at least one api group, rules[1].verbs: Required value: verbs must contain at least one value, rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: rules cannot apply to both regular resources and non-resource URLs]", "\(rules.1)")

            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("create", "rolebinding", "devs", "--clusterrole=view", "--group=devs").status == 0)
            let changed = try await kubectl.run("patch", "rolebinding", "devs", "--type=merge", "-p", #"{"roleRef":{"name":"admin"}}"#)
            #expect(changed.status != 0)
            #expect(changed.output.contains(#"The RoleBinding "devs" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"admin"}: cannot change roleRef"#), "\(changed.output)")
            #expect(try await kubectl.run("get", "rolebinding", "devs", "-o", "jsonpath={.roleRef.name}").output == "view")
            // Its subjects may change.
            #expect(try await kubectl.run("set", "subject", "rolebinding", "devs", "--user=alice").status == 0)
        }
    }

    @Test func networkPoliciesAreValidatedAsARealServerValidatesThem() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let path = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies"
            let bad = try await RBACTests.post(client, path, """
                {"metadata":{"name":"odd"},"spec":{"podSelector":{"matchLabels":{"app":"has space"},"matchExpressions":[{"key":"tier","operator":"Has"}]},
                "policyTypes":["Ingress","Sideways"],"ingress":[{"ports":[{"protocol":"ICMP","port":80}],
                "from":[{},{"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}]}]}}
                """)
            #expect(bad.0 == 422)
            let causes = bad.1[path: "details.causes"]?.arrayValue ?? []
            #expect(causes.compactMap { $0["field"]?.stringValue } == [
                "spec.podSelector.matchLabels", "spec.podSelector.matchExpressions[0].operator", "spec.ingress[0].ports[0].protocol",
                "spec.ingress[0].from[0]", "spec.ingress[0].from[1]", "spec.policyTypes[1]",
            ], "\(bad.1)")
            let messages = causes.compactMap { $0["message"]?.stringValue }
            #expect(messages.contains("Invalid value: \"Has\": not a valid selector operator"))
            #expect(messages.contains("Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""))
            #expect(messages.contains("Required value: must specify a peer"))
            #expect(messages.contains("Forbidden: may not specify both ipBlock and another peer"))
            #expect(messages.contains("Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\""))
            // Canopy's own policy (traffic from the same project's namespaces only) is valid.
            let canopys = try await RBACTests.post(client, path, """
                {"metadata":{"name":"canopy-same-project"},"spec":{"podSelector":{},"policyTypes":["Ingress"],
                "ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"canopy.io/tenant":"coke","canopy.io/project":"marketing"}}}]}]}}
                """)
            #expect(canopys.0 == 201, "\(canopys.1)")
        }
    }

    @Test func workloadsNeedASelectorMatchingTheirTemplateAndKeepIt() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let unselected = KubectlTests.deployment.replacingOccurrences(of: "  selector: {matchLabels: {app: api}}\n", with: "")
            let missing = try await kubectl.run("apply", "-f", "-", input: unselected)
            // kubectl lists a refusal's causes one per line.
            #expect(missing.output.contains("The Deployment \"api\" is invalid: \n* spec.selector: Required value\n* spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels`"), "\(missing.output)")
            let negative = try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment.replacingOccurrences(of: "replicas: 2", with: "replicas: -1"))
            #expect(negative.output.contains("The Deployment \"api\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "\(negative.output)")
            #expect(try await kubectl.run("get", "deployments", "-o", "name").output.isEmpty)

            #expect(try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment).status == 0)
            let moved = KubectlTests.deployment.replacingOccurrences(of: "app: api}", with: "app: api2}")
            let immutable = try await kubectl.run("apply", "-f", "-", input: moved)
            #expect(immutable.output.contains("The Deployment \"api\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"), "\(immutable.output)")
            #expect(try await kubectl.run("get", "deployment", "api", "-o", "jsonpath={.spec.selector.matchLabels.app}").output == "api")

            let daemons = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: apps/v1
                kind: DaemonSet
                metadata: {name: agent}
                spec:
                  selector: {matchLabels: {app: agent}}
                  template:
                    metadata: {labels: {app: other}}
                    spec:
                      restartPolicy: Never
                      containers: [{name: agent, image: busybox}, {name: agent}]
                """)
            #expect(daemons.output.contains("The DaemonSet \"agent\" is invalid: \n* spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`\n* spec.template.spec.containers[1].name: Duplicate value: \"agent\"\n* spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""), "\(daemons.output)")
            let everything = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: apps/v1
                kind: StatefulSet
                metadata: {name: db}
                spec:
                  selector: {}
                  template:
                    metadata: {labels: {app: db}}
                    spec: {containers: [{name: db, image: postgres}]}
                """)
            #expect(everything.output.contains("The StatefulSet \"db\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset"), "\(everything.output)")
        }
    }

    @Test func jobsEndAndCronJobsHaveASchedule() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let jobs = "/apis/batch/v1/namespaces/default/jobs"
            let restarting = try await RBACTests.post(client, jobs, #"{"metadata":{"name":"once"},"spec":{"parallelism":-1,"template":{"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"#)
            #expect(restarting.1["message"]?.stringValue == "Job.batch \"once\" is invalid: [spec.parallelism: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"]", "\(restarting.1)")
            let fine = try await RBACTests.post(client, jobs, #"{"metadata":{"name":"once"},"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}"#)
            #expect(fine.0 == 201, "\(fine.1)")

            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let badSchedule = try await kubectl.run("create", "cronjob", "nightly", "--image=busybox", "--schedule=every night")
            #expect(badSchedule.output.contains("CronJob.batch \"nightly\" is invalid: spec.schedule: Invalid value: \"every night\": expected exactly 5 fields, found 2: [every night]"), "\(badSchedule.output)")
            let always = try await kubectl.run("apply", "-f", "-", input: """
                apiVersion: batch/v1
                kind: CronJob
                metadata: {name: nightly}
                spec:
                  schedule: "TZ=UTC 0 3 * * *"
                  concurrencyPolicy: Sometimes
                  jobTemplate:
                    spec:
                      template:
                        spec: {restartPolicy: Always, containers: [{name: c, image: busybox}]}
                """)
            for cause in [
                "spec.schedule: Invalid value: \"TZ=UTC 0 3 * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
                "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
            ] {
                #expect(always.output.contains(cause), "\(always.output)")
            }
            #expect(try await kubectl.run("create", "cronjob", "nightly", "--image=busybox", "--schedule=@daily").status == 0)
        }
    }

    @Test func podsNeedNamedContainersWithImages() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let pods = "/api/v1/namespaces/default/pods"
            let bare = try await RBACTests.post(client, pods, #"{"metadata":{"name":"p"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"Web_1"},{"name":"","image":"nginx"}]}}"#)
            #expect(bare.1["message"]?.stringValue == "Pod \"p\" is invalid: [spec.containers[0].name: Invalid value: \"Web_1\": \(MetadataValidationTests.labelRule), spec.containers[0].image: Required value, spec.containers[1].name: Required value, spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"]", "\(bare.1)")
            let none = try await RBACTests.post(client, pods, #"{"metadata":{"name":"p"},"spec":{}}"#)
            #expect(none.1["message"]?.stringValue == "Pod \"p\" is invalid: spec.containers: Required value", "\(none.1)")
            // A template may leave the image to whoever fills it in; a pod may not.
            let deployments = "/apis/apps/v1/namespaces/default/deployments"
            let imageless = try await RBACTests.post(client, deployments, #"{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c"}]}}}}"#)
            #expect(imageless.0 == 201, "\(imageless.1)")
        }
    }
}
