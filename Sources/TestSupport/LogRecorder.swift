import Logging
import Synchronization

/// Keeps what a server logs at `level` or above, for tests that check it stays quiet.
public final class LogRecorder: Sendable {
    public let level: Logger.Level
    private let records = Mutex<[String]>([])

    public init(level: Logger.Level = .error) {
        self.level = level
    }

    /// Each message kept, with its metadata.
    public var messages: [String] { records.withLock { $0 } }

    /// A logger whose messages at `level` or above are kept here.
    public var logger: Logger {
        var logger = Logger(label: "recorded") { _ in Handler(recorder: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func keep(_ text: String) { records.withLock { $0.append(text) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            recorder.keep("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
        }
    }
}
