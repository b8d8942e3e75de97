import Foundation
import KubeAPI
import Testing

@Suite struct QuantityTests {
    /// Inputs and the canonical form the API server prints (from the Kubernetes documentation's
    /// and apimachinery's own examples).
    @Test(arguments: [
        ("0", "0"), ("1", "1"), ("100m", "100m"), ("0.1", "100m"), ("1.5", "1500m"), ("1000m", "1"),
        ("2000", "2k"), ("1500", "1500"), ("5Gi", "5Gi"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"),
        ("0.5Gi", "512Mi"), ("1Ki", "1Ki"), ("1000Ki", "1000Ki"), ("1.5Ki", "1536"), ("512", "512"),
        ("1e3", "1e3"), ("1E6", "1e6"), ("12e6", "12e6"), ("1500e-3", "1500e-3"), ("129e6", "129e6"),
        ("123Mi", "123Mi"), ("128974848", "128974848"), ("129M", "129M"), ("1n", "1n"), ("1u", "1u"),
        (".5", "500m"), ("+3", "3"), ("-2", "-2"), ("-100m", "-100m"), ("1.0000000001", "1000000001n"),
        ("0.0000000001", "1n"), ("1Ei", "1Ei"), ("1E", "1E"), ("8Gi", "8Gi"), ("256Mi", "256Mi"), ("500m", "500m"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        #expect(try Quantity(parsing: input).canonical == canonical)
    }

    @Test(arguments: ["", "abc", "1.2.3", "Gi", "1Q", "1 Gi", "--1", "1e", "1ee3", "1.5.Gi", "0x10", String(repeating: "9", count: 40)])
    func refusesWhatIsNotAQuantity(input: String) {
        #expect(throws: QuantityParseError.self) { try Quantity(parsing: input) }
    }

    @Test func equalAmountsInOtherNotationsAreEqual() throws {
        #expect(try Quantity(parsing: "1Gi") == Quantity(parsing: "1073741824"))
        #expect(try Quantity(parsing: "1") == Quantity(parsing: "1000m"))
        #expect(try Quantity(parsing: "1k") == Quantity(parsing: "1e3"))
        #expect(try Quantity(parsing: "100m") < Quantity(parsing: "1"))
        #expect(try Quantity(parsing: "1Gi") > Quantity(parsing: "1G"))
    }

    @Test func arithmeticIsExact() throws {
        let sum = try Quantity(parsing: "100m") + Quantity(parsing: "900m")
        #expect(sum.canonical == "1")
        let memory = try Quantity(parsing: "1Gi") - Quantity(parsing: "512Mi")
        #expect(memory.canonical == "512Mi")
        #expect(try Quantity(parsing: "0.1").milliValue == 100)
        #expect(try Quantity(parsing: "1.5Gi").value == 1_610_612_736)
        #expect(try Quantity(parsing: "10").percent(33).canonical == "3300m")
        // The largest amounts a parse admits (a cluster may report them) sum and scale without
        // trapping: held at the end of the range.
        let huge = try Quantity(parsing: "170000000000000000000000000000")
        #expect((huge + huge).nanos == .max && (huge * 3).nanos == .max)
        #expect((Quantity.zero - huge - huge).nanos == .min && (huge * -3).nanos == .min)
        #expect(huge.percent(50) < huge && huge.percent(50) > .zero)
        #expect(!(huge + huge).canonical.isEmpty && !(Quantity.zero - huge - huge).canonical.isEmpty)
    }

    @Test func travelsAsAString() throws {
        let decoded = try JSON.string("250m").decode(as: Quantity.self)
        #expect(decoded == Quantity(milli: 250))
        #expect(try JSON(encoding: Quantity(parsing: "2Gi")) == .string("2Gi"))
        #expect(try JSON.number(3).decode(as: Quantity.self) == Quantity(3))
    }

    /// Random quantities in every notation: printing and parsing again gives the same amount,
    /// and order agrees with subtraction.
    @Test func propertiesHoldForRandomQuantities() throws {
        var generator = SystemRandomNumberGenerator()
        let suffixes = ["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "n", "u", "e3", "e-2", "T", "Ti"]
        var previous = Quantity.zero
        for _ in 0..<5000 {
            let whole = Int.random(in: 0...99_999, using: &generator)
            let fraction = Bool.random(using: &generator) ? ".\(Int.random(in: 0...999, using: &generator))" : ""
            let sign = Int.random(in: 0..<10, using: &generator) == 0 ? "-" : ""
            let text = "\(sign)\(whole)\(fraction)\(suffixes.randomElement(using: &generator)!)"
            let quantity = try Quantity(parsing: text)
            let again = try Quantity(parsing: quantity.canonical)
            #expect(again == quantity, "\(text) → \(quantity.canonical)")
            #expect(again.canonical == quantity.canonical || quantity.format != again.format)
            #expect((previous < quantity) == ((quantity - previous).nanos > 0))
            previous = quantity
        }
    }
}

@Suite struct JSONSerializationTests {
    @Test func serializationRoundTripsAndSortsKeys() throws {
        let value: JSON = .object([
            "b": .array([.number(1), .number(2.5), .bool(true), .null]),
            "a": .string("quote \" backslash \\ newline \n tab \t bell \u{07} é ✓"),
            "c": .object(["z": .number(-3), "y": .number(1e20)]),
        ])
        let bytes = value.serialized()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\"a\":"))
        #expect(text.contains("\\u0007"))
        #expect(try JSONDecoder().decode(JSON.self, from: Data(bytes)) == value)
    }
}
