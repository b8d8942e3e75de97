/// Splits a watch's body into its lines (one JSON event each) as chunks arrive, holding at most
/// `maxLine` bytes of a line not yet ended. A cluster's answer is the cluster's to write — and a
/// tenant's cluster is the tenant's — so a line that never ends must not grow without bound in
/// a server that every tenant shares.
public struct WatchLines: Sendable {
    /// A line longer than `maxLine` bytes.
    public struct TooLong: Error, CustomStringConvertible {
        public let maxLine: Int
        public var description: String { "a watch event longer than \(maxLine) bytes" }
    }

    /// The default: far above any object a real API server stores (etcd's request limit is 1.5 MiB).
    public static let defaultMaxLine = 16 << 20

    public let maxLine: Int
    private var pending: [UInt8] = []

    public init(maxLine: Int = WatchLines.defaultMaxLine) {
        self.maxLine = maxLine
    }

    /// The lines that `chunk` completes, without their newline, blank ones left out.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws(TooLong) -> [[UInt8]] {
        pending.append(contentsOf: chunk)
        var lines: [[UInt8]] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[start..<newline]
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) { lines.append(Array(line)) }
            start = newline + 1
        }
        pending.removeFirst(start)
        guard pending.count <= maxLine else { throw TooLong(maxLine: maxLine) }
        return lines
    }
}
