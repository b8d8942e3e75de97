import KubeAPI
@testable import KubeSim
import Testing

/// The validation rules on their own, table-driven: which names, label keys and values, config
/// keys, quantities and cron schedules a real API server accepts, and the words it refuses with.
@Suite struct ValidationRuleTests {
    @Test(arguments: [
        ("web", ObjectMetaValidation.NameRule.subdomain, []),
        ("app.settings", .subdomain, []),
        ("Bad_Name", .subdomain, ["a lowercase RFC 1123 subdomain"]),
        ("-web", .subdomain, ["a lowercase RFC 1123 subdomain"]),
        ("web.", .subdomain, ["a lowercase RFC 1123 subdomain"]),
        (String(repeating: "a", count: 254), .subdomain, ["must be no more than 253 characters"]),
        ("team-a", .label, []),
        ("team.a", .label, ["must not contain dots"]),
        ("Team", .label, ["a lowercase RFC 1123 label"]),
        (String(repeating: "a", count: 64), .label, ["must be no more than 63 characters"]),
        ("web-1", .dns1035Label, []),
        ("1web", .dns1035Label, ["a DNS-1035 label"]),
        ("canopy:member", .pathSegment, []),
        ("..", .pathSegment, ["may not be '..'"]),
        ("a/b%c", .pathSegment, ["may not contain '/'", "may not contain '%'"]),
    ])
    func namesFollowTheirKindsRule(name: String, rule: ObjectMetaValidation.NameRule, expected: [String]) {
        let errors = ObjectMetaValidation.nameErrors(name, rule: rule, prefix: false)
        #expect(errors.count == expected.count, "\(errors)")
        for (error, start) in zip(errors, expected) { #expect(error.hasPrefix(start), "\(error)") }
    }

    /// A `generateName` stands for the name it starts: its trailing dash is not held against it.
    @Test func generatedNamesAreCheckedWithoutTheirTrailingDash() {
        #expect(ObjectMetaValidation.nameErrors("web-", rule: .subdomain, prefix: true).isEmpty)
        #expect(ObjectMetaValidation.nameErrors("web-", rule: .subdomain, prefix: false).count == 1)
        #expect(ObjectMetaValidation.maskTrailingDash("web-") == "wea")
    }

    @Test(arguments: [
        ("app", []), ("example.com/team", []), ("Tier", []), ("a_b.c-d", []),
        ("a/b/c", ["a valid label key"]), ("/x", ["prefix part must be non-empty"]), ("example.com/", ["name part must be non-empty", "name part must consist"]),
        ("Example.COM/x", ["prefix part a lowercase RFC 1123 subdomain"]), (String(repeating: "k", count: 64), ["name part must be no more than 63 characters"]),
        ("-x", ["name part must consist"]),
    ])
    func labelKeys(key: String, expected: [String]) {
        let errors = ObjectMetaValidation.labelKeyErrors(key)
        #expect(errors.count == expected.count, "\(errors)")
        for (error, start) in zip(errors, expected) { #expect(error.hasPrefix(start), "\(error)") }
    }

    @Test(arguments: [("", true), ("front_1", true), ("MyValue", true), ("has space", false), ("-x", false), (String(repeating: "v", count: 64), false)])
    func labelValues(value: String, valid: Bool) {
        #expect(ObjectMetaValidation.labelValueErrors(value).isEmpty == valid)
    }

    @Test(arguments: [("key.name", true), ("KEY_NAME", true), (".hidden", true), ("bad key", false), ("..x", false), ("..", false), ("", false)])
    func configKeys(key: String, valid: Bool) {
        #expect(ObjectMetaValidation.configKeyErrors(key).isEmpty == valid)
    }

    @Test(arguments: [
        (JSON.string("100m"), nil), (.number(2), nil), (.string("1.5Gi"), nil), (.null, nil),
        (.string("lots"), "quantities must match the regular expression"), (.bool(true), "quantities must match the regular expression"),
        (.string("5Gu"), "unable to parse quantity's suffix"), (.string("1.2.3"), "unable to parse numeric part of quantity"),
    ] as [(JSON, String?)])
    func quantities(value: JSON, problem: String?) {
        let found = SpecValidation.quantityProblem(value)
        if let problem { #expect(found?.hasPrefix(problem) == true, "\(found ?? "nil")") } else { #expect(found == nil, "\(found ?? "")") }
    }

    /// A JSON number past Int64's range is a quantity in exponent form, never converted to Int64
    /// (which would stop the process): a quota or pod holding one is checked and counted.
    @Test func hugeNumbersAreQuantitiesWithoutTrapping() throws {
        #expect(SpecValidation.quantityProblem(.number(1e20)) == nil)
        #expect(SpecValidation.quantity(.number(1e20)) == (try Quantity(parsing: "1e20")))
        #expect(SpecValidation.quotaCauses(.object(["spec": .object(["hard": .object(["cpu": .number(1e20), "pods": .number(-1e19)])])])).map(\.field) == ["spec.hard[pods]"])
        #expect(PodAdmission.quantities(.object(["cpu": .number(9.5e18)]))["cpu"] == (try Quantity(parsing: "9.5e18")))
    }

    @Test(arguments: [
        ("*/5 * * * *", nil), ("0 3 * * MON-FRI", nil), ("@daily", nil), ("@every 1h", nil),
        ("every night", "expected exactly 5 fields, found 2: [every night]"), ("@sometimes", "unrecognized descriptor: @sometimes"),
        ("TZ=UTC 0 3 * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        ("0,15,30,45 */2 1-15/3 jan-Jun,DEC ?", nil), ("5/10 * * * sun", nil), ("0 0 L * *", "failed to parse int from L: strconv.Atoi: parsing \"L\": invalid syntax"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"), ("0 24 * * *", "end of range (24) above maximum (23): 24"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"), ("0 0 * 13 *", "end of range (13) above maximum (12): 13"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"), ("30-10 * * * *", "beginning of range (30) beyond end of range (10): 30-10"),
        ("*/0 * * * *", "step of range should be a positive number: */0"), ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"), ("0 0 * MON *", "failed to parse int from MON: strconv.Atoi: parsing \"MON\": invalid syntax"),
        ("-5 * * * *", "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax"), ("@every 1h30m", nil),
        ("@every soon", "failed to parse duration @every soon: time: invalid duration \"soon\""),
        ("@every 5", "failed to parse duration @every 5: time: missing unit in duration \"5\""),
        ("@every 5d", "failed to parse duration @every 5d: time: unknown unit \"d\" in duration \"5d\""),
        ("99999999999999999999 * * * *", "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range"),
    ] as [(String, String?)])
    func cronSchedules(schedule: String, problem: String?) {
        #expect(WorkloadValidation.scheduleProblem(schedule) == problem)
    }

    /// Selectors as `metav1.LabelSelectorAsSelector` reads them: none selects nothing, an empty
    /// one everything, expressions with their operators.
    @Test func selectorsMatchAsTheAPIMachineryDoes() {
        let labels = ["app": "web", "tier": "front"]
        #expect(!LabelSelectors.matches(nil, labels))
        #expect(LabelSelectors.matches(.object([:]), labels))
        #expect(LabelSelectors.matches(.object(["matchLabels": .object(["app": .string("web")])]), labels))
        #expect(!LabelSelectors.matches(.object(["matchLabels": .object(["app": .string("api")])]), labels))
        func expression(_ key: String, _ op: String, _ values: [String] = []) -> JSON {
            .object(["matchExpressions": .array([.object(["key": .string(key), "operator": .string(op), "values": .array(values.map(JSON.string))])])])
        }
        #expect(LabelSelectors.matches(expression("tier", "In", ["front", "back"]), labels))
        #expect(!LabelSelectors.matches(expression("tier", "NotIn", ["front"]), labels))
        #expect(LabelSelectors.matches(expression("gpu", "DoesNotExist"), labels))
        #expect(!LabelSelectors.matches(expression("gpu", "Exists"), labels))
        #expect(LabelSelectors.goSelector(expression("tier", "In", ["a"])) == #"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string{"a"}}}}"#)
    }
}
