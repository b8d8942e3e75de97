import Foundation
import KubeAPI
import NIOHTTP1

/// One event of a watch.
public struct WatchEvent<Object: Sendable>: Sendable {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` (`ERROR` events are thrown as `KubeError`).
    public let type: String
    public let object: Object
}

extension KubeClient {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// `GET` one object.
    public func get<R: KubeResource>(_ type: R.Type, _ name: String, namespace: String? = nil) async throws -> R {
        try decode(R.self, try await send(.GET, R.collectionPath(namespace: namespace) + "/" + name).body)
    }

    /// `LIST` one page (`limit`, `continue`) with optional selectors.
    public func list<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: LabelSelector? = nil, fieldSelector: FieldSelector? = nil,
        limit: Int? = nil, continue token: String? = nil
    ) async throws -> ObjectList<R> {
        var query: [String: String] = [:]
        if let labelSelector, !labelSelector.isEmpty { query["labelSelector"] = labelSelector.description }
        if let fieldSelector { query["fieldSelector"] = fieldSelector.description }
        if let limit { query["limit"] = String(limit) }
        if let token { query["continue"] = token }
        return try decode(ObjectList<R>.self, try await send(.GET, R.collectionPath(namespace: namespace), query: query).body)
    }

    /// Every object, following `continue` tokens page by page: at most `maxItems` objects over at
    /// most `maxItems / pageSize + 100` pages, so that a cluster paging without end (a tenant's
    /// cluster answers what it likes) fails the list rather than hold ever more of the server.
    public func listAll<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: LabelSelector? = nil, pageSize: Int = 500, maxItems: Int = 250_000
    ) async throws -> [R] {
        var items: [R] = []
        var token: String?
        var pages = 0
        repeat {
            pages += 1
            guard pages <= maxItems / max(pageSize, 1) + 100 else {
                throw KubeError(.badResponse, "the cluster's \(R.resource) list went on for more than \(pages - 1) pages")
            }
            let page = try await list(R.self, namespace: namespace, labelSelector: labelSelector, limit: pageSize, continue: token)
            items += page.items
            guard items.count <= maxItems else {
                throw KubeError(.badResponse, "the cluster listed more than \(maxItems) \(R.resource)")
            }
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return items
    }

    /// `POST` a new object.
    public func create<R: KubeResource>(_ object: R) async throws -> R {
        let path = R.collectionPath(namespace: object.metadata.namespace)
        return try decode(R.self, try await send(.POST, path, body: try Self.encoder.encode(object)).body)
    }

    /// `PUT` an object; a stale `metadata.resourceVersion` answers 409 Conflict.
    public func update<R: KubeResource>(_ object: R) async throws -> R {
        guard let name = object.metadata.name else { throw KubeError(.configuration, "update needs metadata.name") }
        let path = R.collectionPath(namespace: object.metadata.namespace) + "/" + name
        return try decode(R.self, try await send(.PUT, path, body: try Self.encoder.encode(object)).body)
    }

    /// `PATCH` with a JSON merge patch (RFC 7386).
    public func mergePatch<R: KubeResource>(_ type: R.Type, _ name: String, namespace: String? = nil, patch: JSON) async throws -> R {
        let path = R.collectionPath(namespace: namespace) + "/" + name
        return try decode(R.self, try await send(.PATCH, path, body: try Self.encoder.encode(patch), contentType: "application/merge-patch+json").body)
    }

    /// `DELETE` one object.
    public func delete<R: KubeResource>(_ type: R.Type, _ name: String, namespace: String? = nil) async throws {
        _ = try await send(.DELETE, R.collectionPath(namespace: namespace) + "/" + name)
    }

    /// `GET /api`: the core group's versions.
    public func coreAPIVersions() async throws -> [String] {
        try decode(JSON.self, try await send(.GET, "/api").body)["versions"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// `GET /apis`: every API group with its preferred `group/version`.
    public func apiGroups() async throws -> [String: String] {
        let list = try decode(JSON.self, try await send(.GET, "/apis").body)
        var groups: [String: String] = [:]
        for group in list["groups"]?.arrayValue ?? [] {
            guard let name = group["name"]?.stringValue else { continue }
            groups[name] = group[path: "preferredVersion.groupVersion"]?.stringValue ?? ""
        }
        return groups
    }

    /// `GET /version`.
    public func version() async throws -> JSON {
        try decode(JSON.self, try await send(.GET, "/version").body)
    }

    func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw KubeError(.badResponse, "cannot read the server's answer as \(T.self): \(error)")
        }
    }
}
