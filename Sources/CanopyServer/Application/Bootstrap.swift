import CanopyAuth
import CanopyModel
import CanopyStore
import Foundation

/// First start: an empty store gets the domain admin `admin`, a service provider.
enum Bootstrap {
    /// Creates `admin` when there are no domain users; returns the password it was given when it
    /// was generated (so the caller can show it once), `nil` otherwise.
    static func ensureDomainAdmin(world: World, hasher: PasswordHasher, configuredPassword: String?) async throws -> String? {
        guard world.snapshot.domainUsers.isEmpty else { return nil }
        let password = configuredPassword ?? TokenSecret.generate().text.dropFirst(TokenSecret.prefix.count).prefix(24).description
        try Validate.password(password, field: "CANOPY_ADMIN_PASSWORD")
        let now = Date()
        let admin = User(id: .random(), tenantID: nil, username: "admin", displayName: "Domain administrator", createdAt: now)
        let grant = Grant(id: .random(), tenantID: nil, projectID: nil, role: .serviceProvider, subject: .user(admin.id), createdAt: now)
        let hash = try await hasher.hash(password)
        try await world.commit { tx in
            try await tx.insert(admin, passwordHash: hash)
            try await tx.insert(grant)
            let event = AuditEvent(
                at: now, actorID: nil, actor: "canopy", tenantID: nil, projectID: nil,
                action: "domain.bootstrap", target: "users/admin", requestID: nil
            )
            return World.Outcome(result: (), changes: [.userSaved(admin), .grantSaved(grant)], audit: [event])
        }
        return configuredPassword == nil ? password : nil
    }
}
