#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// What to start: the argument vector and where the child's standard streams go.
public struct ProcessLaunch: Sendable {
    /// Where the child's stdin comes from.
    public enum Input: Sendable {
        /// `/dev/null`: commands podagent runs must not read the terminal or the pod's stdin.
        case null
        /// podagent's own stdin (the supervised app in `podagent run`).
        case inherit
    }

    /// Where one of the child's output streams goes.
    public enum Output: Sendable {
        case inherit
        case null
        /// A pipe read by the process event thread; at most `limit` bytes are kept, the rest is
        /// read and counted (so the child never blocks on a full pipe) but dropped.
        case capture(limit: Int)
    }

    /// `argv[0]` is looked up in podagent's `PATH` when it contains no `/`.
    public var argv: [String]
    /// The child's whole environment; `nil` passes podagent's own environment on.
    public var environment: [String: String]?
    public var stdin: Input
    public var stdout: Output
    public var stderr: Output
    /// Starts the child as the leader of a new process group, so a timeout can stop the command
    /// together with everything it started (`sh -c 'a | b'`), and a Ctrl-C on podagent's terminal
    /// does not reach it directly.
    public var newProcessGroup: Bool

    public init(
        _ argv: [String],
        environment: [String: String]? = nil,
        stdin: Input = .null,
        stdout: Output = .inherit,
        stderr: Output = .inherit,
        newProcessGroup: Bool = false
    ) {
        self.argv = argv
        self.environment = environment
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.newProcessGroup = newProcessGroup
    }
}

/// Starts every process podagent runs — the supervised app, `--check` and `--exec` commands — and
/// is the only code in podagent that waits for children (see `ProcessEventThread` for why there
/// must be exactly one).
///
/// Each child gets an empty signal mask and default dispositions for every signal
/// (`POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF`): children inherit masks across exec, and a
/// child started from a thread that blocks SIGTERM (Swift Testing's threads do; so do threads of
/// libraries that use `sigwait`) would otherwise never see the SIGTERM meant to stop it. All file
/// descriptors above 2 are closed in the child, whoever opened them.
///
/// Not done: a working directory per child (`posix_spawn_file_actions_addchdir_np` is another GNU
/// extension; no caller needs it yet) — children start in podagent's working directory.
public enum ProcessSpawner {
    /// Starts a child. Throws `CommandError` (`notFound`, `permissionDenied`, …) when it cannot be
    /// executed; the error's `exitCode` follows the shell (127, 126).
    public static func spawn(_ launch: ProcessLaunch) throws(CommandError) -> ChildProcess {
        guard let program = launch.argv.first, !program.isEmpty else {
            throw CommandError(.emptyCommand, argv: launch.argv)
        }
        let events = ProcessEventThread.shared

        var pipes: [(stream: ProcessEventThread.OutputStream, read: Int32, write: Int32, limit: Int)] = []
        func closePipes() { for pipe in pipes { close(pipe.read); close(pipe.write) } }
        for (stream, output) in [(ProcessEventThread.OutputStream.stdout, launch.stdout), (.stderr, launch.stderr)] {
            guard case .capture(let limit) = output else { continue }
            do {
                let pipe = try LinuxCalls.makePipe()
                pipes.append((stream, pipe.read, pipe.write, max(0, limit)))
            } catch {
                closePipes()
                throw CommandError(.spawnFailed(errno: error.errno), argv: launch.argv)
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if case .null = launch.stdin {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        for (fd, output) in [(Int32(1), launch.stdout), (2, launch.stderr)] {
            switch output {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .capture:
                let stream: ProcessEventThread.OutputStream = fd == 1 ? .stdout : .stderr
                let pipe = pipes.first { $0.stream == stream }!
                posix_spawn_file_actions_adddup2(&actions, pipe.write, fd)  // dup2 clears close-on-exec
            }
        }
        LinuxCalls.addCloseFrom(&actions, lowest: 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        if launch.newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        let environment = launch.environment.map { variables in
            variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        } ?? inheritedEnvironment()

        /// One `posix_spawn(p)`; the child is registered under the event thread's lock, so its SIGCHLD cannot
        /// be reaped before it is known. Returns the child, or the errno of the failed spawn.
        func start(_ path: String, _ arguments: [String], searchingPATH: Bool) -> (ChildProcess?, Int32) {
            withCStringArray(arguments) { argv in
                withCStringArray(environment) { envp in
                    events.state.withLock { state -> (ChildProcess?, Int32) in
                        var pid: pid_t = 0
                        let result = searchingPATH
                            ? posix_spawnp(&pid, path, &actions, &attributes, argv, envp)
                            : posix_spawn(&pid, path, &actions, &attributes, argv, envp)
                        guard result == 0 else { return (nil, result) }
                        let child = ChildProcess(
                            pid: pid, argv: launch.argv, leadsProcessGroup: launch.newProcessGroup,
                            stdoutLimit: pipes.first { $0.stream == .stdout }?.limit ?? 0,
                            stderrLimit: pipes.first { $0.stream == .stderr }?.limit ?? 0)
                        state.children[pid] = child
                        for pipe in pipes {
                            _ = fcntl(pipe.read, F_SETFL, O_NONBLOCK)
                            state.captures[pipe.read] = .init(child: child, stream: pipe.stream)
                        }
                        return (child, 0)
                    }
                }
            }
        }

        var (started, failure) = start(program, launch.argv, searchingPATH: true)
        let spawned: Result<ChildProcess, CommandError>
        if let started {
            spawned = .success(started)
        } else if failure == ENOEXEC, let script = CommandError.executablePath(program), CommandError.isShellScript(script) {
            // A text file without `#!`: run it with /bin/sh, as execvp(3) — and so tini — does. (Its first
            // bytes are read here, outside the event thread's lock.)
            (started, failure) = start("/bin/sh", ["/bin/sh", script] + launch.argv.dropFirst(), searchingPATH: false)
            if let started {
                spawned = .success(started)
            } else if failure == ENOENT {  // an image without a shell
                spawned = .failure(CommandError(.interpreterMissing("/bin/sh (the script has no #! line)"), argv: launch.argv))
            } else {
                spawned = .failure(CommandError(spawnErrno: failure, argv: launch.argv))
            }
        } else {
            spawned = .failure(CommandError(spawnErrno: failure, argv: launch.argv))
        }
        switch spawned {
        case .success(let child):
            for pipe in pipes { close(pipe.write) }
            // A child that exited before it was registered left its SIGCHLD behind already; the kick
            // makes the event thread look again (and poll the new capture pipes).
            events.kick()
            return child
        case .failure(let error):
            closePipes()
            throw error
        }
    }

    /// Starts the process event thread now rather than at the first spawn. Call it early in
    /// `podagent run` and `podagent watch`: as PID 1 of a container, podagent inherits the orphans
    /// of `kubectl exec` sessions even if it never starts a process itself, and only a running
    /// reaper collects them.
    public static func startReaper() {
        ProcessEventThread.shared.kick()
    }

    /// Whether podagent reaps every child (PID 1, or a child subreaper) or only its own.
    public static var reapsAllChildren: Bool {
        ProcessEventThread.shared.state.withLock { $0.reapsAllChildren }
    }

    /// How many children that podagent did not start (re-parented orphans) it has reaped.
    public static var orphansReaped: Int {
        ProcessEventThread.shared.state.withLock { $0.orphansReaped }
    }

    /// Makes podagent a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`): orphaned descendants are
    /// re-parented to podagent instead of the namespace's PID 1, and podagent reaps them. Off by
    /// default (as in tini without `-s`): when podagent is not PID 1, PID 1 is the pod's `pause`
    /// process (which reaps) or an init like tini, and adopting orphans would only matter under an
    /// init that never reaps.
    public static func becomeSubreaper() throws(SystemError) {
        let result = LinuxCalls.becomeChildSubreaper()
        guard result == 0 else { throw SystemError("prctl(PR_SET_CHILD_SUBREAPER)", "", errno: result) }
        ProcessEventThread.shared.state.withLock { $0.reapsAllChildren = true }
        ProcessEventThread.shared.kick()
    }

    private static func inheritedEnvironment() -> [String] {
        var result: [String] = []
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        guard var entry = start else { return result }
        while let pointer = entry.pointee {
            result.append(String(cString: pointer))
            entry += 1
        }
        return result
    }

    private static func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }
}

/// What a finished child left behind: how it ended and what it wrote to captured streams.
public struct ProcessOutcome: Sendable, Equatable {
    public var status: ProcessExitStatus
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Bytes read beyond the capture limit and dropped.
    public var stdoutDropped: Int
    public var stderrDropped: Int
}

/// A running (or finished) child started by `ProcessSpawner`.
public final class ChildProcess: Sendable {
    public let pid: Int32
    public let argv: [String]
    /// Whether the child leads its own process group (`ProcessLaunch.newProcessGroup`).
    public let leadsProcessGroup: Bool
    private let stdoutLimit: Int
    private let stderrLimit: Int

    private struct Record {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var stdoutDropped = 0
        var stderrDropped = 0
        var outcome: ProcessOutcome?
        var waiters: [CheckedContinuation<ProcessOutcome, Never>] = []
    }
    private let record = Mutex(Record())

    init(pid: Int32, argv: [String], leadsProcessGroup: Bool, stdoutLimit: Int, stderrLimit: Int) {
        self.pid = pid
        self.argv = argv
        self.leadsProcessGroup = leadsProcessGroup
        self.stdoutLimit = stdoutLimit
        self.stderrLimit = stderrLimit
    }

    /// Waits until the child has exited and been reaped. Not cancellable: a child outlives the
    /// interest of any one task; stop it with `send` if you no longer want to wait.
    public func wait() async -> ProcessOutcome {
        await withCheckedContinuation { continuation in
            let finished = record.withLock { record -> ProcessOutcome? in
                if let outcome = record.outcome { return outcome }
                record.waiters.append(continuation)
                return nil
            }
            if let finished { continuation.resume(returning: finished) }
        }
    }

    /// The outcome, if the child has already been reaped.
    public var outcome: ProcessOutcome? { record.withLock { $0.outcome } }

    /// Sends `signal` to the child — or to its whole process group when `toGroup` and it leads one.
    /// Returns false when the child has already been reaped: its pid may belong to another process
    /// by now, so nothing is sent.
    @discardableResult
    public func send(_ signal: Int32, toGroup: Bool = false) -> Bool {
        ProcessEventThread.shared.state.withLock { state in
            guard state.children[pid] === self else { return false }
            let target = toGroup && leadsProcessGroup ? -pid : pid
            return kill(target, signal) == 0
        }
    }

    func append(_ bytes: ArraySlice<UInt8>, to stream: ProcessEventThread.OutputStream) {
        record.withLock { record in
            switch stream {
            case .stdout:
                let room = max(0, stdoutLimit - record.stdout.count)
                record.stdout.append(contentsOf: bytes.prefix(room))
                record.stdoutDropped += max(0, bytes.count - room)
            case .stderr:
                let room = max(0, stderrLimit - record.stderr.count)
                record.stderr.append(contentsOf: bytes.prefix(room))
                record.stderrDropped += max(0, bytes.count - room)
            }
        }
    }

    func finish(_ status: ProcessExitStatus) {
        let (outcome, waiters) = record.withLock { record in
            let outcome = ProcessOutcome(
                status: status, stdout: record.stdout, stderr: record.stderr,
                stdoutDropped: record.stdoutDropped, stderrDropped: record.stderrDropped)
            record.outcome = outcome
            defer { record.waiters = [] }
            return (outcome, record.waiters)
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }
}
