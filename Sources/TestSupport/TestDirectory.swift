import CanopyCertificates
import Foundation
import NIOCore
import NIOPosix

/// A real OpenLDAP `slapd` for tests, on free loopback ports in a temporary folder, with a small
/// directory: two companies (`ou=coke`, `ou=pepsi`) under `dc=test`, each with people and groups.
///
/// Coke: `alice` (in `developers`, which is in `marketing-team`), `bob` (in `admins`), `carol`
/// (in the twelve groups `team-01`…`team-12`, for paging), and an entry whose uid is
/// `*)(uid=*`. Pepsi: another `alice` with another password. Passwords are `<uid>-pw`, Pepsi's
/// alice has `pepsi-alice-pw`. The server offers `ldap://` (with StartTLS) and `ldaps://` with a
/// certificate for 127.0.0.1 and localhost issued by a test CA of its own (`caPEM`).
public final class TestDirectory: @unchecked Sendable {
    public static let bindDN = "cn=admin,dc=test"
    public static let bindPassword = "admin-secret"
    public static let cokePeople = "ou=people,ou=coke,dc=test"
    public static let cokeGroups = "ou=groups,ou=coke,dc=test"
    public static let pepsiPeople = "ou=people,ou=pepsi,dc=test"
    public static let pepsiGroups = "ou=groups,ou=pepsi,dc=test"

    public let port: Int
    public let tlsPort: Int
    /// The test CA that issued the server's certificate: what clients must trust.
    public let caPEM: String
    public let folder: URL
    private var process: ChildProcess?

    public var url: String { "ldap://127.0.0.1:\(port)" }
    public var ldapsURL: String { "ldaps://127.0.0.1:\(tlsPort)" }

    /// Starts slapd, runs `body`, and stops slapd and removes its folder whatever happens.
    public static func with<T>(_ body: (TestDirectory) async throws -> T) async throws -> T {
        let directory = try await TestDirectory()
        do {
            let result = try await body(directory)
            try await directory.remove()
            return result
        } catch {
            try? await directory.remove()
            throw error
        }
    }

    private init() async throws {
        guard let slapd = ["/usr/sbin/slapd", "/usr/local/sbin/slapd"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw TestFailure("slapd is not installed: run scripts/test, which installs slapd and ldap-utils from Debian")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-slapd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("db"), withIntermediateDirectories: true)
        port = try ServerProcess.freePort()
        tlsPort = try ServerProcess.freePort()
        let authority = try ServerCertificate.create(host: "localhost", commonName: "Test directory CA")
        let certificate = try authority.issueServerCertificate(commonName: "Test directory")
        caPEM = authority.certificatePEM
        try authority.certificatePEM.write(to: folder.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try certificate.certificatePEM.write(to: folder.appendingPathComponent("server.crt"), atomically: true, encoding: .utf8)
        try certificate.keyPEM.write(to: folder.appendingPathComponent("server.key"), atomically: true, encoding: .utf8)
        try Self.configuration(folder: folder.path).write(to: folder.appendingPathComponent("slapd.conf"), atomically: true, encoding: .utf8)
        try Self.entries.write(to: folder.appendingPathComponent("data.ldif"), atomically: true, encoding: .utf8)
        let slapadd = URL(fileURLWithPath: slapd).deletingLastPathComponent().appendingPathComponent("slapadd").path
        let loaded = try await ProcessRunner.run(slapadd, ["-f", folder.appendingPathComponent("slapd.conf").path, "-l", folder.appendingPathComponent("data.ldif").path])
        guard loaded.status == 0 else { throw TestFailure("slapadd failed: \(loaded.output)") }
        self.slapd = slapd
        try await start()
    }

    private var slapd = ""

    /// Starts (or restarts) slapd on the same ports and waits until it accepts connections.
    public func start() async throws {
        // -d 0 keeps slapd in the foreground (no fork), so the PID is slapd's own.
        let process = try ChildProcess(
            slapd, ["-f", folder.appendingPathComponent("slapd.conf").path, "-h", "\(url)/ \(ldapsURL)/", "-d", "0"],
            output: .file(folder.appendingPathComponent("slapd.log").path)
        )
        self.process = process
        let port = self.port
        do {
            // Alone slapd answers within milliseconds; under the loaded parallel phase a restart
            // once took over 10 s (its log is in the error if it does not come up).
            _ = try await eventually(within: 30, "slapd accepts connections on \(port)") {
                guard process.isRunning else { throw TestFailure("slapd exited: \((try? String(contentsOf: self.folder.appendingPathComponent("slapd.log"), encoding: .utf8)) ?? "")") }
                return Self.accepts(port: port)
            }
        } catch {
            stopNow()
            let log = (try? String(contentsOf: folder.appendingPathComponent("slapd.log"), encoding: .utf8)) ?? ""
            throw TestFailure("\(error); slapd's log: \(log.suffix(2000))")
        }
    }

    /// Stops slapd and waits until it has exited and its port is closed. SIGKILL, to be quick:
    /// slapd's database survives a kill.
    public func stop() async throws {
        guard let process, process.isRunning else { return }
        process.signal(SIGKILL)
        let port = self.port
        _ = try await eventually(within: 10, "slapd stops") { !process.isRunning && !Self.accepts(port: port) }
        self.process = nil
    }

    private func stopNow() {
        process?.signal(SIGKILL)
        process = nil
    }

    private func remove() async throws {
        try await stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs an ldap-utils command (`ldapdelete`, `ldapmodify`) against this server as the admin.
    public func run(_ tool: String, _ arguments: [String], input: String? = nil) async throws -> String {
        let result = try await ProcessRunner.run(tool, ["-x", "-H", url, "-D", Self.bindDN, "-w", Self.bindPassword] + arguments, input: input)
        guard result.status == 0 else { throw TestFailure("\(tool) failed: \(result.output)") }
        return result.output
    }

    private static func accepts(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func configuration(folder: String) -> String {
        """
        include /etc/ldap/schema/core.schema
        include /etc/ldap/schema/cosine.schema
        include /etc/ldap/schema/inetorgperson.schema
        pidfile \(folder)/slapd.pid
        modulepath /usr/lib/ldap
        moduleload back_mdb
        TLSCACertificateFile \(folder)/ca.crt
        TLSCertificateFile \(folder)/server.crt
        TLSCertificateKeyFile \(folder)/server.key
        database mdb
        maxsize 104857600
        suffix "dc=test"
        rootdn "\(bindDN)"
        rootpw \(bindPassword)
        directory \(folder)/db

        """
    }

    private static var entries: String {
        var ldif = """
        dn: dc=test
        objectClass: dcObject
        objectClass: organization
        o: test
        dc: test

        """
        for company in ["coke", "pepsi"] {
            ldif += """

            dn: ou=\(company),dc=test
            objectClass: organizationalUnit
            ou: \(company)

            dn: ou=people,ou=\(company),dc=test
            objectClass: organizationalUnit
            ou: people

            dn: ou=groups,ou=\(company),dc=test
            objectClass: organizationalUnit
            ou: groups

            """
        }
        func person(_ uid: String, _ rdn: String, company: String, password: String) -> String {
            """

            dn: \(rdn),ou=people,ou=\(company),dc=test
            objectClass: inetOrgPerson
            uid: \(uid)
            cn: \(uid.capitalized) Example
            sn: Example
            mail: \(uid)@\(company).test
            userPassword: \(password)

            """
        }
        func group(_ name: String, company: String, members: [String]) -> String {
            "\ndn: cn=\(name),ou=groups,ou=\(company),dc=test\nobjectClass: groupOfNames\ncn: \(name)\n"
                + members.map { "member: \($0)\n" }.joined()
        }
        let coke = "ou=people,ou=coke,dc=test"
        for uid in ["alice", "bob", "carol", "dave"] { ldif += person(uid, "uid=\(uid)", company: "coke", password: "\(uid)-pw") }
        ldif += person("*)(uid=*", "cn=injector", company: "coke", password: "injector-pw")
        ldif += person("alice", "uid=alice", company: "pepsi", password: "pepsi-alice-pw")
        ldif += group("developers", company: "coke", members: ["uid=alice,\(coke)", "uid=dave,\(coke)"])
        ldif += group("marketing-team", company: "coke", members: ["cn=developers,ou=groups,ou=coke,dc=test"])
        ldif += group("admins", company: "coke", members: ["uid=bob,\(coke)"])
        for index in 1...12 { ldif += group(String(format: "team-%02d", index), company: "coke", members: ["uid=carol,\(coke)"]) }
        ldif += group("pepsi-devs", company: "pepsi", members: ["uid=alice,ou=people,ou=pepsi,dc=test"])
        return ldif
    }
}

/// Certificates for TLS refusal tests.
public enum TestDirectoryCA {
    /// A CA certificate that signed nothing the test directory presents.
    public static func unrelatedCAPEM() throws -> String {
        try ServerCertificate.create(host: "localhost", commonName: "Unrelated CA").certificatePEM
    }
}
