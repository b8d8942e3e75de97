import CanopyCertificates
import Foundation
import HTTPTypes
import KubeClient
import KubeSim
import Logging
import Testing
import TestSupport
@testable import CanopyServer

/// The TLS check of the proxy's streams (exec, attach, port-forward) to a cluster known by its
/// IP address: no address is sent as SNI (TLS forbids it), yet the certificate must still be
/// checked for the address connected to, as on the plain proxy path.
@Suite struct StreamTLSTests {
    /// Opens the stream side the proxy opens for `kubectl exec`, as the cluster's admin.
    static func open(_ sim: TestKubeSim) async throws -> UpstreamSession.Opening {
        let connection = try Kubeconfig(yaml: sim.kubeconfig("a")).connection()
        guard case .token(let token) = connection.credential else { throw TestFailure("the sim's kubeconfig has no token") }
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        headers[.secWebSocketProtocol] = "v5.channel.k8s.io"
        let url = "wss://" + sim.baseURL.dropFirst("https://".count) + "/api/v1/namespaces/default/pods/none/exec?command=cat&stdin=true"
        return await UpstreamSession().connect(url: url, headers: headers, tls: try KubeClient.tlsConfiguration(for: connection), logger: Logger(label: "test"))
    }

    @Test func aCertificateForTheAddressIsAccepted() async throws {
        // The sim's own certificate names 127.0.0.1: TLS passes and the cluster answers (404
        // for the missing pod, so no upgrade).
        let opening = try await TestKubeSim.with { sim in try await Self.open(sim) }
        if case .failed(let error) = opening { #expect(!ProxyUpgrade.isTLSFailure(error), "\(error)") }
    }

    @Test func aCertificateThatDoesNotNameTheAddressIsRefused() async throws {
        // Signed by the CA the kubeconfig trusts, but for a name only: the address is not in it.
        let certificate = try ServerCertificate.create(host: "kubesim.example", commonName: "KubeSim", loopback: false)
        let opening = try await TestKubeSim.with(certificate: certificate) { sim in try await Self.open(sim) }
        guard case .failed(let error) = opening else {
            Issue.record("the stream was opened (\(opening == .accepted ? "accepted" : "refused")) past a certificate for another host")
            return
        }
        #expect(ProxyUpgrade.isTLSFailure(error), "\(error)")
    }
}
