import ArgumentParser
import CanopyModel
import Foundation

/// `canopy bench`: measures the pure core at the scale issue 2 names — policy decisions and
/// snapshot updates over 1,000 tenants, 10,000 projects and 100,000 users with memberships.
/// Build with `-c release` for meaningful figures.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure policy decisions and snapshot updates at scale.")

    @Option var tenants = 1000
    @Option var projectsPerTenant = 10
    @Option var usersPerTenant = 100
    @Option(help: "Concurrent HTTP clients for the API measurement.") var clients = 64
    @Option(help: "Seconds to measure each HTTP endpoint (0 skips the HTTP measurement).") var seconds = 10
    @Flag(help: "Measure KubeSim and KubeClient instead (issue 3's figures).") var kubesim = false
    @Option(help: "With --kubesim: simulated clusters (default 1000); with --reconciler: 100.") var clusters: Int?
    @Flag(help: "Measure the reconciler instead (issue 4's figures).") var reconciler = false
    @Flag(help: "Measure kubectl-style calls direct and through Canopy's proxy (issue 6's figures).") var proxy = false
    @Option(help: "With --proxy: run Canopy as a `canopy serve` child pinned to this CPU (start the bench itself under `taskset` on the others).") var canopyCPU: Int?
    @Option(help: "With --proxy: rounds of each measurement, direct and through Canopy in turn; the medians of the ratios are reported.") var rounds = 1
    @Flag(help: "With --proxy: Canopy's fast lane speaks HTTP/2 to the cluster (`canopy serve --cluster-http2`).") var clusterHttp2 = false
    @Flag(help: "Measure local and directory sign-in against a real slapd (issue 7's figures; needs Debian's slapd).") var login = false
    @Option(help: "With --login: the server's bcrypt cost.") var bcryptCost: UInt8 = 12
    @Option(help: "Open this many watches through the proxy of a `canopy serve` child and report its memory (issue 6).") var watches: Int?
    @Flag(help: "Measure the share planner alone: one cluster, 1,000 projects of 5 namespaces (issue 5's figure).") var planner = false
    @Flag(help: "Measure live quota enforcement on KubeSim: refusal to raised limit, writes under churn (--seconds of churn).") var quota = false
    @Option(help: "With --reconciler: projects on every cluster.") var projects = 20
    @Option(help: "With --reconciler: namespaces per project and cluster.") var namespaces = 2

    func run() async throws {
        if planner {
            return PlannerBench(projects: 1000, namespaces: 5).run()
        }
        if quota {
            return try await QuotaBench(samples: 20, duration: .seconds(seconds)).run()
        }
        if let watches {
            return try await WatchBench(watches: watches).run()
        }
        if login {
            return try await LoginBench(concurrency: 32, duration: .seconds(seconds), bcryptCost: bcryptCost).run()
        }
        if proxy {
            return try await ProxyBench(concurrency: 32, duration: .seconds(seconds), canopyCPU: canopyCPU, clusterHTTP2: clusterHttp2, rounds: max(rounds, 1)).run()
        }
        if reconciler {
            return try await ReconcilerBench(clusters: clusters ?? 100, projects: projects, namespaces: namespaces).run()
        }
        if kubesim {
            return try await KubeSimBench(clusters: clusters ?? 1000, concurrency: 32, duration: .seconds(seconds)).run()
        }
        let started = ContinuousClock.now
        let world = BenchWorld(tenants: tenants, projectsPerTenant: projectsPerTenant, usersPerTenant: usersPerTenant)
        print("world: \(tenants) tenants, \(tenants * projectsPerTenant) projects, \(tenants * usersPerTenant) users and memberships (built in \(ContinuousClock.now - started))")

        // Policy: median of batch means, each batch 10,000 decisions over varied callers and targets.
        var batchMeans: [Double] = []
        var allowed = 0
        for batch in 0..<50 {
            let clock = ContinuousClock.now
            for index in 0..<10_000 {
                let (principal, target) = world.sample(batch * 10_000 + index)
                if Policy.decide(.writeWorkloads, for: principal, on: target, in: world.snapshot) == .allow { allowed += 1 }
            }
            batchMeans.append(Self.nanoseconds(ContinuousClock.now - clock) / 10_000)
        }
        print(String(format: "policy decision: median %.0f ns (p99 of batch means %.0f ns; %d allowed of 500000)", Self.median(batchMeans), Self.percentile(batchMeans, 0.99), allowed))

        // Snapshot update: apply one new membership to the full world, 200 times.
        var updates: [Double] = []
        var snapshot = world.snapshot
        for index in 0..<200 {
            let tenant = world.tenantIDs[index % world.tenantIDs.count]
            let grant = Grant(id: .random(), tenantID: tenant, projectID: world.projectIDs[tenant]![0], role: .projectViewer, subject: .group("g\(index)"), createdAt: Date())
            let clock = ContinuousClock.now
            snapshot = snapshot.applying(.grantSaved(grant), sequence: Int64(index))
            updates.append(Self.nanoseconds(ContinuousClock.now - clock))
        }
        print(String(format: "snapshot update after one change: median %.3f ms, p99 %.3f ms", Self.median(updates) / 1e6, Self.percentile(updates, 0.99) / 1e6))

        if seconds > 0 {
            try await HTTPBench(world: world, clients: clients, duration: .seconds(seconds)).run()
        }
    }

    static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }

    static func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }
}

/// A synthetic world: every tenant has its users spread over its projects as admin, member and
/// viewer, plus one tenant admin; half the tenants are msp.
struct BenchWorld {
    let snapshot: Snapshot
    let tenantIDs: [TenantID]
    let projectIDs: [TenantID: [ProjectID]]
    private let principals: [Principal]
    private let provider: Principal

    init(tenants: Int, projectsPerTenant: Int, usersPerTenant: Int) {
        let now = Date()
        var tenantSnapshots: [TenantSnapshot] = []
        var tenantIDs: [TenantID] = []
        var projectIDs: [TenantID: [ProjectID]] = [:]
        for t in 0..<tenants {
            let tenant = Tenant(id: TenantID("t\(t)"), name: "tenant-\(t)", displayName: "", mode: t % 2 == 0 ? .msp : .enterprise, createdAt: now)
            let projects = (0..<projectsPerTenant).map { Project(id: ProjectID("t\(t)p\($0)"), tenantID: tenant.id, name: "project-\($0)", createdAt: now) }
            let users = (0..<usersPerTenant).map { User(id: UserID("t\(t)u\($0)"), tenantID: tenant.id, username: "user-\($0)", createdAt: now) }
            var grants = users.enumerated().map { index, user in
                Grant(id: GrantID("t\(t)g\(index)"), tenantID: tenant.id, projectID: projects[index % projects.count].id,
                      role: Role.projectRoles[index % 3], subject: .user(user.id), createdAt: now)
            }
            grants.append(Grant(id: GrantID("t\(t)admin"), tenantID: tenant.id, projectID: nil, role: .tenantAdmin, subject: .user(users[0].id), createdAt: now))
            tenantSnapshots.append(TenantSnapshot(
                tenant: tenant, users: Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) }),
                projects: Dictionary(uniqueKeysWithValues: projects.map { ($0.id, $0) }),
                grants: Dictionary(uniqueKeysWithValues: grants.map { ($0.id, $0) })
            ))
            tenantIDs.append(tenant.id)
            projectIDs[tenant.id] = projects.map(\.id)
        }
        let admin = User(id: UserID("admin"), tenantID: nil, username: "admin", createdAt: now)
        let snapshot = Snapshot(
            sequence: 0, tenants: tenantSnapshots, domainUsers: [admin],
            domainGrants: [Grant(id: GrantID("sp"), tenantID: nil, projectID: nil, role: .serviceProvider, subject: .user(admin.id), createdAt: now)]
        )
        self.tenantIDs = tenantIDs
        self.projectIDs = projectIDs
        provider = snapshot.principal(userID: admin.id, tenantID: nil)!
        principals = (0..<1000).map { index in
            let tenant = tenantIDs[(index * 7919) % tenantIDs.count]
            return snapshot.principal(userID: UserID("\(tenant.rawValue)u\(index % usersPerTenant)"), tenantID: tenant)!
        }
        self.snapshot = snapshot
    }

    /// A caller and a target, mixing own projects, other projects, other tenants and the provider.
    func sample(_ index: Int) -> (Principal, Target) {
        let principal = index % 10 == 0 ? provider : principals[index % principals.count]
        let tenant = index % 4 == 0 ? tenantIDs[(index * 31) % tenantIDs.count] : (principal.tenantID ?? tenantIDs[index % tenantIDs.count])
        let projects = projectIDs[tenant]!
        return (principal, .project(tenant, projects[index % projects.count]))
    }
}
