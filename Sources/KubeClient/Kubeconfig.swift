import Foundation
import Yams

/// A kubeconfig file: clusters, users, contexts and the current context, as `kubectl` reads it.
public struct Kubeconfig: Sendable, Equatable {
    /// One cluster entry.
    public struct Cluster: Sendable, Equatable {
        public var server: String
        public var certificateAuthorityPEM: String?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
    }

    /// How a user authenticates.
    public enum Credential: Sendable, Equatable {
        case token(String)
        case clientCertificate(certificatePEM: String, keyPEM: String)
        case basic(username: String, password: String)
        /// An `exec` plugin or `auth-provider`: Canopy cannot run these.
        case unsupported(String)
        case none
    }

    /// One context: a cluster, a user and a default namespace.
    public struct Context: Sendable, Equatable {
        public var cluster: String
        public var user: String
        public var namespace: String?
    }

    public var clusters: [String: Cluster]
    public var users: [String: Credential]
    public var contexts: [String: Context]
    public var currentContext: String?

    /// Everything needed to talk to one cluster.
    public struct Connection: Sendable, Equatable {
        /// The server URL, possibly with a path prefix (`https://host/k8s/clusters/a`), without a
        /// trailing slash.
        public var server: String
        public var certificateAuthorityPEM: String?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
        public var credential: Credential
        public var namespace: String
    }

    /// Parses kubeconfig YAML. Relative file paths (`certificate-authority`, `tokenFile`, …) are
    /// read relative to `directory`.
    public init(yaml: String, directory: String? = nil) throws {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: yaml)
        } catch {
            // The parser's message quotes the offending line, which may hold a credential: only
            // where and what is kept.
            let lines = "\(error)".split(separator: "\n", omittingEmptySubsequences: false).prefix(2)
            throw KubeconfigError("not valid YAML: " + lines.joined(separator: " ").trimmingCharacters(in: CharacterSet(charactersIn: ": ")))
        }
        guard let root = loaded as? [String: Any] else { throw KubeconfigError("the kubeconfig is not a YAML mapping") }
        let base = directory.map { URL(fileURLWithPath: $0) }
        func read(_ path: String, _ what: String) throws -> String {
            let url = path.hasPrefix("/") || base == nil ? URL(fileURLWithPath: path) : base!.appendingPathComponent(path)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw KubeconfigError("cannot read \(what) file \(url.path)")
            }
            return text
        }
        func decodeBase64(_ text: String, _ what: String) throws -> String {
            guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }), let decoded = String(data: data, encoding: .utf8) else {
                throw KubeconfigError("\(what) is not valid base64")
            }
            return decoded
        }
        var clusters: [String: Cluster] = [:]
        for entry in root["clusters"] as? [[String: Any]] ?? [] {
            guard let name = entry["name"] as? String, let cluster = entry["cluster"] as? [String: Any] else { continue }
            guard let server = cluster["server"] as? String, !server.isEmpty else {
                throw KubeconfigError("cluster '\(name)' has no server URL")
            }
            var ca: String?
            if let data = cluster["certificate-authority-data"] as? String {
                ca = try decodeBase64(data, "certificate-authority-data of cluster '\(name)'")
            } else if let file = cluster["certificate-authority"] as? String {
                ca = try read(file, "certificate-authority")
            }
            clusters[name] = Cluster(
                server: server.hasSuffix("/") ? String(server.dropLast()) : server, certificateAuthorityPEM: ca,
                insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false,
                tlsServerName: cluster["tls-server-name"] as? String
            )
        }
        var users: [String: Credential] = [:]
        for entry in root["users"] as? [[String: Any]] ?? [] {
            guard let name = entry["name"] as? String else { continue }
            let user = entry["user"] as? [String: Any] ?? [:]
            if let exec = user["exec"] as? [String: Any] {
                users[name] = .unsupported("user '\(name)' uses an exec credential plugin (\(exec["command"] as? String ?? "?")), which Canopy cannot run; use a token or a client certificate")
            } else if let provider = user["auth-provider"] as? [String: Any] {
                users[name] = .unsupported("user '\(name)' uses the auth-provider '\(provider["name"] as? String ?? "?")', which Canopy cannot run; use a token or a client certificate")
            } else if let token = user["token"] as? String {
                users[name] = .token(token)
            } else if let file = user["tokenFile"] as? String {
                users[name] = .token(try read(file, "tokenFile").trimmingCharacters(in: .whitespacesAndNewlines))
            } else if user["client-certificate-data"] != nil || user["client-certificate"] != nil {
                let certificate = try (user["client-certificate-data"] as? String).map { try decodeBase64($0, "client-certificate-data of user '\(name)'") }
                    ?? read(user["client-certificate"] as? String ?? "", "client-certificate")
                let key = try (user["client-key-data"] as? String).map { try decodeBase64($0, "client-key-data of user '\(name)'") }
                    ?? (user["client-key"] as? String).map { try read($0, "client-key") }
                guard let key else { throw KubeconfigError("user '\(name)' has a client certificate but no client key") }
                users[name] = .clientCertificate(certificatePEM: certificate, keyPEM: key)
            } else if let username = user["username"] as? String, let password = user["password"] as? String {
                users[name] = .basic(username: username, password: password)
            } else {
                users[name] = Credential.none
            }
        }
        var contexts: [String: Context] = [:]
        for entry in root["contexts"] as? [[String: Any]] ?? [] {
            guard let name = entry["name"] as? String, let context = entry["context"] as? [String: Any],
                  let cluster = context["cluster"] as? String
            else { continue }
            contexts[name] = Context(cluster: cluster, user: context["user"] as? String ?? "", namespace: context["namespace"] as? String)
        }
        self.clusters = clusters
        self.users = users
        self.contexts = contexts
        currentContext = (root["current-context"] as? String).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Reads a kubeconfig file.
    public init(contentsOf path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw KubeconfigError("cannot read kubeconfig \(path)") }
        try self.init(yaml: text, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// The connection of `context` (default: the current context), with a clear error for every
    /// way it can be incomplete.
    public func connection(context name: String? = nil) throws -> Connection {
        guard let contextName = name ?? currentContext ?? (contexts.count == 1 ? contexts.keys.first : nil) else {
            throw KubeconfigError("the kubeconfig has no current-context; name a context")
        }
        guard let context = contexts[contextName] else { throw KubeconfigError("the kubeconfig has no context '\(contextName)'") }
        guard let cluster = clusters[context.cluster] else {
            throw KubeconfigError("context '\(contextName)' names cluster '\(context.cluster)', which the kubeconfig does not define")
        }
        let credential = users[context.user] ?? Credential.none
        if case .unsupported(let reason) = credential { throw KubeconfigError(reason) }
        guard let url = URL(string: cluster.server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw KubeconfigError("cluster '\(context.cluster)' has server '\(cluster.server)', which is not an http(s) URL")
        }
        return Connection(
            server: cluster.server, certificateAuthorityPEM: cluster.certificateAuthorityPEM,
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify, tlsServerName: cluster.tlsServerName,
            credential: credential, namespace: context.namespace ?? "default"
        )
    }
}

/// A kubeconfig that cannot be used, with what to fix.
public struct KubeconfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
