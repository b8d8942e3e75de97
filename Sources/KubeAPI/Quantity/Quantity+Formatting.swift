extension Quantity {
    /// The API server's canonical text for this quantity.
    ///
    /// Binary quantities of at least 1024 that are whole numbers print with the largest binary
    /// suffix that keeps the number whole (`1536Mi`); anything else prints in decimal with the
    /// largest power of 1000 (or, for exponent notation, of 10^3) that keeps the number whole
    /// (`1500m`, `2k`, `12e6`).
    public var canonical: String {
        guard nanos != 0 else { return "0" }
        let sign = nanos < 0 ? "-" : ""
        let magnitude = nanos.magnitude
        if format == .binarySI, magnitude >= UInt128(1024) * UInt128(Self.nanosPerUnit), magnitude % UInt128(Self.nanosPerUnit) == 0 {
            var units = magnitude / UInt128(Self.nanosPerUnit)
            var power = 0
            while units % 1024 == 0 && power < 6 {
                units /= 1024
                power += 1
            }
            return sign + String(units) + ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power]
        }
        // Decimal: mantissa × 10^exponent with the exponent a multiple of 3 from -9 to 18.
        var mantissa = magnitude
        var exponent = -9
        while mantissa % 1000 == 0 && exponent < 18 {
            mantissa /= 1000
            exponent += 3
        }
        if format == .decimalExponent {
            return sign + String(mantissa) + (exponent == 0 ? "" : "e\(exponent)")
        }
        let suffix = [-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"][exponent]!
        return sign + String(mantissa) + suffix
    }
}
