@testable import CanopyAuth
import Foundation
import SwiftASN1
import Testing

/// BER encodings checked against RFC 4511's grammar byte by byte, filters against RFC 4515, DNs
/// against RFC 4514.
@Suite struct LDAPCodecTests {
    private func encoded(_ filter: LDAPFilter) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try filter.encode(into: &serializer)
        return serializer.serializedBytes
    }

    @Test func equalityFilterEncodesAsContextTagThree() throws {
        // [3] { OCTET STRING "uid", OCTET STRING "alice" }
        #expect(try encoded(LDAPFilter(parsing: "(uid=alice)")) == [0xa3, 0x0c, 0x04, 0x03] + Array("uid".utf8) + [0x04, 0x05] + Array("alice".utf8))
        #expect(try encoded(LDAPFilter(parsing: "(objectClass=*)")) == [0x87, 0x0b] + Array("objectClass".utf8))
    }

    @Test func compositeFiltersParse() throws {
        let filter = try LDAPFilter(parsing: "(&(objectClass=person)(|(uid=a*b)(!(cn>=m)))(mail~=x))")
        #expect(filter == .and([
            .equal("objectClass", Array("person".utf8)),
            .or([.substrings("uid", initial: Array("a".utf8), any: [], final: Array("b".utf8)), .not(.greaterOrEqual("cn", Array("m".utf8)))]),
            .approximate("mail", Array("x".utf8)),
        ]))
        #expect(try LDAPFilter(parsing: "(cn=*mid*)") == .substrings("cn", initial: nil, any: [Array("mid".utf8)], final: nil))
        #expect(try LDAPFilter(parsing: "(cn=a\\2ab)") == .equal("cn", Array("a*b".utf8)))
    }

    @Test(arguments: ["uid=alice", "(uid=alice", "(uid=alice))", "(&)", "(=x)", "(cn=a\\2)", "(cn=(x))", "(cn>=a*)", "(cn:dn:=x)"])
    func malformedFiltersAreRefused(_ text: String) {
        #expect(throws: LDAPFilterError.self) { try LDAPFilter(parsing: text) }
    }

    @Test(arguments: ["*)(uid=*", "alice)(|(uid=*", "\\", "a(b)c*", "{dn}", "x\u{0}y", "é*"])
    func filledValuesNeverChangeTheFilterStructure(_ value: String) throws {
        let filter = try LDAPFilter.fill("(&(objectClass=person)(uid={username}))", with: ["username": value])
        #expect(filter == .and([.equal("objectClass", Array("person".utf8)), .equal("uid", Array(value.utf8))]))
    }

    @Test func unknownPlaceholdersAreRefused() {
        #expect(throws: LDAPFilterError.self) { try LDAPFilter.fill("(uid={user})", with: ["username": "x"]) }
    }

    @Test func bindRequestMatchesRFC4511() throws {
        let bytes = try LDAPCodec.encode(messageID: 1, .bind(dn: "cn=a", password: "pw"))
        // SEQUENCE { INTEGER 1, [APPLICATION 0] { INTEGER 3, OCTET STRING "cn=a", [0] "pw" } }
        #expect(bytes == [0x30, 0x12, 0x02, 0x01, 0x01, 0x60, 0x0d, 0x02, 0x01, 0x03, 0x04, 0x04] + Array("cn=a".utf8) + [0x80, 0x02] + Array("pw".utf8))
    }

    @Test func responsesDecode() throws {
        // A bind response: invalidCredentials (49), no matched DN, a diagnostic.
        let bind: [UInt8] = [0x30, 0x0f, 0x02, 0x01, 0x07, 0x61, 0x0a, 0x0a, 0x01, 0x31, 0x04, 0x00, 0x04, 0x03] + Array("bad".utf8)
        let decoded = try LDAPCodec.decode(bind)
        #expect(decoded.messageID == 7)
        guard case .bind(let result) = decoded.response else { Issue.record("not a bind response"); return }
        #expect(result == LDAPResult(code: 49, matchedDN: "", diagnostic: "bad"))
        #expect(result.summary == "invalidCredentials (49): bad")
        #expect(try LDAPCodec.frameLength(bind) == bind.count)
        #expect(try LDAPCodec.frameLength(bind.prefix(1)) == nil)
        #expect(try LDAPCodec.frameLength([0x30, 0x82, 0x01]) == nil)
        #expect(try LDAPCodec.frameLength([0x30, 0x82, 0x01, 0x00]) == 260)
    }

    @Test func pagedResultsCookieRoundTrips() throws {
        let control = try LDAPControl.pagedResults(size: 5, cookie: [1, 2, 3])
        #expect(try control.pagedResultsCookie() == [1, 2, 3])
        #expect(try LDAPControl.pagedResults(size: 5, cookie: []).pagedResultsCookie() == [])
    }

    @Test func distinguishedNamesCompareByMeaning() throws {
        #expect(try DistinguishedName("CN=Dev Team, OU=Groups,dc=test") == DistinguishedName("cn=dev team,ou=groups,dc=test"))
        #expect(try DistinguishedName("cn=a\\,b,dc=test").rdns.first == [.init(type: "cn", value: "a,b")])
        #expect(try DistinguishedName("cn=a\\2cb,dc=test") == DistinguishedName("cn=a\\,b,dc=test"))
        #expect(try DistinguishedName("cn=a+uid=b,dc=test") == DistinguishedName("uid=b+cn=a,dc=test"))
        #expect(try DistinguishedName("cn=a,dc=test") != DistinguishedName("cn=a,dc=other"))
        #expect(throws: LDAPProtocolError.self) { try DistinguishedName("cn") }
        #expect(throws: LDAPProtocolError.self) { try DistinguishedName("=x") }
        #expect(DistinguishedName.escape(" a,b+c ") == "\\ a\\,b\\+c\\ ")
    }

    @Test func urlsParseWithDefaultPorts() throws {
        #expect(try LDAPURL("ldap://dir.example").port == 389)
        #expect(try LDAPURL("ldaps://dir.example/").port == 636)
        #expect(try LDAPURL("ldap://[::1]:1389").host == "::1")
        #expect(try LDAPURL("LDAP://127.0.0.1:1389").description == "ldap://127.0.0.1:1389")
        for bad in ["http://x", "ldap://", "ldap://x:0", "ldap://x:y", "ldap://x/dc=test"] {
            #expect(throws: AuthError.self) { try LDAPURL(bad) }
        }
    }
}
