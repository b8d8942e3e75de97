/// The share planner's input for one tenant: its clusters' capacities and the tree
/// tenant → project → placement (project × cluster) → namespace, with caps, reservations, usage
/// and demand.
///
/// Amounts are integers in a unit the caller picks per resource (millicores for CPU, bytes for
/// memory, …); the planner only adds, compares and divides them. A missing cap means uncapped.
public struct PlanTree: Sendable, Equatable {
    /// Allocatable amount per cluster and resource. A resource missing for a cluster has no
    /// physical bound there (`requests.storage`), except CPU and memory, which count as zero.
    public var capacity: [String: [String: Int64]]
    /// Caps all the tenant's projects share.
    public var caps: [String: Int64]
    public var projects: [Project]

    public init(capacity: [String: [String: Int64]], caps: [String: Int64] = [:], projects: [Project]) {
        self.capacity = capacity
        self.caps = caps
        self.projects = projects
    }

    public struct Project: Sendable, Equatable {
        public var id: String
        /// Caps across all the project's clusters.
        public var caps: [String: Int64]
        public var placements: [Placement]

        public init(id: String, caps: [String: Int64] = [:], placements: [Placement]) {
            self.id = id
            self.caps = caps
            self.placements = placements
        }
    }

    public struct Placement: Sendable, Equatable {
        public var cluster: String
        /// Percent (0–100) of the cluster's capacity held for the project, per resource.
        public var reservation: [String: Double]
        public var caps: [String: Int64]
        public var namespaces: [Namespace]

        public init(cluster: String, reservation: [String: Double] = [:], caps: [String: Int64] = [:], namespaces: [Namespace]) {
            self.cluster = cluster
            self.reservation = reservation
            self.caps = caps
            self.namespaces = namespaces
        }
    }

    public struct Namespace: Sendable, Equatable {
        public var name: String
        /// What the namespace's pods request now (the quota's `status.used`).
        public var used: [String: Int64]
        /// How much more it recently asked for: growth and refused requests.
        public var demand: [String: Int64]
        /// A hard limit that cannot change now (its cluster is unreachable): planned around.
        public var pinned: [String: Int64]?

        public init(name: String, used: [String: Int64] = [:], demand: [String: Int64] = [:], pinned: [String: Int64]? = nil) {
            self.name = name
            self.used = used
            self.demand = demand
            self.pinned = pinned
        }
    }

    /// The resources the plan covers: CPU and memory always, and every resource a cap names.
    public var resources: [String] {
        var names: Set<String> = [QuotaResource.cpu, QuotaResource.memory]
        names.formUnion(caps.keys)
        for project in projects {
            names.formUnion(project.caps.keys)
            for placement in project.placements { names.formUnion(placement.caps.keys) }
        }
        return names.sorted()
    }
}

/// Where a namespace sits: its cluster and name.
public struct NamespaceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var cluster: String
    public var name: String

    public init(cluster: String, name: String) {
        self.cluster = cluster
        self.name = name
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.cluster, lhs.name) < (rhs.cluster, rhs.name) }
    public var description: String { "\(cluster)/\(name)" }
}

/// A project on one cluster.
public struct PlacementKey: Hashable, Sendable, Comparable {
    public var project: String
    public var cluster: String

    public init(project: String, cluster: String) {
        self.project = project
        self.cluster = cluster
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.project, lhs.cluster) < (rhs.project, rhs.cluster) }
}

/// The planner's answer: hard limits per namespace, and the figures behind them.
public struct Plan: Sendable, Equatable {
    /// Hard limit per namespace and resource. A resource nothing bounds is absent.
    public var hard: [NamespaceKey: Amounts] = [:]
    /// Per placement and resource: the reservation in absolute terms and the placement's Σ hard.
    public var reserved: [PlacementKey: Amounts] = [:]
    public var placementHard: [PlacementKey: Amounts] = [:]
    /// Per cluster and resource: capacity left after every hard limit (the free pool).
    public var unallocated: [String: [String: Int64]] = [:]

    public init() {}
}

/// Amounts by resource name: one row of the plan's table. It shares the plan's storage (no
/// dictionary per namespace), and reads like a dictionary.
public struct Amounts: Sendable, Equatable, Sequence {
    /// The plan's resource names, shared by every row.
    let names: [String]
    /// This row: one amount per name, `Int64.max` where the resource is unbounded (absent).
    let values: ArraySlice<Int64>

    init(names: [String], values: ArraySlice<Int64>) {
        self.names = names
        self.values = values
    }

    public subscript(resource: String) -> Int64? {
        guard let index = names.firstIndex(of: resource) else { return nil }
        let value = values[values.startIndex + index]
        return value == Int64.max ? nil : value
    }

    /// The amounts as a dictionary.
    public var dictionary: [String: Int64] {
        var result: [String: Int64] = [:]
        for (name, value) in self { result[name] = value }
        return result
    }

    public var keys: [String] { map(\.key) }
    public var isEmpty: Bool { values.allSatisfy { $0 == Int64.max } }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: Int64)> {
        zip(names, values).lazy.filter { $0.1 != Int64.max }.map { (key: $0.0, value: $0.1) }.makeIterator()
    }

    public static func == (lhs: Amounts, rhs: Amounts) -> Bool { lhs.dictionary == rhs.dictionary }
}
