import NIOSSL

/// How to reach and read one LDAP directory. Defaults are in the comments.
public struct DirectoryConfiguration: Sendable, Equatable {
    /// Servers to try in order; the one that answered last is tried first next time.
    public var urls: [String]
    /// The service account that searches; empty for an anonymous search.
    public var bindDN: String
    public var bindPassword: String
    public var userBaseDN: String
    /// Finds a user by name; `{username}` is replaced by the escaped name. `(uid={username})`.
    /// Disabled accounts are excluded here (`(&(uid={username})(!(pwdAccountLockedTime=*)))`).
    public var userFilter: String
    public var groupBaseDN: String
    /// Finds a user's groups; `{dn}` is the user's (or, when nesting, a group's) DN and
    /// `{username}` the user name. `(member={dn})`.
    public var groupFilter: String
    /// The attribute that names a group in Canopy: `cn`.
    public var groupNameAttribute: String
    /// Upgrade `ldap://` connections with StartTLS: false.
    public var startTLS: Bool
    /// CA certificates (PEM) that sign the servers' certificates; the system's roots when nil.
    public var caPEM: String?
    /// Levels of groups within groups to follow: 0 (off). At most 10.
    public var nestedGroupDepth: Int
    /// Connecting to one server: 3 s.
    public var connectTimeout: Duration = .seconds(3)
    /// One operation (bind or search page): 5 s.
    public var operationTimeout: Duration = .seconds(5)
    /// Idle connections kept open: 4.
    public var poolSize = 4
    /// Entries per page of a group search (RFC 2696): 500.
    public var pageSize = 500

    public init(
        urls: [String], bindDN: String, bindPassword: String, userBaseDN: String, userFilter: String = "(uid={username})",
        groupBaseDN: String, groupFilter: String = "(member={dn})", groupNameAttribute: String = "cn",
        startTLS: Bool = false, caPEM: String? = nil, nestedGroupDepth: Int = 0
    ) {
        self.urls = urls
        self.bindDN = bindDN
        self.bindPassword = bindPassword
        self.userBaseDN = userBaseDN
        self.userFilter = userFilter
        self.groupBaseDN = groupBaseDN
        self.groupFilter = groupFilter
        self.groupNameAttribute = groupNameAttribute
        self.startTLS = startTLS
        self.caPEM = caPEM
        self.nestedGroupDepth = nestedGroupDepth
    }

    /// Checks everything that can be checked without a server; throws
    /// `AuthError.directoryMisconfigured` naming the field (`"urls: …"`).
    public func validate() throws {
        guard !urls.isEmpty else { throw AuthError(.directoryMisconfigured, "urls: at least one ldap:// or ldaps:// URL is needed") }
        let parsed = try urls.map { url in
            do { return try LDAPURL(url) } catch let error as AuthError { throw AuthError(.directoryMisconfigured, "urls: \(error.message)") }
        }
        if startTLS, parsed.contains(where: \.secure) {
            throw AuthError(.directoryMisconfigured, "startTLS: ldaps:// URLs are already encrypted; use ldap:// URLs with StartTLS")
        }
        for (field, dn) in [("bindDN", bindDN), ("userBaseDN", userBaseDN), ("groupBaseDN", groupBaseDN)] where !dn.isEmpty || field != "bindDN" {
            do { _ = try DistinguishedName(dn) } catch { throw AuthError(.directoryMisconfigured, "\(field): \(error)") }
            if field != "bindDN", dn.isEmpty { throw AuthError(.directoryMisconfigured, "\(field) is required") }
        }
        guard userFilter.contains("{username}") else { throw AuthError(.directoryMisconfigured, "userFilter must contain {username}") }
        guard groupFilter.contains("{dn}") || groupFilter.contains("{username}") else {
            throw AuthError(.directoryMisconfigured, "groupFilter must contain {dn} or {username}")
        }
        do { _ = try LDAPFilter.fill(userFilter, with: ["username": "x"]) } catch { throw AuthError(.directoryMisconfigured, "userFilter: \(error)") }
        do { _ = try LDAPFilter.fill(groupFilter, with: ["dn": "cn=x", "username": "x"]) } catch { throw AuthError(.directoryMisconfigured, "groupFilter: \(error)") }
        guard !groupNameAttribute.isEmpty, groupNameAttribute.utf8.allSatisfy({ $0 < 0x80 && (Character(Unicode.Scalar($0)).isLetter || Character(Unicode.Scalar($0)).isNumber || $0 == UInt8(ascii: "-")) }) else {
            throw AuthError(.directoryMisconfigured, "groupNameAttribute must be an attribute name such as cn")
        }
        guard (0...10).contains(nestedGroupDepth) else { throw AuthError(.directoryMisconfigured, "nestedGroupDepth must be between 0 and 10") }
        if let caPEM {
            do {
                guard !(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8))).isEmpty else { throw LDAPProtocolError("no certificate") }
            } catch {
                throw AuthError(.directoryMisconfigured, "caPEM holds no readable PEM certificate")
            }
        }
    }
}

/// A directory account as Canopy sees it after a search.
public struct DirectoryUser: Sendable, Equatable {
    public let dn: String
    public let username: String
    public let displayName: String
    public let email: String?
    /// Group names (`groupNameAttribute`), nested ones included, sorted.
    public let groups: [String]
}

/// What `LDAPDirectory.test` found, step by step, for an administrator setting a provider up.
public struct DirectoryTestReport: Sendable, Equatable, Encodable {
    public struct Step: Sendable, Equatable, Encodable {
        /// `connect`, `serviceBind`, `userSearch`, `userBind`, `groupSearch`.
        public let step: String
        public let ok: Bool
        public let detail: String
    }

    public var steps: [Step] = []
    /// The server that answered.
    public var server: String?
    public var userDN: String?
    public var groups: [String]?
    public var ok: Bool { !steps.isEmpty && steps.allSatisfy(\.ok) }
}
