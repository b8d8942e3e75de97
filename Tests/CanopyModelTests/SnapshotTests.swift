import CanopyModel
import Foundation
import Testing

@Suite struct SnapshotTests {
    let now = Date()

    @Test func changesApplyAndOtherTenantsAreShared() {
        let coke = Tenant(id: TenantID("c"), name: "coke", displayName: "", mode: .msp, createdAt: now)
        let pepsi = Tenant(id: TenantID("p"), name: "pepsi", displayName: "", mode: .enterprise, createdAt: now)
        var snapshot = Snapshot().applying(.tenantSaved(coke), sequence: 1).applying(.tenantSaved(pepsi), sequence: 2)
        let pepsiBefore = snapshot.tenant(pepsi.id)!
        let user = User(id: UserID("u"), tenantID: coke.id, username: "ann", createdAt: now)
        snapshot = snapshot.applying(.userSaved(user), sequence: 3)
        #expect(snapshot.tenant(named: "coke")?.user(named: "ann") == user)
        #expect(snapshot.tenant(pepsi.id) === pepsiBefore)
        #expect(snapshot.sequence == 3)
    }

    @Test func deletingAUserRemovesTheirGrants() {
        let tenant = Tenant(id: TenantID("t"), name: "t", displayName: "", mode: .enterprise, createdAt: now)
        let user = User(id: UserID("u"), tenantID: tenant.id, username: "u", createdAt: now)
        let grant = Grant(id: GrantID("g"), tenantID: tenant.id, projectID: nil, role: .tenantAdmin, subject: .user(user.id), createdAt: now)
        var snapshot = Snapshot().applying(.tenantSaved(tenant), sequence: 1)
            .applying(.userSaved(user), sequence: 2).applying(.grantSaved(grant), sequence: 3)
        #expect(snapshot.principal(userID: user.id, tenantID: tenant.id)?.isTenantAdmin == true)
        snapshot = snapshot.applying(.userDeleted(user), sequence: 4)
        #expect(snapshot.principal(userID: user.id, tenantID: tenant.id) == nil)
        #expect(snapshot.tenant(tenant.id)?.grants.isEmpty == true)
    }

    @Test func renamingIsNotPossibleButNameIndexFollowsUpdates() {
        var tenant = Tenant(id: TenantID("t"), name: "t", displayName: "Old", mode: .enterprise, createdAt: now)
        var snapshot = Snapshot().applying(.tenantSaved(tenant), sequence: 1)
        tenant.displayName = "New"
        snapshot = snapshot.applying(.tenantSaved(tenant), sequence: 2)
        #expect(snapshot.tenant(named: "t")?.tenant.displayName == "New")
        snapshot = snapshot.applying(.tenantDeleted(tenant.id), sequence: 3)
        #expect(snapshot.tenant(named: "t") == nil)
    }

    @Test func aDomainUserIsAServiceProviderThroughTheirOwnGrantOrOneOfTheirGroups() {
        let ann = User(id: UserID("a"), tenantID: nil, username: "ann", createdAt: now)
        let byUser = Grant(id: GrantID("g1"), tenantID: nil, projectID: nil, role: .serviceProvider, subject: .user(ann.id), createdAt: now)
        let byGroup = Grant(id: GrantID("g2"), tenantID: nil, projectID: nil, role: .serviceProvider, subject: .group("ops"), createdAt: now)
        var snapshot = Snapshot().applying(.userSaved(ann), sequence: 1)
        #expect(snapshot.principal(userID: ann.id, tenantID: nil, groups: ["ops"])?.isServiceProvider == false)
        snapshot = snapshot.applying(.grantSaved(byGroup), sequence: 2)
        #expect(snapshot.principal(userID: ann.id, tenantID: nil, groups: ["ops"])?.isServiceProvider == true)
        #expect(snapshot.principal(userID: ann.id, tenantID: nil, groups: ["devs"])?.isServiceProvider == false)
        snapshot = snapshot.applying(.grantSaved(byUser), sequence: 3)
        #expect(snapshot.serviceProviderGrants.map(\.id) == [GrantID("g1"), GrantID("g2")])
        snapshot = snapshot.applying(.grantDeleted(byGroup), sequence: 4)
        #expect(snapshot.principal(userID: ann.id, tenantID: nil)?.isServiceProvider == true)
        #expect(snapshot.principal(userID: ann.id, tenantID: nil, groups: ["ops"])?.isServiceProvider == true)
        snapshot = snapshot.applying(.userDeleted(ann), sequence: 5)
        #expect(snapshot.serviceProviderGrants.isEmpty)
        // Loaded whole, as at start, the same.
        let loaded = Snapshot(sequence: 6, tenants: [], domainUsers: [ann], domainGrants: [byGroup])
        #expect(loaded.principal(userID: ann.id, tenantID: nil, groups: ["ops"])?.isServiceProvider == true)
    }
}
