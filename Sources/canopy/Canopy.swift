import ArgumentParser

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
}
