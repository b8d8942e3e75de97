import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore

/// Builds the HTTP(S) application that serves a KubeSim.
public enum KubeSimServer {
    /// An application serving `sim` on `host:port`, over HTTPS with the sim's own certificate
    /// unless `tls` is false. `onRunning` receives the bound port.
    public static func application(
        _ sim: KubeSim, host: String, port: Int, tls: Bool = true, logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        Application(
            router: SimAPI(sim: sim).router(),
            server: tls ? try .tls(.http1(), tlsConfiguration: sim.certificate.serverTLSConfiguration()) : .http1(),
            configuration: .init(address: .hostname(host, port: port), serverName: "kubesim"),
            onServerRunning: { await onRunning($0.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
