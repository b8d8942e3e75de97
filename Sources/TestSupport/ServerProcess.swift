import AsyncHTTPClient
import Foundation
import NIOCore

/// The real `canopy serve` binary as a child process, for tests that kill it.
public final class ServerProcess: @unchecked Sendable {
    public let port: Int
    public let baseURL: String
    private let process: ChildProcess

    /// Starts `canopy serve` on a free port and waits until `/healthz` answers.
    public init(dataDirectory: String, databaseURL: String?) async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("canopy")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestFailure("\(binary.path) is missing: build the package (swift build --build-tests) before testing")
        }
        port = try Self.freePort()
        baseURL = "http://127.0.0.1:\(port)"
        var arguments = ["serve", "--data-dir", dataDirectory, "--listen", "127.0.0.1:\(port)", "--insecure-http", "--bcrypt-cost", "4"]
        if let databaseURL { arguments += ["--database", databaseURL] }
        process = try ChildProcess(
            binary.path, arguments, environment: ["CANOPY_ADMIN_PASSWORD": TestServer.adminPassword, "CANOPY_LOG_LEVEL": "critical"]
        )
        for _ in 0..<300 {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/healthz"), timeout: .seconds(1)),
               response.status == .ok {
                return
            }
            guard process.isRunning else { throw TestFailure("canopy serve exited with status \(process.terminationStatus ?? -1)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.signal(SIGKILL)
        process.waitUntilExit()
        throw TestFailure("canopy serve did not become healthy within 15 s")
    }

    /// `kill -9`: no chance to flush or close anything.
    public func kill() {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }

    /// A TestServer-like client for this process.
    public var client: TestClient { TestClient(baseURL: baseURL) }

    public static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
