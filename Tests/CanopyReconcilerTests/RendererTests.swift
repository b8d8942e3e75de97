import CanopyModel
@testable import CanopyReconciler
import Foundation
import KubeAPI
import Testing

/// A small tenant: project marketing on two clusters, with an admin user, a member user and a
/// viewer group.
struct World {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let tenant: Tenant
    let clusters: [Cluster]
    let project: Project
    var users: [User]
    var grants: [Grant]
    var namespaces: [ProjectNamespace]

    init() {
        tenant = Tenant(id: TenantID("t1"), name: "coke", displayName: "Coke", mode: .msp, createdAt: now)
        clusters = ["onprem", "cloud"].map {
            Cluster(id: ClusterID($0), tenantID: TenantID("t1"), name: $0, identity: "id-\($0)", server: "https://x", kubernetesVersion: "v1.32",
                    capacity: ResourceCaps(cpu: "24", memory: "96Gi"), createdAt: Date(timeIntervalSince1970: 1_800_000_000))
        }
        project = Project(id: ProjectID("p1"), tenantID: TenantID("t1"), name: "marketing", caps: ResourceCaps(cpu: "8"), createdAt: now)
        users = [
            User(id: UserID("u1"), tenantID: TenantID("t1"), username: "ann", createdAt: now),
            User(id: UserID("u2"), tenantID: TenantID("t1"), username: "bob", createdAt: now),
            User(id: UserID("u3"), tenantID: TenantID("t1"), username: "boss", createdAt: now),
        ]
        grants = [
            Grant(id: GrantID("g1"), tenantID: TenantID("t1"), projectID: ProjectID("p1"), role: .projectAdmin, subject: .user(UserID("u1")), createdAt: now),
            Grant(id: GrantID("g2"), tenantID: TenantID("t1"), projectID: ProjectID("p1"), role: .projectMember, subject: .user(UserID("u2")), createdAt: now),
            Grant(id: GrantID("g3"), tenantID: TenantID("t1"), projectID: ProjectID("p1"), role: .projectViewer, subject: .group("auditors"), createdAt: now),
            Grant(id: GrantID("g4"), tenantID: TenantID("t1"), projectID: nil, role: .tenantAdmin, subject: .user(UserID("u3")), createdAt: now),
        ]
        namespaces = [
            ProjectNamespace(id: NamespaceID("n1"), tenantID: TenantID("t1"), projectID: ProjectID("p1"), clusterID: ClusterID("onprem"), name: "mkt-dev", createdAt: now),
            ProjectNamespace(id: NamespaceID("n2"), tenantID: TenantID("t1"), projectID: ProjectID("p1"), clusterID: ClusterID("cloud"), name: "mkt-prod", createdAt: now),
        ]
    }

    var snapshot: TenantSnapshot {
        TenantSnapshot(
            tenant: tenant, users: Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) }),
            projects: [project.id: project], grants: Dictionary(uniqueKeysWithValues: grants.map { ($0.id, $0) }),
            clusters: Dictionary(uniqueKeysWithValues: clusters.map { ($0.id, $0) }),
            namespaces: Dictionary(uniqueKeysWithValues: namespaces.map { ($0.id, $0) })
        )
    }
}

@Suite struct RendererTests {
    @Test func aPlacementRendersEveryObjectWithCanopysLabels() throws {
        let world = World()
        let planned = ["mkt-dev": ["requests.cpu": Int64(8_000), "requests.memory": Int64(96) << 30]]
        let desired = Renderer.render(tenant: world.snapshot, cluster: ClusterID("onprem"), quotas: planned)
        #expect(desired.namespaces.map(\.metadata.name) == ["mkt-dev"])
        #expect(desired.pendingQuotas.isEmpty)
        let namespace = try #require(desired.namespaces.first)
        #expect(namespace.metadata.labels?["pod-security.kubernetes.io/enforce"] == "baseline")
        #expect(namespace.metadata.labels?["canopy.io/project"] == "marketing")
        #expect(desired.roleBindings.map(\.metadata.name) == ["canopy:admin", "canopy:member", "canopy:viewer"])
        let member = try #require(desired.roleBindings.first { $0.metadata.name == "canopy:member" })
        #expect(member.subjects?.map(\.name) == ["canopy:coke:marketing:member", "canopy:coke:bob"])
        #expect(member.roleRef.name == "canopy:project-member")
        let viewer = try #require(desired.roleBindings.first { $0.metadata.name == "canopy:viewer" })
        #expect(viewer.subjects?.contains(RBACSubject.group("canopy:coke:group:auditors")) == true)
        #expect(desired.quotas.first?.spec?.hard?["requests.cpu"] == Quantity(8))
        #expect(desired.quotas.first?.spec?.hard?["requests.memory"] == (try Quantity(parsing: "96Gi")))
        #expect(desired.limitRanges.first?.metadata.name == "canopy-defaults")
        #expect(desired.networkPolicies.first?.spec?.ingress?.first?.from?.first?.namespaceSelector?.matchLabels?["canopy.io/project"] == "marketing")
        #expect(desired.clusterRoles.map(\.metadata.name) == ["canopy:project-admin", "canopy:project-member", "canopy:project-viewer"])
        #expect(desired.clusterRoleBindings.first?.subjects?.map(\.name) == ["canopy:coke:tenant-admin", "canopy:coke:boss"])
        for object in desired.roleBindings.map(\.metadata) + desired.quotas.map(\.metadata) + desired.networkPolicies.map(\.metadata) {
            #expect(object.labels?["canopy.io/managed-by"] == "canopy")
            #expect(object.labels?["canopy.io/tenant"] == "coke")
            #expect(object.namespace == "mkt-dev")
        }
        // The other cluster gets only its own namespace.
        #expect(Renderer.render(tenant: world.snapshot, cluster: ClusterID("cloud")).namespaces.map(\.metadata.name) == ["mkt-prod"])
        // A cluster being released wants nothing.
        #expect(Renderer.render(tenant: world.snapshot, cluster: ClusterID("onprem"), releasing: true).count == 0)
    }

    @Test func renderingIsStableAndAMembershipChangeTouchesOneBindingPerNamespace() {
        var world = World()
        let before = Renderer.render(tenant: world.snapshot, cluster: ClusterID("onprem"))
        #expect(before.fingerprint == Renderer.render(tenant: world.snapshot, cluster: ClusterID("onprem")).fingerprint)
        world.users.append(User(id: UserID("u4"), tenantID: TenantID("t1"), username: "cat", createdAt: world.now))
        world.grants.append(Grant(id: GrantID("g5"), tenantID: TenantID("t1"), projectID: ProjectID("p1"), role: .projectMember, subject: .user(UserID("u4")), createdAt: world.now))
        let after = Renderer.render(tenant: world.snapshot, cluster: ClusterID("onprem"))
        #expect(before.fingerprint != after.fingerprint)
        let changed = zip(before.roleBindings, after.roleBindings).filter { !$1.isSatisfied(by: $0) }
        #expect(changed.map(\.1.metadata.name) == ["canopy:member"])
        #expect(zip(before.quotas, after.quotas).allSatisfy { $1.isSatisfied(by: $0) })
    }

    @Test func projectRolesCannotTouchTheirOwnLimits() {
        for role in CanopyModel.Role.projectRoles {
            let rules = ProjectRoles.rules(for: role)
            for resource in ["resourcequotas", "limitranges"] {
                #expect(!rules.contains { $0.allows(verb: "update", apiGroup: "", resource: resource, name: "canopy-quota") })
                #expect(!rules.contains { $0.allows(verb: "delete", apiGroup: "", resource: resource, name: "canopy-quota") })
            }
            #expect(!rules.contains { $0.allows(verb: "delete", apiGroup: "networking.k8s.io", resource: "networkpolicies") })
            #expect(!rules.contains { $0.allows(verb: "update", apiGroup: "rbac.authorization.k8s.io", resource: "rolebindings") })
            #expect(!rules.contains { $0.allows(verb: "patch", apiGroup: "", resource: "namespaces") })
            #expect(rules.contains { $0.allows(verb: "get", apiGroup: "", resource: "pods") })
        }
        #expect(!ProjectRoles.rules(for: .projectViewer).contains { $0.allows(verb: "create", apiGroup: "apps", resource: "deployments") })
        #expect(ProjectRoles.rules(for: .projectMember).contains { $0.allows(verb: "create", apiGroup: "apps", resource: "deployments") })
        #expect(!ProjectRoles.rules(for: .projectViewer).contains { $0.allows(verb: "get", apiGroup: "", resource: "secrets") })
    }

    @Test func aNamespaceThePlannerHasNotSizedRefusesEverythingUntilItIs() {
        let desired = Renderer.render(tenant: World().snapshot, cluster: ClusterID("onprem"))
        #expect(desired.pendingQuotas == ["mkt-dev"])
        #expect(desired.quotas.first?.spec?.hard == ["requests.cpu": .zero, "requests.memory": .zero])
        #expect(desired.roomlessQuotas == ["mkt-dev"])
    }

    /// A quota sized with no CPU or no memory admits no pod (every pod asks for both): its
    /// namespace is not `Ready`; one with room for both is.
    @Test func aQuotaWithoutCPUOrMemoryLeavesNoRoomForAPod() {
        let snapshot = World().snapshot, onprem = ClusterID("onprem")
        for (hard, roomless) in [([QuotaResource.cpu: Int64(0), QuotaResource.memory: 1 << 30], true),
                                 ([QuotaResource.cpu: 500, QuotaResource.memory: 0], true),
                                 ([QuotaResource.cpu: 500, QuotaResource.memory: 1 << 30], false)] {
            let desired = Renderer.render(tenant: snapshot, cluster: onprem, quotas: ["mkt-dev": hard])
            #expect(desired.pendingQuotas.isEmpty)
            #expect(desired.roomlessQuotas == (roomless ? ["mkt-dev"] : []), "\(hard)")
        }
    }

    @Test func comparisonIgnoresNotationAndExtraLabels() throws {
        let world = World()
        let planned = ["mkt-dev": ["requests.cpu": Int64(8_000), "requests.memory": Int64(96) << 30]]
        let desired = Renderer.render(tenant: world.snapshot, cluster: ClusterID("onprem"), quotas: planned)
        var observed = try #require(desired.quotas.first)
        observed.spec?.hard?["requests.memory"] = try Quantity(parsing: "98304Mi")
        observed.metadata.labels?["extra"] = "yes"
        observed.metadata.resourceVersion = "7"
        #expect(desired.quotas[0].isSatisfied(by: observed))
        observed.spec?.hard?["requests.cpu"] = Quantity(100)
        #expect(!desired.quotas[0].isSatisfied(by: observed))
        let repaired = desired.quotas[0].applied(onto: observed)
        #expect(repaired.metadata.resourceVersion == "7")
        #expect(repaired.metadata.labels?["extra"] == "yes")
        #expect(desired.quotas[0].isSatisfied(by: repaired))
    }
}
