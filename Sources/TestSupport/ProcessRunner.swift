import Foundation
import NIOPosix

/// Runs external programs (the `canopy` binary, `kubectl`) for tests.
///
/// The wait happens on NIO's blocking thread pool, never on a Swift concurrency thread: with two
/// cores there are only two of those, and a test blocking them would starve the very servers
/// the program is talking to.
public enum ProcessRunner {
    /// Threads of its own for the blocking waits: the shared pool also runs SQLite and bcrypt for
    /// the server under test, which a child process waiting on that server must not starve.
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()

    /// Runs `executable` with `arguments`, feeding `input` on standard input; returns the exit
    /// status and standard output and error together.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil
    ) async throws -> (status: Int32, output: String) {
        try await pool.runIfActive {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
            process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            let stdin = Pipe()
            process.standardInput = stdin
            try process.run()
            if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
            try stdin.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    /// The `canopy` binary built beside the test bundle.
    public static var canopyBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("canopy").path
    }
}
