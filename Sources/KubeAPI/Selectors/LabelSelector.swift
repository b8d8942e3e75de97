/// A label selector in the API server's text form: requirements joined by commas, each
/// equality-based (`env=prod`, `env==prod`, `tier!=web`) or set-based (`env in (prod,qa)`,
/// `env notin (dev)`, `gpu`, `!gpu`). An empty selector matches everything.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// One requirement on one label.
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)

        /// The label the requirement is about.
        public var key: String {
            switch self {
            case .equals(let key, _), .notEquals(let key, _), .in(let key, _), .notIn(let key, _), .exists(let key), .doesNotExist(let key): key
            }
        }

        /// Whether `labels` satisfy this requirement. As in Kubernetes, `!=` and `notin` match
        /// objects that lack the label.
        public func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): labels[key].map { !values.contains($0) } ?? true
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }

        var text: String {
            switch self {
            case .equals(let key, let value): "\(key)=\(value)"
            case .notEquals(let key, let value): "\(key)!=\(value)"
            case .in(let key, let values): "\(key) in (\(values.sorted().joined(separator: ",")))"
            case .notIn(let key, let values): "\(key) notin (\(values.sorted().joined(separator: ",")))"
            case .exists(let key): key
            case .doesNotExist(let key): "!\(key)"
            }
        }
    }

    public let requirements: [Requirement]

    /// Requirements are kept sorted by key (as the API machinery does), so that two selectors
    /// with the same requirements are equal whatever order they were written in.
    public init(_ requirements: [Requirement] = []) {
        self.requirements = requirements.sorted { ($0.key, $0.text) < ($1.key, $1.text) }
    }

    /// A selector requiring every pair of `labels` (what `matchLabels` means).
    public init(matching labels: [String: String]) {
        self.init(labels.sorted { $0.key < $1.key }.map { .equals($0.key, $0.value) })
    }

    /// Whether `labels` satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// The selector's text, as it goes into `?labelSelector=` (requirements sorted by key, as
    /// the API machinery prints them).
    public var description: String {
        requirements.map(\.text).joined(separator: ",")
    }

    public var isEmpty: Bool { requirements.isEmpty }
}
