import ArgumentParser
import Foundation

/// `canopy login`: sign in and keep the token for later commands.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sign in and save the token in ~/.config/canopy/credentials.")

    @Option(help: "The Canopy server, e.g. http://127.0.0.1:8443")
    var server: String

    @Option(help: "Your tenant; leave out for domain (service-provider) accounts.")
    var tenant: String?

    @Option(help: "User name.")
    var username: String

    @Option(help: "Password; read from CANOPY_PASSWORD or standard input when left out.")
    var password: String?

    @Option(help: "A PEM file with the CA to trust for the server's certificate (e.g. DATA_DIR/tls.crt).")
    var certificateAuthority: String?

    @Flag(help: "Do not verify the server's certificate (testing only).")
    var insecureSkipTlsVerify = false

    func run() async throws {
        let secret = password ?? ProcessInfo.processInfo.environment["CANOPY_PASSWORD"] ?? readLine(strippingNewline: true) ?? ""
        var body: [String: Any] = ["username": username, "password": secret]
        if let tenant { body["tenant"] = tenant }
        let authority = try certificateAuthority.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let client = APIClient(server: server, token: nil, certificateAuthority: authority, insecureSkipTLSVerify: insecureSkipTlsVerify)
        let data = try await run(try await client.send(.POST, "/api/v1/login", body: body))
        guard let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any], let token = answer["token"] as? String else {
            throw CLIError("the server's answer had no token")
        }
        try Credentials(
            server: server, token: token, certificateAuthority: authority,
            insecureSkipTLSVerify: insecureSkipTlsVerify ? true : nil
        ).save()
        print("Signed in as \(tenant.map { "\($0)/" } ?? "")\(username); token saved in \(Credentials.path.path)")
    }
}

/// `canopy whoami`: who the saved token belongs to, and their roles.
struct Whoami: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show who you are signed in as, and your roles.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        let data = try await run(try await options.client().send(.GET, "/api/v1/whoami"))
        if options.output == .json { return print(String(decoding: data, as: UTF8.self)) }
        let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let user = answer["user"] as? [String: Any] ?? [:]
        print("user:      \(answer["tenant"].map { "\($0)/" } ?? "")\(user["username"] ?? "?")")
        if answer["serviceProvider"] as? Bool == true { print("role:      service provider") }
        if answer["tenantAdmin"] as? Bool == true { print("role:      tenant admin") }
        if let groups = answer["groups"] as? [String], !groups.isEmpty { print("groups:    \(groups.joined(separator: ", "))") }
        for project in answer["projects"] as? [[String: Any]] ?? [] {
            print("project:   \(project["project"] ?? "?") (\(project["role"] ?? "?"))")
        }
    }
}

extension AsyncParsableCommand {
    /// Awaits an API call, turning server refusals into a clean `error:` line and exit code 1.
    func run(_ call: @autoclosure () async throws -> Data) async throws -> Data {
        do {
            return try await call()
        } catch let failure as APIClient.Failure {
            throw CLIError(failure.description)
        }
    }
}

/// `canopy password`: the signed-in local account (a tenant's or the domain's) changes its own
/// password, giving the current one.
struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password", abstract: "Change your own password (local accounts).",
        discussion: "Each password left out, or given as -, is read from a line of standard input: the current one first, then the new one."
    )
    @OptionGroup var options: ClientOptions
    @Option(help: "Your current password.") var current: String?
    @Option(name: .customLong("new"), help: "The new password.") var newPassword: String?

    func run() async throws {
        let body = ["current": try passwordOption(current ?? "-", "--current"), "password": try passwordOption(newPassword ?? "-", "--new")]
        _ = try await run(try await options.client().send(.POST, "/api/v1/password", body: body))
        print("password changed (your sessions and tokens stay valid: canopy tokens list, canopy tokens revoke ID)")
    }
}

/// `canopy tokens list|create|revoke`: the signed-in account's own API tokens (sign-ins, the
/// console's sessions, kubeconfig and automation tokens), as `…/api/v1/tokens`.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "List, create and revoke your own API tokens.", subcommands: [List.self, Create.self, Revoke.self]
    )
    /// A token as lists show it (also `canopy user tokens`).
    static let columns = ["id", "description", "createdAt", "expiresAt", "lastUsedAt", "revokedAt"]

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() async throws {
            try options.print(try await run(try await options.client().send(.GET, "/api/v1/tokens")), columns: TokensCommand.columns)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for automation; its secret is printed once.")
        @OptionGroup var options: ClientOptions
        @Option var description: String?
        @Option(help: "Its lifetime in seconds (60 to a year; default 30 days).") var ttlSeconds: Int?
        func run() async throws {
            var body: [String: Any] = [:]
            if let description { body["description"] = description }
            if let ttlSeconds { body["ttlSeconds"] = ttlSeconds }
            try options.print(try await run(try await options.client().send(.POST, "/api/v1/tokens", body: body)), columns: ["id", "token", "expiresAt"])
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke one of your tokens: it is refused from its next request.")
        @OptionGroup var options: ClientOptions
        @Argument var id: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, "/api/v1/tokens/\(id)"))
            print("token \(id) revoked")
        }
    }
}
