import ArgumentParser
import PodAgentKit


struct PodAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "podagent",
        abstract: "Knows what a Kubernetes pod sees, and acts on it.",
        version: PodAgentVersion.string,
        subcommands: [SimulateCommand.self, EnvCommand.self, RenderCommand.self, WatchCommand.self, RunCommand.self, InspectCommand.self, InstallCommand.self]
    )
}
