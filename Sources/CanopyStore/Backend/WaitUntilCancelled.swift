/// Suspends until the current task is cancelled: how a service with nothing to do but hold its
/// resources waits for shutdown.
func waitUntilCancelled() async {
    let (stream, continuation) = AsyncStream<Never>.makeStream()
    for await _ in stream {}
    continuation.finish()
}
