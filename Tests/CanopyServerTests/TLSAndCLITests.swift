import AsyncHTTPClient
import Foundation
import Testing
import TestSupport

/// HTTPS by default with a self-signed certificate kept in the data folder, and the admin CLI
/// (the real binary) against it.
@Suite struct TLSAndCLITests {
    @Test func servesHTTPSWithAPersistentSelfSignedCertificate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            #expect(server.baseURL.hasPrefix("https://"))
            #expect(try await server.request(.GET, "/healthz").status == 200)
            // A client that does not trust the certificate is refused by TLS.
            await #expect(throws: (any Error).self) {
                _ = try await TestClient(baseURL: server.baseURL, timeout: .seconds(3)).request(.GET, "/healthz")
            }
            return try #require(server.certificatePEM)
        }
        let second = try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            try #require(server.certificatePEM)
        }
        #expect(first == second)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/tls.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func theCLISignsInAndManagesTenantsOverHTTPS() async throws {
        let directory = try TemporaryDirectory()
        let home = try TemporaryDirectory()
        defer { directory.remove(); home.remove() }
        try await TestServer.with(tls: true, dataDirectory: directory.path) { server in
            let cli = CLI(configHome: home.path)
            let login = try await cli.run(["login", "--server", server.baseURL, "--username", "admin", "--password", TestServer.adminPassword,
                                     "--certificate-authority", directory.path + "/tls.crt"])
            #expect(login.status == 0, "\(login.output)")
            let credentials = home.path + "/canopy/credentials"
            let mode = try FileManager.default.attributesOfItem(atPath: credentials)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let create = try await cli.run(["tenant", "create", "acme", "--mode", "msp", "--admin-username", "boss", "--admin-password", "password-123"])
            #expect(create.status == 0, "\(create.output)")
            let list = try await cli.run(["tenant", "list", "-o", "json"])
            let names = ((try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [String: Any])?["items"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["acme"])
            let table = try await cli.run(["tenant", "list"])
            #expect(table.output.contains("NAME") && table.output.contains("acme") && table.output.contains("msp"))
            let refused = try await cli.run(["project", "list", "--tenant", "acme"])
            #expect(refused.status != 0 && refused.output.contains("403"))
            let whoami = try await cli.run(["whoami"])
            #expect(whoami.output.contains("service provider"))
            let clusters = try await cli.run(["cluster", "list", "--tenant", "acme"])
            #expect(clusters.status != 0 && clusters.output.contains("403"))
        }
    }
}

/// Runs the real `canopy` binary with its own config folder.
struct CLI {
    let configHome: String

    func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ProcessRunner.run(ProcessRunner.canopyBinary, arguments, environment: ["XDG_CONFIG_HOME": configHome])
    }
}
