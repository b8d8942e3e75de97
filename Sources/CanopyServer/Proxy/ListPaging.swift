import Foundation
import KubeAPI

/// Paging of the lists the proxy puts together itself — a project user's `get namespaces` (the
/// cluster's list, filtered) and `get pods -A` (one list per namespace, merged) — where the
/// cluster's own `limit` and `continue` cannot serve: `kubectl get` always asks for pages of 500,
/// and a token of the cluster's would name a namespace the caller may not see, or resume the wrong
/// namespace. Canopy's token (base64url JSON, as a cluster's) names where to resume: the namespace
/// to start at and, inside it, the cluster's own token.
struct ListPaging {
    /// At most this many items per answer; `nil`: all.
    let limit: Int?
    /// Namespaces (or names) from this one on; `nil`: from the first.
    let start: String?
    /// The cluster's continue token inside the namespace `start` names.
    let innerContinue: String?
    /// The client's query without `limit` and `continue`: `""` or `"?…"`.
    let rest: String

    struct Token: Codable {
        var v = "canopy.io/v1"
        var start: String
        var `continue`: String?
    }

    /// Reads `limit` and `continue` from `query` (`""` or `"?…"`); 400 for ones a server would refuse.
    init(query: String) throws(ProxyStatus) {
        var limit: Int?, token: Token?, rest: [Substring] = []
        for pair in query.dropFirst().split(separator: "&") {
            let key = pair.prefix { $0 != "=" }
            let raw = String(pair.dropFirst(key.count + 1))
            guard let value = raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                throw ProxyStatus(400, "BadRequest", "the query's \(key) is not properly percent-encoded")
            }
            switch key {
            case "limit":
                guard let number = Int(value) else {
                    throw ProxyStatus(400, "BadRequest", "limit: Invalid value: \"\(value)\": must be a whole number")
                }
                limit = number > 0 ? number : nil
            case "continue" where !value.isEmpty:
                guard let data = Base64URL.decode(value), let decoded = try? JSONDecoder().decode(Token.self, from: data),
                      decoded.v == "canopy.io/v1"
                else { throw ProxyStatus(400, "BadRequest", "invalid continue token: continue key is not valid") }
                token = decoded
            case "continue": break
            default: rest.append(pair)
            }
        }
        self.limit = limit
        self.start = token?.start
        self.innerContinue = token?.continue
        self.rest = rest.isEmpty ? "" : "?" + rest.joined(separator: "&")
    }

    /// A value as a query carries it: a real cluster's tokens are base64url already; another's
    /// may hold `+`, `/` or `=`.
    static func queryValue(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? value
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func token(start: String, continue inner: String? = nil) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Base64URL.encode((try? encoder.encode(Token(start: start, continue: inner))) ?? Data())
    }

    // MARK: One list per namespace, merged

    /// The namespaces still to list, in order: from `start` on.
    func remaining(of namespaces: [String]) -> [String] {
        guard let start else { return namespaces }
        return namespaces.filter { $0 >= start }
    }

    /// The query for one namespace's list: the client's, this page's limit, and the cluster's own
    /// token where the last page stopped inside that namespace.
    func query(for namespace: String) -> String {
        var parameters: [String] = []
        if let limit { parameters.append("limit=\(limit)") }
        if namespace == start, let innerContinue { parameters.append("continue=\(Self.queryValue(innerContinue))") }
        guard !parameters.isEmpty else { return rest }
        return (rest.isEmpty ? "?" : rest + "&") + parameters.joined(separator: "&")
    }

    /// The namespaces' answers (lists or Tables, in namespace order) that make this page, and the
    /// token of the next: a page ends inside the first namespace the cluster paged, or before the
    /// namespace that would pass the limit; `following` is the namespace after the last part,
    /// when there are more than were asked.
    func page(_ parts: [(namespace: String, answer: JSON)], following: String? = nil) -> (taken: [JSON], next: String?) {
        var taken: [JSON] = [], count = 0
        for (index, part) in parts.enumerated() {
            let size = Self.entries(of: part.answer).values.count
            if let limit, count > 0, count + size > limit { return (taken, Self.token(start: part.namespace)) }
            taken.append(part.answer)
            count += size
            if let inner = part.answer[path: "metadata.continue"]?.stringValue, !inner.isEmpty {
                return (taken, Self.token(start: part.namespace, continue: inner))
            }
            if let limit, count >= limit, index + 1 < parts.count { return (taken, Self.token(start: parts[index + 1].namespace)) }
        }
        return (taken, following.map { Self.token(start: $0) })
    }

    // MARK: One list, filtered

    /// This page of a filtered list (or Table) of namespaces: the names from `start` on, `limit`
    /// at most, and the token of the next page if more remain.
    func page(ofNamespaces list: JSON) -> JSON {
        var (key, entries) = Self.entries(of: list)
        if let start { entries = entries.filter { (Self.name(of: $0) ?? "") >= start } }
        var result = list
        result[path: "metadata.remainingItemCount"] = nil
        result[path: "metadata.continue"] = nil
        if let limit, entries.count > limit {
            entries = Array(entries.prefix(limit))
            result[path: "metadata.continue"] = .string(Self.token(start: (Self.name(of: entries[limit - 1]) ?? "") + "\u{0}"))
        }
        result[key] = .array(entries)
        return result
    }

    /// A list's items or a Table's rows.
    static func entries(of list: JSON) -> (key: String, values: [JSON]) {
        let key = list["kind"]?.stringValue == "Table" ? "rows" : "items"
        return (key, list[key]?.arrayValue ?? [])
    }

    /// An item's or a Table row's name.
    static func name(of entry: JSON) -> String? {
        entry[path: "metadata.name"]?.stringValue ?? entry[path: "object.metadata.name"]?.stringValue
            ?? entry["cells"]?.arrayValue?.first?.stringValue
    }
}
