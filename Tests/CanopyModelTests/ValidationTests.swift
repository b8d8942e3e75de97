import CanopyModel
import Testing

@Suite struct ValidationTests {
    @Test(arguments: ["a", "coke", "marketing-dev", "a1", String(repeating: "x", count: 63), "0abc"])
    func acceptsDNSLabels(name: String) throws {
        try Validate.name(name, field: "name")
    }

    @Test(arguments: ["", "Coke", "-a", "a-", "a_b", "a.b", "a b", String(repeating: "x", count: 64), "ünï", "a\n"])
    func refusesWhatIsNotADNSLabel(name: String) {
        #expect(throws: ValidationError.self) { try Validate.name(name, field: "name") }
    }

    @Test func errorsNameTheField() {
        do {
            try Validate.name("Bad", field: "admin.username")
            Issue.record("expected a validation error")
        } catch {
            #expect(error.field == "admin.username")
        }
    }

    @Test(arguments: ["4", "500m", "1.5", "32Gi", "1e3", "0", "+2", "0.5Ki", "2E"])
    func acceptsQuantities(value: String) throws {
        try Validate.quantity(value, field: "caps.cpu")
    }

    @Test(arguments: ["", "-1", "abc", "1.2.3", "4 Gi", "NaN", "1e", "5Q", "."])
    func refusesBadQuantities(value: String) {
        #expect(throws: ValidationError.self) { try Validate.quantity(value, field: "caps.cpu") }
    }

    @Test func displayNamesHaveALimit() throws {
        try Validate.displayName(String(repeating: "é", count: 256), field: "displayName")
        #expect(throws: ValidationError.self) { try Validate.displayName(String(repeating: "a", count: 257), field: "displayName") }
        #expect(throws: ValidationError.self) { try Validate.displayName("tab\there", field: "displayName") }
    }

    @Test func passwordsAreBetween8CharactersAnd72Bytes() throws {
        try Validate.password("12345678", field: "password")
        #expect(throws: ValidationError.self) { try Validate.password("1234567", field: "password") }
        #expect(throws: ValidationError.self) { try Validate.password(String(repeating: "a", count: 73), field: "password") }
    }
}
