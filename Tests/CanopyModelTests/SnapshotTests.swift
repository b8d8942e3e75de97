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
}
