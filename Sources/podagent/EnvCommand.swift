import ArgumentParser
import PodAgentKit
#if canImport(Glibc)
import Glibc
#endif

struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print what the pod sees as env vars (dotenv, shell) or JSON, or run a command with them.",
        discussion: """
            Reads identity from env (POD_NAME, POD_NAMESPACE, POD_UID, POD_IP, POD_IPS, NODE_NAME, HOST_IP, \
            SERVICE_ACCOUNT; the service-account namespace file as fallback), labels and annotations from the \
            downwardAPI volume, resources from env vars and downward files (normalised to millicores and bytes; \
            a divisor that rounds makes the value an upper bound), and the cgroup's CPU and memory limits. \
            Unknown values are left out (null in JSON), never guessed.

            dotenv and shell print POD_NAME, POD_NAMESPACE, …, POD_CPU_LIMIT_MILLICORES, POD_MEMORY_LIMIT_BYTES, \
            POD_CPUS (the CPU limit in whole cores, rounded up, at least 1), POD_LABEL_<KEY>, \
            POD_ANNOTATION_<KEY> (KEY upper-cased, every byte other than A-Z and 0-9 becomes _). Shell output \
            is single-quoted: sourcing it executes nothing and gives back every byte.

            Examples:
              podagent env --format shell --output /shared/pod.env        # init container
              podagent env -- java -jar app.jar                            # entrypoint prefix
              podagent env --root /tmp/pod --format json                   # a pod made by `podagent simulate`
            """
    )

    @OptionGroup var pod: PodDataOptions

    @Option(help: ArgumentHelp("dotenv, shell or json.", valueName: "format"))
    var format: String = "dotenv"

    @Option(help: ArgumentHelp("Name prefix of the variables, replacing POD_ (dotenv, shell, and the command's env).", valueName: "prefix"))
    var prefix: String = EnvVariables.defaultPrefix

    @Option(help: ArgumentHelp("Write to this file (atomically: readers see the old or the new file, never half) instead of stdout.", valueName: "path"))
    var output: String?

    @Option(name: .customLong("mode"), help: ArgumentHelp("File mode of --output, octal.", valueName: "mode"))
    var mode: String = "0644"

    @Argument(parsing: .postTerminator, help: ArgumentHelp("Run this command with the variables added to its environment, after --; podagent replaces itself with it (exec).", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard EnvFileFormat(rawValue: format) != nil else {
            throw ValidationError("--format takes dotenv, shell or json, got \"\(format)\"")
        }
        guard let parsed = UInt32(mode, radix: 8), parsed <= 0o7777 else {
            throw ValidationError("--mode takes an octal file mode such as 0644, got \"\(mode)\"")
        }
        _ = parsed
        do {
            _ = try EnvVariables(pod: .object([]), prefix: prefix)
        } catch {
            throw ValidationError("--prefix: \(error)")
        }
    }

    func run() throws {
        let view = try pod.load()
        let value = view.value
        if command.isEmpty || output != nil {
            let content: EnvFileContent
            do {
                content = try EnvFileFormat(rawValue: format)!.render(value, prefix: prefix)
            } catch {
                throw CommandFailure("\(error)")
            }
            for warning in content.warnings { printWarning("\(warning)") }
            if let output {
                let directory = output.contains("/") ? String(output[..<output.lastIndex(of: "/")!]) : "."
                guard FileSystem.isDirectory(directory.isEmpty ? "/" : directory) else {
                    throw CommandFailure("cannot write --output \(output): \(directory) is not a directory — is the emptyDir mounted there?")
                }
                do {
                    try FileSystem.writeFileAtomically(output, content.bytes, mode: mode_t(UInt32(mode, radix: 8)!))
                } catch {
                    throw CommandFailure("cannot write --output: \(error)")
                }
            } else if !writeAll(content.bytes, to: STDOUT_FILENO) {
                throw CommandFailure("cannot write to stdout: \(SystemError("write", "stdout"))")
            }
        }
        if !command.isEmpty {
            try exec(command, adding: try variables(value))
        }
    }

    private func variables(_ value: PodValue) throws -> [EnvVariable] {
        let variables: EnvVariables
        do {
            variables = try EnvVariables(pod: value, prefix: prefix)
        } catch {
            throw CommandFailure("\(error)")
        }
        if output == nil {
            for collision in variables.collisions { printWarning("\(EnvOutputWarning.nameCollision(collision))") }
        }
        for variable in variables.variables where variable.value.contains(0) {
            throw CommandFailure("\(EnvOutputError.nulInValue(name: variable.name, origin: variable.origin))")
        }
        return variables.variables
    }

    /// Replaces podagent with the command (PATH searched), its environment this process's plus the
    /// variables (which win). As an entrypoint prefix nothing of podagent stays behind: the app gets
    /// the signals and its exit status is the container's.
    private func exec(_ argv: [String], adding variables: [EnvVariable]) throws -> Never {
        var environment = PodView.processEnvironment()
        for variable in variables { environment[variable.name] = variable.value }
        let entries = environment.keys.sorted().map { name -> [UInt8] in Array(name.utf8) + [UInt8(ascii: "=")] + environment[name]! }
        let cEnvironment = entries.map { bytes -> UnsafeMutablePointer<CChar>? in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { pointer.initialize(from: $0.baseAddress!, count: bytes.count) }
            }
            pointer[bytes.count] = 0
            return pointer
        } + [nil]
        let cArguments = argv.map { strdup($0) } + [nil]
        // execvp's search, with our environment (execvpe is a GNU extension Swift does not import).
        var code = ENOENT
        let candidates: [String] = argv[0].contains("/") ? [argv[0]]
            : (environment["PATH"].map { String(decoding: $0, as: UTF8.self) } ?? "/usr/local/bin:/usr/bin:/bin")
                .split(separator: ":", omittingEmptySubsequences: false)
                .map { ($0.isEmpty ? "." : String($0)) + "/" + argv[0] }
        for candidate in candidates {
            execve(candidate, cArguments, cEnvironment)
            // Keep looking past "not here"; remember "here but not runnable" (EACCES) for the report.
            if errno != ENOENT && errno != ENOTDIR { code = errno }
            if errno == ENOEXEC { break }
        }
        let reason = String(cString: strerror(code))
        FileSystemFailure.exitAfterExecFailure(argv[0], reason: reason, errno: code)
    }
}

enum FileSystemFailure {
    /// Like a shell: 127 when the command is not found, 126 when it cannot be executed.
    static func exitAfterExecFailure(_ command: String, reason: String, errno code: Int32) -> Never {
        let hint = code == ENOENT ? " (not found; is it installed in this image and on PATH?)" : ""
        writeAll(Array("podagent: error: cannot run \(command): \(reason)\(hint)\n".utf8), to: STDERR_FILENO)
        Glibc.exit(code == ENOENT ? 127 : 126)
    }
}
