import Foundation
import KubeAPI

/// A cron schedule as robfig/cron's standard parser reads it (the controller-manager's), to find
/// when a CronJob is due: minute, hour, day of month, month and day of week, in a time zone.
struct CronSchedule {
    let minutes: Set<Int>, hours: Set<Int>, daysOfMonth: Set<Int>, months: Set<Int>, daysOfWeek: Set<Int>
    /// Whether the day of month or of week was a bare `*`: then a day must match both fields,
    /// otherwise either (cron's rule).
    let anyDay: Bool
    let calendar: Calendar
    /// `@every <duration>`: due every so many whole seconds (one at least) from the time it
    /// counts from, not at times of day.
    let interval: TimeInterval?

    /// `nil` for what cron cannot read.
    init?(_ schedule: String, timeZone: String?) {
        let descriptors = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
        let trimmed = schedule.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("@every ") {
            guard case .success(let seconds) = GoDuration.parse(String(trimmed.dropFirst("@every ".count))) else { return nil }
            (minutes, hours, daysOfMonth, months, daysOfWeek, anyDay) = ([], [], [], [], [], true)
            interval = max(seconds.rounded(.towardZero), 1)
            calendar = Calendar(identifier: .gregorian)
            return
        }
        interval = nil
        let fields = (descriptors[trimmed] ?? trimmed).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else { return nil }
        var parsed: [(values: Set<Int>, star: Bool)] = []
        for (field, bounds) in zip(fields, CronField.standard) {
            guard case .success(let values) = bounds.parse(field) else { return nil }
            parsed.append(values)
        }
        (minutes, hours, daysOfMonth, months, daysOfWeek) = (parsed[0].values, parsed[1].values, parsed[2].values, parsed[3].values, parsed[4].values)
        anyDay = parsed[2].star || parsed[4].star
        var calendar = Calendar(identifier: .gregorian)
        guard let zone = timeZone.map({ TimeZone(identifier: $0) }) ?? TimeZone(identifier: "UTC") else { return nil }
        calendar.timeZone = zone
        self.calendar = calendar
    }

    private func dayMatches(_ parts: DateComponents) -> Bool {
        guard let month = parts.month, months.contains(month), let day = parts.day, let weekday = parts.weekday else { return false }
        let dom = daysOfMonth.contains(day), dow = daysOfWeek.contains(weekday - 1)
        return anyDay ? dom && dow : dom || dow
    }

    /// The latest time it was due at or before `now` and after `after`, or `nil`. An `@every`
    /// schedule counts from `after`.
    func latest(before now: Date, after: Date) -> Date? {
        if let interval {
            let steps = (now.timeIntervalSince(after) / interval).rounded(.down)
            return steps >= 1 ? after.addingTimeInterval(steps * interval) : nil
        }
        guard var time = calendar.dateInterval(of: .minute, for: now)?.start else { return nil }
        // Days, hours and minutes that cannot match are skipped; five years back at most, as
        // cron looks five years ahead at most.
        let limit = max(after, now.addingTimeInterval(-Self.horizon))
        while true {
            guard time > limit else { return nil }
            let parts = calendar.dateComponents([.month, .day, .weekday, .hour, .minute], from: time)
            if !dayMatches(parts) {
                guard let start = calendar.dateInterval(of: .day, for: time)?.start else { return nil }
                time = start.addingTimeInterval(-60)
            } else if !hours.contains(parts.hour ?? -1) {
                guard let start = calendar.dateInterval(of: .hour, for: time)?.start else { return nil }
                time = start.addingTimeInterval(-60)
            } else if !minutes.contains(parts.minute ?? -1) {
                time = time.addingTimeInterval(-60)
            } else {
                return time
            }
        }
    }

    /// Five years, the farthest cron looks for a time that matches.
    static let horizon: TimeInterval = 5 * 366 * 86400

    /// The first time it is due after `now`, or `nil` within five years (a 30th of February);
    /// an `@every` schedule counts from `anchor`.
    func next(after now: Date, from anchor: Date? = nil) -> Date? {
        if let interval {
            let anchor = anchor ?? now
            return anchor.addingTimeInterval(((now.timeIntervalSince(anchor) / interval).rounded(.down) + 1) * interval)
        }
        guard var time = calendar.dateInterval(of: .minute, for: now)?.end else { return nil }
        let limit = now.addingTimeInterval(Self.horizon)
        while time <= limit {
            let parts = calendar.dateComponents([.month, .day, .weekday, .hour, .minute], from: time)
            if !dayMatches(parts) {
                guard let end = calendar.dateInterval(of: .day, for: time)?.end else { return nil }
                time = end
            } else if !hours.contains(parts.hour ?? -1) {
                guard let end = calendar.dateInterval(of: .hour, for: time)?.end else { return nil }
                time = end
            } else if !minutes.contains(parts.minute ?? -1) {
                time = time.addingTimeInterval(60)
            } else {
                return time
            }
        }
        return nil
    }
}

/// KubeSim's CronJob controller (the controller-manager's `cronjob-controller`, v2): when a
/// schedule is due it makes the Job from the template, named `<cronjob>-<minutes since 1970>`,
/// as a real one does, honouring `suspend`, `startingDeadlineSeconds` and the concurrency
/// policy; it keeps `status.active`, `lastScheduleTime` and `lastSuccessfulTime`, deletes
/// finished jobs past the history limits, and wakes itself when the next run is due.
extension SimCluster {
    func syncCronJob(_ namespace: String, _ name: String) -> Bool {
        guard let cronJob = current("cronjobs", namespace, name), cronJob[path: "metadata.deletionTimestamp"] == nil,
              let uid = cronJob[path: "metadata.uid"]?.stringValue else { return true }
        let now = clock()
        var jobs = owned("jobs", in: namespace, by: uid)
        var status = cronJob["status"]?.objectValue ?? [:]
        pruneHistory(of: cronJob, jobs: &jobs)
        let finished = jobs.filter { Self.finished($0) != nil }
        var active = jobs.filter { Self.finished($0) == nil }
        if let last = finished.filter({ Self.finished($0) == "Complete" }).compactMap({ $0[path: "status.completionTime"]?.stringValue }).max() {
            status["lastSuccessfulTime"] = .string(last)
        }

        let schedule = CronSchedule(cronJob[path: "spec.schedule"]?.stringValue ?? "", timeZone: cronJob[path: "spec.timeZone"]?.stringValue)
        let created = (cronJob[path: "metadata.creationTimestamp"]?.stringValue).flatMap(KubeTime.parse) ?? now
        // Runs are counted from the last one, or from the cron job's creation (strictly after).
        let lastRun = (status["lastScheduleTime"]?.stringValue).flatMap(KubeTime.parse) ?? created
        var failed = false
        if cronJob[path: "spec.suspend"] != .bool(true), let schedule, let due = schedule.latest(before: now, after: lastRun) {
            let deadline = SimControllers.int(cronJob[path: "spec.startingDeadlineSeconds"])
            let policy = cronJob[path: "spec.concurrencyPolicy"]?.stringValue ?? "Allow"
            if let deadline, now.timeIntervalSince(due) > Double(deadline) {
                // Missed by more than its deadline: skipped, as a real controller skips it.
                status["lastScheduleTime"] = .string(KubeTime.format(due))
            } else if policy == "Forbid", !active.isEmpty {
                recordEvent(about: cronJob, reason: "JobAlreadyActive", message: "Not starting job because prior execution is running and concurrency policy is Forbid", component: "cronjob-controller")
            } else {
                if policy == "Replace" {
                    for job in active {
                        guard let jobName = job[path: "metadata.name"]?.stringValue,
                              (try? performDelete(Self.type("jobs"), namespace: namespace, name: jobName, propagation: "Background")) != nil else { continue }
                        recordEvent(about: cronJob, reason: "SuccessfulDelete", message: "Deleted job \(jobName)", component: "cronjob-controller")
                    }
                    active = []
                }
                var job = SimControllers.object(kind: "Job", apiVersion: "batch/v1", from: cronJob[path: "spec.jobTemplate"], owner: cronJob, namespace: namespace,
                                                name: "\(name)-\(Int(due.timeIntervalSince1970 / 60))")
                job[path: "metadata.annotations"] = .object((job[path: "metadata.annotations"]?.objectValue ?? [:]).merging([
                    "batch.kubernetes.io/cronjob-scheduled-timestamp": .string(KubeTime.format(due)),
                ]) { $1 })
                switch createControlled("jobs", namespace: namespace, job) {
                case .success(let made):
                    active.append(made)
                    status["lastScheduleTime"] = .string(KubeTime.format(due))
                    recordEvent(about: cronJob, reason: "SuccessfulCreate", message: "Created job \(made[path: "metadata.name"]?.stringValue ?? "")", component: "cronjob-controller")
                case .failure(let refusal) where refusal.code == 409:
                    status["lastScheduleTime"] = .string(KubeTime.format(due))
                case .failure(let refusal):
                    recordEvent(about: cronJob, reason: "FailedCreate", warning: true, message: "Error creating job: \(refusal.message ?? "")", component: "cronjob-controller")
                    failed = true
                }
            }
        }
        status["active"] = active.isEmpty ? nil : .array(active.map { job in
            .object([
                "kind": .string("Job"), "apiVersion": .string("batch/v1"), "namespace": .string(namespace),
                "name": job[path: "metadata.name"] ?? .null, "uid": job[path: "metadata.uid"] ?? .null,
                "resourceVersion": job[path: "metadata.resourceVersion"] ?? .null,
            ])
        })
        writeStatus("cronjobs", namespace, name, status)
        // Wake when the next run is due (a moment after, so that the clock has passed it).
        if let next = schedule?.next(after: now, from: (status["lastScheduleTime"]?.stringValue).flatMap(KubeTime.parse) ?? created),
           let queue = state.withLock({ $0.work }) {
            queue.wake(.workload(kind: "CronJob", namespace: namespace, name: name), after: next.timeIntervalSince(now) + 0.05)
        }
        return !failed
    }

    /// `Complete` or `Failed` for a finished job, `nil` for one that still runs.
    static func finished(_ job: JSON) -> String? {
        for condition in job[path: "status.conditions"]?.arrayValue ?? [] where condition["status"]?.stringValue == "True" {
            if let type = condition["type"]?.stringValue, type == "Complete" || type == "Failed" { return type }
        }
        return nil
    }

    /// Deletes the oldest finished jobs past `successfulJobsHistoryLimit` (3) and
    /// `failedJobsHistoryLimit` (1).
    private func pruneHistory(of cronJob: JSON, jobs: inout [JSON]) {
        guard let namespace = cronJob[path: "metadata.namespace"]?.stringValue else { return }
        for (outcome, field, kept) in [("Complete", "successfulJobsHistoryLimit", 3), ("Failed", "failedJobsHistoryLimit", 1)] {
            let limit = SimControllers.int(cronJob[path: "spec.\(field)"]) ?? kept
            let done = jobs.filter { Self.finished($0) == outcome }
                .sorted { ($0[path: "status.startTime"]?.stringValue ?? "") < ($1[path: "status.startTime"]?.stringValue ?? "") }
            for job in done.dropLast(max(limit, 0)) {
                guard let jobName = job[path: "metadata.name"]?.stringValue,
                      (try? performDelete(Self.type("jobs"), namespace: namespace, name: jobName, propagation: "Background")) != nil else { continue }
                jobs.removeAll { $0[path: "metadata.name"]?.stringValue == jobName }
                recordEvent(about: cronJob, reason: "SuccessfulDelete", message: "Deleted job \(jobName)", component: "cronjob-controller")
            }
        }
    }
}

/// Go's `time.ParseDuration`, in seconds, with its errors' words: a sequence of decimal numbers,
/// each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), an optional sign, or `0`.
enum GoDuration {
    static func parse(_ text: String) -> Result<TimeInterval, Problem> {
        let quoted = ObjectMetaValidation.quoted(text)
        let units: [String: Double] = ["ns": 1e-9, "us": 1e-6, "\u{b5}s": 1e-6, "\u{3bc}s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600]
        var rest = Substring(text), sign = 1.0
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return .success(0) }
        guard !rest.isEmpty else { return .failure(Problem(text: "time: invalid duration \(quoted)")) }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0 == "." || ($0.isASCII && $0.isNumber) }
            guard number.contains(where: \.isNumber), number.filter({ $0 == "." }).count <= 1, let value = Double(number.hasPrefix(".") ? "0" + number : number)
            else { return .failure(Problem(text: "time: invalid duration \(quoted)")) }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0 != "." && !($0.isASCII && $0.isNumber) }
            guard !unit.isEmpty else { return .failure(Problem(text: "time: missing unit in duration \(quoted)")) }
            guard let scale = units[String(unit)] else {
                return .failure(Problem(text: "time: unknown unit \(ObjectMetaValidation.quoted(String(unit))) in duration \(quoted)"))
            }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return .success(sign * total)
    }

    struct Problem: Error, Equatable { let text: String }
}
