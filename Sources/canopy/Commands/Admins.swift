import ArgumentParser
import Foundation

/// `canopy admin list|add|remove [--tenant T]`: who administers a tenant, or without `--tenant`
/// the domain (service providers): users of that scope, or directory groups.
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Name a tenant's admins, or the domain's (without --tenant).", subcommands: [List.self, Add.self, Remove.self]
    )
    static let columns = ["id", "user", "group", "role"]
    static let tenantHelp: ArgumentHelp = "The tenant; without it, the domain's administrators (service providers only)."

    static func path(_ tenant: String?, _ id: String? = nil) -> String {
        (tenant.map { "/api/v1/tenants/\($0)/admins" } ?? "/api/v1/admins") + (id.map { "/\($0)" } ?? "")
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: AdminCommand.tenantHelp) var tenant: String?
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, AdminCommand.path(tenant))), columns: AdminCommand.columns) }
    }

    struct Add: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: AdminCommand.tenantHelp) var tenant: String?
        @Option(help: "A user of the tenant (or of the domain).") var user: String?
        @Option(help: "A directory group, by the name its directory gives it.") var group: String?
        func run() async throws {
            var body: [String: Any] = [:]
            if let user { body["user"] = user }
            if let group { body["group"] = group }
            try options.print(try await run(try await options.client().send(.POST, AdminCommand.path(tenant), body: body)), columns: AdminCommand.columns)
        }
    }

    struct Remove: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: AdminCommand.tenantHelp) var tenant: String?
        @Argument(help: "The admin's id, as `canopy admin list` shows it.") var id: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, AdminCommand.path(tenant, id)))
            print("admin \(id) removed")
        }
    }
}
