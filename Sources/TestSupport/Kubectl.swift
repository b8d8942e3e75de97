import Foundation

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
        try await ProcessRunner.run(
            "kubectl", ["--kubeconfig", kubeconfigPath] + arguments,
            environment: ["HOME": directory.path, "KUBECACHEDIR": directory.path + "/cache"].merging(environment) { _, new in new }, input: input
        )
    }
}
