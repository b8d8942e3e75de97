import AsyncHTTPClient
import CanopyAuth
import CanopyModel
import CanopyServer
import CanopyStore
import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import Synchronization

/// The HTTP part of `canopy bench`: a real server on loopback holding the full synthetic world,
/// `GET /api/v1/tenants/{t}/projects` as project members from `clients` concurrent connections,
/// beside `/healthz` of the same server in the same run.
struct HTTPBench {
    let world: BenchWorld
    let clients: Int
    let duration: Duration

    /// One measured endpoint.
    struct Result {
        let requests: Int
        let failures: Int
        let latencies: [Double]
        let elapsed: Duration

        var perSecond: Double { Double(requests) / Bench.nanoseconds(elapsed) * 1e9 }
    }

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("canopy-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .critical; return logger }()
        let configuration = ServerConfiguration(dataDirectory: directory, port: 0, bcryptCost: 4, adminPassword: "bench-password", tls: false)
        let (readyStream, readyContinuation) = AsyncStream<CanopyServer.Ready>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await CanopyServer.run(configuration, logger: logger) { readyContinuation.yield($0) } }
            guard let ready = await readyStream.first(where: { _ in true }) else { return }
            let started = ContinuousClock.now
            let tokens = try await load(into: ready.services.world)
            print("http: loaded the world into SQLite and issued \(tokens.count) tokens in \(ContinuousClock.now - started)")
            let client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients))
            )
            let base = "http://127.0.0.1:\(ready.port)"
            let health = try await measure(client) { _ in (base + "/healthz", nil) }
            let projects = try await measure(client) { index in
                let (tenant, token) = tokens[index % tokens.count]
                return (base + "/api/v1/tenants/\(tenant)/projects", token)
            }
            try await client.shutdown()
            report("GET /healthz", health)
            report("GET /api/v1/tenants/{t}/projects (member)", projects)
            print(String(format: "http: projects list throughput is %.2f of /healthz", projects.perSecond / health.perSecond))
            await ready.stop()
        }
    }

    /// Writes every tenant, user, project and membership straight through the store (one
    /// transaction per tenant, one shared bcrypt hash), then issues a token for one member of
    /// each tenant.
    private func load(into live: World) async throws -> [(String, String)] {
        let hash = Bcrypt.hash("bench-password", cost: 4)
        let snapshot = world.snapshot
        var tokens: [(String, String)] = []
        for tenantID in world.tenantIDs {
            guard let tenant = snapshot.tenant(tenantID) else { continue }
            let member = tenant.grants.values.first { $0.role == .projectMember }
            let secret = TokenSecret.generate()
            let token = member.flatMap { grant -> APIToken? in
                guard case .user(let userID) = grant.subject else { return nil }
                return APIToken(id: .random(), userID: userID, description: "bench", createdAt: Date(), expiresAt: Date() + 3600)
            }
            try await live.commit { tx in
                try await tx.insert(tenant.tenant)
                for user in tenant.users.values { try await tx.insert(user, passwordHash: hash) }
                for project in tenant.projects.values { try await tx.insert(project) }
                for grant in tenant.grants.values { try await tx.insert(grant) }
                if let token { try await tx.insert(token, tenantID: tenantID, hash: secret.hash) }
                var changes: [Change] = [.tenantSaved(tenant.tenant)]
                changes += tenant.users.values.map(Change.userSaved)
                changes += tenant.projects.values.map(Change.projectSaved)
                changes += tenant.grants.values.map(Change.grantSaved)
                return World.Outcome(result: (), changes: changes, audit: [])
            }
            if token != nil { tokens.append((tenant.tenant.name, secret.text)) }
        }
        return tokens
    }

    /// Runs `clients` loops against one endpoint for `duration` after a one-second warm-up.
    private func measure(_ client: HTTPClient, _ target: @escaping @Sendable (Int) -> (String, String?)) async throws -> Result {
        let deadline = Mutex<ContinuousClock.Instant?>(nil)
        let warmUntil = ContinuousClock.now + .seconds(1)
        let measureUntil = warmUntil + duration
        deadline.withLock { $0 = measureUntil }
        let perClient = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for clientIndex in 0..<clients {
                group.addTask {
                    var latencies: [Double] = []
                    var failures = 0
                    var index = clientIndex
                    while ContinuousClock.now < measureUntil {
                        let (url, token) = target(index)
                        index += clients
                        var request = HTTPClientRequest(url: url)
                        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                        let start = ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(10))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        let end = ContinuousClock.now
                        guard end > warmUntil, end < measureUntil else { continue }
                        if response.status == .ok { latencies.append(Bench.nanoseconds(end - start)) } else { failures += 1 }
                    }
                    return (latencies, failures)
                }
            }
            return try await group.reduce(into: [([Double], Int)]()) { $0.append($1) }
        }
        let latencies = perClient.flatMap(\.0)
        return Result(requests: latencies.count, failures: perClient.map(\.1).reduce(0, +), latencies: latencies, elapsed: duration)
    }

    private func report(_ name: String, _ result: Result) {
        print(String(
            format: "http: %@: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d failures (%d clients, %@)",
            name, result.perSecond, Bench.percentile(result.latencies, 0.5) / 1e6, Bench.percentile(result.latencies, 0.99) / 1e6,
            result.failures, clients, "\(duration)"
        ))
    }
}
