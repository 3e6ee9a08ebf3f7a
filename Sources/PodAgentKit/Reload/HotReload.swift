#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import NIOConcurrencyHelpers
import Metrics
import NIOPosix
import Prometheus

/// What to do when a change has settled and passed the check (`--exec`, `--signal`, `--webhook`,
/// `--restart-on-change`), in the order given on the command line.
public enum ReloadActionSpec: Sendable {
    case exec(argv: [String])
    case signal(Int32, SignalTarget)
    case webhook(WebhookAction)
    /// `podagent run --restart-on-change`: stop the app and start it again.
    case restartChild
}

/// Who gets `--signal`: a process found by name in `/proc` (the oldest match, re-resolved each time),
/// the pid in a pid file, or `podagent run`'s own child.
public enum SignalTarget: Sendable {
    case process(String)
    case pidFile(String)
    case child
}

/// `watch`/`run --render`: templates re-rendered with fresh pod data before every check, so the check
/// and the reload see the new outputs (a label or annotation change re-renders the config).
public struct RenderSpec: Sendable {
    public var renderer: TemplateRenderer
    /// Reads the pod's data anew (PodView, env, files) for every render, with warnings about it.
    public var data: @Sendable () throws -> (PodValue, warnings: [String])
    /// Warnings about pod data repeat on every render; each is logged once.
    private let warned = NIOLockedValueBox<Set<String>>([])

    public init(renderer: TemplateRenderer, data: @escaping @Sendable () throws -> (PodValue, warnings: [String])) {
        self.renderer = renderer
        self.data = data
    }

    /// Renders every template; logs which outputs changed. Throws a description fit for the log.
    func run(logger: Logger) throws(StepFailure) {
        do {
            let (value, warnings) = try data()
            for warning in warnings where warned.withLockedValue({ $0.insert(warning).inserted }) {
                logger.warning("\(warning)")
            }
            for output in try renderer.render(value) {
                logger.info("rendered", metadata: ["template": "\(output.job.template)", "output": "\(output.job.output)",
                                                   "changed": "\(output.changed)"])
            }
        } catch {
            throw StepFailure("render: \(error)")
        }
    }
}

/// Everything `podagent watch` and `podagent run` share.
public struct HotReloadConfiguration: Sendable {
    public var watch: WatchConfiguration
    /// `--check`: argv run against the new content; non-zero exit blocks the reload.
    public var check: [String]?
    public var checkTimeout: Duration = .seconds(30)
    public var actions: [ReloadActionSpec] = []
    /// Per action attempt.
    public var actionTimeout: Duration = .seconds(30)
    public var retry: RetryPolicy = .standard
    public var reloadOnStart = false
    public var listen: ListenAddress?
    public var procRoot = "/proc"
    /// `--render T:O`: templates rendered at start and again before the check of every change.
    public var render: RenderSpec?

    public init(watch: WatchConfiguration) {
        self.watch = watch
    }
}

/// The hot-reload loop, as a library type usable without the CLI:
///
/// ```swift
/// var configuration = HotReloadConfiguration(watch: WatchConfiguration(directories: ["/etc/nginx/conf.d"]))
/// configuration.check = ["nginx", "-t"]
/// configuration.actions = [.signal(SIGHUP, .process("nginx"))]
/// let status = try await HotReload.watch(configuration, logger: logger)   // until SIGTERM / SIGINT
/// ```
///
/// Top to bottom: the watcher turns kubelet commits into settled, content-based `ChangeSet`s →
/// each becomes a `ReloadTrigger` → the pipeline runs check, then the actions, with retries that a
/// newer trigger supersedes. `run` adds the app as a supervised child whose exit ends podagent.
public enum HotReload {
    /// `podagent watch`: runs until SIGTERM or SIGINT, then shuts down (within a second unless an
    /// action is mid-flight and must be stopped). Returns the exit code (0).
    public static func watch(_ configuration: HotReloadConfiguration, logger: Logger) async throws -> Int32 {
        let stopSignals = SignalTrap.arrivals(of: [SIGTERM, SIGINT])
        return try await serve(configuration, child: nil, logger: logger) {
            for await signal in stopSignals {
                logger.info("shutting down", metadata: ["signal": "\(SignalName.name(of: signal))"])
                return 0
            }
            return 0
        }
    }

    /// `podagent run -- CMD ARGS…`: starts the app, reloads (or restarts) it on change, forwards
    /// signals to it, and returns the app's exit code (128 + n when a signal killed it).
    public static func run(_ configuration: HotReloadConfiguration, app: ChildSupervisor.Configuration,
                           logger: Logger) async throws -> Int32 {
        let child = ChildSupervisor(app, logger: logger)
        // Before start: a SIGTERM that arrives while the app starts is not lost.
        child.forwardSignals()
        return try await serve(configuration, child: child, logger: logger) {
            // The supervisor has logged the exit ("app exited", with the status and exit code).
            return await child.wait().shellCode
        }
    }

    private static func serve(_ configuration: HotReloadConfiguration, child: ChildSupervisor?, logger: Logger,
                              until end: @escaping @Sendable () async -> Int32) async throws -> Int32 {
        // As PID 1, orphans (e.g. of `kubectl exec`) arrive whether or not podagent spawns anything.
        ProcessSpawner.startReaper()
        let registry = MetricsSetup.bootstrap()
        var pendingConditions: KeyValuePairs<String, String> = ["watch": "watches not placed yet"]
        if child != nil { pendingConditions = ["watch": "watches not placed yet", "app": "app not started yet"] }
        let readiness = Readiness(pending: pendingConditions)
        // What start-up, the first reload and the first answer on each status path used only then.
        let oneTimePages = OneTimePages(logger: logger)
        // Bind first: "address already in use" must stop podagent before it starts anything.
        var server: StatusServer?
        if let address = configuration.listen {
            server = try await StatusServer.bind(to: address, registry: registry, readiness: readiness, logger: logger,
                                                 eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                                 answered: { path in oneTimePages.ran(path) })
        }
        if let render = configuration.render {
            // The app (or the sidecar's first check) must find its rendered config from the start.
            do {
                try render.run(logger: logger)
            } catch {
                throw HotReloadStartError(description: "\(error)")
            }
        }
        let steps = try makeSteps(configuration, child: child, logger: logger)
        let pipeline = ReloadPipeline(
            check: steps.check, actions: steps.actions, retry: configuration.retry, logger: logger,
            checkedContentIsCurrent: steps.checkedContentIsCurrent,
            becameIdle: { oneTimePages.ran("reload") })
        let watcher = try ChangeWatcher(configuration.watch, logger: logger)
        // The "change set" line is written by the pipeline once the reload is under way (see `submit`).
        @Sendable func reload(_ change: ChangeSet) {
            pipeline.submit(
                ReloadTrigger(sequence: change.sequence, firstCommitSeen: change.firstCommitSeen, summarizedBy: { change.summary }),
                announce: { watcher.logDelivery(change) })
        }
        // A change goes to the pipeline straight from the watch loop; only one held back by
        // --min-interval is taken by the feed below, once the interval is over.
        watcher.deliverImmediately(to: reload)
        try await watcher.start()
        readiness.markReady("watch")
        logger.info("watching", metadata: ["directories": "\(watcher.directories.joined(separator: ","))",
                                           "actions": "\(steps.actions.map(\.name).joined(separator: ","))"])
        warnAboutSubPathMounts(watcher.directories, procRoot: configuration.procRoot, logger: logger)
        if let child {
            do {
                try child.start()
            } catch {
                logger.error("app could not start: \(error)")
                await watcher.stop()
                await pipeline.shutdown()
                return error.exitCode
            }
            readiness.markReady("app")
        }
        if configuration.reloadOnStart {
            pipeline.submit(.start())
        }

        let serverTask = server.map { server in Task { try? await server.run() } }
        let feed = Task {
            for await change in watcher.changes(logging: false) { reload(change) }
        }
        // Start-up is over: the code and read-only data only it used need not stay resident.
        oneTimePages.ran("start-up")
        let code = await end()
        // Shutdown: stop watching, let the pipeline stop (it cancels a step in flight), close the endpoint.
        await watcher.stop()
        feed.cancel()
        await pipeline.shutdown()
        serverTask?.cancel()
        _ = await serverTask?.value
        await WebhookClient.shared.shutdown()
        return code
    }

    /// Says so when a watched directory is, holds, or lies in a subPath mount (see ``SubPathMounts``).
    /// Without a readable mountinfo (not Linux, no /proc) there is nothing to say.
    static func warnAboutSubPathMounts(_ directories: [String], procRoot: String, logger: Logger) {
        guard let table = try? MountTable.read(procRoot + "/self/mountinfo") else { return }
        for finding in SubPathMounts.findings(for: directories, in: table) {
            var metadata: Logger.Metadata = ["volume": .string(finding.directory), "mount": .string(finding.mountPoint)]
            if let volume = finding.volume { metadata["pod_volume"] = .string(volume) }
            metadata["hint"] = "mount the volume without subPath and watch its directory: the kubelet writes a subPath mount once, when the container starts"
            logger.warning("watched path is a subPath mount, which the kubelet never updates; its changes will not be seen", metadata: metadata)
        }
    }

    struct Steps {
        var check: ReloadStep?
        var actions: [ReloadStep]
        /// Whether the kubelet volumes still hold the generations the last passing check saw.
        var checkedContentIsCurrent: (@Sendable () -> Bool)?
    }

    /// How many times the check runs for one change while the kubelet keeps committing during it.
    static let checkPasses = 3

    /// The generation `..data` names in each directory, or in the kubelet volume it lies inside
    /// (`conf.d -> ..data/conf.d`); nil where there is none (a directory the kubelet does not manage, or
    /// one that is not there). Such a directory's content is not compared around the check: that would
    /// mean reading and hashing it twice more per reload.
    static func committedGenerations(_ directories: [String]) -> [String?] {
        directories.map { directory in
            if let generation = try? VolumeFS.readlink(directory + "/" + AtomicVolume.dataLinkName) { return generation }
            guard let nesting = VolumeWatch.kubeletNesting(of: directory) else { return nil }
            return try? VolumeFS.readlink(nesting.root + "/" + AtomicVolume.dataLinkName)
        }
    }

    static func makeSteps(_ configuration: HotReloadConfiguration, child: ChildSupervisor?, logger: Logger) throws -> Steps {
        var check: ReloadStep?
        var checkedContentIsCurrent: (@Sendable () -> Bool)?
        let render = configuration.render
        if configuration.check != nil || render != nil {
            let argv = configuration.check
            let timeout = configuration.checkTimeout
            // Rendering belongs to the check: a template that no longer renders blocks the reload like a
            // failing check does, and the check command sees the new outputs.
            let name = render == nil ? "check" : (argv == nil ? "render" : "render and check")
            let directories = configuration.watch.directories.map(WatchConfiguration.absolute)
            let passes = checkPasses
            let checked = Mutex<[String?]?>(nil)
            // Between the check and an action the kubelet may commit again (an action's retry waits
            // seconds); the pipeline asks this before each later action and checks the newer content first.
            checkedContentIsCurrent = { checked.withLock { $0 } == committedGenerations(directories) }
            // The step's own timeout is a backstop; the runner stops the command first and says so.
            check = ReloadStep(name: name, timeout: (timeout + .seconds(5)) * passes) { _ in
                // The check must have seen what the actions will reload. The kubelet may commit a newer
                // generation while it runs — one the watcher reports only after the debounce window, too
                // late to stop this run's actions — so the check counts only if `..data` names the same
                // generation after it as before it; otherwise the newer content is checked in turn.
                for pass in 1...passes {
                    let before = committedGenerations(directories)
                    try render?.run(logger: logger)
                    if let argv { try await runForStep(argv, timeout: timeout, label: "check ") }
                    if committedGenerations(directories) == before {
                        checked.withLock { $0 = before }
                        return
                    }
                    if pass < passes {
                        logger.info("a new generation was committed during the check; checking it", metadata: ["step": "\(name)"])
                    }
                }
                throw StepFailure(
                    "the kubelet committed a new generation during each of \(passes) checks; "
                        + "not reloading content that no check has seen whole")
            }
        }
        let finder = ProcessFinder(procRoot: configuration.procRoot)
        let timeout = configuration.actionTimeout
        var actions: [ReloadStep] = []
        // Signals are sent without waiting for anything: they bound themselves (`ReloadStep.boundsItself`).
        for action in configuration.actions {
            switch action {
            case .exec(let argv):
                actions.append(ReloadStep(name: "exec \(argv.first ?? "")", timeout: timeout + .seconds(5)) { _ in
                    try await runForStep(argv, timeout: timeout, label: "")
                })
            case .signal(let signal, let target):
                let name = SignalName.name(of: signal)
                switch target {
                case .process(let process):
                    actions.append(ReloadStep(name: "signal \(name) to \(process)", timeout: timeout, boundsItself: true) { _ in
                        let record = try finder.oldest(named: process)
                        try SignalDelivery.send(signal, to: record.pid, procRoot: configuration.procRoot)
                    })
                case .pidFile(let file):
                    actions.append(ReloadStep(name: "signal \(name) to pid in \(file)", timeout: timeout, boundsItself: true) { _ in
                        let pid = try finder.pid(fromFile: file)
                        try SignalDelivery.send(signal, to: pid, procRoot: configuration.procRoot)
                    })
                case .child:
                    guard let child else { throw StepFailure("--signal without --process or --pid-file needs `podagent run`") }
                    actions.append(ReloadStep(name: "signal \(name) to app", timeout: timeout, boundsItself: true) { _ in
                        try child.send(signal)
                    })
                }
            case .webhook(let webhook):
                actions.append(webhook.step())
            case .restartChild:
                guard let child else { throw StepFailure("--restart-on-change needs `podagent run`") }
                actions.append(ReloadStep(name: "restart app", timeout: timeout + child.configuration.stopGrace) { _ in
                    try await child.restart()
                })
            }
        }
        if actions.isEmpty, let child {
            // `run`'s default: the app's reload signal (SIGHUP unless --reload-signal).
            let signal = child.configuration.reloadSignal
            actions.append(ReloadStep(name: "signal \(SignalName.name(of: signal)) to app", timeout: timeout, boundsItself: true) { _ in
                try child.reload()
            })
        }
        return Steps(check: check, actions: actions, checkedContentIsCurrent: checkedContentIsCurrent)
    }
}

/// `--render` failed before anything started.
public struct HotReloadStartError: Error, CustomStringConvertible {
    public var description: String
}

/// A check or action that ran and failed; the message is what the log shows.
struct StepFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a check's or an exec's command. A non-zero exit or a timeout fails the step with what the command
/// said (`label` goes before its name in the message); arguments are left out, they may hold a secret.
private func runForStep(_ argv: [String], timeout: Duration, label: String) async throws {
    let result: CommandResult
    do {
        result = try await CommandRunner.run(argv, timeout: timeout)
    } catch let error {
        if case .timedOut = error.kind, let result = error.result {
            throw StepFailure("\(error): \(result.complaint)")
        }
        throw error
    }
    guard result.status.isSuccess else {
        throw StepFailure("\(label)`\(argv[0])` \(result.status): \(result.complaint)")
    }
}

extension CommandResult {
    /// What a failed command said, for its log line: its stderr, or its stdout when stderr is empty —
    /// many checkers (yamllint, named-checkconf, promtool) report on stdout.
    var complaint: String {
        let stderr = stderrText
        if !stderr.isEmpty { return stderr.trimmedForLog }
        let stdout = stdoutText
        return stdout.isEmpty ? stderr.trimmedForLog : "(stdout) " + stdout.trimmedForLog
    }
}

extension String {
    /// At most the last 2 KiB of a command's stderr, trimmed, for one log line.
    var trimmedForLog: String {
        let trimmed = self.trimmingWhitespace()
        if trimmed.utf8.count <= 2048 { return trimmed.isEmpty ? "(no output)" : trimmed }
        return "…" + String(decoding: trimmed.utf8.suffix(2048), as: UTF8.self)
    }
}
