import AsyncHTTPClient
import Foundation
import Synchronization

/// The memory one gathered (or filtered) list may take in Canopy, shared by its parts: each part
/// of `get pods -A` is held until all are in, and a project user asking without pages for a
/// large resource in many namespaces, many times over, would otherwise hold gigabytes of the
/// server every tenant shares. Each budget also draws on the server's `GatherPool`, so that many
/// such lists at once hold no more than the pool; what a budget drew goes back when it ends.
final class GatherBudget: Sendable {
    private let left: Atomic<Int>
    private let drawn = Atomic<Int>(0)
    private let limit: Int
    private let pool: GatherPool?

    init(_ limit: Int, pool: GatherPool? = nil) {
        self.limit = limit
        self.pool = pool
        left = Atomic(limit)
    }

    deinit { pool?.give(drawn.load(ordering: .relaxed)) }

    /// The body, whole; 413 once the parts together pass the limit, 429 while the server holds
    /// all the pool allows.
    func collect(_ body: HTTPClientResponse.Body) async throws -> Data {
        var data = Data()
        for try await chunk in body {
            let size = chunk.readableBytes
            guard left.subtract(size, ordering: .relaxed).newValue >= 0 else {
                throw ProxyStatus(
                    413, "RequestEntityTooLarge",
                    "the list is larger than Canopy gathers at once (\(limit >> 20) MiB): ask for it in pages (kubectl --chunk-size, or limit=)"
                )
            }
            if let pool {
                guard pool.take(size) else { throw pool.refusal }
                drawn.add(size, ordering: .relaxed)
            }
            data.append(contentsOf: chunk.readableBytesView)
        }
        return data
    }
}

/// The memory all the lists the proxy gathers at once may hold together
/// (`ServerConfiguration.proxyGatherTotal`). Past it a list is refused with 429 and
/// `Retry-After`, which kubectl and client-go wait out and retry by themselves, instead of the
/// server growing by one per-list limit for each such request its users send at once.
final class GatherPool: Sendable {
    let total: Int
    private let used = Atomic<Int>(0)

    /// A pool of `total` bytes, never less than one list's `listLimit` (which would refuse with
    /// 429 a list that alone is within its limit).
    init(total: Int, listLimit: Int = 0) { self.total = max(total, listLimit) }

    /// Bytes held now by lists being gathered.
    var inUse: Int { used.load(ordering: .relaxed) }

    /// Draws `size` bytes; `false` (drawing nothing) when that would pass the total.
    func take(_ size: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while current + size <= total {
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + size, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func give(_ size: Int) {
        if size > 0 { used.subtract(size, ordering: .relaxed) }
    }

    var refusal: ProxyStatus {
        var status = ProxyStatus(
            429, "TooManyRequests",
            "Canopy is gathering as many lists across namespaces as it holds at once (\(total >> 20) MiB); retry shortly, or ask in pages (kubectl --chunk-size, or limit=)"
        )
        status.retryAfter = 1
        return status
    }
}
