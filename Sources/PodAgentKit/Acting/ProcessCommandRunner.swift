#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a finished command did. A non-zero exit is a result, not an error: `--check` reads it.
public struct CommandResult: Sendable, Equatable {
    public var argv: [String]
    public var status: ProcessExitStatus
    /// Captured standard output and error, at most the runner's `outputLimit` bytes each.
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Whether output beyond the limit was dropped.
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    /// From just before the spawn to the reaping of the child.
    public var duration: Duration

    /// Standard output as text (invalid UTF-8 replaced), without trailing whitespace.
    public var stdoutText: String { Self.text(stdout) }
    /// Standard error as text (invalid UTF-8 replaced), without trailing whitespace — what a log
    /// line shows when a check fails.
    public var stderrText: String { Self.text(stderr) }

    private static func text(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.unicodeScalars.last, last == " " || last == "\n" || last == "\t" || last == "\r" {
            text.unicodeScalars.removeLast()
        }
        return text
    }
}

/// Why a command could not be run to completion. The description says what happened and what to
/// do, and names the command.
public struct CommandError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        case emptyCommand
        /// `argv[0]` is not in PATH, or an explicit path does not exist.
        case notFound
        /// The file exists, but the interpreter its `#!` line names (or the loader a binary asks for)
        /// does not.
        case interpreterMissing(String?)
        /// The file exists but podagent may not execute it (mode, mount options, directory in PATH).
        case permissionDenied
        /// The file is a binary the kernel cannot run: another architecture or ABI (`exec format error`).
        case notExecutable
        case spawnFailed(errno: Int32)
        /// Still running after the timeout; it was stopped (SIGTERM to its process group, SIGKILL
        /// after the grace period).
        case timedOut(after: Duration)
        /// The awaiting task was cancelled; the command was stopped the same way as on a timeout.
        case cancelled
    }

    public var kind: Kind
    public var argv: [String]
    /// For `timedOut` and `cancelled`: how the stopped command ended and what it had written.
    public var result: CommandResult?
    /// The `PATH` the lookup used (podagent's own), for `notFound`.
    public var searchPath: String?

    init(_ kind: Kind, argv: [String], result: CommandResult? = nil) {
        self.kind = kind
        self.argv = argv
        self.result = result
        if kind == .notFound { searchPath = getenv("PATH").map { String(cString: $0) } ?? "" }
    }

    init(spawnErrno: Int32, argv: [String]) {
        switch spawnErrno {
        case ENOENT, ENOTDIR:
            // exec says ENOENT for the file it was told to run *or* for the interpreter that file names.
            if spawnErrno == ENOENT, let path = Self.executablePath(argv.first ?? "") {
                self.init(.interpreterMissing(Self.interpreter(of: path)), argv: argv)
            } else {
                self.init(.notFound, argv: argv)
            }
        case EACCES, EPERM: self.init(.permissionDenied, argv: argv)
        case ENOEXEC: self.init(.notExecutable, argv: argv)
        default: self.init(.spawnFailed(errno: spawnErrno), argv: argv)
        }
    }

    /// Where `program` is: itself when it has a slash, else the first match in PATH, as `posix_spawnp`
    /// looks; nil when there is no such file.
    static func executablePath(_ program: String) -> String? {
        guard !program.isEmpty else { return nil }
        if program.contains("/") { return access(program, F_OK) == 0 ? program : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The first 256 bytes of a file at most: it may be a large binary.
    private static func head(of path: String) -> ArraySlice<UInt8>? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return count >= 0 ? buffer[0..<count] : nil
    }

    /// Whether the kernel's ENOEXEC for `path` means "a script without `#!`", which /bin/sh may run:
    /// no NUL byte in its first line, as bash decides. An ELF file (another architecture) is not one.
    static func isShellScript(_ path: String) -> Bool {
        guard let bytes = head(of: path) else { return false }
        if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) { return false }
        return !bytes.prefix { $0 != UInt8(ascii: "\n") }.contains(0)
    }

    /// The interpreter named by a script's `#!` line, if it has one.
    static func interpreter(of path: String) -> String? {
        guard let bytes = head(of: path), bytes.count > 2, bytes.starts(with: Array("#!".utf8)) else { return nil }
        let line = bytes.dropFirst(2).prefix { $0 != UInt8(ascii: "\n") }
        let words = line.split { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
        return words.first.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The exit code a shell would report for this failure (127 not found, 126 cannot execute,
    /// 124 timed out, like coreutils `timeout`), for `podagent run` when its app cannot start.
    public var exitCode: Int32 {
        switch kind {
        case .notFound, .interpreterMissing: return 127
        case .permissionDenied, .notExecutable: return 126
        case .timedOut: return 124
        default: return 1
        }
    }

    /// Names the program only, never its arguments: they may hold a secret (a Kubernetes `args:` entry
    /// like `--requirepass=$(REDIS_PASSWORD)` is expanded from a Secret before podagent starts).
    public var description: String {
        let program = argv.first ?? ""
        switch kind {
        case .emptyCommand:
            return "empty command: nothing to run"
        case .notFound:
            if program.contains("/") {
                return "command not found: \(program) does not exist"
            }
            return "command not found: \(program) is not in PATH (\(searchPath ?? "")) — install it or give its absolute path"
        case .permissionDenied:
            return "permission denied running \(program): podagent (uid \(geteuid())) may not execute it — check its mode (chmod +x), the mount (noexec) and the directories on its path"
        case .interpreterMissing(let interpreter):
            if let interpreter {
                return "cannot execute \(program): the interpreter it needs, \(interpreter), does not exist — install it or fix the #! line"
            }
            return "cannot execute \(program): it exists, but the loader or interpreter it needs does not (a binary built for another libc or architecture?)"
        case .notExecutable:
            return "cannot execute \(program): exec format error — a binary for another architecture or ABI (an arm64 image on an amd64 node?)"
        case .spawnFailed(let code):
            return "cannot start \(program): \(String(cString: strerror(code)))"
        case .timedOut(let after):
            return "\(program) timed out after \(formatCommandDuration(after)) and was stopped (\(result.map { $0.status.description } ?? "status unknown"))"
        case .cancelled:
            return "\(program) was cancelled and stopped (\(result.map { $0.status.description } ?? "status unknown"))"
        }
    }
}

/// Runs a command to completion with a timeout, capturing its output — for `--check` and `--exec`.
///
/// ```swift
/// let result = try await CommandRunner.run(["nginx", "-t"], timeout: .seconds(10))
/// if !result.status.isSuccess { logger.error("check failed: \(result.stderrText)") }
/// ```
///
/// The command gets stdin from `/dev/null` and its own process group. On timeout (or cancellation of
/// the calling task) the whole group gets SIGTERM, then SIGKILL if it is still there after `grace`,
/// so `sh -c 'a | b'` leaves nothing running behind; then the call throws `.timedOut` (`.cancelled`)
/// with what was captured. A cancelled command gets at most ``cancelGrace``: cancellation means
/// podagent is shutting down or a newer change took over, and neither waits on it.
public enum CommandRunner {
    /// 64 KiB per stream: enough for any config checker's complaint, small enough for a sidecar.
    public static let defaultOutputLimit = 64 * 1024
    /// The longest a cancelled command may take after SIGTERM: podagent shuts down within a second.
    public static let cancelGrace = Duration.milliseconds(500)

    public static func run(
        _ argv: [String],
        timeout: Duration,
        grace: Duration = .seconds(2),
        environment: [String: String]? = nil,
        outputLimit: Int = defaultOutputLimit
    ) async throws(CommandError) -> CommandResult {
        let started = ContinuousClock.now
        let child = try ProcessSpawner.spawn(ProcessLaunch(
            argv, environment: environment, stdin: .null,
            stdout: .capture(limit: outputLimit), stderr: .capture(limit: outputLimit),
            newProcessGroup: true))

        enum Ending: Sendable { case exited, timedOut, cancelled }
        let ending = await withTaskGroup(of: Ending.self) { group in
            group.addTask {
                _ = await child.wait()
                return .exited
            }
            group.addTask {
                do {
                    try await CancellableSleep.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next()!
            if first != .exited {
                child.send(SIGTERM, toGroup: true)
                let wait = first == .cancelled ? min(grace, cancelGrace) : grace
                // Detached: the grace period must run even when the caller's task is cancelled.
                let escalation = Task.detached {
                    try? await CancellableSleep.sleep(for: wait)
                    if !Task.isCancelled { child.send(SIGKILL, toGroup: true) }
                }
                while let next = await group.next(), next != .exited {}
                escalation.cancel()
            }
            group.cancelAll()
            return first
        }

        let outcome = await child.wait()
        let result = CommandResult(
            argv: argv, status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr,
            stdoutTruncated: outcome.stdoutDropped > 0, stderrTruncated: outcome.stderrDropped > 0,
            duration: ContinuousClock.now - started)
        switch ending {
        case .exited: return result
        case .timedOut: throw CommandError(.timedOut(after: timeout), argv: argv, result: result)
        case .cancelled: throw CommandError(.cancelled, argv: argv, result: result)
        }
    }
}

/// `250ms`, `2s`, `1.5s`, `2m` — the flag style of DESIGN.md, for messages.
func formatCommandDuration(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    if milliseconds < 1000 { return "\(milliseconds)ms" }
    if milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
    if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
    let tenths = milliseconds / 100
    return "\(tenths / 10).\(tenths % 10)s"
}
