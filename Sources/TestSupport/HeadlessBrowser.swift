import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// A real headless Chromium (Debian's `chromium`), driven over the Chrome DevTools Protocol on a
/// loopback port: one page, navigated and read with script evaluation, as a person would use it
/// (typing into forms and submitting them, following links).
public final class HeadlessBrowser: Sendable {
    private let outgoing: AsyncStream<String>.Continuation
    private let answers = Mutex<(byID: [Int: String], closed: (any Error)?, nextID: Int)>(([:], nil, 0))

    private init(outgoing: AsyncStream<String>.Continuation) {
        self.outgoing = outgoing
    }

    /// Starts Chromium with a fresh profile in a temporary folder, runs `body` with its page, and
    /// stops it.
    public static func with<T: Sendable>(_ body: @Sendable (HeadlessBrowser) async throws -> T) async throws -> T {
        let profile = try TemporaryDirectory()
        defer { profile.remove() }
        var arguments = [
            "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-dev-shm-usage", "--remote-allow-origins=ws://127.0.0.1", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            "--user-data-dir=\(profile.path)", "about:blank",
        ]
        // Chromium refuses to run as root with its sandbox.
        if getuid() == 0 { arguments.insert("--no-sandbox", at: 0) }
        let executable = ProcessInfo.processInfo.environment["CANOPY_TEST_CHROMIUM"] ?? "chromium"
        let process = try ChildProcess(executable, arguments, output: .file(profile.path + "/chromium.log"))
        defer {
            process.signal(SIGKILL)
            _ = process.waitUntilExit()
        }
        let page = try await pageSocket(profile: profile.path, process: process)
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let browser = HeadlessBrowser(outgoing: continuation)
        let session = Task { await browser.run(page, sending: stream) }
        defer {
            continuation.finish()
            session.cancel()
        }
        return try await body(browser)
    }

    /// The page target's DevTools WebSocket: Chromium writes its port into the profile once it
    /// listens, and lists its targets over HTTP.
    private static func pageSocket(profile: String, process: ChildProcess) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: profile + "/DevToolsActivePort", encoding: .utf8),
               let port = text.split(separator: "\n").first.flatMap({ Int($0) }),
               let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/json/list"), timeout: .seconds(5)),
               let body = try? await response.body.collect(upTo: 1 << 20),
               let targets = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [[String: Any]],
               let url = targets.first(where: { $0["type"] as? String == "page" })?["webSocketDebuggerUrl"] as? String {
                return url
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let log = (try? String(contentsOfFile: profile + "/chromium.log", encoding: .utf8)) ?? ""
        throw TestFailure("Chromium did not open its DevTools port within 60 s (install Debian's chromium; scripts/test does). Its log:\n\(log.suffix(2000))")
    }

    private func run(_ url: String, sending stream: AsyncStream<String>) async {
        do {
            _ = try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 16 << 20), logger: Logger(label: "headless-browser")) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in stream { try await outbound.write(.text(text)) }
                    }
                    for try await message in inbound.messages(maxSize: 16 << 20) {
                        guard case .text(let text) = message,
                              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                              let id = object["id"] as? Int
                        else { continue }
                        self.answers.withLock { $0.byID[id] = text }
                    }
                    group.cancelAll()
                }
            }
            answers.withLock { $0.closed = TestFailure("Chromium closed its DevTools connection") }
        } catch {
            answers.withLock { $0.closed = error }
        }
    }

    /// Sends one DevTools command and returns its `result`; a protocol error throws.
    public func call(_ method: String, _ parameters: [String: Any] = [:], timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        let id = answers.withLock { $0.nextID += 1; return $0.nextID }
        let command = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": parameters])
        outgoing.yield(String(decoding: command, as: UTF8.self))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (answer, closed) = answers.withLock { ($0.byID.removeValue(forKey: id), $0.closed) }
            if let answer {
                let object = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any] ?? [:]
                if let error = object["error"] { throw TestFailure("\(method) failed: \(error)") }
                return object["result"] as? [String: Any] ?? [:]
            }
            if let closed { throw closed }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("Chromium did not answer \(method) within \(timeout)")
    }

    /// Evaluates `script` in the page and returns its value (JSON-serialisable values only).
    public func evaluate(_ script: String) async throws -> Any? {
        let result = try await call("Runtime.evaluate", ["expression": script, "returnByValue": true])
        if let exception = result["exceptionDetails"] { throw TestFailure("the page's script failed: \(exception)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Evaluates `script` as a string (`""` when it is not one).
    public func text(_ script: String) async throws -> String {
        try await evaluate(script) as? String ?? ""
    }

    /// Goes to `url` and waits for the page (after any redirects) to have loaded.
    public func open(_ url: String) async throws {
        try await loadingNext { _ = try await self.call("Page.navigate", ["url": url]) }
    }

    /// Fills the form fields named by CSS selector and submits the form as a person would (the
    /// submit button), then waits for the page that answers it.
    public func submit(_ formSelector: String, fields: [String: String] = [:]) async throws {
        var script = ""
        for (selector, value) in fields.sorted(by: { $0.key < $1.key }) {
            script += "document.querySelector(\(try Self.quoted(selector))).value = \(try Self.quoted(value));"
        }
        script += "document.querySelector(\(try Self.quoted(formSelector))).requestSubmit(); true"
        try await loadingNext { _ = try await self.evaluate(script) }
    }

    /// Follows the link found by CSS selector, and waits for its page.
    public func click(_ selector: String) async throws {
        try await loadingNext { _ = try await self.evaluate("document.querySelector(\(try Self.quoted(selector))).click(); true") }
    }

    /// The page's location path (`/ui/login`), its visible text, and whether `selector` matches.
    public var path: String { get async throws { try await text("location.pathname") } }
    public var visibleText: String { get async throws { try await text("document.body.innerText") } }
    public func has(_ selector: String) async throws -> Bool {
        try await evaluate("document.querySelector(\(try Self.quoted(selector))) !== null") as? Bool ?? false
    }

    /// Runs `action`, which makes the page load another document, and waits until that document
    /// has loaded (a mark left on the old one is gone and the new one is complete).
    private func loadingNext(_ action: () async throws -> Void) async throws {
        _ = try await evaluate("window.__canopyOldPage = true")
        try await action()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            // While the old document unloads, evaluation may fail: not loaded yet.
            if let loaded = try? await evaluate("window.__canopyOldPage === undefined && document.readyState === 'complete'") as? Bool, loaded { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("the page did not load within 20 s; it is at \(try await path)")
    }

    private static func quoted(_ text: String) throws -> String {
        // A one-element JSON array, without its brackets: a JavaScript string literal.
        String(String(decoding: try JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast())
    }
}
