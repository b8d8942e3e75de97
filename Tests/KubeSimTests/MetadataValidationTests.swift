import Foundation
import KubeAPI
import KubeClient
import KubeSim
import NIOCore
import Testing
import TestSupport

/// Names, labels and annotations are validated as a real API server validates them, with its
/// words, on create and on every update; what is refused is not stored.
@Suite struct MetadataValidationTests {
    static let subdomainRule = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let labelRule = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

    /// Every namespace carries `kubernetes.io/metadata.name` with its name, as a real server's
    /// namespace strategy sets it on create and update: a client cannot remove or change it.
    @Test func namespacesAreLabelledWithTheirName() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("create", "namespace", "team-a").status == 0)
            #expect(try await kubectl.run("label", "namespace", "team-a", "tier=web").status == 0)
            func labels() async throws -> String { try await kubectl.run("get", "namespace", "team-a", "-o", "jsonpath={.metadata.labels}").output }
            #expect(try await labels() == #"{"kubernetes.io/metadata.name":"team-a","tier":"web"}"#)
            _ = try await kubectl.run("label", "namespace", "team-a", "kubernetes.io/metadata.name-")
            _ = try await kubectl.run("label", "namespace", "team-a", "kubernetes.io/metadata.name=other", "--overwrite")
            #expect(try await labels() == #"{"kubernetes.io/metadata.name":"team-a","tier":"web"}"#)
            let selected = try await kubectl.run("get", "namespaces", "-l", "kubernetes.io/metadata.name in (default,team-a)", "-o", "name")
            #expect(selected.output.split(separator: "\n") == ["namespace/default", "namespace/team-a"], "\(selected.output)")
        }
    }

    @Test func kubectlGetsARealServersRefusalForNamesThatBreakTheirKindsRule() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let underscore = try await kubectl.run("create", "configmap", "Bad_Name", "--from-literal=a=b")
            #expect(underscore.status != 0)
            #expect(underscore.output.contains("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": \(Self.subdomainRule)"), "\(underscore.output)")
            #expect(try await kubectl.run("get", "configmap", "Bad_Name").output.contains("configmaps \"Bad_Name\" not found"))
            // A dotted name is a subdomain: fine for a ConfigMap, not for a namespace.
            #expect(try await kubectl.run("create", "configmap", "app.settings").status == 0)
            let dotted = try await kubectl.run("create", "namespace", "team.a")
            #expect(dotted.output.contains("Namespace \"team.a\" is invalid: metadata.name: Invalid value: \"team.a\": must not contain dots"), "\(dotted.output)")
            let upper = try await kubectl.run("create", "namespace", "Team")
            #expect(upper.output.contains("Namespace \"Team\" is invalid: metadata.name: Invalid value: \"Team\": \(Self.labelRule)"), "\(upper.output)")
            let long = String(repeating: "a", count: 64)
            let tooLong = try await kubectl.run("create", "namespace", long)
            // The name is also the value of the label every namespace gets before validation.
            #expect(tooLong.output.contains("* metadata.name: Invalid value: \"\(long)\": must be no more than 63 characters\n* metadata.labels: Invalid value: \"\(long)\": must be no more than 63 characters"), "\(tooLong.output)")
            #expect(try await kubectl.run("get", "namespace", "Team").status != 0)
            // A Service's name is a DNS-1035 label: it starts with a letter.
            let digit = try await kubectl.run("create", "service", "clusterip", "1web", "--tcp=80")
            #expect(digit.output.contains("Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"), "\(digit.output)")
            // RBAC names only need to fit in a path segment, as Canopy's `canopy:member` does.
            #expect(try await kubectl.run("create", "role", "canopy:member", "--verb=get", "--resource=pods").status == 0)
            // A cron job's name leaves room for the suffix of the jobs it starts.
            let cron = String(repeating: "c", count: 53)
            let longCron = try await kubectl.run("create", "cronjob", cron, "--image=busybox", "--schedule=*/5 * * * *")
            #expect(longCron.output.contains("CronJob.batch \"\(cron)\" is invalid: metadata.name: Invalid value: \"\(cron)\": must be no more than 52 characters"), "\(longCron.output)")
        }
    }

    @Test func labelsAndAnnotationsAreCheckedOnCreateAndOnEveryUpdate() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let long = String(repeating: "v", count: 64)
            let manifest = """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: settings
                  labels: {tier: "\(long)"}
                data: {a: b}
                """
            let refused = try await kubectl.run("apply", "-f", "-", input: manifest)
            #expect(refused.output.contains("ConfigMap \"settings\" is invalid: metadata.labels: Invalid value: \"\(long)\": must be no more than 63 characters"), "\(refused.output)")
            #expect(try await kubectl.run("get", "configmap", "settings").status != 0)

            #expect(try await kubectl.run("create", "configmap", "settings", "--from-literal=a=b").status == 0)
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            func patch(_ body: String) async throws -> (UInt, JSON) {
                let response = try await client.forward(
                    .PATCH, pathAndQuery: "/api/v1/namespaces/default/configmaps/settings", headers: ["Content-Type": "application/merge-patch+json"],
                    body: .bytes(ByteBuffer(string: body)), impersonation: nil, timeout: .seconds(20)
                )
                let data = Data(String(buffer: try await response.body.collect(upTo: 1 << 20)).utf8)
                return (response.status.code, try JSONDecoder().decode(JSON.self, from: data))
            }
            let key = try await patch(#"{"metadata":{"labels":{"a/b/c":"x","team":"has space"}}}"#)
            #expect(key.0 == 422)
            let causes = key.1[path: "details.causes"]?.arrayValue ?? []
            #expect(causes.map { $0["field"]?.stringValue } == ["metadata.labels", "metadata.labels"])
            #expect(causes.first?["message"]?.stringValue == "Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
            #expect(causes.last?["message"]?.stringValue == "Invalid value: \"has space\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
            #expect(key.1["message"]?.stringValue?.hasPrefix("ConfigMap \"settings\" is invalid: [metadata.labels: Invalid value: \"a/b/c\": ") == true)
            let prefix = try await patch(#"{"metadata":{"annotations":{"Example.COM_/x":"y"}}}"#)
            #expect(prefix.1[path: "details.causes"]?.arrayValue?.first?["message"]?.stringValue?.hasPrefix("Invalid value: \"Example.COM_/x\": prefix part a lowercase RFC 1123 subdomain must consist of") == true, "\(prefix.1)")
            // Nothing of a refused update was kept; a valid one goes through (an empty value is valid).
            let kept = try await client.get(ConfigMap.self, "settings", namespace: "default")
            #expect(kept.metadata.labels == nil && kept.metadata.annotations == nil)
            #expect(try await patch(#"{"metadata":{"labels":{"example.com/team":"","Tier":"front_1"}}}"#).0 == 200)
            // A ConfigMap's and a Secret's keys are file names: no spaces, no `..` in front.
            let spaced = try await RBACTests.post(client, "/api/v1/namespaces/default/configmaps", #"{"metadata":{"name":"spaced"},"data":{"bad key":"v"}}"#)
            #expect(spaced.1["message"]?.stringValue == "ConfigMap \"spaced\" is invalid: data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')", "\(spaced.1)")
            let dotted = try await RBACTests.post(client, "/api/v1/namespaces/default/secrets", #"{"metadata":{"name":"dotted"},"data":{"..hidden":"dg=="}}"#)
            #expect(dotted.1["message"]?.stringValue == "Secret \"dotted\" is invalid: data[..hidden]: Invalid value: \"..hidden\": must not start with '..'", "\(dotted.1)")
        }
    }

    /// A client-side `kubectl apply` keeps the whole object in an annotation: past 256 KiB a real
    /// server refuses it (a known trap with large ConfigMaps and CRDs); a server-side apply does not.
    @Test func annotationsOver256KiBAreRefusedAsARealServerRefusesThem() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            let manifest = """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: dashboards}
                data: {big: "\(String(repeating: "x", count: 300_000))"}
                """
            let clientSide = try await kubectl.run("apply", "-f", "-", input: manifest)
            #expect(clientSide.status != 0)
            #expect(clientSide.output.contains("ConfigMap \"dashboards\" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes"), "\(clientSide.output.prefix(400))")
            let serverSide = try await kubectl.run("apply", "--server-side", "-f", "-", input: manifest)
            #expect(serverSide.output.contains("configmap/dashboards serverside-applied"), "\(serverSide.output.prefix(400))")
        }
    }

    @Test func generatedNamesAreCheckedByTheirPrefix() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            let good = try await RBACTests.post(client, "/api/v1/namespaces/default/configmaps", #"{"metadata":{"generateName":"web-"}}"#)
            #expect(good.0 == 201 && good.1[path: "metadata.name"]?.stringValue?.hasPrefix("web-") == true, "\(good)")
            let bad = try await RBACTests.post(client, "/api/v1/namespaces/default/configmaps", #"{"metadata":{"generateName":"Web-"}}"#)
            #expect(bad.0 == 422)
            let fields = bad.1[path: "details.causes"]?.arrayValue?.compactMap { $0["field"]?.stringValue }
            #expect(fields == ["metadata.generateName", "metadata.name"], "\(bad.1)")
            // Path-segment names (RBAC) may not be `..` nor hold a slash.
            let dots = try await RBACTests.post(client, "/apis/rbac.authorization.k8s.io/v1/clusterroles", #"{"metadata":{"name":".."}}"#)
            #expect(dots.1["message"]?.stringValue == "ClusterRole.rbac.authorization.k8s.io \"..\" is invalid: metadata.name: Invalid value: \"..\": may not be '..'")
            let slash = try await RBACTests.post(client, "/apis/rbac.authorization.k8s.io/v1/clusterroles", #"{"metadata":{"name":"a/b%c"}}"#)
            #expect(slash.1["message"]?.stringValue == "ClusterRole.rbac.authorization.k8s.io \"a/b%c\" is invalid: [metadata.name: Invalid value: \"a/b%c\": may not contain '/', metadata.name: Invalid value: \"a/b%c\": may not contain '%']")
        }
    }
}
