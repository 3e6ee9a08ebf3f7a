import ArgumentParser
import PodAgentKit
#if canImport(Glibc)
import Glibc
#endif

struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Copy this podagent binary into a directory (an init container filling a shared emptyDir).",
        discussion: """
            Brings podagent into any app image: an init container from the podagent image runs \
            `podagent install /podagent` with an emptyDir mounted at /podagent; the app container mounts the same \
            emptyDir and starts `/podagent/podagent run … -- APP`. The copy is atomic (a reader never sees half a \
            binary) and executable (0755). The binary is linked statically against the Swift runtime, so it runs \
            in any glibc-based image.

            Example:
              podagent install /podagent
            """
    )

    @Argument(help: ArgumentHelp("The directory to copy podagent into (it must exist).", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("The file name in DIR.", valueName: "name"))
    var name: String = "podagent"

    func validate() throws {
        if name.isEmpty || name.contains("/") { throw ValidationError("--name is a file name, without '/'") }
    }

    func run() throws {
        guard FileSystem.isDirectory(directory) else {
            throw CommandFailure("\(directory) is not a directory — is the emptyDir mounted there?")
        }
        let target = FileSystem.join(directory, name)
        do {
            // /proc/self/exe is this very binary, whatever path or symlink started it.
            let bytes = try FileSystem.readFile("/proc/self/exe")
            try FileSystem.writeFileAtomically(target, bytes, mode: 0o755)
            print("installed \(target) (\(bytes.count) bytes)")
        } catch {
            throw CommandFailure("cannot install into \(directory): \(error)")
        }
    }
}
