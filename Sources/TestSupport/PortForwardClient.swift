import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// A port-forward client as Kubernetes client libraries speak it (`v4.channel.k8s.io` over a
/// WebSocket): waits for the server to open the port's data and error channels, sends `bytes` on
/// the data channel and collects what comes back.
public enum PortForwardClient {
    /// The messages received (channel byte first), until the echo came back, the server closed,
    /// or `timeout` passed. A timeout throws, naming the messages received so far.
    public static func exchange(
        url: String, token: String, trusting certificatePEM: String, serverName: String? = nil, sending bytes: [UInt8], timeout: Duration = .seconds(20)
    ) async throws -> [[UInt8]] {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)))
        let received = Mutex<(messages: [[UInt8]], done: Bool, error: (any Error)?)>(([], false, nil))
        let headers: HTTPFields = [.authorization: "Bearer \(token)", .secWebSocketProtocol: "v4.channel.k8s.io"]
        let logger = Logger(label: "port-forward-client")
        let session = Task {
            do {
                _ = try await WebSocketClient.connect(
                    url: url, configuration: .init(additionalHeaders: headers, sniHostname: serverName), tlsConfiguration: tls, logger: logger
                ) { inbound, outbound, _ in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .binary(let buffer) = message else { continue }
                        let count = received.withLock { $0.messages.append(Array(buffer.readableBytesView)); return $0.messages.count }
                        // A refusal: the Status on channel 3 instead of the port's channels.
                        if count == 1, buffer.readableBytesView.first == 3 { break }
                        if count == 2 { try await outbound.write(.binary(ByteBuffer(bytes: [0] + bytes))) }
                        if count == 3 { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                received.withLock { $0.done = true }
            } catch {
                received.withLock { $0.done = true; $0.error = error }
            }
        }
        // Polled, so that a wait that never ends fails the test instead of hanging it.
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let state = received.withLock { $0 }
            if state.done {
                if let error = state.error { throw error }
                return state.messages
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        session.cancel()
        let messages = received.withLock { $0.messages }
        throw TestFailure("port-forward to \(url) still open after \(timeout); received \(messages.count) messages: \(messages)")
    }
}
