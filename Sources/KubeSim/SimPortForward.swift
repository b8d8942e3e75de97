import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore

/// `portforward` on a simulated pod, over a WebSocket, in both protocols a real API server
/// offers; every port of every pod is an echo.
///
/// - `SPDY/3.1+portforward.k8s.io`, what kubectl speaks since v1.31: a SPDY session tunnelled in
///   the WebSocket's binary messages. For each local connection kubectl opens an error stream and a
///   data stream (headers `streamType`, `port`, `requestID`); the sim replies to each, sends back
///   whatever arrives on a data stream, and when the client closes a data stream closes it and its
///   error stream too (an empty error stream means no error). Pings are answered.
/// - `v4.channel.k8s.io`, what client libraries use: for the i-th port of `?ports=`, channel 2i
///   carries data and 2i+1 errors, each opened by the port number (two bytes, little-endian).
enum SimPortForward {
    static let channelProtocol = "v4.channel.k8s.io"
    static let tunnelProtocol = "SPDY/3.1+portforward.k8s.io"

    /// The ports of `?ports=8080,9090`; empty when any is not a port number.
    static func ports(in path: String) -> [UInt16] {
        guard let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return [] }
        let values = query.split(separator: "&").filter { $0.hasPrefix("ports=") }.flatMap { $0.dropFirst(6).split(separator: ",") }
        let ports = values.compactMap { UInt16($0) }.filter { $0 > 0 }
        return ports.count == values.count ? ports : []
    }

    /// The channel protocol: opens each port's two channels with its number, then sends back
    /// whatever arrives on a data channel, on that channel.
    static func forward(_ ports: [UInt16], _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        for (index, port) in ports.enumerated() {
            for channel in [UInt8(2 * index), UInt8(2 * index + 1)] {
                var opening = ByteBuffer(bytes: [channel])
                opening.writeInteger(port, endianness: .little)
                try await outbound.write(.binary(opening))
            }
        }
        for try await message in inbound.messages(maxSize: 1 << 20) {
            guard case .binary(let buffer) = message, let channel = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
                  channel % 2 == 0, Int(channel) / 2 < ports.count
            else { continue }
            try await outbound.write(.binary(buffer))
        }
    }

    /// kubectl's SPDY session tunnelled in the WebSocket; see the type's comment. Ends at the
    /// client's GOAWAY or close.
    static func tunnel(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        var reader = SPDY.FrameReader()
        var session = PortForwardSession(logger: logger)
        for try await message in inbound.messages(maxSize: 16 << 20) {
            guard case .binary(let bytes) = message else { continue }
            reader.append(bytes)
            while let frame = try reader.next() {
                let (replies, end) = try session.handle(frame)
                for reply in replies { try await outbound.write(.binary(reply)) }
                if end { return }
            }
        }
    }
}

/// The sim's side of a SPDY session: the frames to send back for each frame the client sends.
protocol SPDYSession {
    /// The frames answering `frame`, and whether the session is over.
    mutating func handle(_ frame: SPDY.Frame) throws -> (replies: [ByteBuffer], end: Bool)
}

/// Port forwarding in a SPDY session (tunnelled in a WebSocket, or on a connection upgraded to
/// `SPDY/3.1`): every port an echo; see `SimPortForward`.
struct PortForwardSession: SPDYSession {
    let logger: Logger
    private let writer = SPDY.FrameWriter()
    /// Open streams: whether each carries data, and the forwarding request it belongs to.
    private var streams: [UInt32: (isData: Bool, request: String)] = [:]
    private var errorStreams: [String: UInt32] = [:]

    init(logger: Logger) {
        self.logger = logger
    }

    mutating func handle(_ frame: SPDY.Frame) throws -> (replies: [ByteBuffer], end: Bool) {
        var replies: [ByteBuffer] = []
        switch frame {
        case .synStream(let stream, _, let headers):
            replies.append(try writer.synReply(stream: stream))
            let request = headers["requestid"] ?? ""
            switch headers["streamtype"] {
            case "error":
                streams[stream] = (false, request)
                errorStreams[request] = stream
            case "data":
                streams[stream] = (true, request)
                guard let port = UInt16(headers["port"] ?? ""), port > 0 else {
                    if let error = errorStreams[request] {
                        replies.append(writer.data(stream: error, Array("invalid port \"\(headers["port"] ?? "")\"".utf8)))
                    }
                    replies.append(writer.data(stream: stream, fin: true))
                    replies += finish(request: request)
                    return (replies, false)
                }
            default:
                logger.debug("port-forward stream of unknown type", metadata: ["headers": "\(headers)"])
            }
        case .data(let stream, let fin, let payload):
            guard let kind = streams[stream], kind.isData else { break }  // the client's end of an error stream
            if !payload.isEmpty { replies.append(writer.data(stream: stream, payload)) }
            if fin {
                replies.append(writer.data(stream: stream, fin: true))
                streams[stream] = nil
                replies += finish(request: kind.request)
            }
        case .rstStream(let stream, _):
            streams[stream] = nil
        case .ping(let id):
            replies.append(writer.ping(id))
        case .goAway:
            return ([], true)
        case .ignored:
            break
        }
        return (replies, false)
    }

    /// Ends a forwarding request: its error stream closes empty (no error).
    private mutating func finish(request: String) -> [ByteBuffer] {
        guard let error = errorStreams.removeValue(forKey: request) else { return [] }
        streams[error] = nil
        return [writer.data(stream: error, fin: true)]
    }
}
