import Foundation
import KubeAPI
import KubeClient
@testable import KubeSim
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// A field a kind does not have is never stored, as a real server's typed decoding never keeps
/// one: `fieldValidation=Strict` (what kubectl sends) refuses the write in the server's words,
/// `Warn` (the default) drops the field with a `Warning` header, `Ignore` drops it silently;
/// server-side apply refuses it whatever the directive.
@Suite struct FieldValidationTests {
    static let typo = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: api
          labels: {any-key.example.com/x: "free"}
          annotations: {also-free: "yes"}
        spec:
          replica: 2
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec:
              containers:
              - name: api
                image: example/api:1
                resources: {limits: {example.com/gpu: "1"}}
                lifecycle: {preStart: {exec: {command: [true]}}}
        """

    @Test func kubectlIsRefusedWhereARealServerRefusesAndWarnedWhereItWarns() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            // kubectl asks for `Strict`: the create is refused, naming every unknown field.
            let strict = try await kubectl.run("apply", "-f", "-", input: Self.typo)
            #expect(strict.status != 0)
            #expect(strict.output.contains(#"Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", unknown field "spec.template.spec.containers[0].lifecycle.preStart""#), "\(strict.output)")
            #expect(try await kubectl.run("get", "deployments", "-o", "name").output.isEmpty)

            // `Warn`: created without the fields, each named in a warning kubectl prints.
            let warned = try await kubectl.run("apply", "--validate=warn", "-f", "-", input: Self.typo)
            #expect(warned.status == 0, "\(warned.output)")
            #expect(warned.output.contains(#"Warning: unknown field "spec.replica""#) && warned.output.contains(#"Warning: unknown field "spec.template.spec.containers[0].lifecycle.preStart""#), "\(warned.output)")
            let cluster = try #require(sim.sim.clusters["a"])
            let stored = try cluster.get(ResourceType.find(group: "apps", version: "v1", resource: "deployments")!, namespace: "default", name: "api")
            #expect(stored[path: "spec.replica"] == nil)
            #expect(stored[path: "spec.replicas"] == .number(1), "defaulted, as the typo never set it")
            #expect(stored[path: "spec.template.spec.containers"]?.arrayValue?.first?["lifecycle"] == .object([:]))
            #expect(stored[path: "metadata.labels"]?["any-key.example.com/x"] == .string("free"), "maps of the user's keys are not looked into")
            #expect(cluster.unknownFieldsWarned == ["deployments.apps/api: spec.replica", "deployments.apps/api: spec.template.spec.containers[0].lifecycle.preStart"])

            // `Ignore`: dropped without a word.
            let ignored = try await kubectl.run("create", "--validate=false", "-f", "-", input: Self.typo.replacingOccurrences(of: "name: api\n", with: "name: quiet\n"))
            #expect(ignored.status == 0 && !ignored.output.contains("Warning"), "\(ignored.output)")
            #expect(cluster.unknownFieldsWarned.count == 2)
        }
    }

    @Test func patchesAreCheckedOnWhatTheyMake() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("create", "configmap", "settings", "--from-literal=a=b").status == 0)
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            func patch(_ body: String, type: String = "application/merge-patch+json", query: String = "") async throws -> (UInt, JSON, [String]) {
                let response = try await client.forward(
                    .PATCH, pathAndQuery: "/api/v1/namespaces/default/configmaps/settings" + query, headers: ["Content-Type": type],
                    body: .bytes(ByteBuffer(string: body)), impersonation: nil, timeout: .seconds(20)
                )
                let data = Data(String(buffer: try await response.body.collect(upTo: 1 << 20)).utf8)
                return (response.status.code, try JSONDecoder().decode(JSON.self, from: data), response.headers[canonicalForm: "warning"].map(String.init))
            }
            let strict = try await patch(#"{"data":{"c":"d"},"spec":{"x":1000000}}"#, type: "application/strategic-merge-patch+json", query: "?fieldValidation=Strict")
            #expect(strict.0 == 422)
            #expect(strict.1["message"]?.stringValue == #" "" is invalid: patch: Invalid value: "map[data:map[c:d] spec:map[x:1e+06]]": strict decoding error: unknown field "spec""#, "\(strict.1)")
            #expect(strict.1[path: "details.causes"]?.arrayValue?.first?["field"] == .string("patch"))
            let merge = try await patch(#"{"spec":{"x":1}}"#, query: "?fieldValidation=Strict")
            #expect(merge.0 == 422)
            #expect(merge.1["message"]?.stringValue?.contains(#"\"kind\":\"ConfigMap\""#) == true && merge.1["message"]?.stringValue?.hasSuffix(#"strict decoding error: unknown field "spec""#) == true, "\(merge.1)")
            #expect(try await kubectl.run("get", "configmap", "settings", "-o", "jsonpath={.data}").output == #"{"a":"b"}"#, "nothing of a refused patch kept")

            // No directive is `Warn`: the patch applies without the field, which a header names.
            let warned = try await patch(#"{"data":{"c":"d"},"spec":{"x":1}}"#)
            #expect(warned.0 == 200 && warned.1["spec"] == nil && warned.1[path: "data.c"] == .string("d"))
            #expect(warned.2 == [#"299 - "unknown field \"spec\"""#])
            let json = try await patch(#"[{"op":"add","path":"/immutable2","value":true}]"#, type: "application/json-patch+json", query: "?fieldValidation=Ignore")
            #expect(json.0 == 200 && json.1["immutable2"] == nil && json.2.isEmpty)

            let unsupported = try await patch(#"{"data":{"e":"f"}}"#, query: "?fieldValidation=Loud")
            #expect(unsupported.0 == 422)
            #expect(unsupported.1["message"]?.stringValue == #"PatchOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "Ignore", "Strict", "Warn""#, "\(unsupported.1)")
        }
    }

    @Test func kubectlApplyOnAnExistingObjectAndServerSideApplyAreRefusedToo() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment).status == 0)
            let typo = KubectlTests.deployment.replacingOccurrences(of: "replicas: 2", with: "replicas: 3\n  paused: false\n  minReadySecond: 5")
            // Client-side apply of a change is a strategic merge patch, checked on what it makes.
            let patched = try await kubectl.run("apply", "-f", "-", input: typo)
            #expect(patched.status != 0)
            #expect(patched.output.contains(#"strict decoding error: unknown field "spec.minReadySecond""#), "\(patched.output)")
            #expect(try await kubectl.run("get", "deployment", "api", "-o", "jsonpath={.spec.replicas}").output == "2")

            let applied = try await kubectl.run("apply", "--server-side", "--validate=false", "-f", "-", input: typo)
            #expect(applied.status != 0)
            #expect(applied.output.contains("failed to create typed patch object (default/api; apps/v1, Kind=Deployment): .spec.minReadySecond: field not declared in schema"), "\(applied.output)")
            let cluster = try #require(sim.sim.clusters["a"])
            #expect(cluster.unknownFieldsWarned.isEmpty)
        }
    }

    @Test func serverSideApplyNamesListItemsByTheirKeysAndOneFieldPerObject() {
        let deployment = ResourceType.find(group: "apps", version: "v1", resource: "deployments")!
        let object: JSON = .object([
            "metadata": .object(["name": .string("api"), "nmae": .string("x"), "zzz": .null]),
            "spec": .object(["template": .object(["spec": .object(["containers": .array([
                .object(["name": .string("app"), "ports": .array([.object(["containerPort": .number(80), "protocol": .string("TCP"), "hostPortt": .number(1)])])]),
                .object(["image": .string("no-name"), "bogus": .bool(true)]),
            ])])])]),
        ])
        let unknown = FieldPruning.prune(object, type: deployment).unknown
        #expect(unknown.map(\.path) == ["metadata.nmae", "metadata.zzz", "spec.template.spec.containers[0].ports[0].hostPortt", "spec.template.spec.containers[1].bogus"])
        let status = FieldValidation.refusedApply(FieldPruning.firstPerObject(unknown).map { "\($0.applyPath): field not declared in schema" }, type: deployment, namespace: "default", name: "api")
        #expect(status.code == 500)
        #expect(status.message == """
            failed to create typed patch object (default/api; apps/v1, Kind=Deployment): errors:
              .metadata.nmae: field not declared in schema
              .spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].hostPortt: field not declared in schema
              .spec.template.spec.containers[1].bogus: field not declared in schema
            """)
        // Kinds without a shape (access reviews) are kept whole.
        let review = ResourceType.find(group: "authorization.k8s.io", version: "v1", resource: "selfsubjectaccessreviews")!
        #expect(FieldPruning.prune(.object(["anything": .bool(true)]), type: review).unknown.isEmpty)
    }

    @Test func valuesOfTheWrongTypeAreRefusedWhateverTheDirective() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let quoted = KubectlTests.deployment.replacingOccurrences(of: "replicas: 2", with: "replicas: \"2\"")
            for validate in ["--validate=strict", "--validate=false"] {
                let refused = try await kubectl.run("apply", validate, "-f", "-", input: quoted)
                #expect(refused.status != 0)
                #expect(refused.output.contains(#"Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"#), "\(refused.output)")
            }
            let applied = try await kubectl.run("apply", "--server-side", "-f", "-", input: quoted)
            #expect(applied.output.contains("failed to create typed patch object (default/api; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string"), "\(applied.output)")
            #expect(try await kubectl.run("get", "deployments", "-o", "name").output.isEmpty)

            #expect(try await kubectl.run("apply", "-f", "-", input: KubectlTests.deployment).status == 0)
            let strategic = try await kubectl.run("patch", "deployment", "api", "-p", #"{"spec":{"replicas":"3"}}"#)
            #expect(strategic.output.contains(#"Invalid value: "map[spec:map[replicas:3]]": unrecognized type: int32"#), "\(strategic.output)")
            let merge = try await kubectl.run("patch", "deployment", "api", "--type=merge", "-p", #"{"spec":{"template":{"spec":{"containers":[{"name":"api","image":"example/api:1","env":[{"name":"PORT","value":8080}]}]}}}}"#)
            #expect(merge.output.contains("json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string"), "\(merge.output)")
            #expect(try await kubectl.run("get", "deployment", "api", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].env}").output == "2 ")
        }
    }

    @Test(arguments: [
        (#"{"spec":{"replicas":1.5}}"#, "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        (#"{"spec":{"replicas":3000000000}}"#, "json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        (#"{"spec":{"paused":"yes"}}"#, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
        (#"{"spec":{"template":{"spec":{"containers":{"name":"x"}}}}}"#, "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
        (#"{"spec":{"template":{"spec":{"containers":[{"name":"x","args":["--port",8080]}]}}}}"#, "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.args of type string"),
        (#"{"spec":{"template":{"spec":{"containers":[{"name":"x","ports":[{"containerPort":"http"}]}]}}}}"#, "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"),
        (#"{"metadata":{"name":7}}"#, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"),
        (#"{"spec":"big"}"#, "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"),
        (#"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"25%"}},"template":{"metadata":{"labels":{"a":"b"}}}}}"#, nil),
    ] as [(String, String?)])
    func wrongTypesAreNamedAsGosDecoderNamesThem(body: String, error: String?) throws {
        let deployment = ResourceType.find(group: "apps", version: "v1", resource: "deployments")!
        let object = try JSONDecoder().decode(JSON.self, from: Data(body.utf8))
        #expect(FieldTypes.firstMismatch(object, type: deployment)?.decodeError == error)
    }

    @Test(arguments: [
        (1_000_000, "1e+06"), (100_000, "100000"), (1.5, "1.5"), (-2, "-2"), (0.0001, "0.0001"), (0.00001, "1e-05"),
        (123_456_789, "1.23456789e+08"), (0, "0"), (1e21, "1e+21"), (0.25, "0.25"), (12.5e-7, "1.25e-06"),
    ])
    func numbersPrintAsGoPrintsAFloat(number: Double, printed: String) {
        #expect(GoValue.float(number) == printed)
    }
}
