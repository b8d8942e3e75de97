import CanopyAuth
import Foundation
import Testing
import TestSupport

/// The LDAP client against a real slapd: sign-in, groups (nested, paged), refusals that say
/// nothing, TLS both ways, fail-over and an outage.
@Suite struct LDAPDirectoryTests {
    static func coke(_ directory: TestDirectory, urls: [String]? = nil, nested: Int = 0) -> DirectoryConfiguration {
        DirectoryConfiguration(
            urls: urls ?? [directory.url], bindDN: TestDirectory.bindDN, bindPassword: TestDirectory.bindPassword,
            userBaseDN: TestDirectory.cokePeople, groupBaseDN: TestDirectory.cokeGroups, nestedGroupDepth: nested
        )
    }

    @Test func directoryUserSignsInWithGroups() async throws {
        try await TestDirectory.with { directory in
            let ldap = try LDAPDirectory(configuration: Self.coke(directory))
            let alice = try await ldap.authenticate(username: "alice", password: "alice-pw")
            #expect(alice.dn == "uid=alice,\(TestDirectory.cokePeople)")
            #expect(alice.email == "alice@coke.test")
            #expect(alice.groups == ["developers"])
            // Nested: developers is a member of marketing-team.
            let nested = try LDAPDirectory(configuration: Self.coke(directory, nested: 2))
            #expect(try await nested.authenticate(username: "alice", password: "alice-pw").groups == ["developers", "marketing-team"])
            // Twelve groups over pages of five.
            var paged = Self.coke(directory)
            paged.pageSize = 5
            let carol = try await LDAPDirectory(configuration: paged).authenticate(username: "carol", password: "carol-pw")
            #expect(carol.groups == (1...12).map { String(format: "team-%02d", $0) })
            #expect(try await ldap.lookup(username: "bob")?.groups == ["admins"])
            #expect(try await ldap.lookup(username: "nobody") == nil)
            await ldap.shutdown()
        }
    }

    @Test func everyWrongCredentialIsTheSameRefusal() async throws {
        try await TestDirectory.with { directory in
            let ldap = try LDAPDirectory(configuration: Self.coke(directory))
            for (username, password) in [("alice", "wrong"), ("alice", ""), ("nobody", "x"), ("*", "alice-pw"), ("*)(uid=*", "alice-pw"), ("alice)(|(uid=*", "x"), ("", "x")] {
                let error = await #expect(throws: AuthError.self) { try await ldap.authenticate(username: username, password: password) }
                #expect(error?.code == .invalidCredentials, "\(username)")
                #expect(error?.message == "invalid user name or password")
            }
            // The entry whose uid really is `*)(uid=*` signs in as itself, and only with its password.
            #expect(try await ldap.authenticate(username: "*)(uid=*", password: "injector-pw").dn == "cn=injector,\(TestDirectory.cokePeople)")
        }
    }

    @Test func tlsWithTheRightCAOnlyBothWays() async throws {
        try await TestDirectory.with { directory in
            var ldaps = Self.coke(directory, urls: [directory.ldapsURL])
            ldaps.caPEM = directory.caPEM
            #expect(try await LDAPDirectory(configuration: ldaps).authenticate(username: "alice", password: "alice-pw").groups == ["developers"])
            var startTLS = Self.coke(directory)
            startTLS.startTLS = true
            startTLS.caPEM = directory.caPEM
            #expect(try await LDAPDirectory(configuration: startTLS).authenticate(username: "alice", password: "alice-pw").groups == ["developers"])

            let otherCA = try TestDirectoryCA.unrelatedCAPEM()
            for var configuration in [ldaps, startTLS] {
                configuration.caPEM = otherCA
                let error = await #expect(throws: AuthError.self) {
                    try await LDAPDirectory(configuration: configuration).authenticate(username: "alice", password: "alice-pw")
                }
                #expect(error?.code == .directoryTLS, "\(String(describing: error))")
            }
        }
    }

    @Test func failsOverToTheNextServerAndReportsOutagesFast() async throws {
        try await TestDirectory.with { directory in
            let closedPort = "ldap://127.0.0.1:\(directory.port == 1 ? 2 : 1)"
            let ldap = try LDAPDirectory(configuration: Self.coke(directory, urls: [closedPort, directory.url]))
            #expect(try await ldap.authenticate(username: "alice", password: "alice-pw").groups == ["developers"])

            try await directory.stop()
            let start = ContinuousClock.now
            let error = await #expect(throws: AuthError.self) { try await ldap.authenticate(username: "alice", password: "alice-pw") }
            #expect(error?.code == .directoryUnavailable)
            #expect(error?.message.contains("no directory server answered") == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - start < .seconds(3))

            try await directory.start()
            #expect(try await ldap.authenticate(username: "alice", password: "alice-pw").groups == ["developers"])
        }
    }

    @Test func aServerThatNeverAnswersCostsOneOperationTimeout() async throws {
        // A listening socket that never reads: connections complete, answers never come.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(listening)
        var configuration = DirectoryConfiguration(
            urls: ["ldap://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"], bindDN: "cn=x", bindPassword: "x", userBaseDN: "dc=test", groupBaseDN: "dc=test"
        )
        configuration.operationTimeout = .milliseconds(500)
        let start = ContinuousClock.now
        let error = await #expect(throws: AuthError.self) { try await LDAPDirectory(configuration: configuration).authenticate(username: "alice", password: "x") }
        #expect(error?.code == .directoryUnavailable)
        #expect(error?.message.contains("did not answer within") == true, "\(String(describing: error))")
        // One 500 ms timeout, not the 30 s default nor a retry per step; the bound is loose
        // because the full suite runs this next to busy tests on two cores.
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func testReportsEachStepPrecisely() async throws {
        try await TestDirectory.with { directory in
            let good = try LDAPDirectory(configuration: Self.coke(directory))
            let passed = await good.test(username: "alice", password: "alice-pw")
            #expect(passed.ok)
            #expect(passed.steps.map(\.step) == ["connect", "serviceBind", "userSearch", "userBind", "groupSearch"])
            #expect(passed.groups == ["developers"])

            let wrongPassword = await good.test(username: "alice", password: "nope")
            #expect(wrongPassword.steps.last?.step == "userBind")
            #expect(wrongPassword.steps.last?.detail.contains("invalidCredentials (49)") == true)
            #expect(await good.test(username: "nobody", password: "x").steps.last?.step == "userSearch")

            var badService = Self.coke(directory)
            badService.bindPassword = "wrong"
            let refused = await (try LDAPDirectory(configuration: badService)).test(username: "alice", password: "alice-pw")
            #expect(refused.steps.last?.step == "serviceBind")
            #expect(refused.steps.last?.ok == false)
            #expect(refused.steps.last?.detail.contains("invalidCredentials (49)") == true)

            var badBase = Self.coke(directory)
            badBase.userBaseDN = "ou=nowhere,dc=test"
            let missing = await (try LDAPDirectory(configuration: badBase)).test(username: "alice", password: "alice-pw")
            #expect(missing.steps.last?.detail.contains("does not exist") == true, "\(missing)")
            // A service account that is wrong is the directory's fault, not the user's.
            let error = await #expect(throws: AuthError.self) { try await LDAPDirectory(configuration: badService).authenticate(username: "alice", password: "alice-pw") }
            #expect(error?.code == .directoryMisconfigured)
        }
    }

    @Test func invalidConfigurationsAreRefusedUpFront() {
        let base = DirectoryConfiguration(urls: ["ldap://x"], bindDN: "", bindPassword: "", userBaseDN: "dc=test", groupBaseDN: "dc=test")
        var cases: [DirectoryConfiguration] = []
        var copy = base; copy.urls = []; cases.append(copy)
        copy = base; copy.urls = ["http://x"]; cases.append(copy)
        copy = base; copy.userFilter = "(uid=alice)"; cases.append(copy)
        copy = base; copy.userFilter = "(uid={username}"; cases.append(copy)
        copy = base; copy.groupFilter = "(member=x)"; cases.append(copy)
        copy = base; copy.userBaseDN = "nonsense"; cases.append(copy)
        copy = base; copy.nestedGroupDepth = 11; cases.append(copy)
        copy = base; copy.caPEM = "not a certificate"; cases.append(copy)
        copy = base; copy.urls = ["ldaps://x"]; copy.startTLS = true; cases.append(copy)
        copy = base; copy.groupNameAttribute = "cn)(x"; cases.append(copy)
        for configuration in cases {
            #expect(throws: AuthError.self, "\(configuration)") { try configuration.validate() }
        }
        #expect(throws: Never.self) { try base.validate() }
    }
}
