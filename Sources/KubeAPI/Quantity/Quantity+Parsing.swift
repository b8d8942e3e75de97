/// Why a text is not a quantity.
public struct QuantityParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (\(text): \(reason))" }
}

extension Quantity {
    /// Parses the API server's grammar: an optionally signed decimal number (`5`, `1.5`, `.5`,
    /// `-2`), then nothing, a decimal suffix (`n u m k M G T P E`), a binary suffix
    /// (`Ki Mi Gi Ti Pi Ei`) or an exponent (`e3`, `E-2`).
    public init(parsing text: String) throws {
        let error = { (reason: String) in QuantityParseError(text: text, reason: reason) }
        var rest = Substring(text)
        guard !rest.isEmpty, rest.count <= 64 else { throw error(rest.isEmpty ? "empty" : "too long") }
        var negative = false
        if let sign = rest.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        let integerDigits = rest.prefix { $0.isASCII && $0.isNumber }
        rest = rest.dropFirst(integerDigits.count)
        var fractionDigits = Substring("")
        if rest.first == "." {
            rest = rest.dropFirst()
            fractionDigits = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(fractionDigits.count)
        }
        guard !integerDigits.isEmpty || !fractionDigits.isEmpty else { throw error("no digits") }
        let digits = (integerDigits + fractionDigits).drop { $0 == "0" }
        guard digits.count <= 30 else { throw error("too many significant digits") }
        let mantissa = Int128(String(digits.isEmpty ? "0" : digits))!

        // The amount is mantissa × multiplier / 10^fractionDigits units.
        let (multiplier, divisor, format) = try Self.suffix(String(rest), error)
        var numerator = mantissa.multipliedReportingOverflow(by: multiplier)
        numerator = numerator.overflow ? numerator : numerator.partialValue.multipliedReportingOverflow(by: Self.nanosPerUnit)
        var denominator = divisor
        for _ in 0..<fractionDigits.count {
            let next = denominator.multipliedReportingOverflow(by: 10)
            guard !next.overflow else { throw error("too precise") }
            denominator = next.partialValue
        }
        guard !numerator.overflow else { throw error("too large") }
        let magnitude = Self.divideRoundingUp(numerator.partialValue, denominator)
        self.init(nanos: negative ? -magnitude : magnitude, format: format)
    }

    private static let decimalSuffixes: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]
    private static let binarySuffixes: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]

    /// The suffix's value as multiplier / divisor, and the format it implies.
    private static func suffix(_ suffix: String, _ error: (String) -> QuantityParseError) throws -> (Int128, Int128, Format) {
        if let power = binarySuffixes[suffix] { return (Int128(1) << power, 1, .binarySI) }
        if let exponent = decimalSuffixes[suffix] {
            return exponent >= 0 ? (power10(exponent), 1, .decimalSI) : (1, power10(-exponent), .decimalSI)
        }
        guard let first = suffix.first, first == "e" || first == "E", let exponent = Int(suffix.dropFirst()),
              suffix.dropFirst().allSatisfy({ $0.isNumber || $0 == "-" || $0 == "+" })
        else { throw error("unknown suffix '\(suffix)'") }
        guard abs(exponent) <= 27 else { throw error("exponent out of range") }
        return exponent >= 0 ? (power10(exponent), 1, .decimalExponent) : (1, power10(-exponent), .decimalExponent)
    }

    static func power10(_ exponent: Int) -> Int128 {
        (0..<exponent).reduce(Int128(1)) { value, _ in value * 10 }
    }
}
