import CanopyModel
import KubeAPI

/// The integer units the share planner works in: millicores for CPU, whole units (bytes,
/// counts) for everything else. Caps round down and usage rounds up, so that a converted plan
/// never allows more than the quantities it came from.
public enum PlanUnits {
    private static let nanosPerMilli: Int128 = 1_000_000
    private static let nanosPerUnit: Int128 = 1_000_000_000

    private static func nanosPerStep(_ resource: String) -> Int128 {
        resource == QuotaResource.cpu ? nanosPerMilli : nanosPerUnit
    }

    /// An amount for `resource`, rounded down (caps, capacities) or up (usage).
    public static func amount(_ quantity: Quantity, _ resource: String, roundingUp: Bool = false) -> Int64 {
        let step = nanosPerStep(resource)
        var steps = quantity.nanos / step
        if roundingUp && quantity.nanos % step > 0 { steps += 1 }
        return Int64(clamping: max(0, steps))
    }

    /// A cap written as text (already validated), rounded down; `nil` when it does not parse.
    public static func amount(parsing text: String, _ resource: String) -> Int64? {
        (try? Quantity(parsing: text)).map { amount($0, resource) }
    }

    /// Every cap of `caps` by quota resource name, in planner units.
    public static func amounts(_ caps: ResourceCaps?) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for (name, text) in caps?.byQuotaName ?? [:] { result[name] = amount(parsing: text, name) }
        return result
    }

    /// The quantity of an amount, printed the way people write that resource (`Gi` for memory
    /// and storage).
    public static func quantity(_ amount: Int64, _ resource: String) -> Quantity {
        let binary = resource.contains("memory") || resource.contains("storage")
        return Quantity(nanos: Int128(amount) * nanosPerStep(resource), format: binary ? .binarySI : .decimalSI)
    }

    /// The node resource whose allocatable amount bounds a quota resource: `requests.cpu` is
    /// bounded by `cpu`, `pods` by `pods`, `requests.nvidia.com/gpu` by `nvidia.com/gpu`;
    /// `nil` when nodes say nothing about it (`requests.storage`, object counts).
    public static func nodeResource(for quotaResource: String) -> String? {
        switch quotaResource {
        case QuotaResource.cpu: return "cpu"
        case QuotaResource.memory: return "memory"
        case "pods": return "pods"
        default:
            guard quotaResource.hasPrefix("requests."), quotaResource.contains("/") else { return nil }
            return String(quotaResource.dropFirst("requests.".count))
        }
    }

    /// A cluster's capacity per quota resource for the planner, from the allocatable amounts of
    /// its nodes (by node resource name).
    public static func capacity(allocatable: [String: Quantity], resources: [String]) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for resource in resources {
            guard let node = nodeResource(for: resource), let value = allocatable[node] else { continue }
            result[resource] = amount(value, resource)
        }
        return result
    }
}
