import AsyncAlgorithms
import AsyncHTTPClient
import HTTPServing
import Hummingbird
import KubeClient
import NIOCore
import ServiceLifecycle

/// The client's request body, streamed on to the cluster as it arrives (never collected: the
/// cluster applies its own limit, 3 MiB on a real API server). A DELETE may carry one
/// (`DeleteOptions`: `kubectl delete --cascade=foreground`).
///
/// A task of its own reads the body and hands each chunk to the upload once the upload takes it,
/// so that the reading can be stopped (`stop()`) before the answer goes back: Hummingbird reads
/// whatever is left of a request body once the handler returns, and a second reader of a body
/// still being read by the upload is a crash. Stopped early (the cluster answered before taking
/// the whole body), the rest is not read, and the connection closes after the answer.
final class RequestBodyRelay: Sendable {
    let upload: HTTPClientRequest.Body
    private let reader: Task<Void, Never>

    /// `nil` for a request without a body.
    init?(of request: Request) {
        let length = request.headers[.contentLength].flatMap { Int64($0) }
        let chunked = request.headers[.transferEncoding]?.lowercased().contains("chunked") ?? false
        guard (length ?? 0) > 0 || chunked else { return nil }
        let chunks = AsyncThrowingChannel<ByteBuffer, any Error>()
        let body = request.body
        reader = Task {
            do {
                for try await chunk in body { await chunks.send(chunk) }
                chunks.finish()
            } catch {
                chunks.fail(error)
            }
        }
        upload = .stream(chunks, length: length.map { .known($0) } ?? .unknown)
    }

    /// Stops reading the client's body; returns once nothing reads it any more.
    func stop() async {
        reader.cancel()
        await reader.value
    }
}

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

    /// The chunks, as they arrive; ends at the server's graceful shutdown too, and
    /// when `clientGone` resolves (a watch can stay silent for minutes).
    func rest(until clientGone: ClientGone? = nil) -> AsyncThrowingStream<ByteBuffer, any Error> {
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
        let gone = ClientGoneRegistration()
        continuation.onTermination = { _ in
            relay.cancel()
            pump.cancel()
            gone.cancel()
        }
        clientGone?.whenGone(gone) { continuation.finish() }
        return rest
    }
}
