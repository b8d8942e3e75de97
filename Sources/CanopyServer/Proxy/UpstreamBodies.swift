import AsyncHTTPClient
import KubeClient
import NIOCore
import ServiceLifecycle

/// A cluster's answer that ends on its own, read chunk by chunk by whoever writes it on; it
/// holds the client (whose pool must outlive the body) until it is released.
final class BoundedBodyReader: @unchecked Sendable {
    // One reader at a time: the handler for the first chunk, then the response's writer.
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private let client: KubeClient

    init(_ response: HTTPClientResponse, client: KubeClient) {
        iterator = response.body.makeAsyncIterator()
        self.client = client
    }

    func next() async throws -> ByteBuffer? { try await iterator.next() }
}

/// A cluster's answer body, read by a task of its own from the first byte to the last and
/// handed over chunk by chunk: the reading never depends on how the writer's task is scheduled.
/// The task holds the client, whose connection pool must outlive the body (a client released
/// while a watch streams would be shut down, cancelling the watch); it stops when the reader
/// goes away (`rest()`'s consumer ends) or the server shuts down gracefully.
struct UpstreamBody: Sendable {
    private let chunks: AsyncThrowingStream<ByteBuffer, any Error>
    private let pump: Task<Void, Never>

    init(_ response: HTTPClientResponse, client: KubeClient) {
        let (chunks, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let body = response.body
        pump = Task {
            do {
                for try await chunk in body { continuation.yield(chunk) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            withExtendedLifetime(client) {}
        }
        let pump = pump
        continuation.onTermination = { _ in pump.cancel() }
        self.chunks = chunks
    }

    /// The first chunk, or `nil` for an empty body (then `rest()` is empty).
    func first() async throws -> ByteBuffer? {
        var iterator = chunks.makeAsyncIterator()
        return try await iterator.next()
    }

    /// The chunks not read yet, as they arrive; ends at the server's graceful shutdown too, and
    /// when `clientGone` resolves (a watch can stay silent for minutes).
    func rest(until clientGone: EventLoopFuture<Void>? = nil) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let (rest, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let chunks = chunks, pump = pump
        let relay = Task {
            await withGracefulShutdownHandler {
                do {
                    for try await chunk in chunks { continuation.yield(chunk) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            } onGracefulShutdown: {
                pump.cancel()
            }
        }
        continuation.onTermination = { _ in
            relay.cancel()
            pump.cancel()
        }
        clientGone?.whenComplete { _ in continuation.finish() }
        return rest
    }
}
