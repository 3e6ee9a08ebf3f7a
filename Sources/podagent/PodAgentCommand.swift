import ArgumentParser
import PodAgentKit

@main
struct PodAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "podagent",
        abstract: "Knows what a Kubernetes pod sees, and acts on it.",
        version: PodAgentVersion.string,
        subcommands: [SimulateCommand.self]
    )
}
