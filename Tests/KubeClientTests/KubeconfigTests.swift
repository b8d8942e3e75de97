import Foundation
import KubeClient
import Testing

@Suite struct KubeconfigTests {
    static let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    @Test func readsClustersUsersContextsAndTheCurrentContext() throws {
        let yaml = """
        apiVersion: v1
        kind: Config
        current-context: admin@a
        clusters:
        - name: a
          cluster:
            server: https://127.0.0.1:6443/clusters/a/
            certificate-authority-data: \(Data(Self.ca.utf8).base64EncodedString())
        - name: b
          cluster: {server: "http://127.0.0.1:8080", insecure-skip-tls-verify: true}
        users:
        - name: admin
          user: {token: secret-token}
        - name: plugin
          user:
            exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}
        contexts:
        - name: admin@a
          context: {cluster: a, user: admin, namespace: team}
        - name: plugin@b
          context: {cluster: b, user: plugin}
        - name: broken
          context: {cluster: nowhere, user: admin}
        """
        let config = try Kubeconfig(yaml: yaml)
        let connection = try config.connection()
        #expect(connection.server == "https://127.0.0.1:6443/clusters/a")
        #expect(connection.certificateAuthorityPEM == Self.ca)
        #expect(connection.credential == .token("secret-token"))
        #expect(connection.namespace == "team")
        #expect(throws: KubeconfigError.self) { try config.connection(context: "plugin@b") }
        do {
            _ = try config.connection(context: "plugin@b")
        } catch {
            #expect("\(error)".contains("exec credential plugin (aws)"))
        }
        #expect(throws: KubeconfigError("context 'broken' names cluster 'nowhere', which the kubeconfig does not define")) {
            try config.connection(context: "broken")
        }
        #expect(throws: KubeconfigError("the kubeconfig has no context 'missing'")) { try config.connection(context: "missing") }
    }

    @Test func readsFilesRelativeToTheKubeconfig() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.ca.write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "file-token\n".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "CERT".write(to: directory.appendingPathComponent("client.crt"), atomically: true, encoding: .utf8)
        try "KEY".write(to: directory.appendingPathComponent("client.key"), atomically: true, encoding: .utf8)
        let yaml = """
        clusters: [{name: c, cluster: {server: "https://example:443", certificate-authority: ca.crt}}]
        users:
        - {name: t, user: {tokenFile: token}}
        - {name: x, user: {client-certificate: client.crt, client-key: client.key}}
        contexts: [{name: t, context: {cluster: c, user: t}}, {name: x, context: {cluster: c, user: x}}]
        current-context: t
        """
        let path = directory.appendingPathComponent("config").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try Kubeconfig(contentsOf: path)
        #expect(try config.connection().credential == .token("file-token"))
        #expect(try config.connection().certificateAuthorityPEM == Self.ca)
        #expect(try config.connection(context: "x").credential == .clientCertificate(certificatePEM: "CERT", keyPEM: "KEY"))
        #expect(try config.connection().namespace == "default")
    }

    @Test(arguments: [
        "not: [valid",
        "clusters: [{name: c, cluster: {server: ''}}]",
        "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a",
        "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '%%%'}}]",
    ])
    func badKubeconfigsSayWhatIsWrong(yaml: String) {
        #expect(throws: (any Error).self) { try Kubeconfig(yaml: yaml).connection() }
    }

    /// YAML that does not parse is refused saying where, without quoting the line (a token or a
    /// key may be on it).
    @Test func unparsableYAMLIsRefusedWithoutQuotingIt() {
        let yaml = "users:\n- name: u\n  user: {token: [s3cr3t-t0ken\n"
        #expect {
            try Kubeconfig(yaml: yaml)
        } throws: { error in
            let message = "\(error)"
            return message.contains("not valid YAML") && message.contains("line") && !message.contains("s3cr3t")
        }
    }
}
