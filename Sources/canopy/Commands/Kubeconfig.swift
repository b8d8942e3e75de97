import ArgumentParser
import Foundation
import Yams

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
    @Flag(help: "Merge into the kubeconfig kubectl uses ($KUBECONFIG's first file, else ~/.kube/config, or --output), replacing Canopy's earlier entries of the same names.") var merge = false

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
        if merge {
            let path = output ?? Self.defaultKubeconfigPath()
            let existing = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
            let (merged, contexts) = try KubeconfigMerge.merge(existing, String(decoding: data, as: UTF8.self))
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try writePrivately(Data(merged.utf8), to: path)
            print("merged \(contexts.count) context(s) into \(path): \(contexts.joined(separator: ", "))")
            if let first = contexts.first { print("try: kubectl --context \(first) get pods") }
            return
        }
        guard let output else {
            FileHandle.standardOutput.write(data)
            return
        }
        try writePrivately(data, to: output)
        print("wrote \(output); try: kubectl --kubeconfig \(output) get pods")
    }

    /// The file kubectl reads first: `$KUBECONFIG`'s first entry, else `~/.kube/config`.
    static func defaultKubeconfigPath() -> String {
        if let paths = ProcessInfo.processInfo.environment["KUBECONFIG"], let first = paths.split(separator: ":").first(where: { !$0.isEmpty }) {
            return String(first)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".kube/config").path
    }
}

/// Merges Canopy's kubeconfig into an existing one: clusters, users and contexts are matched by
/// name, Canopy's replacing same-named entries (a refresh) and every other entry kept as it was.
/// The existing current context stays; a file without one gets Canopy's.
enum KubeconfigMerge {
    static func merge(_ existing: String?, _ incoming: String) throws -> (yaml: String, contexts: [String]) {
        guard let canopy = try Yams.load(yaml: incoming) as? [String: Any] else { throw CLIError("the server's kubeconfig is not a YAML mapping") }
        var merged: [String: Any] = ["apiVersion": "v1", "kind": "Config", "preferences": [String: Any]()]
        if let existing, !existing.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            guard let current = try Yams.load(yaml: existing) as? [String: Any] else { throw CLIError("the existing kubeconfig is not a YAML mapping; nothing was changed") }
            merged = current
        }
        for section in ["clusters", "users", "contexts"] {
            let added = canopy[section] as? [[String: Any]] ?? []
            let names = Set(added.compactMap { $0["name"] as? String })
            let kept = (merged[section] as? [[String: Any]] ?? []).filter { !names.contains($0["name"] as? String ?? "") }
            merged[section] = kept + added
        }
        if (merged["current-context"] as? String ?? "").isEmpty { merged["current-context"] = canopy["current-context"] }
        let contexts = (canopy["contexts"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        return (try Yams.dump(object: merged), contexts)
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
        try writePrivately(encoder.encode(cached), to: Self.cachePath.path)
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
