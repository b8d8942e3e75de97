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
            let process = try ChildProcess(executable, arguments, environment: environment, input: input.map { Array($0.utf8) } ?? [], output: .pipe)
            let output = process.readOutputToEnd()
            return (process.waitUntilExit(), String(decoding: output, as: UTF8.self))
        }
    }

    /// Runs blocking `work` (a socket read, a process wait) on the runner's own threads.
    public static func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(work)
    }

    /// The `canopy` binary built beside the test bundle.
    public static var canopyBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("canopy").path
    }
}
