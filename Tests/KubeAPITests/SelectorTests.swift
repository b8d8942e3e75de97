import KubeAPI
import Testing

@Suite struct SelectorTests {
    /// The Kubernetes documentation's selector examples, against a few label sets.
    @Test(arguments: [
        ("environment = production", ["environment": "production"], true),
        ("environment = production", ["environment": "qa"], false),
        ("tier != frontend", ["tier": "backend"], true),
        ("tier != frontend", [:], true),
        ("tier != frontend", ["tier": "frontend"], false),
        ("environment=production,tier!=frontend", ["environment": "production", "tier": "backend"], true),
        ("environment in (production, qa)", ["environment": "qa"], true),
        ("environment in (production, qa)", [:], false),
        ("tier notin (frontend, backend)", ["tier": "cache"], true),
        ("tier notin (frontend, backend)", [:], true),
        ("partition", ["partition": ""], true),
        ("partition", [:], false),
        ("!partition", [:], true),
        ("!partition", ["partition": "a"], false),
        ("canopy.io/managed-by=canopy", ["canopy.io/managed-by": "canopy"], true),
        ("app==web", ["app": "web"], true),
        ("", ["anything": "x"], true),
    ] as [(String, [String: String], Bool)])
    func labelSelectorsMatchAsDocumented(selector: String, labels: [String: String], matches: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(labels) == matches)
    }

    @Test(arguments: ["a in (", "=b", "a in b", "Not Valid=x", "a=b c", "a,", "a=b=c", "a in ()"])
    func badSelectorsAreRefused(selector: String) {
        #expect(throws: SelectorParseError.self) { try LabelSelector(parsing: selector) }
    }

    @Test func selectorsPrintInTheirCanonicalForm() throws {
        let selector = try LabelSelector(parsing: "tier notin (b,a), env=prod, !gpu")
        #expect(selector.description == "env=prod,!gpu,tier notin (a,b)")
        #expect(try LabelSelector(parsing: selector.description) == selector)
        #expect(LabelSelector(matching: ["b": "2", "a": "1"]).description == "a=1,b=2")
    }

    @Test func fieldSelectorsMatchFields() throws {
        let fields = ["metadata.name": "web", "status.phase": "Running", "metadata.namespace": "a,b"]
        #expect(try FieldSelector(parsing: "metadata.name=web").matches { fields[$0] })
        #expect(try FieldSelector(parsing: "status.phase!=Pending,metadata.name==web").matches { fields[$0] })
        #expect(try !FieldSelector(parsing: "status.phase=Pending").matches { fields[$0] })
        #expect(try FieldSelector(parsing: #"metadata.namespace=a\,b"#).matches { fields[$0] })
        #expect(throws: SelectorParseError.self) { try FieldSelector(parsing: "metadata.name") }
    }
}

@Suite struct RBACRuleTests {
    /// Cases from the Kubernetes RBAC documentation.
    @Test(arguments: [
        (PolicyRule(verbs: ["get", "list"], apiGroups: [""], resources: ["pods"]), "get", "", "pods", nil, nil, true),
        (PolicyRule(verbs: ["get", "list"], apiGroups: [""], resources: ["pods"]), "delete", "", "pods", nil, nil, false),
        (PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["pods"]), "get", "apps", "pods", nil, nil, false),
        (PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["pods/log"]), "get", "", "pods", "log", nil, true),
        (PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["pods"]), "get", "", "pods", "log", nil, false),
        (PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"]), "escalate", "rbac.authorization.k8s.io", "roles", nil, nil, true),
        (PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["pods/*"]), "get", "", "pods", "exec", nil, true),
        (PolicyRule(verbs: ["update"], apiGroups: ["apps"], resources: ["*/scale"]), "update", "apps", "deployments", "scale", nil, true),
        (PolicyRule(verbs: ["update", "get"], apiGroups: [""], resources: ["configmaps"], resourceNames: ["my-configmap"]), "get", "", "configmaps", nil, "my-configmap", true),
        (PolicyRule(verbs: ["update", "get"], apiGroups: [""], resources: ["configmaps"], resourceNames: ["my-configmap"]), "get", "", "configmaps", nil, "other", false),
        (PolicyRule(verbs: ["list"], apiGroups: [""], resources: ["configmaps"], resourceNames: ["my-configmap"]), "list", "", "configmaps", nil, nil, false),
        (PolicyRule(verbs: ["impersonate"], apiGroups: [""], resources: ["users", "groups"]), "impersonate", "", "groups", nil, "devs", true),
    ] as [(PolicyRule, String, String, String, String?, String?, Bool)])
    func resourceRulesMatchAsDocumented(rule: PolicyRule, verb: String, group: String, resource: String, subresource: String?, name: String?, allowed: Bool) {
        #expect(rule.allows(verb: verb, apiGroup: group, resource: resource, subresource: subresource, name: name) == allowed)
    }

    @Test func nonResourceURLsMatchExactlyOrByPrefix() {
        let rule = PolicyRule(verbs: ["get"], nonResourceURLs: ["/healthz", "/healthz/*", "/version"])
        #expect(rule.allows(verb: "get", nonResourceURL: "/healthz"))
        #expect(rule.allows(verb: "get", nonResourceURL: "/healthz/etcd"))
        #expect(!rule.allows(verb: "post", nonResourceURL: "/healthz"))
        #expect(!rule.allows(verb: "get", nonResourceURL: "/metrics"))
    }

    @Test func statusBodiesUseTheRealServersWording() {
        #expect(Status.notFound("pods", "nope").message == "pods \"nope\" not found")
        #expect(Status.alreadyExists("namespaces", "tenant-a").message == "namespaces \"tenant-a\" already exists")
        #expect(Status.forbidden(user: "alice", verb: "list", resource: "pods", group: "", namespace: "default").message
            == "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"")
        #expect(Status.forbidden(user: "alice", verb: "list", resource: "namespaces", group: "", namespace: nil).message
            == "namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope")
        #expect(Status.forbidden(user: "alice", verb: "get", resource: "namespaces", group: "", namespace: "tenant-a", name: "tenant-a").message
            == "namespaces \"tenant-a\" is forbidden: User \"alice\" cannot get resource \"namespaces\" in API group \"\" in the namespace \"tenant-a\"")
    }
}
