import ArgumentParser
import Foundation

/// How list and get commands print: a table for people, JSON for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

/// Options every API command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    /// A client with the saved credentials.
    func client() throws -> APIClient {
        let credentials = try Credentials.load()
        return APIClient(
            server: credentials.server, token: credentials.token, certificateAuthority: credentials.certificateAuthority,
            insecureSkipTLSVerify: credentials.insecureSkipTLSVerify ?? false
        )
    }

    /// Prints an API answer: raw JSON, or the named columns of its `items` (or of the object).
    func print(_ data: Data, columns: [String]) throws {
        if output == .json {
            Swift.print(String(decoding: data, as: UTF8.self))
            return
        }
        let object = try JSONSerialization.jsonObject(with: data)
        let rows: [[String: Any]] = ((object as? [String: Any])?["items"] as? [[String: Any]]) ?? [object as? [String: Any] ?? [:]]
        Swift.print(Table.render(header: columns.map { $0.uppercased() }, rows: rows.map { row in columns.map { Table.text(row[$0]) } }))
    }
}

/// Plain-text tables with aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: "-"
        case let bool as Bool: bool ? "yes" : "no"
        case let dictionary as [String: Any]: dictionary.keys.sorted().map { "\($0)=\(text(dictionary[$0]))" }.joined(separator: ",")
        default: "\(value!)"
        }
    }
}
