import Foundation
import KubeAPI

/// The workloads' specs checked as `ValidateDeploymentSpec`, `ValidateReplicaSetSpec`,
/// `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`, `ValidateJobSpec` and
/// `ValidateCronJobSpec` check them, in a real server's words (jobs and cron jobs below):
/// replicas not negative, a selector (not empty) that matches the template's labels, a template
/// with containers that have names and images and restart `Always`; and, on update, a selector
/// that does not change (`field is immutable`). Values are printed as Go prints them
/// (`map[string]string{"app":"web"}`, `v1.LabelSelector{…}`), as those messages do.
enum WorkloadValidation {
    static func causes(of object: JSON, type: ResourceType) -> [Status.Cause] {
        let owner: String
        switch (type.group, type.resource) {
        case ("apps", "deployments"), ("apps", "replicasets"): owner = "deployment"  // the replica set's check reuses the deployment's words
        case ("apps", "statefulsets"): owner = "statefulset"
        case ("apps", "daemonsets"): owner = "daemonset"
        case ("batch", "jobs"): return jobCauses(object["spec"], path: "spec")
        case ("batch", "cronjobs"): return cronJobCauses(object)
        case ("", "pods"): return podCauses(object)
        default: return []
        }
        var causes: [Status.Cause] = []
        if owner != "daemonset", case .number(let replicas) = object[path: "spec.replicas"], replicas < 0 {
            causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(Int(replicas)): must be greater than or equal to 0", field: "spec.replicas"))
        }
        let selector = object[path: "spec.selector"].flatMap { $0 == .null ? nil : $0 }
        let labels = object[path: "spec.template.metadata.labels"]?.objectValue?.compactMapValues(\.stringValue)
        let emptySelector = Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(LabelSelectors.goSelector(selector)): empty selector is invalid for \(owner)", field: "spec.selector")
        let mismatch = Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(LabelSelectors.goMap(labels)): `selector` does not match template `labels`", field: "spec.template.metadata.labels")
        if owner == "daemonset" {
            causes += LabelSelectors.causes(selector, path: "spec.selector")
            if !LabelSelectors.matches(selector, labels ?? [:]) { causes.append(mismatch) }
            if let selector, LabelSelectors.isEmpty(selector) { causes.append(emptySelector) }
        } else {
            if let selector {
                causes += LabelSelectors.causes(selector, path: "spec.selector")
                if LabelSelectors.isEmpty(selector) { causes.append(emptySelector) }
            } else {
                causes.append(SpecValidation.required("spec.selector"))
            }
            // No selector selects nothing (so no template matches); an empty one everything.
            if selector.map({ !LabelSelectors.isEmpty($0) }) ?? true, !LabelSelectors.matches(selector, labels ?? [:]) { causes.append(mismatch) }
        }
        causes += templateCauses(object[path: "spec.template.spec"], path: "spec.template.spec")
        return causes
    }

    /// The pod template's first-order checks that matter most often, and (for the apps kinds)
    /// its restart policy.
    static func templateCauses(_ spec: JSON?, path: String, restartPolicy: Bool = true) -> [Status.Cause] {
        var causes = containerCauses(spec, path: path, imageRequired: false)
        let policy = spec?["restartPolicy"]?.stringValue ?? "Always"
        if restartPolicy, policy != "Always" { causes.append(SpecValidation.unsupported("\(path).restartPolicy", policy, ["Always"])) }
        return causes
    }

    /// A pod's own checks: its containers (an image each: a template may leave it to whoever
    /// fills it in) and a known restart policy.
    static func podCauses(_ pod: JSON) -> [Status.Cause] {
        var causes = containerCauses(pod["spec"], path: "spec", imageRequired: true)
        if let policy = pod[path: "spec.restartPolicy"]?.stringValue, !["Always", "OnFailure", "Never"].contains(policy) {
            causes.append(SpecValidation.unsupported("spec.restartPolicy", policy, ["Always", "OnFailure", "Never"]))
        }
        return causes
    }

    /// `validateContainers`: some containers, each named by a DNS label, once.
    static func containerCauses(_ spec: JSON?, path: String, imageRequired: Bool) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        let containers = spec?["containers"]?.arrayValue ?? []
        if containers.isEmpty { causes.append(SpecValidation.required("\(path).containers")) }
        var names: Set<String> = []
        for (index, container) in containers.enumerated() {
            let at = "\(path).containers[\(index)]", name = container["name"]?.stringValue ?? ""
            if name.isEmpty {
                causes.append(SpecValidation.required("\(at).name"))
            } else {
                causes += ObjectMetaValidation.dnsLabelErrors(name).map { SpecValidation.invalid("\(at).name", name, $0) }
                if !names.insert(name).inserted {
                    causes.append(Status.Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(ObjectMetaValidation.quoted(name))", field: "\(at).name"))
                }
            }
            if imageRequired, (container["image"]?.stringValue ?? "").isEmpty { causes.append(SpecValidation.required("\(at).image")) }
        }
        return causes
    }

    // MARK: Batch

    /// `ValidateJobSpec`'s counts and template: a job's pods end, so they restart `OnFailure` or
    /// `Never` (anything else, the default `Always` included, is the real server's "Required value").
    static func jobCauses(_ spec: JSON?, path: String) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        for field in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit"] {
            if case .number(let number)? = spec?[field], number < 0 {
                causes.append(Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(Int(number)): must be greater than or equal to 0", field: "\(path).\(field)"))
            }
        }
        let template = "\(path).template.spec"
        causes += templateCauses(spec?[path: "template.spec"], path: template, restartPolicy: false)
        let policy = spec?[path: "template.spec.restartPolicy"]?.stringValue ?? ""
        if policy != "OnFailure", policy != "Never" {
            causes.append(SpecValidation.required("\(template).restartPolicy", "valid values: \"OnFailure\", \"Never\""))
        }
        return causes
    }

    /// `ValidateCronJobSpec`: a schedule cron can read (five fields or a descriptor, no time zone
    /// in it), a time zone Go can load, a known concurrency policy, and the job template as a job's.
    static func cronJobCauses(_ cronJob: JSON) -> [Status.Cause] {
        var causes: [Status.Cause] = []
        let schedule = cronJob[path: "spec.schedule"]?.stringValue ?? ""
        if schedule.isEmpty {
            causes.append(SpecValidation.required("spec.schedule"))
        } else if let problem = scheduleProblem(schedule) {
            causes.append(SpecValidation.invalid("spec.schedule", schedule, problem))
        }
        if let zone = cronJob[path: "spec.timeZone"]?.stringValue {
            if zone.isEmpty {
                causes.append(SpecValidation.invalid("spec.timeZone", zone, "timeZone must be nil or non-empty string"))
            } else if zone.lowercased() == "local" {
                causes.append(SpecValidation.invalid("spec.timeZone", zone, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
            } else if TimeZone(identifier: zone) == nil {
                causes.append(SpecValidation.invalid("spec.timeZone", zone, "unknown time zone \(zone)"))
            }
        }
        if let policy = cronJob[path: "spec.concurrencyPolicy"]?.stringValue, !["Allow", "Forbid", "Replace"].contains(policy) {
            causes.append(SpecValidation.unsupported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
        }
        return causes + jobCauses(cronJob[path: "spec.jobTemplate.spec"], path: "spec.jobTemplate.spec")
    }

    /// Why cron (robfig/cron's standard parser, as the API server uses it) cannot read
    /// `schedule`, or `nil`.
    static func scheduleProblem(_ schedule: String) -> String? {
        if schedule.contains("TZ") { return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" }
        let fields = schedule.split(separator: " ", omittingEmptySubsequences: true)
        if let first = fields.first, first.hasPrefix("@") {
            let descriptors: Set<Substring> = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]
            if descriptors.contains(first), fields.count == 1 { return nil }
            if first == "@every", fields.count == 2 {
                // robfig/cron reads what follows as a Go duration.
                if case .failure(let problem) = GoDuration.parse(String(fields[1])) { return "failed to parse duration \(schedule): \(problem.text)" }
                return nil
            }
            return "unrecognized descriptor: \(schedule)"
        }
        guard fields.count == 5 else { return "expected exactly 5 fields, found \(fields.count): [\(fields.joined(separator: " "))]" }
        for (field, bounds) in zip(fields, CronField.standard) {
            if let problem = bounds.problem(String(field)) { return problem }
        }
        return nil
    }

    /// The 422 cause for an update that changes an apps workload's selector, or `nil`.
    static func selectorChange(_ replacement: JSON, current: JSON, type: ResourceType) -> Status.Cause? {
        guard type.group == "apps", ["deployments", "replicasets", "daemonsets"].contains(type.resource) else { return nil }
        let new = replacement[path: "spec.selector"], old = current[path: "spec.selector"]
        guard LabelSelectors.normalized(new) != LabelSelectors.normalized(old) else { return nil }
        return Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(LabelSelectors.goSelector(new)): field is immutable", field: "spec.selector")
    }
}

/// One field of a cron schedule as robfig/cron's standard parser (the API server's) reads it:
/// comma-separated ranges `*`, `?`, `n`, `n-m`, each with an optional `/step`, within bounds,
/// months and weekdays also by name; the error of the first range it cannot read, in its words.
struct CronField {
    let min: Int, max: Int
    let names: [String: Int]

    /// Minute, hour, day of month, month, day of week.
    static let standard = [
        CronField(min: 0, max: 59, names: [:]), CronField(min: 0, max: 23, names: [:]), CronField(min: 1, max: 31, names: [:]),
        CronField(min: 1, max: 12, names: Dictionary(uniqueKeysWithValues: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].enumerated().map { ($1, $0 + 1) })),
        CronField(min: 0, max: 6, names: Dictionary(uniqueKeysWithValues: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].enumerated().map { ($1, $0) })),
    ]

    func problem(_ field: String) -> String? {
        if case .failure(let problem) = parse(field) { return problem.text }
        return nil
    }

    /// The values `field` names, and whether it is a bare `*` or `?` (robfig/cron's star bit:
    /// a day of month or of week given so does not restrict the other).
    func parse(_ field: String) -> Result<(values: Set<Int>, star: Bool), Problem> {
        var values: Set<Int> = [], star = false
        for range in field.split(separator: ",", omittingEmptySubsequences: true) {
            switch parseRange(String(range)) {
            case .failure(let problem): return .failure(problem)
            case .success(let parsed):
                values.formUnion(parsed.values)
                star = star || parsed.star
            }
        }
        return .success((values, star))
    }

    private func parseRange(_ expression: String) -> Result<(values: Set<Int>, star: Bool), Problem> {
        func fail(_ text: String) -> Result<(values: Set<Int>, star: Bool), Problem> { .failure(Problem(text: text)) }
        let rangeAndStep = expression.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let lowAndHigh = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        var start: Int, end: Int, star = false
        if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
            (start, end, star) = (min, max, true)
        } else {
            switch number(lowAndHigh[0], named: true) {
            case .failure(let problem): return .failure(problem)
            case .success(let value): start = value
            }
            switch lowAndHigh.count {
            case 1: end = start
            case 2:
                switch number(lowAndHigh[1], named: true) {
                case .failure(let problem): return .failure(problem)
                case .success(let value): end = value
                }
            default: return fail("too many hyphens: \(expression)")
            }
        }
        var step = 1
        switch rangeAndStep.count {
        case 1: break
        case 2:
            switch number(rangeAndStep[1], named: false) {
            case .failure(let problem): return .failure(problem)
            case .success(let value): step = value
            }
            // "n/step" runs from n to the field's maximum.
            if lowAndHigh.count == 1 { end = max }
            if step > 1 { star = false }
        default: return fail("too many slashes: \(expression)")
        }
        if start < min { return fail("beginning of range (\(start)) below minimum (\(min)): \(expression)") }
        if end > max { return fail("end of range (\(end)) above maximum (\(max)): \(expression)") }
        if start > end { return fail("beginning of range (\(start)) beyond end of range (\(end)): \(expression)") }
        if step == 0 { return fail("step of range should be a positive number: \(expression)") }
        return .success((Set(stride(from: start, through: end, by: step)), star))
    }

    struct Problem: Error { let text: String }

    /// `parseIntOrName` and `mustParseInt`, with `strconv.Atoi`'s words.
    private func number(_ text: String, named: Bool) -> Result<Int, Problem> {
        if named, let value = names[text.lowercased()] { return .success(value) }
        let quoted = ObjectMetaValidation.quoted(text)
        let digits = text.first == "+" || text.first == "-" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(Problem(text: "failed to parse int from \(text): strconv.Atoi: parsing \(quoted): invalid syntax"))
        }
        guard let value = Int(text) else {
            return .failure(Problem(text: "failed to parse int from \(text): strconv.Atoi: parsing \(quoted): value out of range"))
        }
        if value < 0 { return .failure(Problem(text: "negative number (\(value)) not allowed: \(text)")) }
        return .success(value)
    }
}
