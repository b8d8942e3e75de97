import CSpawn
import Foundation
import Glibc
import Synchronization

/// A child process started with `posix_spawn`, for tests and benchmarks.
///
/// Foundation's `Process.run()` on Linux (swift-corelibs-foundation of Swift 6.3.1) crashes now and
/// then: it reads 256 bytes of every `/proc/self/fd` entry's name, past the end of glibc's buffer
/// when an entry sits at its end (fixed upstream in swift-corelibs-foundation #5472). A test run
/// that starts many children (kubectl, slapd, canopy) hit it. This spawns directly: the child
/// gets its standard input, output and error as asked, no other descriptor (close-from 3), and
/// default SIGTERM and SIGINT handling (the test process ignores both, and children would
/// inherit that).
public final class ChildProcess: Sendable {
    public enum Output: Sendable {
        /// /dev/null.
        case discard
        /// Appended to the file at this path (output and error together).
        case file(String)
        /// A pipe, read with `readOutputToEnd()` (output and error together).
        case pipe
    }

    public let pid: pid_t
    private let outputFD: Int32?
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` (looked up in PATH unless it contains a `/`) with `arguments`.
    /// `environment` entries are added to (or replace) the test process's own. `input` is written
    /// to the child's standard input, which is then closed; without it the child reads /dev/null.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil, output: Output = .discard) throws {
        _ = Self.ignoreBrokenPipes
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var inputPipe: [Int32] = [-1, -1]
        if input != nil {
            guard canopy_pipe_cloexec(&inputPipe) == 0 else { throw TestFailure("pipe: errno \(errno)") }
            posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        var outputPipe: [Int32] = [-1, -1]
        switch output {
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        case .pipe:
            guard canopy_pipe_cloexec(&outputPipe) == 0 else { throw TestFailure("pipe: errno \(errno)") }
            posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        }
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        canopy_spawn_close_from(&actions, 3)

        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = executable.contains("/")
            ? posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            : posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        for descriptor in [inputPipe[0], outputPipe[1]] where descriptor >= 0 { close(descriptor) }
        guard spawned == 0 else {
            for descriptor in [inputPipe[1], outputPipe[0]] where descriptor >= 0 { close(descriptor) }
            throw TestFailure("cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        outputFD = outputPipe[0] >= 0 ? outputPipe[0] : nil
        if let input {
            var written = 0
            while written < input.count {
                let count = input[written...].withUnsafeBytes { write(inputPipe[1], $0.baseAddress, $0.count) }
                if count <= 0 { break }  // the child closed its input early; what it read is what it got
                written += count
            }
            close(inputPipe[1])
        }
    }

    /// Writing input to a child that has already exited must fail, not kill the test process.
    private static let ignoreBrokenPipes: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    deinit {
        if let outputFD { close(outputFD) }
    }

    /// Whether the child has not exited yet (it is reaped if it has).
    public var isRunning: Bool {
        exitStatus.withLock { status in
            guard status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = Self.decode(raw) }
            return status == nil
        }
    }

    /// The exit status (128 + the signal for a killed child); nil while it runs.
    public var terminationStatus: Int32? {
        _ = isRunning
        return exitStatus.withLock { $0 }
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    public func terminate() { signal(SIGTERM) }

    /// Blocks until the child exits; returns its status.
    @discardableResult
    public func waitUntilExit() -> Int32 {
        if let status = exitStatus.withLock({ $0 }) { return status }
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, 0)
            if result == pid { break }
            if result < 0, errno == EINTR { continue }
            // Reaped meanwhile by `isRunning` on another thread.
            return exitStatus.withLock { $0 } ?? -1
        }
        let status = Self.decode(raw)
        exitStatus.withLock { $0 = status }
        return status
    }

    /// Blocks reading the child's output (`.pipe`) until it closes it.
    public func readOutputToEnd() -> [UInt8] {
        guard let outputFD else { return [] }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(outputFD, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return output }
            output.append(contentsOf: chunk[0..<count])
        }
    }

    private static func decode(_ raw: Int32) -> Int32 {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    }
}
