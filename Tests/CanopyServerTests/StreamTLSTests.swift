import CanopyModel
import CanopyCertificates
import Foundation
import HTTPTypes
import KubeAPI
import KubeClient
import KubeSim
import Logging
import NIOSSL
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
        let target = try UpstreamTarget(cluster: ClusterID("a"), version: 1, connection: connection, authorization: "Bearer \(token)")
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = "v5.channel.k8s.io"
        return await UpstreamSession().connect(target, pathAndQuery: "/api/v1/namespaces/default/pods/none/exec?command=cat&stdin=true", headers: headers, logger: Logger(label: "test"))
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

    /// A cluster whose certificate names neither the address nor a name that resolves, reached as
    /// its kubeconfig's `tls-server-name` says (as kubectl does): Canopy's own calls (import,
    /// reconcile), proxied requests, and exec over a WebSocket and over SPDY all check the
    /// certificate for that name. Without the name the same cluster is refused as a TLS failure.
    @Test func tlsServerNameIsTheNameCheckedEverywhere() async throws {
        let certificate = try ServerCertificate.create(host: "kubesim.example", commonName: "KubeSim", loopback: false)
        try await PortForwardTests.withEchoPod(certificate: certificate, tlsServerName: "kubesim.example") { sim, _, _, member in
            let named = try KubeClient(connection: try Kubeconfig(yaml: sim.kubeconfig("onprem")).connection())
            let namespaces = try await named.list(Namespace.self)
            #expect(namespaces.items.contains { $0.metadata.name == "mkt-dev" })
            try await named.shutdown()
            let unnamed = try KubeClient(connection: try Kubeconfig(yaml: sim.sim.adminKubeconfig(cluster: "onprem", baseURL: sim.baseURL)).connection())
            let refused = await #expect(throws: KubeError.self) { try await unnamed.list(Namespace.self) }
            #expect(refused?.code == .tls, "\(String(describing: refused))")
            try await unnamed.shutdown()

            #expect(try await member.run("get", "pod", "echo", "-o", "name").output == "pod/echo\n")
            let input = "checked for kubesim.example\n"
            let webSocket = try await member.run("exec", "-i", "echo", "--", "cat", input: input)
            #expect(webSocket.output == input, "\(webSocket.output)")
            let spdy = try await member.run("exec", "-i", "echo", "--", "cat", input: input, environment: SPDYStreamTests.spdyOnly)
            #expect(spdy.output == input, "\(spdy.output)")
        }
    }
}
