import ArgumentParser
import Foundation

/// `canopy identity-provider list|create|test|delete [--tenant T]`: a tenant's LDAP directories,
/// or the domain's without `--tenant`.
struct IdentityProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity-provider", abstract: "Manage the LDAP directories people sign in with.",
        subcommands: [List.self, Create.self, Test.self, Delete.self], aliases: ["idp"]
    )
    static let columns = ["name", "urls", "userBaseDN", "groupBaseDN", "startTLS", "nestedGroupDepth"]

    static func path(_ tenant: String?) -> String {
        tenant.map { "/api/v1/tenants/\($0)/identity-providers" } ?? "/api/v1/identity-providers"
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: "The tenant; the domain's providers without it.") var tenant: String?
        func run() async throws {
            try options.print(try await run(try await options.client().send(.GET, IdentityProviderCommand.path(tenant))), columns: IdentityProviderCommand.columns)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an LDAP directory (checked at once with `test`).")
        @OptionGroup var options: ClientOptions
        @Option(help: "The tenant; the domain's provider without it.") var tenant: String?
        @Argument var name: String
        @Option(name: .customLong("url"), help: "ldap:// or ldaps:// URL; repeat for fail-over servers.") var urls: [String]
        @Option(help: "The service account that searches.") var bindDN = ""
        @Option(help: "The service account's password (or CANOPY_BIND_PASSWORD).") var bindPassword: String?
        @Option var userBaseDN: String
        @Option(help: "Default (uid={username}).") var userFilter: String?
        @Option var groupBaseDN: String
        @Option(help: "Default (member={dn}).") var groupFilter: String?
        @Option(help: "Default cn.") var groupNameAttribute: String?
        @Flag(help: "Upgrade ldap:// connections with StartTLS.") var startTLS = false
        @Option(help: "A PEM file with the CA certificates of the directory's servers.") var caFile: String?
        @Option(help: "Levels of nested groups to follow (0 to 10).") var nestedGroupDepth: Int?

        func run() async throws {
            var body: [String: Any] = [
                "name": name, "type": "ldap", "urls": urls, "bindDN": bindDN, "userBaseDN": userBaseDN, "groupBaseDN": groupBaseDN, "startTLS": startTLS,
            ]
            if let password = bindPassword ?? ProcessInfo.processInfo.environment["CANOPY_BIND_PASSWORD"] { body["bindPassword"] = password }
            if let userFilter { body["userFilter"] = userFilter }
            if let groupFilter { body["groupFilter"] = groupFilter }
            if let groupNameAttribute { body["groupNameAttribute"] = groupNameAttribute }
            if let nestedGroupDepth { body["nestedGroupDepth"] = nestedGroupDepth }
            if let caFile {
                guard let pem = FileManager.default.contents(atPath: caFile) else { throw ValidationError("cannot read \(caFile)") }
                body["caPEM"] = String(decoding: pem, as: UTF8.self)
            }
            try options.print(try await run(try await options.client().send(.POST, IdentityProviderCommand.path(tenant), body: body)), columns: IdentityProviderCommand.columns)
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a user in step by step and show what each step found.")
        @OptionGroup var options: ClientOptions
        @Option(help: "The tenant; the domain's provider without it.") var tenant: String?
        @Argument var name: String
        @Option var username: String
        @Option(help: "The user's password (or CANOPY_TEST_PASSWORD).") var password: String?

        func run() async throws {
            let body: [String: Any] = ["username": username, "password": password ?? ProcessInfo.processInfo.environment["CANOPY_TEST_PASSWORD"] ?? ""]
            let data = try await run(try await options.client().send(.POST, IdentityProviderCommand.path(tenant) + "/\(name)/test", body: body))
            guard options.output != .json, let report = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                return try options.print(data, columns: [])
            }
            for step in report["steps"] as? [[String: Any]] ?? [] {
                print("\((step["ok"] as? Bool) == true ? "ok  " : "FAIL") \(step["step"] as? String ?? "")\t\(step["detail"] as? String ?? "")")
            }
            if let groups = report["groups"] as? [String] { print("groups: \(groups.joined(separator: ", "))") }
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: "The tenant; the domain's provider without it.") var tenant: String?
        @Argument var name: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, IdentityProviderCommand.path(tenant) + "/\(name)"))
            print("identity provider \(name) deleted")
        }
    }
}
