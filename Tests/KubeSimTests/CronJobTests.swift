import Foundation
import KubeAPI
@testable import KubeSim
import Synchronization
import Testing
import TestSupport

/// KubeSim's CronJob controller makes a job when the schedule is due, named as a real
/// controller names it, honours the concurrency policy and the history limits, and keeps the
/// cron job's status; its schedule is read as cron reads it.
@Suite struct CronJobTests {
    static let cronJobs = ResourceType.find(group: "batch", version: "v1", resource: "cronjobs")!
    static let jobs = ResourceType.find(group: "batch", version: "v1", resource: "jobs")!
    static let pods = ResourceType.find(group: "", version: "v1", resource: "pods")!

    @Test func aDueScheduleMakesAJobAndTheConcurrencyPolicyAndHistoryHold() async throws {
        // The cluster's clock is set 1.5 s before a minute begins once the cluster is up (its
        // start takes longer under load), and moves on when the test says.
        let shift = Mutex<TimeInterval>(0)
        try await TestKubeSim.with(clock: { Date().addingTimeInterval(shift.withLock { $0 }) }) { sim in
            let now = Date().timeIntervalSince1970
            shift.withLock { $0 = 60 - now.truncatingRemainder(dividingBy: 60) - 1.5 }
            let cluster = try #require(sim.sim.clusters["a"])
            _ = try cluster.create(Self.cronJobs, namespace: "default", object: .object([
                "metadata": .object(["name": .string("tick")]),
                "spec": .object([
                    "schedule": .string("* * * * *"), "concurrencyPolicy": .string("Forbid"), "successfulJobsHistoryLimit": .number(1),
                    "jobTemplate": .object(["spec": .object(["template": .object(["spec": .object([
                        "restartPolicy": .string("Never"), "containers": .array([.object(["name": .string("c"), "image": .string("busybox")])]),
                    ])])])]),
                ]),
            ]))
            @Sendable func jobNames() throws -> [String] {
                try cluster.list(Self.jobs, namespace: "default").items.compactMap { $0[path: "metadata.name"]?.stringValue }.sorted()
            }
            let dueMinute = Int((cluster.clock().timeIntervalSince1970 + 1.5) / 60)
            try await eventually(within: 5, "the first job, when the minute begins") { try jobNames() == ["tick-\(dueMinute)"] }
            let first = try cluster.get(Self.jobs, namespace: "default", name: "tick-\(dueMinute)")
            #expect(first[path: "metadata.ownerReferences"]?.arrayValue?.first?["kind"] == .string("CronJob"))
            #expect(first[path: "metadata.annotations"]?["batch.kubernetes.io/cronjob-scheduled-timestamp"] == .string(KubeTime.format(Date(timeIntervalSince1970: Double(dueMinute * 60)))))
            try await eventually(within: 5, "the cron job's status") {
                let status = try cluster.get(Self.cronJobs, namespace: "default", name: "tick")["status"]
                return status?["lastScheduleTime"] == .string(KubeTime.format(Date(timeIntervalSince1970: Double(dueMinute * 60))))
                    && status?["active"]?.arrayValue?.first?["name"] == .string("tick-\(dueMinute)")
            }

            // `kubectl get` shows when it last ran as an age, and how long the job has run.
            let table = SimTable.table([try cluster.get(Self.cronJobs, namespace: "default", name: "tick")], type: Self.cronJobs, revision: nil, includeObject: "None",
                                       now: Date(timeIntervalSince1970: Double(dueMinute * 60 + 5)))
            #expect(table[path: "rows"]?.arrayValue?.first?["cells"]?.arrayValue?[5] == .string("5s"), "\(table)")
            try await eventually(within: 5, "the job started") {
                try cluster.get(Self.jobs, namespace: "default", name: "tick-\(dueMinute)")[path: "status.startTime"] != nil
            }
            let started = try cluster.get(Self.jobs, namespace: "default", name: "tick-\(dueMinute)")
            let jobTable = SimTable.table([started], type: Self.jobs, revision: nil, includeObject: "None", now: Date(timeIntervalSince1970: Double(dueMinute * 60 + 90)))
            #expect(jobTable[path: "rows"]?.arrayValue?.first?["cells"]?.arrayValue?[3].stringValue?.hasSuffix("s") == true, "\(jobTable)")

            // A minute later the first still runs: `Forbid` starts none.
            shift.withLock { $0 += 60 }
            try await poke(cluster)
            try await eventually(within: 5, "the skipped run's event") {
                try cluster.list(ResourceType.find(group: "", version: "v1", resource: "events")!, namespace: "default").items
                    .contains { $0["reason"] == .string("JobAlreadyActive") }
            }
            #expect(try jobNames() == ["tick-\(dueMinute)"])

            // Once it completes, the run it held back starts at once (no starting deadline), and
            // when that one completes too the older finished job goes (one successful job kept).
            try succeedPods(of: "tick-\(dueMinute)", in: cluster)
            let held = dueMinute + 1
            try await eventually(within: 5, "the held-back run") { try jobNames() == ["tick-\(dueMinute)", "tick-\(held)"] }
            try await eventually(within: 5, "the last success recorded") {
                try cluster.get(Self.cronJobs, namespace: "default", name: "tick")[path: "status.lastSuccessfulTime"] != nil
            }
            try succeedPods(of: "tick-\(held)", in: cluster)
            try await eventually(within: 5, "only the latest successful job kept") { try jobNames() == ["tick-\(held)"] }
            // The status is written after the clean-up, as a real controller writes it.
            try await eventually(within: 5, "no job active") {
                try cluster.get(Self.cronJobs, namespace: "default", name: "tick")[path: "status.active"] == nil
            }
        }
    }

    /// Any change to the cron job queues it, as an informer's update does.
    private func poke(_ cluster: SimCluster) async throws {
        var cronJob = try cluster.get(Self.cronJobs, namespace: "default", name: "tick")
        cronJob[path: "metadata.labels"] = .object(["poked": .string(UUID().uuidString.prefix(8).lowercased())])
        _ = try cluster.update(Self.cronJobs, namespace: "default", name: "tick", object: cronJob)
    }

    /// The kubelet's part: the job's pods ran to completion.
    private func succeedPods(of job: String, in cluster: SimCluster) throws {
        for pod in try cluster.list(Self.pods, namespace: "default").items where pod[path: "metadata.labels"]?["job-name"] == .string(job) {
            guard let name = pod[path: "metadata.name"]?.stringValue else { continue }
            var finished = pod
            finished[path: "status.phase"] = .string("Succeeded")
            _ = try cluster.replaceStatus(Self.pods, namespace: "default", name: name, with: finished)
        }
    }

    static func date(_ text: String) -> Date { KubeTime.parse(text)! }

    @Test(arguments: [
        ("30 2 * * *", nil, "2026-12-07T10:00:00Z", "2026-12-07T02:30:00Z", "2026-12-08T02:30:00Z"),
        ("0 9 * * MON-FRI", nil, "2026-12-05T10:00:00Z", "2026-12-04T09:00:00Z", "2026-12-07T09:00:00Z"),
        // Both days restricted: either matches (Friday the 11th before the 13th).
        ("0 0 13 * 5", nil, "2026-12-07T10:00:00Z", "2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z"),
        ("*/15 * * * *", nil, "2026-12-07T10:07:30Z", "2026-12-07T10:00:00Z", "2026-12-07T10:15:00Z"),
        ("0 9 * * *", "Europe/Berlin", "2026-12-07T00:00:00Z", "2026-12-06T08:00:00Z", "2026-12-07T08:00:00Z"),
        ("@monthly", nil, "2026-12-07T10:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("0 0 29 2 *", nil, "2026-12-07T10:00:00Z", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"),
    ] as [(String, String?, String, String, String)])
    func schedulesAreDueAsCronReadsThem(schedule: String, zone: String?, now: String, latest: String, next: String) throws {
        let cron = try #require(CronSchedule(schedule, timeZone: zone))
        #expect(cron.latest(before: Self.date(now), after: Self.date("2020-01-01T00:00:00Z")) == Self.date(latest))
        #expect(cron.next(after: Self.date(now)) == Self.date(next))
        #expect(cron.latest(before: Self.date(now), after: Self.date(latest)) == nil, "not again after its last run")
    }

    /// `@every` counts from the last run (or the cron job's creation), in whole seconds.
    @Test func anEveryScheduleCountsFromItsLastRun() throws {
        let every = try #require(CronSchedule("@every 1h30m", timeZone: nil))
        let anchor = Self.date("2026-12-07T10:00:00Z")
        #expect(every.latest(before: Self.date("2026-12-07T11:29:59Z"), after: anchor) == nil)
        #expect(every.latest(before: Self.date("2026-12-07T14:00:00Z"), after: anchor) == Self.date("2026-12-07T13:00:00Z"))
        #expect(every.next(after: Self.date("2026-12-07T14:00:00Z"), from: anchor) == Self.date("2026-12-07T14:30:00Z"))
        #expect(CronSchedule("@every 300ms", timeZone: nil)?.interval == 1, "a second at least")
    }

    @Test(arguments: [
        ("1h30m", 5400), ("1.5h", 5400), ("300ms", 0.3), (".5s", 0.5), ("-2m", -120), ("0", 0), ("2h45m30.5s", 9930.5),
    ] as [(String, Double)])
    func durationsReadAsGoReadsThem(text: String, seconds: Double) throws {
        guard case .success(let parsed) = GoDuration.parse(text) else { Issue.record("\(text) did not parse"); return }
        #expect(abs(parsed - seconds) < 1e-9)
    }

    @Test func aScheduleThatNeverComesIsNeverDue() throws {
        let never = try #require(CronSchedule("0 0 30 2 *", timeZone: nil))
        #expect(never.next(after: Self.date("2026-12-07T10:00:00Z")) == nil)
        #expect(never.latest(before: Self.date("2026-12-07T10:00:00Z"), after: Self.date("1970-01-01T00:00:00Z")) == nil)
        #expect(CronSchedule("@every soon", timeZone: nil) == nil)
        #expect(CronSchedule("0 9 * * *", timeZone: "Mars/Olympus") == nil)
        // Such a time zone never gets stored: a real server refuses it with Go's words.
        let zoned = JSON.object(["spec": .object(["schedule": .string("0 9 * * *"), "timeZone": .string("Mars/Olympus")])])
        #expect(WorkloadValidation.cronJobCauses(zoned).first?.message == #"Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#)
        #expect(WorkloadValidation.cronJobCauses(zoned).first?.field == "spec.timeZone")
    }
}
