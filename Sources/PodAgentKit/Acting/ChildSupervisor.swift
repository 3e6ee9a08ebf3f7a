#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Synchronization

/// Runs the app of `podagent run [options] -- CMD ARGS…` as podagent's child, the way an init
/// like tini would, plus reloads and restarts on change.
///
/// ```swift
/// let app = ChildSupervisor(ChildSupervisor.Configuration(argv: ["nginx", "-g", "daemon off;"]), logger: logger)
/// app.forwardSignals()           // before start: a SIGTERM that arrives early is not lost
/// try app.start()
/// // on each settled change: try app.reload()   (or: try await app.restart())
/// let status = await app.wait()
/// exit(status.shellCode)         // 128 + n when a signal killed the app
/// ```
///
/// - Signals: SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGHUP sent to podagent go
///   to the child (to the child only, not its process group: the app decides what its own children
///   get). SIGHUP is forwarded rather than read as "reload podagent": podagent has no config of its
///   own to reload, and HUP is what the app itself understands as "reload" — which is also
///   podagent's default reload signal, so a manual `kill -HUP <podagent>` does what a change does.
///   A terminal's SIGINT, SIGQUIT and SIGWINCH (Ctrl-C, Ctrl-\, a resize) are the exception: the
///   kernel sends them to the whole foreground process group, which the app shares with podagent, so
///   the app has its own copy and podagent does not send a second one.
/// - Termination: only SIGTERM (and `stopSignal`, when that is another) asks for the end. After it
///   podagent starts no new child (a pending restart is abandoned), and if the child is still there
///   after `stopGrace` it gets SIGKILL. SIGINT and SIGQUIT are passed on and nothing more, as tini
///   does: an app may catch them and go on (a JVM prints its threads on SIGQUIT, a REPL returns to its
///   prompt on SIGINT). Either way podagent's own exit follows the child's without delay.
/// - Zombies: when podagent is PID 1 the spawner reaps every orphan re-parented to it. When it is
///   not, it does not become a subreaper unless `adoptOrphans` is set (see
///   `ProcessSpawner.becomeSubreaper` for why that is off by default).
/// - The app keeps podagent's stdin, stdout, stderr, process group and environment (unless
///   `environment` is given), so its logs reach the container runtime as if it ran alone, and on a
///   terminal it reads the keyboard and gets Ctrl-C as it would alone.
public final class ChildSupervisor: Sendable {
    /// How to run and steer the app.
    public struct Configuration: Sendable {
        public var argv: [String]
        /// The app's whole environment; `nil` passes podagent's on.
        public var environment: [String: String]?
        /// Signals podagent passes on to the app.
        public var forwardedSignals: [Int32]
        /// What `reload()` sends (`--reload-signal`); SIGHUP reloads nginx, haproxy, many more.
        public var reloadSignal: Int32
        /// What `restart()` and `stop()` send first; SIGKILL follows after `stopGrace`.
        public var stopSignal: Int32
        /// How long the app may take to exit after a stop signal, forwarded or ours.
        public var stopGrace: Duration
        /// Become a child subreaper when not PID 1, to reap orphans of the app's own children.
        public var adoptOrphans: Bool

        public static let defaultForwardedSignals: [Int32] = [SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGHUP]

        public init(
            argv: [String],
            environment: [String: String]? = nil,
            forwardedSignals: [Int32] = defaultForwardedSignals,
            reloadSignal: Int32 = SIGHUP,
            stopSignal: Int32 = SIGTERM,
            stopGrace: Duration = .seconds(10),
            adoptOrphans: Bool = false
        ) {
            self.argv = argv
            self.environment = environment
            self.forwardedSignals = forwardedSignals
            self.reloadSignal = reloadSignal
            self.stopSignal = stopSignal
            self.stopGrace = stopGrace
            self.adoptOrphans = adoptOrphans
        }
    }

    /// Signals that ask the app to end for good: after one, no new child is started and SIGKILL follows
    /// `stopGrace` later. SIGTERM, and the stop signal the app was configured with.
    public var terminatingSignals: Set<Int32> { [SIGTERM, configuration.stopSignal] }

    /// Signals a terminal sends to its whole foreground process group.
    static let terminalGroupSignals: Set<Int32> = [SIGINT, SIGQUIT, SIGWINCH]

    public let configuration: Configuration
    private let logger: Logger

    private struct State {
        var child: ChildProcess?
        var started = false
        var restarting = false
        /// The terminating signal that arrived, if any.
        var termination: Int32?
        var final: ProcessExitStatus?
        var waiters: [CheckedContinuation<ProcessExitStatus, Never>] = []
        var forwarding: Task<Void, Never>?
        var escalation: Task<Void, Never>?
    }
    private let state = Mutex(State())

    public init(_ configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public convenience init(argv: [String], logger: Logger) {
        self.init(Configuration(argv: argv), logger: logger)
    }

    /// The current child's pid; nil before `start()` and after the final exit.
    public var pid: Int32? { state.withLock { $0.child?.pid } }

    /// How the app ended, once it has.
    public var exitStatus: ProcessExitStatus? { state.withLock { $0.final } }

    /// Starts the app. Throws when it cannot be executed (`CommandError.exitCode` is then what
    /// `podagent run` should exit with). Does nothing when already started, or when a terminating
    /// signal or `stop()` came first (`wait()` then reports 128 + that signal).
    public func start() throws(CommandError) {
        if configuration.adoptOrphans && getpid() != 1 && !ProcessSpawner.reapsAllChildren {
            do { try ProcessSpawner.becomeSubreaper() } catch {
                logger.warning("cannot become a child subreaper; orphans of the app are left to PID 1", metadata: ["error": "\(error)"])
            }
        }
        let outcome: Result<ChildProcess?, CommandError> = state.withLock { state in
            guard !state.started else { return .success(nil) }
            state.started = true
            if let signal = state.termination {
                finishLocked(&state, .signaled(signal))
                return .success(nil)
            }
            return spawnLocked(&state)
        }
        switch outcome {
        case .success(let child?):
            // The program only: its arguments may hold a secret expanded from the pod spec's `$(VAR)`.
            logger.info("app started", metadata: ["pid": "\(child.pid)", "command": "\(configuration.argv.first ?? "")"])
            monitor(child)
        case .success(nil):
            resumeWaitersIfFinished()
        case .failure(let error):
            resumeWaitersIfFinished()
            throw error
        }
    }

    /// Spawns the app and records it; a spawn failure is the app's final status (127, 126, …).
    /// Called with the state lock held, by `start()` and `restart()`.
    private func spawnLocked(_ state: inout State) -> Result<ChildProcess?, CommandError> {
        do throws(CommandError) {
            let child = try ProcessSpawner.spawn(launch)
            state.child = child
            return .success(child)
        } catch {
            finishLocked(&state, .exited(error.exitCode))
            return .failure(error)
        }
    }

    /// Sends the reload signal to the app.
    public func reload() throws(SignalDeliveryError) {
        try send(configuration.reloadSignal)
    }

    /// Sends `signal` to the app. Throws `noSuchProcess` when there is no running child.
    public func send(_ signal: Int32) throws(SignalDeliveryError) {
        guard let child = state.withLock({ $0.child }) else {
            throw SignalDeliveryError(kind: .appNotRunning, pid: 0, signal: signal)
        }
        guard child.send(signal) else {
            throw SignalDeliveryError(kind: .noSuchProcess, pid: child.pid, signal: signal)
        }
        logger.debug("signal sent to app", metadata: ["pid": "\(child.pid)", "signal": "\(SignalName.name(of: signal))"])
    }

    /// Stops the app (stop signal, SIGKILL after `stopGrace`) and starts it again with the same
    /// command — for `--restart-on-change`, for apps that cannot reload. Returns when the new child
    /// has been started. Does nothing while another restart is under way (the new child reads the
    /// newest files anyway) or after a terminating signal.
    public func restart() async throws(CommandError) {
        let old: ChildProcess? = state.withLock { state in
            guard state.final == nil, state.termination == nil, !state.restarting, let child = state.child else { return nil }
            state.restarting = true
            return child
        }
        guard let old else { return }
        // Debug: at info the reload's "change set" line comes first, and "app restarted" (written after
        // the stop has been waited for, when that line is out) says the rest.
        logger.debug("restarting app", metadata: ["pid": "\(old.pid)"])
        let previous = await stop(old)

        let outcome: Result<ChildProcess?, CommandError> = state.withLock { state in
            state.restarting = false
            if state.termination != nil {
                finishLocked(&state, previous)
                return .success(nil)
            }
            return spawnLocked(&state)
        }
        switch outcome {
        case .success(let child?):
            logger.info("app restarted", metadata: ["pid": "\(child.pid)", "previous": "\(previous)"])
            monitor(child)
        case .success(nil):
            resumeWaitersIfFinished()
        case .failure(let error):
            logger.error("app could not be restarted", metadata: ["error": "\(error)"])
            resumeWaitersIfFinished()
            throw error
        }
    }

    /// Stops the app for good, as a SIGTERM to podagent would, and returns how it ended.
    public func stop() async -> ProcessExitStatus {
        terminate(configuration.stopSignal)
        return await wait()
    }

    /// Waits for the app's final exit (not for the exits that `restart()` causes).
    public func wait() async -> ProcessExitStatus {
        await withCheckedContinuation { continuation in
            let final = state.withLock { state -> ProcessExitStatus? in
                if let final = state.final { return final }
                state.waiters.append(continuation)
                return nil
            }
            if let final { continuation.resume(returning: final) }
        }
    }

    /// Starts passing podagent's signals (`forwardedSignals`) on to the app. Call it before
    /// `start()`. Forwarding ends with `stopForwarding()`; the previous signal dispositions are
    /// then restored.
    public func forwardSignals() {
        state.withLock { state in
            guard state.forwarding == nil else { return }
            let arrivals = SignalTrap.deliveries(of: configuration.forwardedSignals)
            state.forwarding = Task { [self] in
                for await arrival in arrivals { forward(arrival) }
            }
        }
    }

    public func stopForwarding() {
        let task = state.withLock { state in
            defer { state.forwarding = nil }
            return state.forwarding
        }
        task?.cancel()
    }

    /// `podagent run` in one call: forward signals, start, wait, stop forwarding.
    public func run() async throws(CommandError) -> ProcessExitStatus {
        forwardSignals()
        defer { stopForwarding() }
        try start()
        return await wait()
    }

    // MARK: Internals

    private var launch: ProcessLaunch {
        ProcessLaunch(configuration.argv, environment: configuration.environment, stdin: .inherit, stdout: .inherit, stderr: .inherit)
    }

    private func forward(_ arrival: SignalArrival) {
        let signal = arrival.signal
        if terminatingSignals.contains(signal) {
            logger.info("termination requested; passing it on to the app", metadata: ["signal": "\(SignalName.name(of: signal))"])
            terminate(signal)
        } else if arrival.sentByKernel, Self.terminalGroupSignals.contains(signal), let pid = self.pid, getpgid(pid) == getpgrp() {
            // The terminal signalled its foreground process group, and the app is in it: it has the
            // signal already. A second copy would read as a second Ctrl-C ("force quit" to many apps).
            logger.debug("signal from the terminal reached the app directly; not sent again",
                         metadata: ["signal": "\(SignalName.name(of: signal))"])
        } else {
            do { try send(signal) } catch {
                logger.debug("signal not forwarded: no app running", metadata: ["signal": "\(SignalName.name(of: signal))"])
            }
        }
    }

    /// Sends a terminating signal and arms the SIGKILL escalation. Before `start()`, it ends the
    /// run on the spot: there is nothing to stop, and nothing will be started.
    private func terminate(_ signal: Int32) {
        let child: ChildProcess? = state.withLock { state in
            if state.termination == nil { state.termination = signal }
            if !state.started {
                state.started = true
                finishLocked(&state, .signaled(signal))
                return nil
            }
            if state.escalation == nil, state.final == nil {
                let grace = configuration.stopGrace
                state.escalation = Task.detached { [self] in
                    try? await CancellableSleep.sleep(for: grace)
                    guard !Task.isCancelled else { return }
                    let child = self.state.withLock { $0.child }
                    if let child, child.send(SIGKILL) {
                        logger.warning("app still running \(formatCommandDuration(grace)) after it was asked to stop; sent SIGKILL", metadata: ["pid": "\(child.pid)"])
                    }
                }
            }
            return state.child
        }
        child?.send(signal)
        resumeWaitersIfFinished()
    }

    /// Sends the stop signal to one child, SIGKILL after the grace period, and waits for its exit.
    private func stop(_ child: ChildProcess) async -> ProcessExitStatus {
        child.send(configuration.stopSignal)
        let grace = configuration.stopGrace
        let escalation = Task.detached { [logger] in
            try? await CancellableSleep.sleep(for: grace)
            if !Task.isCancelled && child.send(SIGKILL) {
                logger.warning("app still running \(formatCommandDuration(grace)) after the stop signal; sent SIGKILL", metadata: ["pid": "\(child.pid)"])
            }
        }
        let outcome = await child.wait()
        escalation.cancel()
        return outcome.status
    }

    private func monitor(_ child: ChildProcess) {
        Task { [self] in
            let outcome = await child.wait()
            let ended = state.withLock { state -> Bool in
                // An exit caused by restart() is restart()'s business, not the final one.
                guard state.child === child, !state.restarting, state.final == nil else { return false }
                finishLocked(&state, outcome.status)
                return true
            }
            if ended {
                logger.info("app exited", metadata: [
                    "pid": "\(child.pid)", "status": "\(outcome.status)", "exit_code": "\(outcome.status.shellCode)",
                ])
                resumeWaitersIfFinished()
            }
        }
    }

    private func finishLocked(_ state: inout State, _ status: ProcessExitStatus) {
        state.final = status
        state.child = nil
        state.escalation?.cancel()
        state.escalation = nil
    }

    private func resumeWaitersIfFinished() {
        let (final, waiters) = state.withLock { state in
            defer { if state.final != nil { state.waiters = [] } }
            return (state.final, state.final == nil ? [] : state.waiters)
        }
        guard let final else { return }
        for waiter in waiters { waiter.resume(returning: final) }
    }
}
