import Foundation
import Testing
import TestSupport

/// `canopy demo`, the README's first command: the tour it prints does what it says, run as a
/// newcomer would run it — the CLI lines with the real binary, the kubectl lines with the real
/// kubectl, refusals refused and the rest succeeding.
@Suite struct DemoTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("canopy").path

    /// Runs one line of the tour; its exit status and output.
    static func run(_ line: String, home: String) throws -> (status: Int32, output: String) {
        let words = line.split(separator: " ").map(String.init)
        let executable = words[0] == "canopy" ? binary : words[0]
        let child = try ChildProcess(executable, Array(words.dropFirst()), environment: ["HOME": home], output: .pipe)
        let output = String(decoding: child.readOutputToEnd(), as: UTF8.self)
        return (child.waitUntilExit(), output)
    }

    @Test func theToursCommandsDoWhatTheySay() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = directory.path + "/demo.out"
        let demo = try ChildProcess(Self.binary, ["demo", "--listen", "127.0.0.1:0", "--data-dir", directory.path + "/demo"], output: .file(log))
        defer {
            demo.terminate()
            _ = demo.waitUntilExit()
        }
        try await eventually(within: 120, "the demo's tour") {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Press Ctrl-C to stop.")
        }
        let tour = try String(contentsOfFile: log, encoding: .utf8)
        // The commands are the indented lines.
        let lines = tour.split(separator: "\n").filter { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("canopy ") || $0.hasPrefix("kubectl ") }
        #expect(lines.count >= 15, "\(tour)")
        var outputs: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: "#", maxSplits: 1)
            let command = parts[0].trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "/tmp/bob.kubeconfig", with: directory.path + "/bob.kubeconfig")
            let comment = parts.count > 1 ? String(parts[1]) : ""
            let result = try Self.run(command, home: directory.path)
            let refused = comment.contains("403") || comment.contains("404") || comment.contains("Forbidden")
            #expect((result.status != 0) == refused, "\(command) (\(comment)): exit \(result.status): \(result.output)")
            if comment.contains("Forbidden") { #expect(result.output.lowercased().contains("forbidden"), "\(command): \(result.output)") }
            outputs[command] = result.output
        }
        let podsOfBob = try #require(outputs.first { $0.key.hasSuffix("get pods -A") }?.value)
        // The deployment it suggests: its three pods, made by the cluster's controllers.
        #expect(podsOfBob.split(separator: "\n").count { $0.contains(" web-") && $0.contains("Running") } == 3, "\(podsOfBob)")
        let namespaces = try #require(outputs.first { $0.key.hasSuffix("get namespaces") }?.value)
        #expect(namespaces.contains("marketing-") && !namespaces.contains("kube-system"), "\(namespaces)")
        // The binding deleted behind Canopy's back is back within seconds.
        let admin = try #require(lines.first { $0.contains("delete rolebinding canopy:viewer") }?.split(separator: " -n ").first)
        try await eventually(within: 30, "the viewer binding back") {
            try Self.run("\(admin) -n marketing-dev get rolebinding canopy:viewer", home: directory.path).status == 0
        }
    }
}
