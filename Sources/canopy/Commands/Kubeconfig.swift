import ArgumentParser
import Foundation

/// `canopy kubeconfig`: a kubeconfig for `kubectl` through Canopy's proxy.
struct KubeconfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubeconfig",
        abstract: "Print a kubeconfig with a context per project and cluster you may reach (kubectl through Canopy)."
    )

    @Option(help: "The tenant (domain users must name one).") var tenant: String?
    @Option(help: "Only this project's contexts.") var project: String?
    @Option(help: "exec (default: `canopy token` mints short-lived tokens) or token (embeds a new API token).") var style = "exec"
    @Option(help: "With --style token: the token's lifetime in seconds.") var ttlSeconds: Int?
    @Option(help: "Write to this file (mode 0600) instead of standard output.") var output: String?

    func run() async throws {
        let credentials = try Credentials.load()
        var query = ["style=\(style)"]
        if let tenant { query.append("tenant=\(tenant)") }
        if let project { query.append("project=\(project)") }
        if let ttlSeconds { query.append("ttlSeconds=\(ttlSeconds)") }
        let client = APIClient(
            server: credentials.server, token: credentials.token, certificateAuthority: credentials.certificateAuthority,
            insecureSkipTLSVerify: credentials.insecureSkipTLSVerify ?? false
        )
        let data = try await client.send(.GET, "/api/v1/kubeconfig?" + query.joined(separator: "&"))
        guard let output else {
            FileHandle.standardOutput.write(data)
            return
        }
        FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600])
        try data.write(to: URL(fileURLWithPath: output))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: output)
        print("wrote \(output); try: kubectl --kubeconfig \(output) get pods")
    }
}

/// `canopy token`: the exec credential plugin the kubeconfigs name. Prints an `ExecCredential`
/// with a token of 15 minutes, minted with the saved sign-in and reused until a minute before it
/// expires; kubectl asks again when it runs out.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Print a short-lived token for kubectl (an exec credential plugin).")

    @Option(help: "The Canopy server the kubeconfig points at; must be the one you signed in to.") var server: String?

    struct Cached: Codable {
        let server: String
        let token: String
        let expiresAt: Date
    }

    static var cachePath: URL { Credentials.path.deletingLastPathComponent().appendingPathComponent("exec-token") }

    func run() async throws {
        let credentials = try Credentials.load()
        if let server, server.trimmingCharacters(in: CharacterSet(charactersIn: "/")) != credentials.server.trimmingCharacters(in: CharacterSet(charactersIn: "/")) {
            throw CLIError("this kubeconfig is for \(server), but you are signed in to \(credentials.server); run `canopy login --server \(server)`")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if let data = try? Data(contentsOf: Self.cachePath), let cached = try? decoder.decode(Cached.self, from: data),
           cached.server == credentials.server, cached.expiresAt.timeIntervalSinceNow > 60 {
            return emit(cached)
        }
        let client = APIClient(
            server: credentials.server, token: credentials.token, certificateAuthority: credentials.certificateAuthority,
            insecureSkipTLSVerify: credentials.insecureSkipTLSVerify ?? false
        )
        let data = try await client.send(.POST, "/api/v1/tokens", body: ["description": "kubectl (canopy token)", "ttlSeconds": 900])
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any], let token = object["token"] as? String,
              let expires = (object["expiresAt"] as? String).flatMap({ ISO8601DateFormatter().date(from: $0) })
        else { throw CLIError("the server answered without a token") }
        let cached = Cached(server: credentials.server, token: token, expiresAt: expires)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        FileManager.default.createFile(atPath: Self.cachePath.path, contents: nil, attributes: [.posixPermissions: 0o600])
        try encoder.encode(cached).write(to: Self.cachePath)
        emit(cached)
    }

    private func emit(_ cached: Cached) {
        let formatter = ISO8601DateFormatter()
        let credential: [String: Any] = [
            "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
            "status": ["token": cached.token, "expirationTimestamp": formatter.string(from: cached.expiresAt)],
        ]
        if let data = try? JSONSerialization.data(withJSONObject: credential, options: [.sortedKeys]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}
