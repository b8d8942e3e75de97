import HTTPServing
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// `exec`, `attach` and `portforward` on a connection upgraded to `SPDY/3.1`: what kubectl uses
/// before v1.31, and since then when its WebSocket upgrade is refused or it is told not to try
/// (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`, `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`).
///
/// The request names its streaming protocol in `X-Stream-Protocol-Version`: `v4.channel.k8s.io`
/// for exec and attach, `portforward.k8s.io` for port forwarding. A request the sim would accept
/// (the same checks as a WebSocket stream, `SimExec.allowsStream`) is answered `101` naming the
/// protocol; any other is answered as a plain request by the router (the refusal, or 400
/// "Upgrade request required"), as a real API server does before it upgrades.
///
/// After the upgrade the client opens SPDY streams named by a `streamType` header. Exec: `error`,
/// then `stdin`, `stdout`, `stderr` as asked for in the query (`resize` with a TTY); the pod is an
/// echo: stdin comes back on stdout, and when the client closes stdin (or asked for none) the sim
/// writes a `Success` Status on the error stream and closes its streams. Port forwarding: as in
/// the WebSocket tunnel (`PortForwardSession`).
enum SimSPDY {
    static let execProtocol = "v4.channel.k8s.io"
    static let portForwardProtocol = "portforward.k8s.io"

    static func protocolSwitch(_ api: SimAPI) -> ProtocolSwitch {
        let sim = api.sim
        return ProtocolSwitch(
            claims: { head, channel in
                offered(head) != nil && SimExec.allowsStream(api, SimExec.request(head), peerCertificate: SimExec.peerCertificate(channel))
            },
            take: { head, connection in
                guard let chosen = offered(head) else { return connection.channel.close(promise: nil) }
                connection.eventLoop.execute {
                    let query = URI(head.uri).queryParameters
                    let session: any SPDYSession = chosen == portForwardProtocol
                        ? PortForwardSession(logger: Logger(label: "kubesim.portforward"))
                        : ExecSession(stdin: query["stdin"] == "true", stdout: query["stdout"] == "true", stderr: query["stderr"] == "true")
                    let head = HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: [
                        "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": chosen,
                    ])
                    do {
                        try connection.switchProtocols(head, to: SPDYServerHandler(session: session, sim: sim))
                    } catch {
                        connection.channel.close(promise: nil)
                    }
                }
            }
        )
    }

    /// The protocol a SPDY stream request asks for that the sim speaks, or nil.
    private static func offered(_ head: HTTPRequestHead) -> String? {
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "spdy/3.1" }) else { return nil }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let versions = head.headers[canonicalForm: "x-stream-protocol-version"].map(String.init)
        if path.hasSuffix("/portforward") { return versions.contains(portForwardProtocol) ? portForwardProtocol : nil }
        guard path.hasSuffix("/exec") || path.hasSuffix("/attach") else { return nil }
        return versions.contains(execProtocol) ? execProtocol : nil
    }
}

/// Exec or attach on the echo pod, over SPDY streams; see `SimSPDY`.
struct ExecSession: SPDYSession {
    private let writer = SPDY.FrameWriter()
    private let expectsStdin: Bool
    private let outputs: [String]
    /// Each stream the client opened, by its `streamType`.
    private var streams: [String: UInt32] = [:]
    private var finished = false

    init(stdin: Bool, stdout: Bool, stderr: Bool) {
        expectsStdin = stdin
        outputs = (stdout ? ["stdout"] : []) + (stderr ? ["stderr"] : [])
    }

    mutating func handle(_ frame: SPDY.Frame) throws -> (replies: [ByteBuffer], end: Bool) {
        var replies: [ByteBuffer] = []
        switch frame {
        case .synStream(let stream, _, let headers):
            replies.append(try writer.synReply(stream: stream))
            streams[headers["streamtype"] ?? ""] = stream
            // Without stdin the command has nothing to echo: it ends once its streams are open.
            if !expectsStdin, streams["error"] != nil, outputs.allSatisfy({ streams[$0] != nil }) { replies += finish() }
        case .data(let stream, let fin, let payload):
            guard stream == streams["stdin"] else { break }
            if !payload.isEmpty, let stdout = streams["stdout"] { replies.append(writer.data(stream: stdout, payload)) }
            if fin { replies += finish() }
        case .ping(let id):
            replies.append(writer.ping(id))
        case .goAway:
            return ([], true)
        case .rstStream, .ignored:
            break
        }
        return (replies, false)
    }

    /// The command's end: a `Success` Status on the error stream, every stream of the sim's closed.
    private mutating func finish() -> [ByteBuffer] {
        guard !finished else { return [] }
        finished = true
        var frames: [ByteBuffer] = []
        if let error = streams["error"] { frames.append(writer.data(stream: error, fin: true, Array(#"{"metadata":{},"status":"Success"}"#.utf8))) }
        for output in outputs { if let stream = streams[output] { frames.append(writer.data(stream: stream, fin: true)) } }
        return frames
    }
}

/// Runs a `SPDYSession` on a connection switched to SPDY; the client closes the connection.
final class SPDYServerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var reader = SPDY.FrameReader()
    private var session: any SPDYSession
    private let sim: KubeSim

    init(session: any SPDYSession, sim: KubeSim) {
        self.session = session
        self.sim = sim
    }

    func handlerAdded(context: ChannelHandlerContext) {
        sim.streamOpened(on: context.channel)
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sim.streamClosed(on: context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reader.append(unwrapInboundIn(data))
        do {
            while let frame = try reader.next() {
                let (replies, end) = try session.handle(frame)
                for reply in replies { context.write(wrapOutboundOut(reply), promise: nil) }
                if end {
                    context.flush()
                    context.close(promise: nil)
                    return
                }
            }
            context.flush()
        } catch {
            context.close(promise: nil)
        }
    }
}
