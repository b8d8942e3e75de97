import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import TestSupport

/// One TLS connection to Canopy on which GETs are written back to back (HTTP pipelining) or one
/// at a time, and their answers read.
final class RawConnection: @unchecked Sendable {
    struct Answer {
        let head: HTTPResponseHead
        let body: ByteBuffer
    }

    let channel: any Channel
    private let collector: Collector
    private let port: Int

    init(_ server: TestServer) async throws {
        port = try #require(URLComponents(string: server.baseURL)?.port)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try #require(server.certificatePEM).utf8)))
        let context = try NIOSSLContext(configuration: tls)
        let collector = Collector(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        self.collector = collector
        channel = try await ClientBootstrap(group: collector.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Writes the GETs at once, then waits (up to 30 s) for as many answers.
    func exchange(_ requests: [(path: String, token: String?)]) async throws -> [Answer] {
        let done = try await collector.eventLoop.submit { self.collector.expect(requests.count) }.get()
        for (path, token) in requests {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
            head.headers.add(name: "Accept", value: "application/json")
            if let token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.write(HTTPClientRequestPart.end(nil), promise: nil)
        }
        channel.flush()
        let timeout = collector.eventLoop.scheduleTask(in: .seconds(30)) { done.fail(TestFailure("no answer within 30 s")) }
        defer { timeout.cancel() }
        return try await done.futureResult.get()
    }

    /// Sends `requests` pipelined on a new connection, which is closed afterwards.
    static func pipelined(_ server: TestServer, _ requests: [(path: String, token: String?)]) async throws -> [Answer] {
        let connection = try await RawConnection(server)
        defer { connection.channel.close(promise: nil) }
        return try await connection.exchange(requests)
    }

    /// Writes `text` on a new TLS connection and reads everything that comes back until the
    /// server closes it (up to 30 s).
    static func bytesUntilClosed(_ server: TestServer, sending text: String) async throws -> String {
        let port = try #require(URLComponents(string: server.baseURL)?.port)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try #require(server.certificatePEM).utf8)))
        let context = try NIOSSLContext(configuration: tls)
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let reader = ByteReader(done: eventLoop.makePromise())
        let channel = try await ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(reader)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: text))
        let timeout = eventLoop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        return String(buffer: try await reader.done.futureResult.get())
    }

    /// Writes `text` on a new TLS connection, stops reading, and closes the connection `after`
    /// that: a client that leaves in the middle of an answer longer than the sockets' buffers.
    /// `reset`: the socket lingers 0 s, so that closing it resets the connection (what a client
    /// leaving with unread bytes does), instead of ending it with close_notify and FIN.
    static func leave(_ server: TestServer, sending text: String, after delay: Duration, reset: Bool = false) async throws {
        let port = try #require(URLComponents(string: server.baseURL)?.port)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try #require(server.certificatePEM).utf8)))
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"), name: "tls")
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: text))
        try await channel.setOption(.autoRead, value: false).get()
        try await Task.sleep(for: delay)
        if reset {
            let socket = try #require(channel as? any SocketOptionProvider)
            try await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            // Closed below TLS: no close_notify goes out first.
            try await channel.pipeline.removeHandler(name: "tls")
        }
        try await channel.close()
    }

    private final class ByteReader: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<ByteBuffer>
        private var bytes = ByteBuffer()

        init(done: EventLoopPromise<ByteBuffer>) { self.done = done }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var part = unwrapInboundIn(data)
            bytes.writeBuffer(&part)
        }

        func channelInactive(context: ChannelHandlerContext) { done.succeed(bytes) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let eventLoop: any EventLoop
        private var done: EventLoopPromise<[Answer]>?
        private var expected = 0
        private var answers: [Answer] = []
        private var head: HTTPResponseHead?
        private var body = ByteBuffer()

        init(eventLoop: any EventLoop) {
            self.eventLoop = eventLoop
        }

        func expect(_ count: Int) -> EventLoopPromise<[Answer]> {
            let promise = eventLoop.makePromise(of: [Answer].self)
            done = promise
            expected = count
            answers = []
            return promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body(var part): body.writeBuffer(&part)
            case .end:
                answers.append(Answer(head: head!, body: body))
                body = ByteBuffer()
                if answers.count == expected { done?.succeed(answers) }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done?.fail(TestFailure("the connection closed after \(answers.count) answers"))
        }
    }
}

/// A TLS connection to Canopy that writes raw bytes and keeps every byte that comes back: for
/// conversations that leave HTTP (an upgrade).
final class RawBytes: @unchecked Sendable {
    let channel: any Channel
    private let recorder: Recorder

    init(_ server: TestServer) async throws {
        let port = try #require(URLComponents(string: server.baseURL)?.port)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try #require(server.certificatePEM).utf8)))
        let context = try NIOSSLContext(configuration: tls)
        let recorder = Recorder()
        self.recorder = recorder
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(recorder)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Waits (up to `seconds`) until what came back holds `bytes`; returns all that came back.
    /// Throws when it does not, or when the server closes the connection first. `onDemand`: the
    /// connection does not read by itself (`reading(false)`), and one read is asked for at a time
    /// until `bytes` came, so that little more than them is read.
    @discardableResult
    func waitFor(_ bytes: [UInt8], within seconds: Double = 20, onDemand: Bool = false) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let (received, open) = recorder.state.withLock { ($0.bytes, $0.open) }
            if Self.find(bytes, in: received) { return received }
            guard open, ContinuousClock.now < deadline else {
                throw TestFailure("\(open ? "not within \(seconds) s" : "the connection closed first"): \(String(decoding: received.prefix(600), as: UTF8.self))")
            }
            if onDemand { channel.read() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Until the server closes the connection (up to `seconds`): all that came back.
    func untilClosed(within seconds: Double = 30) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let (received, open) = recorder.state.withLock { ($0.bytes, $0.open) }
            if !open { return received }
            guard ContinuousClock.now < deadline else { throw TestFailure("the connection stayed open past \(seconds) s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops reading (what the server sends piles up in the sockets' buffers), or reads again.
    func reading(_ on: Bool) async throws {
        try await channel.setOption(.autoRead, value: on).get()
        if on { channel.read() }
    }

    func close() async {
        try? await channel.close()
    }

    /// How often `needle` occurs in `bytes`.
    static func count(_ needle: String, in bytes: [UInt8]) -> Int {
        let data = Data(bytes), pattern = Data(needle.utf8)
        var count = 0, start = data.startIndex
        while let found = data.range(of: pattern, in: start..<data.endIndex) {
            count += 1
            start = found.upperBound
        }
        return count
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
    }

    private final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = Mutex<(bytes: [UInt8], open: Bool)>(([], true))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let part = unwrapInboundIn(data)
            state.withLock { $0.bytes += part.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) { state.withLock { $0.open = false } }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
