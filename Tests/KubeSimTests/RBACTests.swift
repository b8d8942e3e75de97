import Foundation
import NIOCore
import KubeAPI
import KubeClient
import KubeSim
import Testing
import TestSupport

/// RBAC, impersonation and access reviews, through the real kubectl and through KubeClient.
@Suite struct RBACTests {
    @Test func kubectlAuthCanIAnswersPerBinding() async throws {
        try await TestKubeSim.with { sim in
            let kubectl = try Kubectl(kubeconfig: sim.kubeconfig("a"))
            defer { kubectl.remove() }
            #expect(try await kubectl.run("create", "namespace", "team-a").output.contains("namespace/team-a created"))
            #expect(try await kubectl.run("auth", "can-i", "create", "pods", "-n", "team-a").output.hasPrefix("yes"))
            #expect(try await kubectl.run("auth", "can-i", "create", "pods", "-n", "team-a", "--as", "alice").output.hasPrefix("no"))
            let binding = try await kubectl.run("create", "rolebinding", "alice-edit", "-n", "team-a", "--clusterrole=edit", "--user=alice")
            #expect(binding.output.contains("rolebinding.rbac.authorization.k8s.io/alice-edit created"), "\(binding.output)")
            #expect(try await kubectl.run("auth", "can-i", "create", "pods", "-n", "team-a", "--as", "alice").output.hasPrefix("yes"))
            // edit may not change its own limits, and reaches only its namespace.
            #expect(try await kubectl.run("auth", "can-i", "update", "resourcequotas", "-n", "team-a", "--as", "alice").output.hasPrefix("no"))
            #expect(try await kubectl.run("auth", "can-i", "get", "resourcequotas", "-n", "team-a", "--as", "alice").output.hasPrefix("yes"))
            #expect(try await kubectl.run("auth", "can-i", "create", "pods", "-n", "default", "--as", "alice").output.hasPrefix("no"))
            // A group binding works for every member of the group.
            _ = try await kubectl.run("create", "rolebinding", "devs-view", "-n", "team-a", "--clusterrole=view", "--group=devs")
            #expect(try await kubectl.run("auth", "can-i", "list", "pods", "-n", "team-a", "--as", "bob", "--as-group", "devs").output.hasPrefix("yes"))
            #expect(try await kubectl.run("auth", "can-i", "create", "pods", "-n", "team-a", "--as", "bob", "--as-group", "devs").output.hasPrefix("no"))
            let denied = try await kubectl.run("get", "pods", "-n", "default", "--as", "alice")
            #expect(denied.output.contains("Error from server (Forbidden): pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""))
            // Bound in team-a, alice may read that namespace object (as on a real server), not others.
            #expect(try await kubectl.run("get", "namespace", "team-a", "--as", "alice").output.contains("team-a"))
            let namespace = try await kubectl.run("get", "namespace", "default", "--as", "alice")
            #expect(namespace.output.contains("namespaces \"default\" is forbidden: User \"alice\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"default\""))
            let clusterScope = try await kubectl.run("get", "namespaces", "--as", "alice")
            #expect(clusterScope.output.contains("namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"))
        }
    }

    /// Access reviews are checked as a real server checks them: a subject may be groups alone,
    /// and a review with neither user nor groups, or without attributes, is 422 with the real
    /// message (the kind qualified by its group).
    @Test func accessReviewsAreValidatedAsARealServerValidatesThem() async throws {
        try await TestKubeSim.with { sim in
            let client = try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            _ = try await client.create(Namespace(metadata: ObjectMeta(name: "team-a")))
            let binding = "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"devs\",\"namespace\":\"team-a\"},"
                + "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},\"subjects\":[{\"kind\":\"Group\",\"name\":\"devs\"}]}"
            _ = try await Self.post(client, "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings", binding)
            func review(_ spec: String) async throws -> (UInt, JSON) {
                try await Self.post(client, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                    "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",\"spec\":\(spec)}")
            }
            let list = "\"resourceAttributes\":{\"verb\":\"list\",\"resource\":\"pods\",\"namespace\":\"team-a\"}"
            let groupsOnly = try await review("{\"groups\":[\"devs\"],\(list)}")
            #expect(groupsOnly.0 == 201 && groupsOnly.1[path: "status.allowed"] == .bool(true), "\(groupsOnly)")
            let nobody = try await review("{\(list)}")
            #expect(nobody.0 == 422)
            #expect(nobody.1["message"]?.stringValue == "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified")
            #expect(nobody.1[path: "details.group"] == .string("authorization.k8s.io"))
            #expect(nobody.1[path: "details.kind"] == .string("SubjectAccessReview"))
            let nothing = try await review("{\"user\":\"alice\"}")
            #expect(nothing.1["message"]?.stringValue == "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified")
            // An object without a name: the kind qualified by its group in the message, as for every kind.
            let unnamed = try await Self.post(client, "/apis/apps/v1/namespaces/team-a/deployments", "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{}}")
            #expect(unnamed.0 == 422)
            #expect(unnamed.1["message"]?.stringValue?.hasPrefix("Deployment.apps \"\" is invalid: [metadata.name: Required value: name or generateName is required, spec.selector: Required value") == true, "\(unnamed.1)")
        }
    }

    static func post(_ client: KubeClient, _ path: String, _ body: String) async throws -> (UInt, JSON) {
        let response = try await client.forward(
            .POST, pathAndQuery: path, headers: ["Content-Type": "application/json"], body: .bytes(ByteBuffer(string: body)), impersonation: nil, timeout: .seconds(20)
        )
        let data = Data(String(buffer: try await response.body.collect(upTo: 1 << 20)).utf8)
        return (response.status.code, try JSONDecoder().decode(JSON.self, from: data))
    }

    /// The authorizer reads decoded RBAC objects kept between requests (as a real server's
    /// informer caches): every change to a Role, ClusterRole or binding counts from the next
    /// request on.
    @Test func rbacChangesTakeEffectOnTheNextRequest() async throws {
        try await TestKubeSim.with { sim in
            let admin = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            var configuration = KubeClient.Configuration()
            configuration.impersonation = .init(user: "alice", groups: [])
            let alice = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection(), configuration: configuration)
            func allowed() async -> Bool { (try? await alice.list(Pod.self, namespace: "team-a")) != nil }
            _ = try await admin.create(Namespace(metadata: ObjectMeta(name: "team-a")))
            #expect(await !allowed())
            _ = try await admin.create(Role(metadata: ObjectMeta(name: "reader", namespace: "team-a"), rules: [
                PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["pods"]),
            ]))
            _ = try await admin.create(RoleBinding(
                metadata: ObjectMeta(name: "alice-reader", namespace: "team-a"), subjects: [.user("alice")], roleRef: RoleRef(kind: "Role", name: "reader")
            ))
            #expect(await !allowed(), "the role does not allow list yet")
            var role = try await admin.get(Role.self, "reader", namespace: "team-a")
            role.rules = [PolicyRule(verbs: ["get", "list"], apiGroups: [""], resources: ["pods"])]
            _ = try await admin.update(role)
            #expect(await allowed(), "the updated role allows list")
            try await admin.delete(RoleBinding.self, "alice-reader", namespace: "team-a")
            #expect(await !allowed(), "the binding is gone")
            _ = try await admin.create(ClusterRoleBinding(
                metadata: ObjectMeta(name: "alice-view"), subjects: [.user("alice")], roleRef: RoleRef(kind: "ClusterRole", name: "view")
            ))
            #expect(await allowed(), "bound cluster-wide")
            try await admin.delete(ClusterRoleBinding.self, "alice-view")
            #expect(await !allowed())
            try await admin.shutdown()
            try await alice.shutdown()
        }
    }

    @Test func impersonationNeedsTheImpersonateVerb() async throws {
        try await TestKubeSim.with { sim in
            let admin = try KubeClient(connection: Kubeconfig(yaml: sim.kubeconfig("a")).connection())
            _ = try await admin.create(Namespace(metadata: ObjectMeta(name: "team-a")))
            _ = try await admin.create(RoleBinding(
                metadata: ObjectMeta(name: "alice-view", namespace: "team-a"), subjects: [.user("alice")], roleRef: RoleRef(kind: "ClusterRole", name: "view")
            ))
            sim.sim.addToken("proxy-token", user: "canopy-proxy")
            let proxyConfig = sim.sim.kubeconfig(cluster: "a", baseURL: sim.baseURL, user: "proxy", token: "proxy-token")
            var configuration = KubeClient.Configuration()
            configuration.impersonation = .init(user: "alice", groups: ["canopy:coke:marketing:viewer"])
            let proxy = try KubeClient(connection: Kubeconfig(yaml: proxyConfig).connection(), configuration: configuration)

            let refused = await #expect(throws: KubeError.self) { try await proxy.list(Pod.self, namespace: "team-a") }
            #expect(refused?.httpCode == 403)
            #expect(refused?.status?.message == "pods is forbidden: User \"canopy-proxy\" cannot impersonate-on:user-info:list resource \"pods\" in API group \"\" in the namespace \"team-a\"")

            _ = try await admin.create(ClusterRole(metadata: ObjectMeta(name: "impersonator"), rules: [
                PolicyRule(verbs: ["impersonate"], apiGroups: [""], resources: ["users", "groups"]),
            ]))
            _ = try await admin.create(ClusterRoleBinding(
                metadata: ObjectMeta(name: "canopy-proxy"), subjects: [.user("canopy-proxy")], roleRef: RoleRef(kind: "ClusterRole", name: "impersonator")
            ))
            #expect(try await proxy.list(Pod.self, namespace: "team-a").items.isEmpty)
            // As alice, the proxy may read but not write, and sees nothing outside team-a.
            let write = await #expect(throws: KubeError.self) {
                try await proxy.create(ConfigMap(metadata: ObjectMeta(name: "x", namespace: "team-a"), data: [:]))
            }
            #expect(write?.status?.message == "configmaps is forbidden: User \"alice\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-a\"")
            let outside = await #expect(throws: KubeError.self) { try await proxy.list(Pod.self, namespace: "default") }
            #expect(outside?.httpCode == 403)
            try await proxy.shutdown()
            try await admin.shutdown()
        }
    }
}

@Suite struct TokenFileTests {
    @Test func staticTokenFilesNameUsersAndGroups() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/tokens.csv"
        try "# token,user,uid,groups\nt1,alice,1,\"devs,ops\"\nt2,bob,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let sim = try KubeSim(clusterNames: ["a"])
        try sim.addTokens(fromFile: path)
        #expect(sim.user(forToken: "t1") == KubeSim.UserInfo(name: "alice", groups: ["devs", "ops", "system:authenticated"]))
        #expect(sim.user(forToken: "t2") == KubeSim.UserInfo(name: "bob", groups: ["system:authenticated"]))
        try "broken-line\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: KubeSimError.self) { try sim.addTokens(fromFile: path) }
    }
}
