import CanopyServer
import Foundation
import Logging
import TestSupport

/// `canopy bench --login`: issue 7's figures. A real slapd (Debian's, started on free loopback
/// ports in a temporary folder, as the tests do) and one Canopy server in this process; sign-ins
/// at `concurrency` for a local user and for a directory user (service bind, user search, user
/// bind, group search, and the same bcrypt work every sign-in spends), in the same run.
struct LoginBench {
    let concurrency: Int
    let duration: Duration
    /// The server's bcrypt cost: 12, as `canopy serve` uses.
    let bcryptCost: UInt8

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        try await TestDirectory.with { directory in
            let folder = try BenchKubeSim.temporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            var configuration = ServerConfiguration(dataDirectory: folder, port: 0, bcryptCost: bcryptCost, adminPassword: "bench-admin-password", tls: false)
            configuration.loginThrottle = .init(limit: 1_000_000)
            let (ready, readyContinuation) = AsyncStream<CanopyServer.Ready>.makeStream()
            let canopyRun = Task { try await CanopyServer.run(configuration, logger: logger) { readyContinuation.yield($0) } }
            guard let canopy = await ready.first(where: { _ in true }) else { return }
            let server = "http://127.0.0.1:\(canopy.port)"
            let admin = APIClient(server: server, token: try await signIn(server, nil, "admin", "bench-admin-password"), certificateAuthority: nil)
            _ = try await admin.send(.POST, "/api/v1/tenants", body: ["name": "coke", "mode": "enterprise", "admin": ["username": "boss", "password": "bench-password"]])
            _ = try await admin.send(.POST, "/api/v1/tenants/coke/users", body: ["username": "local", "password": "bench-password"])
            _ = try await admin.send(.POST, "/api/v1/tenants/coke/identity-providers", body: [
                "name": "corp", "urls": [directory.url], "bindDN": TestDirectory.bindDN, "bindPassword": TestDirectory.bindPassword,
                "userBaseDN": TestDirectory.cokePeople, "groupBaseDN": TestDirectory.cokeGroups, "nestedGroupDepth": 1,
            ])
            print("login: slapd \(directory.url), bcrypt cost \(bcryptCost), \(concurrency) concurrent, \(duration) each")
            let local = try await Load.measure(concurrency: concurrency, duration: duration) { _ = try await signIn(server, "coke", "local", "bench-password") }
            let ldap = try await Load.measure(concurrency: concurrency, duration: duration) { _ = try await signIn(server, "coke", "alice", "alice-pw") }
            Load.report("login", "local user", local, duration: duration, concurrency: concurrency)
            Load.report("login", "directory user (2 groups, nested)", ldap, duration: duration, concurrency: concurrency)
            await canopy.stop()
            _ = await canopyRun.result
        }
    }

    private func signIn(_ server: String, _ tenant: String?, _ user: String, _ password: String) async throws -> String {
        var body: [String: Any] = ["username": user, "password": password]
        if let tenant { body["tenant"] = tenant }
        let data = try await APIClient(server: server, token: nil, certificateAuthority: nil).send(.POST, "/api/v1/login", body: body)
        guard let token = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String else {
            throw BenchFailure("sign-in of \(user) gave no token")
        }
        return token
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
