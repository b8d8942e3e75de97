import HTTPServing
import Hummingbird
import HummingbirdTLS
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL

/// Builds the HTTP(S) application that serves a KubeSim.
public enum KubeSimServer {
    /// HTTPS with the sim's certificate; client certificates signed by it are verified when
    /// presented (and then identify the caller), optional otherwise. With `http2`, HTTP/2 is
    /// offered before HTTP/1.1 in the handshake, as a Kubernetes API server does.
    static func tlsConfiguration(_ sim: KubeSim, http2: Bool) throws -> TLSConfiguration {
        var configuration = try sim.certificate.serverTLSConfiguration()
        if http2 { configuration.applicationProtocols = NegotiatedHTTP.protocols }
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(sim.certificate.certificatePEM.utf8)))
        configuration.certificateVerification = .optionalVerification
        return configuration
    }

    /// An application serving `sim` on `host:port`, over HTTPS with the sim's own certificate
    /// unless `tls` is false; over HTTPS, a client may choose HTTP/2 unless `http2` is false
    /// (exec, attach and port-forward upgrades are HTTP/1.1's, as on a real API server).
    /// `onRunning` receives the bound port.
    public static func application(
        _ sim: KubeSim, host: String, port: Int, tls: Bool = true, http2: Bool = true, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let api = SimAPI(sim: sim)
        let http: HTTPServerBuilder = .quiescingHTTP1WebSocketUpgrade(
            screen: SimExec.screen(api), counter: sim.connections, protocolSwitch: SimSPDY.protocolSwitch(api), http2: tls && http2
        ) { head, channel, _ in
            await SimExec.decide(api, head, channel)
        }
        return Application(
            router: api.router(),
            server: tls ? try .tls(http, tlsConfiguration: tlsConfiguration(sim, http2: http2)) : http,
            configuration: .init(address: .hostname(host, port: port), serverName: "kubesim"),
            onServerRunning: { await onRunning($0.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
