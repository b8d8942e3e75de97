/// A Kubernetes resource quantity (`500m`, `1.5Gi`, `1e3`): an exact fixed-point amount with a
/// resolution of one nano-unit, plus the notation it was written in, which decides how it prints.
///
/// Parsing follows the API server's grammar; values finer than a nano-unit round up, away from
/// zero, as the API server does. Printing gives the API server's canonical form (`1500m`,
/// `2k`, `1536Mi`, `12e6`). Arithmetic and comparison are exact.
///
/// Known difference: amounts are held in 128 bits of nano-units (up to about 1.7 × 10^29 units),
/// where the API server's are unbounded; larger inputs are refused with a parse error.
public struct Quantity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// How a quantity prints: the family of its suffix when parsed.
    public enum Format: String, Sendable, Hashable {
        /// `Ki`, `Mi`, `Gi`, … (powers of 1024).
        case binarySI
        /// `n`, `u`, `m`, none, `k`, `M`, `G`, … (powers of 1000).
        case decimalSI
        /// `e3`, `E6`, … (powers of ten).
        case decimalExponent
    }

    /// The amount in nano-units (10^-9).
    public let nanos: Int128
    public let format: Format

    public init(nanos: Int128, format: Format = .decimalSI) {
        self.nanos = nanos
        self.format = format
    }

    /// A whole number of units.
    public init(_ units: Int, format: Format = .decimalSI) {
        self.init(nanos: Int128(units) * Self.nanosPerUnit, format: format)
    }

    /// Thousandths of a unit (`250m` is `milli: 250`).
    public init(milli: Int) {
        self.init(nanos: Int128(milli) * 1_000_000, format: .decimalSI)
    }

    static let nanosPerUnit: Int128 = 1_000_000_000

    /// Zero, as the API server prints it: `0`.
    public static let zero = Quantity(nanos: 0)

    public var isZero: Bool { nanos == 0 }

    /// The amount in thousandths of a unit, rounded up (how CPU is usually read).
    public var milliValue: Int128 { Self.divideRoundingUp(nanos, 1_000_000) }

    /// The amount in whole units, rounded up (how memory is usually read).
    public var value: Int128 { Self.divideRoundingUp(nanos, Self.nanosPerUnit) }

    /// Equality compares amounts only: `1Gi` equals `1073741824`.
    public static func == (lhs: Quantity, rhs: Quantity) -> Bool { lhs.nanos == rhs.nanos }
    public func hash(into hasher: inout Hasher) { hasher.combine(nanos) }
    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.nanos < rhs.nanos }

    // Arithmetic saturates at Int128's ends rather than overflow (which stops the process):
    // quantities come from clusters, which may report any amount a parse admits (two nodes of
    // ~1.7e29 units each overflowed a sum of their allocatable).

    /// Sums keep the left operand's format, as the API server's `Add` does.
    public static func + (lhs: Quantity, rhs: Quantity) -> Quantity {
        let (sum, overflow) = lhs.nanos.addingReportingOverflow(rhs.nanos)
        return Quantity(nanos: overflow ? (rhs.nanos > 0 ? .max : .min) : sum, format: lhs.isZero ? rhs.format : lhs.format)
    }

    public static func - (lhs: Quantity, rhs: Quantity) -> Quantity {
        let (difference, overflow) = lhs.nanos.subtractingReportingOverflow(rhs.nanos)
        return Quantity(nanos: overflow ? (rhs.nanos < 0 ? .max : .min) : difference, format: lhs.isZero ? rhs.format : lhs.format)
    }

    /// The amount times a whole number.
    public static func * (lhs: Quantity, rhs: Int) -> Quantity {
        let (product, overflow) = lhs.nanos.multipliedReportingOverflow(by: Int128(rhs))
        return Quantity(nanos: overflow ? ((lhs.nanos < 0) == (rhs < 0) ? .max : .min) : product, format: lhs.format)
    }

    /// `percent` per cent of the amount, rounded down to a thousandth of a unit (so that shares
    /// computed from a capacity never sum past it).
    public func percent(_ percent: Int) -> Quantity {
        let exact = nanos / 100 * Int128(percent) + nanos % 100 * Int128(percent) / 100
        return Quantity(nanos: exact - exact % 1_000_000, format: format)
    }

    public var description: String { canonical }

    static func divideRoundingUp(_ value: Int128, _ divisor: Int128) -> Int128 {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder > 0 ? quotient + 1 : quotient
    }
}

extension Quantity: Codable {
    /// Quantities travel as strings (`"500m"`); plain JSON numbers are accepted too, as the API
    /// server accepts them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            do {
                self = try Quantity(parsing: text)
            } catch {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(error)")
            }
        } else if let number = try? container.decode(Int.self) {
            self = Quantity(number)
        } else {
            let number = try container.decode(Double.self)
            self = try Quantity(parsing: String(number))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(canonical)
    }
}
