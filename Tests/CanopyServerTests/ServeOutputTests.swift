import Foundation
import Testing
import TestSupport

/// What `canopy serve` says on standard output reaches it while the server runs, wherever it goes.
@Suite struct ServeOutputTests {
    /// Output to a file, as under a service manager: the first start's generated admin password
    /// (shown once) is there at once, and signs in. C buffers a file's output in 4 KiB blocks, so
    /// before it was written only when the server stopped.
    @Test func theFirstStartsPasswordReachesAFileAtOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("canopy").path
        let port = try ServerProcess.freePort()
        let log = directory.path + "/serve.out"
        let process = try ChildProcess(
            binary, ["serve", "--data-dir", directory.path + "/data", "--listen", "127.0.0.1:\(port)", "--insecure-http", "--bcrypt-cost", "4"],
            environment: ["CANOPY_LOG_LEVEL": "critical"], output: .file(log)
        )
        defer {
            process.signal(SIGKILL)
            _ = process.waitUntilExit()
        }
        try await eventually(within: 30, "the password and the address in the output") {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.contains("with password ") && text.contains("Canopy listening on http://127.0.0.1:\(port)")
        }
        #expect(process.isRunning)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let password = try #require(text.components(separatedBy: "with password ").last?.split(separator: " ").first.map(String.init))
        let token = try await TestClient(baseURL: "http://127.0.0.1:\(port)").login("admin", password)
        #expect(token.hasPrefix("cnp_"))
    }
}
