import CanopyModel
import Foundation
import Testing

/// DESIGN.md's role table, written out independently of `RoleTable`: for each action, the answer
/// for the provider in an enterprise tenant, the provider in an msp tenant, a tenant admin, and a
/// project admin, member and viewer on their own project.
private let designTable: [Action: [Bool]] = [
    .manageTenants: [true, true, false, false, false, false],
    .seeTenant: [true, true, true, true, true, true],
    .seeInsideTenant: [true, false, true, true, true, true],
    .manageUsers: [true, false, true, false, false, false],
    .manageDomainPool: [true, true, false, false, false, false],
    .manageDomainAdmins: [true, true, false, false, false, false],
    .manageClusters: [true, false, true, false, false, false],
    .manageProjects: [true, false, true, false, false, false],
    .manageProjectMembers: [true, false, true, true, false, false],
    .writeWorkloads: [true, false, true, true, true, false],
    .readWorkloads: [true, false, true, true, true, true],
]

/// Who is asking, relative to the tenant `home` and its project `mine`.
private enum Actor: String, CaseIterable {
    case provider, tenantAdmin, projectAdmin, projectMember, projectViewer
    /// An admin of the project next door in the same tenant.
    case siblingProjectAdmin
    /// A user of the tenant with no role at all.
    case plainUser
    /// The admin of another tenant.
    case otherTenantAdmin
}

/// Where the action is aimed.
private enum Place: String, CaseIterable {
    case domain, ownTenant, ownProject, siblingProject, otherTenant, otherTenantProject
}

private struct World {
    let snapshot: Snapshot
    let home: TenantID, mine: ProjectID, sibling: ProjectID, other: TenantID, otherProject: ProjectID
    let principals: [Actor: Principal]

    init(mode: TenancyMode) {
        let now = Date(timeIntervalSince1970: 0)
        let home = TenantID("home"), other = TenantID("other")
        let mine = ProjectID("mine"), sibling = ProjectID("sibling"), otherProject = ProjectID("theirs")
        (self.home, self.other, self.mine, self.sibling, self.otherProject) = (home, other, mine, sibling, otherProject)
        func user(_ name: String, _ tenant: TenantID?) -> User { User(id: UserID(name), tenantID: tenant, username: name, createdAt: now) }
        let users = [Actor.tenantAdmin, .projectAdmin, .projectMember, .projectViewer, .siblingProjectAdmin, .plainUser].map { user($0.rawValue, home) }
        func grant(_ id: String, _ tenant: TenantID?, _ project: ProjectID?, _ role: Role, _ subject: String) -> Grant {
            Grant(id: GrantID(id), tenantID: tenant, projectID: project, role: role, subject: .user(UserID(subject)), createdAt: now)
        }
        let homeGrants = [
            grant("g1", home, nil, .tenantAdmin, "tenantAdmin"),
            grant("g2", home, mine, .projectAdmin, "projectAdmin"),
            grant("g3", home, mine, .projectMember, "projectMember"),
            grant("g4", home, mine, .projectViewer, "projectViewer"),
            grant("g5", home, sibling, .projectAdmin, "siblingProjectAdmin"),
        ]
        let homeTenant = TenantSnapshot(
            tenant: Tenant(id: home, name: "home", displayName: "", mode: mode, createdAt: now),
            users: Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) }),
            projects: [mine: Project(id: mine, tenantID: home, name: "mine", createdAt: now),
                       sibling: Project(id: sibling, tenantID: home, name: "sibling", createdAt: now)],
            grants: Dictionary(uniqueKeysWithValues: homeGrants.map { ($0.id, $0) })
        )
        let otherAdmin = user("otherTenantAdmin", other)
        let otherGrant = grant("g6", other, nil, .tenantAdmin, "otherTenantAdmin")
        let otherTenant = TenantSnapshot(
            tenant: Tenant(id: other, name: "other", displayName: "", mode: mode, createdAt: now),
            users: [otherAdmin.id: otherAdmin],
            projects: [otherProject: Project(id: otherProject, tenantID: other, name: "theirs", createdAt: now)],
            grants: [otherGrant.id: otherGrant]
        )
        let provider = user("provider", nil)
        let snapshot = Snapshot(
            sequence: 1, tenants: [homeTenant, otherTenant], domainUsers: [provider],
            domainGrants: [grant("g0", nil, nil, .serviceProvider, "provider")]
        )
        var principals: [Actor: Principal] = [:]
        principals[.provider] = snapshot.principal(userID: provider.id, tenantID: nil)
        principals[.otherTenantAdmin] = snapshot.principal(userID: otherAdmin.id, tenantID: other)
        for actor in Actor.allCases where principals[actor] == nil {
            principals[actor] = snapshot.principal(userID: UserID(actor.rawValue), tenantID: home)
        }
        self.principals = principals
        self.snapshot = snapshot
    }

    func target(_ place: Place) -> Target {
        switch place {
        case .domain: .domain
        case .ownTenant: .tenant(home)
        case .ownProject: .project(home, mine)
        case .siblingProject: .project(home, sibling)
        case .otherTenant: .tenant(other)
        case .otherTenantProject: .project(other, otherProject)
        }
    }
}

/// The expected answer, derived from `designTable` and DESIGN.md's visibility rules.
private func expected(_ action: Action, _ actor: Actor, _ place: Place, _ mode: TenancyMode) -> Decision {
    let row = designTable[action]!
    let providerCell = mode == .enterprise ? row[0] : row[1]
    switch actor {
    case .provider:
        switch place {
        case .domain, .ownTenant, .otherTenant:
            // At domain level only the rows the provider holds in every mode apply.
            if place == .domain { return row[0] && row[1] ? .allow : .forbid }
            return providerCell ? .allow : .forbid
        case .ownProject, .siblingProject, .otherTenantProject:
            guard mode == .enterprise else { return .conceal }
            return providerCell ? .allow : .forbid
        }
    case .otherTenantAdmin:
        switch place {
        case .domain: return .forbid
        case .otherTenant: return row[2] ? .allow : .forbid
        case .otherTenantProject: return row[2] ? .allow : .forbid
        default: return .conceal
        }
    case .tenantAdmin, .projectAdmin, .projectMember, .projectViewer, .siblingProjectAdmin, .plainUser:
        switch place {
        case .domain: return .forbid
        case .otherTenant, .otherTenantProject: return .conceal
        case .ownTenant:
            if action == .seeTenant { return .allow }
            return actor == .tenantAdmin && row[2] ? .allow : .forbid
        case .ownProject, .siblingProject:
            let roleColumn: Int? = switch actor {
            case .tenantAdmin: 2
            case .projectAdmin: place == .ownProject ? 3 : nil
            case .siblingProjectAdmin: place == .siblingProject ? 3 : nil
            case .projectMember: place == .ownProject ? 4 : nil
            case .projectViewer: place == .ownProject ? 5 : nil
            default: nil
            }
            guard let roleColumn else { return .conceal }
            return row[roleColumn] ? .allow : .forbid
        }
    }
}

@Suite struct PolicyTests {
    @Test(arguments: TenancyMode.allCases)
    func everyRoleActionAndTargetMatchesTheDesignTable(mode: TenancyMode) {
        let world = World(mode: mode)
        var checked = 0
        for action in Action.allCases {
            for actor in Actor.allCases {
                for place in Place.allCases {
                    let decision = Policy.decide(action, for: world.principals[actor]!, on: world.target(place), in: world.snapshot)
                    #expect(
                        decision == expected(action, actor, place, mode),
                        "\(mode) \(actor) \(action) on \(place)"
                    )
                    checked += 1
                }
            }
        }
        #expect(checked == Action.allCases.count * Actor.allCases.count * Place.allCases.count)
    }

    @Test func mspTenantIsSealedFromTheProvider() {
        let world = World(mode: .msp)
        let provider = world.principals[.provider]!
        #expect(Policy.decide(.seeTenant, for: provider, on: .tenant(world.home), in: world.snapshot) == .allow)
        #expect(Policy.decide(.seeInsideTenant, for: provider, on: .tenant(world.home), in: world.snapshot) == .forbid)
        #expect(Policy.decide(.readWorkloads, for: provider, on: .project(world.home, world.mine), in: world.snapshot) == .conceal)
    }

    @Test func groupGrantsGiveTheirRole() {
        let now = Date()
        let tenantID = TenantID("t"), projectID = ProjectID("p"), userID = UserID("u")
        let tenant = TenantSnapshot(
            tenant: Tenant(id: tenantID, name: "t", displayName: "", mode: .enterprise, createdAt: now),
            users: [userID: User(id: userID, tenantID: tenantID, username: "u", createdAt: now)],
            projects: [projectID: Project(id: projectID, tenantID: tenantID, name: "p", createdAt: now)],
            grants: [GrantID("g"): Grant(id: GrantID("g"), tenantID: tenantID, projectID: projectID, role: .projectMember, subject: .group("devs"), createdAt: now)]
        )
        let snapshot = Snapshot(sequence: 1, tenants: [tenant], domainUsers: [], domainGrants: [])
        let withGroup = snapshot.principal(userID: userID, tenantID: tenantID, groups: ["devs"])!
        let without = snapshot.principal(userID: userID, tenantID: tenantID)!
        #expect(Policy.decide(.writeWorkloads, for: withGroup, on: .project(tenantID, projectID), in: snapshot) == .allow)
        #expect(Policy.decide(.writeWorkloads, for: without, on: .project(tenantID, projectID), in: snapshot) == .conceal)
    }
}
