import AsyncHTTPClient
import Foundation
import KubeAPI
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
    private let holder: String

    /// A budget of `limit` bytes drawing on `pool` for `holder` (the tenant whose user asked).
    init(_ limit: Int, pool: GatherPool? = nil, holder: String = "") {
        self.limit = limit
        self.pool = pool
        self.holder = holder
        left = Atomic(limit)
    }

    deinit { pool?.give(drawn.load(ordering: .relaxed), holder: holder) }

    /// The body, whole; 413 once the parts together pass the limit, 429 while the server (or
    /// the holder's tenant) holds all the pool allows.
    func collect(_ body: HTTPClientResponse.Body) async throws -> Data {
        var data = Data()
        for try await chunk in body {
            let size = chunk.readableBytes
            guard left.subtract(size, ordering: .relaxed).newValue >= 0 else {
                throw ProxyStatus(
                    413, "RequestEntityTooLarge",
                    "the list is larger than Canopy gathers at once (\(ByteSize.describe(limit))): ask for it in pages (kubectl --chunk-size, or limit=)"
                )
            }
            if let pool {
                if let refusal = pool.take(size, holder: holder) { throw refusal }
                drawn.add(size, ordering: .relaxed)
            }
            data.append(contentsOf: chunk.readableBytesView)
        }
        return data
    }
}

/// The memory all the lists the proxy gathers at once may hold together
/// (`ServerConfiguration.proxyGatherTotal`), of which one tenant's users may hold half. Past
/// either a list is refused with 429 and `Retry-After`, which kubectl and client-go wait out and
/// retry by themselves, instead of the server growing by one per-list limit for each such request
/// sent at once; and one tenant's lists cannot refuse every other tenant's.
final class GatherPool: Sendable {
    let total: Int
    /// What one holder (tenant) may hold at once.
    let share: Int
    private let state = Mutex<(used: Int, byHolder: [String: Int])>((0, [:]))

    /// A pool of `total` bytes, never less than one list's `listLimit` (which would refuse with
    /// 429 a list that alone is within its limit); a holder's share is half, at least `listLimit`.
    init(total: Int, listLimit: Int = 0) {
        self.total = max(total, listLimit)
        share = max(self.total / 2, listLimit)
    }

    /// Bytes held now by lists being gathered.
    var inUse: Int { state.withLock { $0.used } }

    /// Bytes held now by `holder`'s lists.
    func inUse(by holder: String) -> Int { state.withLock { $0.byHolder[holder, default: 0] } }

    /// Draws `size` bytes for `holder`: `nil`, or the refusal (drawing nothing) when that would
    /// pass the total or the holder's share.
    func take(_ size: Int, holder: String) -> ProxyStatus? {
        state.withLock { state in
            let held = state.byHolder[holder, default: 0]
            if held + size > share { return Self.refusal("as much for this tenant's lists as one tenant may hold at once (\(ByteSize.describe(share)))") }
            if state.used + size > total { return Self.refusal("as many lists across namespaces as it holds at once (\(ByteSize.describe(total)))") }
            state.used += size
            state.byHolder[holder] = held + size
            return nil
        }
    }

    func give(_ size: Int, holder: String) {
        guard size > 0 else { return }
        state.withLock { state in
            state.used -= size
            let left = state.byHolder[holder, default: 0] - size
            state.byHolder[holder] = left > 0 ? left : nil
        }
    }

    private static func refusal(_ what: String) -> ProxyStatus {
        var status = ProxyStatus(429, "TooManyRequests", "Canopy is gathering \(what); retry shortly, or ask in pages (kubectl --chunk-size, or limit=)")
        status.retryAfter = 1
        return status
    }
}
