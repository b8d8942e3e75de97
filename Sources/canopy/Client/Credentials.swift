import Foundation

/// The CLI's saved sign-in: server URL and token, in `~/.config/canopy/credentials` (or under
/// `$XDG_CONFIG_HOME`), readable by the owner only (mode 0600).
struct Credentials: Codable {
    var server: String
    var token: String
    /// The CA (PEM) that the server's certificate chains to, when not a public one.
    var certificateAuthority: String?
    /// Skip certificate verification (testing only).
    var insecureSkipTLSVerify: Bool?

    static var path: URL {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config")
        return base.appendingPathComponent("canopy/credentials")
    }

    static func load() throws -> Credentials {
        guard let data = try? Data(contentsOf: path) else {
            throw CLIError("not signed in; run `canopy login --server URL --username NAME` first")
        }
        return try JSONDecoder().decode(Credentials.self, from: data)
    }

    func save() throws {
        let url = Self.path
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try writePrivately(JSONEncoder().encode(self), to: url.path)
    }
}

/// A CLI usage error, printed as `error: …`.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A password option's value; `-` reads it from one line of standard input, so that it stays out
/// of the shell's history and the process list.
func passwordOption(_ value: String, _ option: String) throws -> String {
    guard value == "-" else { return value }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("\(option) -: no password on standard input") }
    return line
}

/// Writes `data` to `path` readable by its owner only (it holds credentials): the file is made
/// with mode 0600 before anything goes into it, and nothing is written when it cannot be made.
func writePrivately(_ data: Data, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
        throw CLIError("cannot create \(path): is its folder there, and may you write in it?")
    }
    try data.write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
}
