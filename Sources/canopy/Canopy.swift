import ArgumentParser
import CStdio

/// The one Canopy binary: the server, the demo, and the admin CLI.
@main
struct Canopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canopy",
        abstract: "Hard multi-tenancy for fleets of Kubernetes clusters.",
        subcommands: [
            Serve.self, Demo.self, KubeSimCommand.self, Bench.self, Login.self, Whoami.self,
            PasswordCommand.self, TokensCommand.self, TenantCommand.self, UserCommand.self, AdminCommand.self, ProjectCommand.self, MemberCommand.self, ClusterCommand.self, NamespaceCommand.self,
            KubeconfigCommand.self, TokenCommand.self, IdentityProviderCommand.self,
        ]
    )

    /// Standard output goes out line by line even into a file or a pipe (a service manager's
    /// journal, `| tee`, a log file): the first start's admin password, "listening on" and the
    /// demo's progress would otherwise wait in C's 4 KiB buffer until the process exits.
    static func main() async {
        canopy_line_buffer_stdout()
        await main(nil)
    }
}
