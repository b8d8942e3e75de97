import CanopyAuth
import CanopyReconciler
import Foundation

/// How `canopy serve` (and the tests, and the demo) configure a server.
public struct ServerConfiguration: Sendable {
    /// Folder for the SQLite database and, later, keys and certificates.
    public var dataDirectory: String
    /// `postgres://…` to use PostgreSQL instead of SQLite in `dataDirectory`.
    public var databaseURL: String?
    /// Defaults to 127.0.0.1.
    public var host: String
    /// Defaults to 8443; 0 picks a free port (reported through `onReady`).
    public var port: Int
    /// bcrypt work factor. Defaults to 12; tests use the minimum, 4.
    public var bcryptCost: UInt8
    /// The first domain admin's password on an empty store; `nil` generates one and reports it
    /// through `onFirstAdmin` (printed once by `canopy serve`).
    public var adminPassword: String?
    /// Serve HTTPS with the self-signed certificate kept in `dataDirectory` (the default), or
    /// plain HTTP when false (`--insecure-http`, for loopback testing).
    public var tls: Bool
    /// How often every imported cluster is probed. Defaults to 15 seconds.
    public var clusterProbeInterval: Duration = .seconds(15)
    /// Resync interval, backoff and deadlines of the reconciler.
    public var reconciler = Reconciler.Options()
    /// How long a directory user's groups are trusted before the directory is asked again (and
    /// a deleted or disabled account loses access). Defaults to 5 minutes.
    public var directoryGroupLifetime: TimeInterval = 300
    /// Failed sign-ins allowed per user name and per source address. Defaults to 5 a minute.
    public var loginThrottle = LoginThrottle()
    /// The longest a proxied request may take, from its start to the end of the cluster's answer
    /// (watches and `logs -f` included; they are then ended, and the client starts again).
    /// Defaults to 2 hours.
    public var proxyDeadline: Duration = .seconds(2 * 3600)
    /// The most one list the proxy gathers or filters itself (a project user's `get pods -A`
    /// across their namespaces, `get namespaces`) may hold in Canopy's memory, all its parts
    /// together; a larger one is refused with 413 (ask in pages). Everything else streams.
    public var proxyGatherLimit = 64 << 20
    /// The most all the lists the proxy gathers at once may hold together, one tenant's users
    /// half of it; while it (or the tenant's half) is held, a further one is answered 429 with
    /// `Retry-After: 1` (kubectl and client-go wait and retry). Defaults to 256 MiB; never less
    /// than `proxyGatherLimit`.
    public var proxyGatherTotal = 256 << 20
    /// Whether the proxy's fast lane offers HTTP/2 to clusters (and speaks it to those that
    /// choose it). Defaults to off: measured on loopback, a GET as an HTTP/2 stream cost Canopy
    /// about 60 % more CPU than on a pooled HTTP/1.1 connection (design notes).
    public var clusterHTTP2 = false
    /// With a shared database, how long the replica that writes to the clusters keeps that role
    /// without renewing it (renewed every third of this): after a crash another replica takes
    /// over within it. Defaults to 15 seconds.
    public var reconcilerLeaseLifetime: Duration = .seconds(15)
    /// With a shared database, how often this replica reads the change feed for what the other
    /// replicas committed (a sign-in or token whose user it does not know yet reads it at once).
    /// Defaults to one second.
    public var changeFeedInterval: Duration = .seconds(1)
    /// With a shared database, whether this replica also reads the change feed as soon as the
    /// database announces a commit (PostgreSQL LISTEN/NOTIFY): another replica's revocation or
    /// disabling is then honoured here within milliseconds, not up to `changeFeedInterval`.
    /// Defaults to on; the interval stays as the fallback while the listener reconnects.
    public var changeNotifications = true

    public init(
        dataDirectory: String, databaseURL: String? = nil, host: String = "127.0.0.1", port: Int = 8443,
        bcryptCost: UInt8 = 12, adminPassword: String? = nil, tls: Bool = true
    ) {
        self.tls = tls
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.host = host
        self.port = port
        self.bcryptCost = bcryptCost
        self.adminPassword = adminPassword
    }
}
