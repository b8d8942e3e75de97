import AsyncHTTPClient
import Foundation
import KubeAPI
import NIOCore
import NIOHTTP1

extension KubeClient {
    /// Watches a collection until the calling task is cancelled, calling `handle` for each event.
    ///
    /// Starts with a list (each object delivered as `ADDED`), then watches from the list's
    /// resourceVersion with bookmarks. When the server closes the watch it resumes from the last
    /// resourceVersion seen; when that is too old (410 Gone) it lists again and delivers every
    /// object as `ADDED` once more, so a level-triggered consumer simply reconciles.
    public func watch<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil,
        handle: @Sendable (WatchEvent<R>) async throws -> Void
    ) async throws {
        var resourceVersion: String?
        while !Task.isCancelled {
            if resourceVersion == nil {
                let page = try await list(R.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
                for item in page.items { try await handle(WatchEvent(type: "ADDED", object: item)) }
                resourceVersion = page.metadata.resourceVersion
            }
            do {
                resourceVersion = try await watchOnce(
                    R.self, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, from: resourceVersion ?? "0", handle: handle
                )
            } catch let error as KubeError where error.httpCode == 410 {
                resourceVersion = nil
            } catch let error as KubeError where error.code == .unreachable {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// One watch request: returns the last resourceVersion seen when the server ends it.
    private func watchOnce<R: KubeResource>(
        _ type: R.Type, namespace: String?, labelSelector: LabelSelector?, fieldSelector: FieldSelector?, from resourceVersion: String,
        handle: @Sendable (WatchEvent<R>) async throws -> Void
    ) async throws -> String {
        var query = ["watch": "1", "resourceVersion": resourceVersion, "allowWatchBookmarks": "true", "timeoutSeconds": "300"]
        if let labelSelector, !labelSelector.isEmpty { query["labelSelector"] = labelSelector.description }
        if let fieldSelector, !fieldSelector.requirements.isEmpty { query["fieldSelector"] = fieldSelector.description }
        let stream = try await openStream(R.collectionPath(namespace: namespace), query: query)
        var last = resourceVersion
        var lines = WatchLines()
        do {
            for try await chunk in stream {
                for line in try lines.feed(chunk.readableBytesView) {
                    let event = try decode(JSON.self, Data(line))
                    let kind = event["type"]?.stringValue ?? ""
                    guard let object = event["object"] else { continue }
                    if kind == "ERROR" {
                        let status = try object.decode(as: Status.self)
                        throw KubeError(.apiError, status.message ?? "watch error", status: status)
                    }
                    if let version = object[path: "metadata.resourceVersion"]?.stringValue { last = version }
                    if kind == "BOOKMARK" { continue }
                    let watchEvent = WatchEvent(type: kind, object: try object.decode(as: R.self))
                    do {
                        try await handle(watchEvent)
                    } catch {
                        throw HandlerFailure(error: error)
                    }
                }
            }
        } catch let failure as HandlerFailure {
            // The caller's own error ends the watch and reaches the caller as it is.
            throw failure.error
        } catch let error as KubeError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // A broken stream ends this watch; the caller resumes from `last`.
        }
        return last
    }

    /// An error thrown by the caller's event handler, kept apart from a broken stream.
    private struct HandlerFailure: Error {
        let error: any Error
    }

    /// Opens a streaming GET and hands back its body chunks.
    private func openStream(_ path: String, query: [String: String]) async throws -> HTTPClientResponse.Body {
        let response = try await streamingResponse(path, query: query)
        guard response.status == .ok else {
            let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
            let status = (try? JSONDecoder().decode(Status.self, from: data)) ?? Status(code: Int(response.status.code), reason: nil, message: nil)
            throw KubeError(.apiError, status.message ?? "watch failed", status: status)
        }
        return response.body
    }
}
