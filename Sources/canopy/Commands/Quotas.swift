import ArgumentParser
import Foundation

/// Caps, reservations, usage and allocation from the command line: `canopy project update`,
/// `canopy project usage`, `canopy cluster allocation`, and the `--reserve` / `--cluster-cap`
/// options of `canopy project create`.
enum QuotaOptions {
    /// `CLUSTER=KEY:VALUE[,KEY:VALUE…]`; `nil` pairs for `CLUSTER=none` (or `CLUSTER=`), which clears.
    static func perCluster(_ text: String, option: String) throws -> (cluster: String, pairs: [(String, String)]?) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw CLIError("\(option) takes CLUSTER=KEY:VALUE[,KEY:VALUE…], not \(text)") }
        if parts[1].isEmpty || parts[1] == "none" { return (parts[0], nil) }
        let pairs = try parts[1].split(separator: ",").map { pair -> (String, String) in
            let kv = pair.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty else { throw CLIError("\(option) takes CLUSTER=KEY:VALUE[,KEY:VALUE…], not \(text)") }
            return (kv[0], kv[1])
        }
        return (parts[0], pairs)
    }

    /// A reservation body (`{cpuPercent, memoryPercent}`; `{}` clears) from `--reserve`.
    static func reservation(_ pairs: [(String, String)]?, option: String) throws -> [String: Any] {
        var body: [String: Any] = [:]
        for (key, value) in pairs ?? [] {
            guard let percent = Double(value) else { throw CLIError("\(option): \(key) takes a percentage, not '\(value)'") }
            switch key {
            case "cpu": body["cpuPercent"] = percent
            case "memory": body["memoryPercent"] = percent
            default: throw CLIError("\(option): a reservation is of cpu and memory, not \(key)")
            }
        }
        return body
    }

    /// `caps` (a `ResourceCaps` body) with `changes` applied: a value sets a cap, an empty one
    /// (or `none`) removes it; `cpu` and `memory` are the requests, any other name a quota resource.
    static func merge(_ caps: [String: Any], _ changes: [(String, String)]) -> [String: Any] {
        var caps = caps
        var resources = caps["resources"] as? [String: Any] ?? [:]
        for (key, value) in changes {
            let removed = value.isEmpty || value == "none"
            switch key {
            case "cpu", "requests.cpu": caps["cpu"] = removed ? nil : value
            case "memory", "requests.memory": caps["memory"] = removed ? nil : value
            default: resources[key] = removed ? nil : value
            }
        }
        caps["resources"] = resources.isEmpty ? nil : resources
        return caps
    }
}

extension ProjectCommand {
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a project's caps, reservations, Pod Security level or display name.",
            discussion: """
                Caps are merged with the present ones: --cpu 8 changes the CPU cap and keeps the rest. \
                The change is made against the version read first, so a concurrent change is refused (409), not overwritten.
                """
        )
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String
        @Option var displayName: String?
        @Option(help: "CPU cap for the whole project, e.g. 16 or 500m; 'none' removes it.") var cpu: String?
        @Option(help: "Memory cap for the whole project, e.g. 64Gi; 'none' removes it.") var memory: String?
        @Option(help: "Cap of another quota resource for the whole project, RESOURCE=QTY (pods=200); RESOURCE=none removes it. Repeatable.") var cap: [String] = []
        @Option(help: "privileged, baseline or restricted.") var podSecurity: String?
        @Option(help: "Reservation on a cluster, CLUSTER=cpu:PCT[,memory:PCT]; CLUSTER=none clears it. Repeatable.") var reserve: [String] = []
        @Option(help: "Caps on a cluster, CLUSTER=RESOURCE:QTY[,…] (cpu:4,memory:8Gi,pods:50), merged with the present ones; RESOURCE:none removes one, CLUSTER=none all. Repeatable.")
        var clusterCap: [String] = []

        func run() async throws {
            let client = try options.client()
            let path = "/api/v1/tenants/\(tenant)/projects/\(name)"
            let current = (try JSONSerialization.jsonObject(with: try await run(try await client.send(.GET, path)))) as? [String: Any] ?? [:]
            var body: [String: Any] = ["version": current["version"] as? Int ?? 0]
            if let displayName { body["displayName"] = displayName }
            if let podSecurity { body["podSecurity"] = podSecurity }
            var capChanges: [(String, String)] = []
            if let cpu { capChanges.append(("cpu", cpu)) }
            if let memory { capChanges.append(("memory", memory)) }
            for text in cap {
                let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw CLIError("--cap takes RESOURCE=QTY, not \(text)") }
                capChanges.append((parts[0], parts[1]))
            }
            if !capChanges.isEmpty { body["caps"] = QuotaOptions.merge(current["caps"] as? [String: Any] ?? [:], capChanges) }

            let present = Dictionary(
                ((current["placements"] as? [[String: Any]]) ?? []).compactMap { entry in (entry["cluster"] as? String).map { ($0, entry) } },
                uniquingKeysWith: { first, _ in first }
            )
            var placements: [String: [String: Any]] = [:]
            for text in reserve {
                let (cluster, pairs) = try QuotaOptions.perCluster(text, option: "--reserve")
                placements[cluster, default: ["cluster": cluster]]["reservation"] = try QuotaOptions.reservation(pairs, option: "--reserve")
            }
            for text in clusterCap {
                let (cluster, pairs) = try QuotaOptions.perCluster(text, option: "--cluster-cap")
                let caps: [String: Any] = pairs.map { QuotaOptions.merge(present[cluster]?["caps"] as? [String: Any] ?? [:], $0) } ?? [:]
                placements[cluster, default: ["cluster": cluster]]["caps"] = caps
            }
            if !placements.isEmpty { body["placements"] = placements.keys.sorted().map { placements[$0]! } }
            guard body.count > 1 else { throw CLIError("nothing to change: give --cpu, --memory, --cap, --reserve, --cluster-cap, --pod-security or --display-name") }
            let data = try await run(try await client.send(.PATCH, path, body: body))
            try options.print(data, columns: ProjectCommand.columns)
            for warning in ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["warnings"] as? [String] ?? [] {
                FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
            }
        }
    }

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A project's caps, reservations, planned and held quotas, and usage, per cluster.")
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String

        func run() async throws {
            let data = try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/projects/\(name)/usage"))
            guard options.output != .json else { return print(String(decoding: data, as: UTF8.self)) }
            let usage = (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            var rows = QuotaTable.rows(first: "(project)", usage["resources"])
            for cluster in usage["clusters"] as? [[String: Any]] ?? [] {
                rows += QuotaTable.rows(first: cluster["cluster"] as? String ?? "?", cluster["resources"])
            }
            if usage["planned"] as? Bool == false { print("not planned yet: the share planner runs after the first pass over each cluster") }
            print(Table.render(header: ["CLUSTER", "RESOURCE", "CAP", "RESERVED", "PLANNED", "HARD", "USED"], rows: rows))
        }
    }
}

extension ClusterCommand {
    struct Allocation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A cluster's capacity, reservations, and every project's planned and held quotas there.")
        @OptionGroup var options: ClientOptions
        @Option var tenant: String
        @Argument var name: String

        func run() async throws {
            let data = try await run(try await options.client().send(.GET, "/api/v1/tenants/\(tenant)/clusters/\(name)/allocation"))
            guard options.output != .json else { return print(String(decoding: data, as: UTF8.self)) }
            let allocation = (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let figures = ["capacity", "reserved", "unreserved", "unallocated"].map { allocation[$0] as? [String: Any] ?? [:] }
            let resources = Set(figures.flatMap(\.keys)).sorted()
            print("cluster \(name): capacity \(allocation["liveCapacity"] as? Bool == true ? "from its nodes now" : "as recorded at import")"
                + (allocation["planned"] as? Bool == false ? "; not planned yet" : ""))
            print(Table.render(header: ["RESOURCE", "CAPACITY", "RESERVED", "UNRESERVED", "UNALLOCATED"], rows: resources.map { resource in
                [resource] + figures.map { Table.text($0[resource]) }
            }))
            print("")
            var rows: [[String]] = []
            for project in allocation["projects"] as? [[String: Any]] ?? [] {
                rows += QuotaTable.rows(first: project["project"] as? String ?? "?", project["resources"])
            }
            print(Table.render(header: ["PROJECT", "RESOURCE", "CAP", "RESERVED", "PLANNED", "HARD", "USED"], rows: rows))
        }
    }
}

/// Rows of quota figures (`{resource: {cap, reserved, planned, hard, used}}`), one per resource.
enum QuotaTable {
    static func rows(first: String, _ resources: Any?) -> [[String]] {
        let figures = resources as? [String: [String: Any]] ?? [:]
        return figures.keys.sorted().map { resource in
            [first, resource] + ["cap", "reserved", "planned", "hard", "used"].map { Table.text(figures[resource]?[$0]) }
        }
    }
}
