import CZlib
import NIOCore

/// SPDY/3.1 framing, as much of it as Kubernetes' streaming protocols use (kubectl's
/// `port-forward` tunnels a SPDY session inside a WebSocket since v1.31): data frames,
/// SYN_STREAM / SYN_REPLY with their zlib-compressed header blocks, RST_STREAM, PING and GOAWAY.
/// SETTINGS, WINDOW_UPDATE and HEADERS are read and ignored (Go's spdystream, which kubectl and
/// the kubelet use, does no flow control either).
enum SPDY {
    enum Frame: Equatable {
        case data(stream: UInt32, fin: Bool, payload: [UInt8])
        case synStream(stream: UInt32, fin: Bool, headers: [String: String])
        case rstStream(stream: UInt32, status: UInt32)
        case ping(UInt32)
        case goAway
        case ignored(type: UInt16)
    }

    static let flagFin: UInt8 = 0x01

    struct ProtocolError: Error, CustomStringConvertible {
        let description: String
    }

    /// The dictionary both directions' header compression start from (SPDY/3 section 2.6.10.1):
    /// length-prefixed header names and values, then common values run together.
    static let headerDictionary: [UInt8] = {
        let words = [
            "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
            "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
            "content-base", "content-encoding", "content-language", "content-length", "content-location",
            "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
            "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
            "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
            "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
            "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
            "public", "set-cookie", "keep-alive", "origin",
        ]
        let tail = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            + "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
            + "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            + "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
        var bytes: [UInt8] = []
        for word in words {
            withUnsafeBytes(of: UInt32(word.utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: word.utf8)
        }
        return bytes + Array(tail.utf8)
    }()

    /// Reads frames from the bytes of a session, which may arrive split or joined anyhow.
    struct FrameReader {
        private var buffer = ByteBuffer()
        private let headers = HeaderInflater()

        mutating func append(_ bytes: ByteBuffer) {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }

        /// The next whole frame, or nil until more bytes arrive.
        mutating func next() throws -> Frame? {
            guard let word = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                  let flagsAndLength = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self)
            else { return nil }
            let flags = UInt8(flagsAndLength >> 24), length = Int(flagsAndLength & 0xFF_FFFF)
            guard buffer.readableBytes >= 8 + length else { return nil }
            buffer.moveReaderIndex(forwardBy: 8)
            var body = buffer.readSlice(length: length)!
            let fin = flags & flagFin != 0
            guard word & 0x8000_0000 != 0 else {
                return .data(stream: word & 0x7FFF_FFFF, fin: fin, payload: Array(body.readableBytesView))
            }
            let version = (word >> 16) & 0x7FFF, type = UInt16(word & 0xFFFF)
            guard version == 3 else { throw ProtocolError(description: "SPDY version \(version) is not spoken here") }
            switch type {
            case 1:
                guard let stream = body.readInteger(as: UInt32.self), body.readInteger(as: UInt32.self) != nil,
                      body.readInteger(as: UInt16.self) != nil
                else { throw ProtocolError(description: "short SYN_STREAM") }
                let block = try headers.inflate(Array(body.readableBytesView))
                return .synStream(stream: stream & 0x7FFF_FFFF, fin: fin, headers: try Self.decodeHeaders(block))
            case 3:
                guard let stream = body.readInteger(as: UInt32.self), let status = body.readInteger(as: UInt32.self) else {
                    throw ProtocolError(description: "short RST_STREAM")
                }
                return .rstStream(stream: stream & 0x7FFF_FFFF, status: status)
            case 6:
                guard let id = body.readInteger(as: UInt32.self) else { throw ProtocolError(description: "short PING") }
                return .ping(id)
            case 7:
                return .goAway
            case 2, 8:
                // SYN_REPLY and HEADERS carry header blocks: inflate them to keep the shared
                // compression context in step, even though nothing here needs their contents.
                _ = body.readInteger(as: UInt32.self)
                _ = try headers.inflate(Array(body.readableBytesView))
                return .ignored(type: type)
            default:
                return .ignored(type: type)
            }
        }

        /// A decompressed header block: a count, then length-prefixed names and values. Names
        /// are folded to lower case (SPDY requires it; Go's framer sends them so).
        static func decodeHeaders(_ block: [UInt8]) throws -> [String: String] {
            var buffer = ByteBuffer(bytes: block)
            guard let count = buffer.readInteger(as: UInt32.self) else { throw ProtocolError(description: "empty header block") }
            var headers: [String: String] = [:]
            for _ in 0..<count {
                guard let nameLength = buffer.readInteger(as: UInt32.self), let name = buffer.readString(length: Int(nameLength)),
                      let valueLength = buffer.readInteger(as: UInt32.self), let value = buffer.readString(length: Int(valueLength))
                else { throw ProtocolError(description: "truncated header block") }
                headers[name.lowercased()] = value
            }
            return headers
        }
    }

    /// Encodes frames; owns the session's outgoing header compression.
    struct FrameWriter {
        private let headers = HeaderDeflater()

        func synReply(stream: UInt32) throws -> ByteBuffer {
            var block = ByteBuffer()
            block.writeInteger(UInt32(0))  // no headers, as the kubelet replies
            let compressed = try headers.deflate(Array(block.readableBytesView))
            var frame = control(type: 2, flags: 0, length: 4 + compressed.count)
            frame.writeInteger(stream)
            frame.writeBytes(compressed)
            return frame
        }

        func data(stream: UInt32, fin: Bool = false, _ payload: some Collection<UInt8> = [UInt8]()) -> ByteBuffer {
            var frame = ByteBuffer()
            frame.writeInteger(stream & 0x7FFF_FFFF)
            frame.writeInteger((UInt32(fin ? flagFin : 0) << 24) | UInt32(payload.count))
            frame.writeBytes(payload)
            return frame
        }

        func ping(_ id: UInt32) -> ByteBuffer {
            var frame = control(type: 6, flags: 0, length: 4)
            frame.writeInteger(id)
            return frame
        }

        private func control(type: UInt16, flags: UInt8, length: Int) -> ByteBuffer {
            var frame = ByteBuffer()
            frame.writeInteger(UInt32(0x8003_0000) | UInt32(type))
            frame.writeInteger((UInt32(flags) << 24) | UInt32(length))
            return frame
        }
    }
}

/// One direction's zlib stream for header blocks: it lasts the whole session and starts from the
/// SPDY dictionary. Used by one task at a time.
final class HeaderInflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    init() {
        stream.initialize(to: z_stream())
        _ = canopy_inflate_init(stream)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    func inflate(_ input: [UInt8]) throws -> [UInt8] {
        try run(input, stream) { stream in
            var status = CZlib.inflate(stream, Z_SYNC_FLUSH)
            if status == Z_NEED_DICT {
                status = SPDY.headerDictionary.withUnsafeBufferPointer { inflateSetDictionary(stream, $0.baseAddress, UInt32($0.count)) }
                if status == Z_OK { status = CZlib.inflate(stream, Z_SYNC_FLUSH) }
            }
            return status
        }
    }
}

final class HeaderDeflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    init() {
        stream.initialize(to: z_stream())
        _ = canopy_deflate_init(stream, Z_DEFAULT_COMPRESSION)
        _ = SPDY.headerDictionary.withUnsafeBufferPointer { deflateSetDictionary(stream, $0.baseAddress, UInt32($0.count)) }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    func deflate(_ input: [UInt8]) throws -> [UInt8] {
        try run(input, stream) { CZlib.deflate($0, Z_SYNC_FLUSH) }
    }
}

/// Feeds `input` through `step` (inflate or deflate with a sync flush) until all of it is used
/// and the output is flushed.
private func run(_ input: [UInt8], _ stream: UnsafeMutablePointer<z_stream>, _ step: (UnsafeMutablePointer<z_stream>) -> Int32) throws -> [UInt8] {
    var input = input
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    try input.withUnsafeMutableBufferPointer { source in
        stream.pointee.next_in = source.baseAddress
        stream.pointee.avail_in = UInt32(source.count)
        repeat {
            let produced = try chunk.withUnsafeMutableBufferPointer { target -> Int in
                stream.pointee.next_out = target.baseAddress
                stream.pointee.avail_out = UInt32(target.count)
                let status = step(stream)
                guard status == Z_OK || status == Z_BUF_ERROR || status == Z_STREAM_END else {
                    throw SPDY.ProtocolError(description: "header block compression failed (zlib status \(status))")
                }
                return target.count - Int(stream.pointee.avail_out)
            }
            output.append(contentsOf: chunk[0..<produced])
        } while stream.pointee.avail_out == 0 && output.count < 1 << 20
        guard stream.pointee.avail_in == 0 else { throw SPDY.ProtocolError(description: "header block too large") }
    }
    stream.pointee.next_in = nil
    stream.pointee.next_out = nil
    return output
}
