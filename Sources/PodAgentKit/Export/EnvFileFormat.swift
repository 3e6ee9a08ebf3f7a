// The three outputs of `podagent env`: dotenv, shell and JSON.

/// An output format of `podagent env --format`.
///
/// ```swift
/// let file = try EnvFileFormat.shell.render(podView.value)
/// try FileSystem.writeFileAtomically("/env/pod.sh", file.bytes)
/// for warning in file.warnings { log.warning("\(warning)") }
/// ```
public enum EnvFileFormat: String, Sendable, CaseIterable {
    /// `NAME=value` lines in the dialect that python-dotenv, Docker Compose `env_file`, systemd
    /// `EnvironmentFile=` and Node's dotenv read alike; see ``dotenvFile(_:)``.
    case dotenv
    /// `export NAME='value'` lines for `. FILE` in any POSIX shell; see ``shellFile(_:)``.
    case shell
    /// The whole pod data tree as one JSON object; see ``PodValue/json(_:)``.
    case json

    /// The complete file content for the pod data tree, and what the user should be warned about.
    ///
    /// dotenv and shell export the variables of ``EnvVariables`` (named with `prefix`); json prints the
    /// tree itself (the prefix does not apply) in `jsonLayout`. Every format ends with a newline.
    public func render(
        _ pod: PodValue, prefix: String = EnvVariables.defaultPrefix, jsonLayout: JSONLayout = .pretty
    ) throws(EnvOutputError) -> EnvFileContent {
        switch self {
        case .json:
            let document = pod.json(jsonLayout)
            return EnvFileContent(bytes: document.bytes + [UInt8(ascii: "\n")],
                           warnings: document.repairedPaths.map(EnvOutputWarning.invalidUTF8Replaced))
        case .dotenv, .shell:
            let environment: EnvVariables
            do {
                environment = try EnvVariables(pod: pod, prefix: prefix)
            } catch {
                throw .invalidPrefix(error)
            }
            var file = self == .shell
                ? try EnvFileFormat.shellFile(environment.variables)
                : try EnvFileFormat.dotenvFile(environment.variables)
            file.warnings = environment.collisions.map(EnvOutputWarning.nameCollision) + file.warnings
            return file
        }
    }

    /// Refuses a value with a NUL byte: an environment variable is a C string and cannot hold one.
    static func checkNoNUL(_ variable: EnvVariable) throws(EnvOutputError) {
        if variable.value.contains(0) {
            throw .nulInValue(name: variable.name, origin: variable.origin)
        }
    }
}

/// The content of an env file and the warnings to show next to it.
public struct EnvFileContent: Sendable, Equatable {
    public var bytes: [UInt8]
    public var warnings: [EnvOutputWarning]

    public init(bytes: [UInt8], warnings: [EnvOutputWarning]) {
        self.bytes = bytes
        self.warnings = warnings
    }
}

/// Something an env file does not say exactly as the pod sees it; the file is still written.
public enum EnvOutputWarning: Sendable, Equatable, CustomStringConvertible {
    /// Two keys became one variable name (dotenv, shell).
    case nameCollision(EnvNameCollision)
    /// A string at this jq path was not valid UTF-8 and has U+FFFD in the JSON (json).
    case invalidUTF8Replaced(path: String)
    /// A value ends in a backslash and has to be quoted, which only systemd reads back exactly (dotenv).
    case dotenvValueMisread(name: String, origin: EnvVariable.Origin)

    public var description: String {
        switch self {
        case .nameCollision(let collision):
            return collision.description
        case .invalidUTF8Replaced(let path):
            return "\(path) is not valid UTF-8; the JSON output has U+FFFD in place of the invalid bytes "
                + "(use --format dotenv or --format shell to get the exact bytes)"
        case .dotenvValueMisread(let name, let origin):
            return "the value of \(name) (from \(origin)) ends in a backslash and needs quotes: python-dotenv, "
                + "Docker Compose and Node's dotenv read a quoted value ending in a backslash wrongly "
                + "(systemd reads it exactly) — use --format shell or --format json for this value"
        }
    }
}

/// Why no env file could be made.
public enum EnvOutputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `--prefix` cannot begin a variable name.
    case invalidPrefix(EnvPrefixError)
    /// A value holds a NUL byte, which no environment variable can (dotenv, shell).
    case nulInValue(name: String, origin: EnvVariable.Origin)

    public var description: String {
        switch self {
        case .invalidPrefix(let error):
            return error.description
        case .nulInValue(let name, let origin):
            return "the value of \(name) (from \(origin)) contains a NUL byte, which an environment variable "
                + "cannot hold (the downwardAPI file has \\x00 in it) — remove it from the \(origin), "
                + "or use --format json, which escapes it as \\u0000"
        }
    }
}
