import ArgumentParser
import CanopyServer
import Foundation
import Logging

/// `canopy serve`: run the management plane.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Canopy server.")

    @Option(help: "Folder for the SQLite store (the default store).")
    var dataDir: String

    @Option(help: "Use PostgreSQL instead: postgres://user:password@host:5432/database")
    var database: String?

    @Option(help: "Address to listen on, HOST:PORT.")
    var listen: String = "127.0.0.1:8443"

    @Flag(help: "Serve plain HTTP (loopback testing). By default Canopy serves HTTPS with a self-signed certificate kept in the data folder.")
    var insecureHttp = false

    @Option(help: "bcrypt work factor for new passwords (4 to 31).")
    var bcryptCost: UInt8 = 12

    @Option(help: "Seconds a proxied request may take before Canopy ends it (watches and `logs -f` too; clients start them again).")
    var proxyDeadline: Int = 7200

    @Option(help: "MiB one list the proxy gathers itself may hold (a project user's `get pods -A`, `get namespaces`); larger ones are refused with 413, ask in pages (1 to 4096).")
    var proxyGatherMib: Int = 64

    @Option(help: "MiB all such lists at once may hold, one tenant's half of it; past it 429 with Retry-After (1 to 65536, at least --proxy-gather-mib).")
    var proxyGatherTotalMib: Int = 256

    @Flag(help: "Offer HTTP/2 to clusters on the proxy's fast lane (plain GETs), and speak it to those that choose it.")
    var clusterHttp2 = false

    @Option(help: "With --database: seconds the replica that writes to the clusters keeps that role unrenewed; another replica takes over within it after a crash (3 to 300).")
    var reconcilerLease: Int = 15

    func run() async throws {
        guard (4...31).contains(bcryptCost) else { throw ValidationError("--bcrypt-cost must be between 4 and 31") }
        guard (1...604_800).contains(proxyDeadline) else { throw ValidationError("--proxy-deadline must be between 1 and 604800 seconds (a week)") }
        guard (3...300).contains(reconcilerLease) else { throw ValidationError("--reconciler-lease must be between 3 and 300 seconds") }
        guard (1...4096).contains(proxyGatherMib) else { throw ValidationError("--proxy-gather-mib must be between 1 and 4096") }
        guard (proxyGatherMib...65536).contains(proxyGatherTotalMib) else {
            throw ValidationError("--proxy-gather-total-mib must be between --proxy-gather-mib (\(proxyGatherMib)) and 65536")
        }
        let (host, port) = try Self.parse(listen)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "canopy")
        logger.logLevel = ProcessInfo.processInfo.environment["CANOPY_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        var configuration = ServerConfiguration(
            dataDirectory: dataDir, databaseURL: database, host: host, port: port, bcryptCost: bcryptCost,
            adminPassword: ProcessInfo.processInfo.environment["CANOPY_ADMIN_PASSWORD"], tls: !insecureHttp
        )
        configuration.proxyDeadline = .seconds(proxyDeadline)
        configuration.clusterHTTP2 = clusterHttp2
        configuration.proxyGatherLimit = proxyGatherMib << 20
        configuration.proxyGatherTotal = proxyGatherTotalMib << 20
        configuration.reconcilerLeaseLifetime = .seconds(reconcilerLease)
        try await CanopyServer.run(configuration, logger: logger, handleSignals: true) { ready in
            if let password = ready.generatedAdminPassword {
                print("First start: the domain admin is 'admin' with password \(password) (shown once; change it).")
            }
            print("Canopy listening on \(ready.scheme)://\(host):\(ready.port)")
            if ready.certificatePEM != nil {
                print("Clients trust its certificate with: canopy login --certificate-authority \(dataDir)/tls.crt …")
            }
        }
    }

    static func parse(_ listen: String) throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen must be HOST:PORT, e.g. 127.0.0.1:8443")
        }
        return (String(listen[..<colon]), port)
    }
}
