import Foundation
import Glibc

/// The real kubectl with a kubeconfig (and a home and cache folder) of its own.
public struct Kubectl: Sendable {
    public let directory: TemporaryDirectory
    public let kubeconfigPath: String

    public init(kubeconfig: String) throws {
        directory = try TemporaryDirectory()
        kubeconfigPath = directory.path + "/kubeconfig"
        try kubeconfig.write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
    }

    public func remove() { directory.remove() }

    /// Runs kubectl with `arguments`; returns its exit status and combined output.
    public func run(_ arguments: String..., input: String? = nil, environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await run(arguments: arguments, input: input, environment: environment)
    }

    public func run(arguments: [String], input: String? = nil, environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await ProcessRunner.run(
            "kubectl", ["--kubeconfig", kubeconfigPath] + arguments,
            environment: ["HOME": directory.path, "KUBECACHEDIR": directory.path + "/cache"].merging(environment) { _, new in new }, input: input
        )
    }
}

extension Kubectl {
    /// What `kubectl port-forward` did: the bytes each connection got back, and kubectl's output.
    public struct PortForward: Sendable {
        public let echoes: [[UInt8]]
        public let output: String
    }

    /// Runs `kubectl port-forward <arguments> :<port>` on a free local port, and once it forwards,
    /// opens one local connection per payload: sends it, closes the sending side and reads until
    /// kubectl closes. Stops kubectl afterwards. If kubectl ends without forwarding (a refusal),
    /// or does not forward within `timeout`, returns no echoes and its output.
    public func portForward(
        _ arguments: [String], port: Int, sending payloads: [[UInt8]], environment: [String: String] = [:], timeout: Duration = .seconds(20)
    ) async throws -> PortForward {
        let logPath = directory.path + "/port-forward-\(UUID().uuidString).log"
        let process = try ChildProcess(
            "kubectl", ["--kubeconfig", kubeconfigPath, "port-forward", "--address", "127.0.0.1"] + arguments + [":\(port)"],
            environment: ["HOME": directory.path, "KUBECACHEDIR": directory.path + "/cache"].merging(environment) { _, new in new },
            output: .file(logPath)
        )
        let output = { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        defer { if process.isRunning { process.signal(SIGKILL) } }
        // "Forwarding from 127.0.0.1:43121 -> 8080"
        let deadline = ContinuousClock.now + timeout
        var localPort: UInt16?
        while localPort == nil, process.isRunning, ContinuousClock.now < deadline {
            localPort = output().split(separator: "\n").lazy.compactMap { line -> UInt16? in
                guard line.hasPrefix("Forwarding from 127.0.0.1:") else { return nil }
                return UInt16(line.dropFirst("Forwarding from 127.0.0.1:".count).prefix { $0.isNumber })
            }.first
            if localPort == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard let localPort else {
            try await Self.stop(process)
            return PortForward(echoes: [], output: output())
        }
        var echoes: [[UInt8]] = []
        for payload in payloads {
            echoes.append(try await ProcessRunner.blocking { try LoopbackConnection.exchange(port: localPort, sending: payload) })
        }
        try await Self.stop(process)
        return PortForward(echoes: echoes, output: output())
    }
}

extension Kubectl {
    /// A kubectl left running (`logs -f`, `get -w`): its combined output so far, and its end.
    public struct Running: Sendable {
        let process: ChildProcess
        let logPath: String

        public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        /// Its exit status once it has ended within `timeout`, else `nil` (it runs on).
        public func exitStatus(within timeout: Duration) async throws -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            return process.isRunning ? nil : try await ProcessRunner.blocking { process.waitUntilExit() }
        }

        /// Stops it (SIGTERM, then SIGKILL).
        public func stop() async throws { try await Kubectl.stop(process) }
    }

    /// Starts kubectl with `arguments` and leaves it running; stop it with `Running.stop()`.
    public func start(_ arguments: String..., environment: [String: String] = [:]) throws -> Running {
        let logPath = directory.path + "/kubectl-\(UUID().uuidString).log"
        let process = try ChildProcess(
            "kubectl", ["--kubeconfig", kubeconfigPath] + arguments,
            environment: ["HOME": directory.path, "KUBECACHEDIR": directory.path + "/cache"].merging(environment) { _, new in new },
            output: .file(logPath)
        )
        return Running(process: process, logPath: logPath)
    }

    /// Stops `process`: SIGTERM, and SIGKILL if it is still running 5 s later.
    static func stop(_ process: ChildProcess) async throws {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.signal(SIGKILL) }
        _ = try await ProcessRunner.blocking { process.waitUntilExit() }
    }
}

/// A blocking TCP exchange with a loopback port, for tests.
public enum LoopbackConnection {
    /// Connects to 127.0.0.1:`port`, sends `bytes`, closes the sending side and returns what
    /// arrives until the other side closes (or 10 s pass without a byte).
    public static func exchange(port: UInt16, sending bytes: [UInt8]) throws -> [UInt8] {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestFailure("socket: errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect to 127.0.0.1:\(port): errno \(errno)") }
        var wait = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw TestFailure("send to 127.0.0.1:\(port): errno \(errno)") }
            sent += count
        }
        shutdown(socket, Int32(SHUT_WR))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                if count < 0 { throw TestFailure("read from 127.0.0.1:\(port): errno \(errno) after \(received.count) bytes") }
                return received
            }
            received.append(contentsOf: chunk[0..<count])
        }
    }
}
