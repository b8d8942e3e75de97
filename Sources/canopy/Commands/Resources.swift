import ArgumentParser
import Foundation

/// `canopy tenant list|get|create|delete`.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants (service provider).",
        subcommands: [List.self, Get.self, Create.self, Delete.self]
    )
    /// The counts stay empty for the provider of an msp tenant (sealed: not the provider's to know).
    static let columns = ["name", "mode", "state", "clusterCount", "userCount", "projectCount", "displayName"]

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants")), columns: TenantCommand.columns) }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(name)")), columns: TenantCommand.columns) }
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Option(help: "enterprise or msp") var mode: String
        @Option var displayName: String?
        @Option(help: "The first tenant admin's user name.") var adminUsername: String
        @Option(help: "The first tenant admin's password; - reads it from standard input.") var adminPassword: String
        func run() async throws {
            var body: [String: Any] = ["name": name, "mode": mode, "admin": ["username": adminUsername, "password": try passwordOption(adminPassword, "--admin-password")]]
            if let displayName { body["displayName"] = displayName }
            try options.print(try await run(try await options.client().send(.POST, "/api/v1/tenants", body: body)), columns: TenantCommand.columns)
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Argument var name: String
        @Flag(help: "First remove Canopy's namespaces and objects from the tenant's clusters.") var cascade = false
        func run() async throws {
            if cascade { print("removing Canopy's namespaces and objects from tenant \(name)'s clusters (up to a minute) …") }
            _ = try await run(try await options.client().send(.DELETE, "/api/v1/tenants/\(name)\(cascade ? "?cascade=true" : "")"))
            print("tenant \(name) deleted")
        }
    }
}

/// `canopy user list|get|create|update|delete [--tenant T]`: a tenant's users, or without
/// `--tenant` the domain's own (its administrators' accounts; service providers only).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage a tenant's users, or the domain's (without --tenant).", subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, Tokens.self, RevokeToken.self]
    )
    static let columns = ["username", "displayName", "email", "source", "disabled"]
    static let tenantHelp: ArgumentHelp = "The tenant; without it, the domain's own users (service providers only)."

    /// `/api/v1/tenants/{t}/users[/{u}]`, or the domain's `/api/v1/users[/{u}]`.
    static func path(_ tenant: String?, _ username: String? = nil) -> String {
        (tenant.map { "/api/v1/tenants/\($0)/users" } ?? "/api/v1/users") + (username.map { "/\($0)" } ?? "")
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, UserCommand.path(tenant))), columns: UserCommand.columns) }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        @Argument var username: String
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, UserCommand.path(tenant, username))), columns: UserCommand.columns) }
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        @Argument var username: String
        @Option(help: "The password; - reads it from standard input.") var password: String
        @Option var displayName: String?
        @Option var email: String?
        func run() async throws {
            var body: [String: Any] = ["username": username, "password": try passwordOption(password, "--password")]
            if let displayName { body["displayName"] = displayName }
            if let email { body["email"] = email }
            try options.print(try await run(try await options.client().send(.POST, UserCommand.path(tenant), body: body)), columns: UserCommand.columns)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user's display name, e-mail or password, disable or enable them, or revoke their sessions and tokens.",
            discussion: "The change is made against the version read first, so a concurrent change is refused (409), not overwritten."
        )
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        @Argument var username: String
        @Option var displayName: String?
        @Option(help: "An e-mail address; \"\" clears it.") var email: String?
        @Option(help: "A new password (local accounts; a directory user's is the directory's); - reads it from standard input.") var password: String?
        @Flag(help: "Disable the user: their sessions and tokens stop working at their next request.") var disable = false
        @Flag(help: "Enable a disabled user again.") var enable = false
        @Flag(help: "Revoke every session and token of the user (they sign in again).") var revokeTokens = false

        func run() async throws {
            guard !(disable && enable) else { throw CLIError("--disable and --enable contradict each other") }
            var body: [String: Any] = [:]
            if let displayName { body["displayName"] = displayName }
            if let email { body["email"] = email }
            if let password { body["password"] = try passwordOption(password, "--password") }
            if disable || enable { body["disabled"] = disable }
            if revokeTokens { body["revokeTokens"] = true }
            guard !body.isEmpty else { throw CLIError("nothing to change: give --display-name, --email, --password, --disable, --enable or --revoke-tokens") }
            let client = try options.client()
            let path = UserCommand.path(tenant, username)
            let current = (try JSONSerialization.jsonObject(with: try await run(try await client.send(.GET, path)))) as? [String: Any] ?? [:]
            body["version"] = current["version"] as? Int ?? 0
            try options.print(try await run(try await client.send(.PATCH, path, body: body)), columns: UserCommand.columns)
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        @Argument var username: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, UserCommand.path(tenant, username)))
            print("user \(username) deleted")
        }
    }
}

extension UserCommand {
    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a user's sessions and tokens (for automation and kubeconfigs): whoever may change the user, and the user."
        )
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        @Argument var username: String
        func run() async throws {
            try options.print(try await run(try await options.client().send(.GET, UserCommand.path(tenant, username) + "/tokens")), columns: TokensCommand.columns)
        }
    }

    struct RevokeToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-token",
            abstract: "Revoke one of a user's tokens (its id from `canopy user tokens`): it is refused from its next request; their others keep working."
        )
        @OptionGroup var options: ClientOptions
        @Option(help: UserCommand.tenantHelp) var tenant: String?
        @Argument var username: String
        @Argument var id: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, UserCommand.path(tenant, username) + "/tokens/\(id)"))
            print("token \(id) of \(username) revoked")
        }
    }
}

/// `canopy project list|get|create|delete --tenant T`.
struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Manage a tenant's projects.", subcommands: [List.self, Get.self, Create.self, Update.self, Usage.self, Delete.self]
    )
    static let columns = ["name", "role", "caps", "displayName"]

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/projects")), columns: ProjectCommand.columns) }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/projects/\(name)")), columns: ProjectCommand.columns) }
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        @Option var displayName: String?
        @Option(help: "CPU cap for the whole project, e.g. 16 or 500m.") var cpu: String?
        @Option(help: "Memory cap for the whole project, e.g. 64Gi.") var memory: String?
        @Option(help: "privileged, baseline (the default) or restricted: the Pod Security Standard its namespaces enforce.") var podSecurity: String?
        @Option(help: "Namespaces on a cluster, CLUSTER=NS[,NS…], repeatable.") var placement: [String] = []
        @Option(help: "Reservation on a cluster of a --placement, CLUSTER=cpu:PCT[,memory:PCT]. Repeatable.") var reserve: [String] = []
        @Option(help: "Caps on a cluster of a --placement, CLUSTER=RESOURCE:QTY[,…] (cpu:4,memory:8Gi,pods:50). Repeatable.") var clusterCap: [String] = []
        func run() async throws {
            var body: [String: Any] = ["name": name]
            if let displayName { body["displayName"] = displayName }
            if cpu != nil || memory != nil { body["caps"] = ["cpu": cpu, "memory": memory].compactMapValues { $0 } }
            if let podSecurity { body["podSecurity"] = podSecurity }
            var placements = try placement.map { text -> [String: Any] in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[1].isEmpty else { throw CLIError("--placement takes CLUSTER=NS[,NS…], not \(text)") }
                return ["cluster": parts[0], "namespaces": parts[1].split(separator: ",").map(String.init)]
            }
            func index(of cluster: String, for option: String) throws -> Int {
                guard let index = placements.firstIndex(where: { $0["cluster"] as? String == cluster }) else {
                    throw CLIError("\(option) names \(cluster), which no --placement places the project on")
                }
                return index
            }
            for text in reserve {
                let (cluster, pairs) = try QuotaOptions.perCluster(text, option: "--reserve")
                placements[try index(of: cluster, for: "--reserve")]["reservation"] = try QuotaOptions.reservation(pairs, option: "--reserve")
            }
            for text in clusterCap {
                let (cluster, pairs) = try QuotaOptions.perCluster(text, option: "--cluster-cap")
                placements[try index(of: cluster, for: "--cluster-cap")]["caps"] = QuotaOptions.merge([:], pairs ?? [])
            }
            if !placements.isEmpty { body["placements"] = placements }
            try options.print(try await run(try await options.client().send(.POST, "/api/v1/tenants/\(tenant)/projects", body: body)), columns: ProjectCommand.columns)
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        @Flag(help: "Also delete the project's namespaces, and everything in them, from the clusters.") var cascade = false
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, "/api/v1/tenants/\(tenant)/projects/\(name)\(cascade ? "?cascade=true" : "")"))
            print(cascade ? "project \(name) deleted; its namespaces are being removed from the clusters" : "project \(name) deleted")
        }
    }
}

/// `canopy member list|add|remove --tenant T --project P`.
struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member", abstract: "Manage a project's members.", subcommands: [List.self, Add.self, Remove.self]
    )
    static let columns = ["id", "user", "group", "role"]

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Option var project: String
        func run() async throws {
            try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/projects/\(project)/members")), columns: MemberCommand.columns)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user or directory group to the project.", aliases: ["create"])
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Option var project: String
        @Option(help: "A user of the tenant.") var user: String?
        @Option(help: "A directory group.") var group: String?
        @Option(help: "admin, member or viewer") var role: String
        func run() async throws {
            var body: [String: Any] = ["role": role]
            if let user { body["user"] = user }
            if let group { body["group"] = group }
            try options.print(try await run(try await options.client().send(.POST, "/api/v1/tenants/\(tenant)/projects/\(project)/members", body: body)), columns: MemberCommand.columns)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a membership.", aliases: ["delete"])
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Option var project: String
        @Argument(help: "The membership id, as `member list` shows it.") var id: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, "/api/v1/tenants/\(tenant)/projects/\(project)/members/\(id)"))
            print("membership \(id) removed")
        }
    }
}

/// `canopy cluster list|get|import|delete --tenant T`.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Manage a tenant's clusters.", subcommands: [List.self, Get.self, Import.self, Allocation.self, Delete.self]
    )
    static let columns = ["name", "kubernetesVersion", "nodeCount", "capacity", "status", "labels"]

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/clusters")), columns: ClusterCommand.columns) }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        func run() async throws { try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/clusters/\(name)")), columns: ClusterCommand.columns) }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a cluster with an admin kubeconfig.", aliases: ["create"])
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        @Option(help: "A kubeconfig whose current context has cluster-admin rights.") var kubeconfig: String
        @Option(help: "Labels as key=value, repeatable (provider=onprem, region=d20).") var label: [String] = []
        func run() async throws {
            guard let text = try? String(contentsOfFile: kubeconfig, encoding: .utf8) else { throw CLIError("cannot read \(kubeconfig)") }
            var labels: [String: String] = [:]
            for pair in label {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw CLIError("--label takes key=value, not \(pair)") }
                labels[parts[0]] = parts[1]
            }
            let body: [String: Any] = ["name": name, "kubeconfig": text, "labels": labels]
            try options.print(try await run(try await options.client().send(.POST, "/api/v1/tenants/\(tenant)/clusters", body: body)), columns: ClusterCommand.columns)
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        @Flag(help: "First remove Canopy's objects, project namespaces included, from the cluster.") var cascade = false
        func run() async throws {
            guard cascade else {
                _ = try await run(try await options.client().send(.DELETE, "/api/v1/tenants/\(tenant)/clusters/\(name)"))
                print("cluster \(name) removed")
                return
            }
            print("releasing cluster \(name): removing Canopy's namespaces and objects from it (up to a minute) …")
            let data = try await run(try await options.client().send(.DELETE, "/api/v1/tenants/\(tenant)/clusters/\(name)?cascade=true"))
            let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let removed = report["removedNamespaces"] as? [String] ?? []
            print("  removed \(removed.count) project namespace(s)\(removed.isEmpty ? "" : ": " + removed.joined(separator: ", ")) with \(report["writes"] as? Int ?? 0) write(s)")
            print("cluster \(name) removed")
        }
    }
}

/// `canopy namespace list|add|remove --tenant T --project P`.
struct NamespaceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "namespace", abstract: "Place a project's namespaces on the tenant's clusters.", subcommands: [List.self, Add.self, Remove.self]
    )
    static let columns = ["name", "cluster", "status", "adopted"]

    struct List: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Option var project: String
        func run() async throws {
            try options.print(try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/projects/\(project)/namespaces")), columns: NamespaceCommand.columns)
        }
    }

    struct Add: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Option var project: String
        @Option(help: "One of the tenant's clusters.") var cluster: String
        @Argument var name: String
        @Flag(help: "Take over a namespace that already exists in the cluster.") var adopt = false
        func run() async throws {
            let body: [String: Any] = ["cluster": cluster, "name": name, "adopt": adopt]
            try options.print(try await run(try await options.client().send(.POST, "/api/v1/tenants/\(tenant)/projects/\(project)/namespaces", body: body)), columns: NamespaceCommand.columns)
        }
    }

    struct Remove: AsyncParsableCommand {
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Option var project: String
        @Option var cluster: String
        @Argument var name: String
        func run() async throws {
            _ = try await run(try await options.client().send(.DELETE, "/api/v1/tenants/\(tenant)/projects/\(project)/namespaces/\(cluster)/\(name)"))
            print("namespace \(name) removed from project \(project); Canopy deletes it from \(cluster) (an adopted one is given back)")
        }
    }
}
