import CoreMetrics
import NIOCore
import Logging
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why the pipeline is asked to reload: one settled change (or the start of the process).
public struct ReloadTrigger: Sendable, Equatable {
    /// Increases with every trigger; the newest trigger describes the newest state.
    public var sequence: Int
    /// When the kubelet commit (the `..data` rename) behind this change was first seen; the start of the
    /// change-to-reload latency. `nil` for triggers that are not a kubelet commit (``start(sequence:)``).
    public var firstCommitSeen: ContinuousClock.Instant?
    /// What changed, for logs (file names and keys only — never content). Written only when a line that
    /// carries it is logged: building it is work on the reload path that is wasted at `--log-level info`
    /// and above.
    public var summary: String { describe() }
    private let describe: @Sendable () -> String

    public init(sequence: Int, firstCommitSeen: ContinuousClock.Instant?, summary: String) {
        self.init(sequence: sequence, firstCommitSeen: firstCommitSeen, summarizedBy: { summary })
    }

    /// `summarizedBy` builds ``summary`` when it is needed (each time).
    public init(sequence: Int, firstCommitSeen: ContinuousClock.Instant?, summarizedBy describe: @escaping @Sendable () -> String) {
        self.sequence = sequence
        self.firstCommitSeen = firstCommitSeen
        self.describe = describe
    }

    public static func == (lhs: ReloadTrigger, rhs: ReloadTrigger) -> Bool {
        lhs.sequence == rhs.sequence && lhs.firstCommitSeen == rhs.firstCommitSeen && lhs.summary == rhs.summary
    }

    /// The trigger for `--reload-on-start`. It goes through the check and the actions like any change:
    /// the app may have been started with a config that only now passes, or never passes, and the first
    /// kick must not bypass the guard that every later one gets. It records no change-to-reload latency.
    public static func start(sequence: Int = 0) -> ReloadTrigger {
        ReloadTrigger(sequence: sequence, firstCommitSeen: nil, summary: "reload on start")
    }
}

/// One step of a reload: the check, or one action (exec, signal, webhook). Built by the caller, so the
/// pipeline knows nothing of processes or HTTP.
///
/// `perform` reports failure by throwing; the error's description is what the log shows (for a check: its
/// stderr). It gets the trigger, so an action can pass the change along (e.g. as environment or headers).
/// Contract: `perform` must return promptly once its task is cancelled — that is how a timeout ends it, and
/// the pipeline waits for it so that two steps never overlap.
public struct ReloadStep: Sendable {
    /// Shown in logs and errors: `check`, `exec nginx`, `signal HUP`, `webhook http://…` (no secrets).
    public var name: String
    /// The longest one attempt of this step may take before it is cancelled and counted as failed.
    public var timeout: Duration
    /// Whether `perform` ends within `timeout` by itself, however the other side behaves: a webhook whose
    /// request has its own deadline, a signal that is sent without waiting. The pipeline then runs it
    /// without a task and a timer of its own (the timeout backstop), which takes a task switch and a
    /// timer off every reload's path. Cancellation (shutdown) still reaches it.
    public var boundsItself: Bool
    public var perform: @Sendable (ReloadTrigger) async throws -> Void

    public init(name: String, timeout: Duration, boundsItself: Bool = false,
                perform: @escaping @Sendable (ReloadTrigger) async throws -> Void) {
        self.name = name
        self.timeout = timeout
        self.boundsItself = boundsItself
        self.perform = perform
    }
}

/// A step that did not finish within its timeout.
public struct ReloadStepTimeout: Error, CustomStringConvertible, Sendable {
    public var step: String
    public var timeout: Duration
    public var description: String { "\(step) timed out after \(timeout.reloadText)" }
}

/// How the run for one trigger ended; the raw value is the `result` label of `podagent_reloads_total`.
public enum ReloadResult: String, Sendable, CaseIterable {
    /// The check passed (or there is none) and every action succeeded.
    case success
    /// The check failed; no action ran. Not retried: the next change tries again.
    case checkFailed = "check_failed"
    /// An action kept failing until the retry policy's attempts were used up.
    case failed
    /// A newer trigger arrived before this one succeeded, and replaced it: while it was still waiting to
    /// start (coalesced), or at a step boundary or in backoff. Every trigger ends with exactly one result,
    /// so the counters add up to the triggers submitted.
    case superseded
}

/// The end of one trigger's run, as published on ``ReloadPipeline/outcomes``.
public struct ReloadOutcome: Sendable {
    /// The trigger as run; `firstCommitSeen` is the earliest of the triggers it absorbed.
    public var trigger: ReloadTrigger
    public var result: ReloadResult
    /// Action attempts made (0 when the check failed or the run never reached its actions).
    public var attempts: Int
    /// From the start of the check to the result, backoff included; zero for a trigger that never started.
    public var duration: Duration
    /// The last failing step's error (real steps' errors name their subject: the command, the URL), or why
    /// the run was superseded.
    public var failure: String?
    /// The name of the step that failed last, for `check_failed` and `failed`.
    public var failedStep: String?
}

/// Runs the check and the reload actions for each trigger, one run at a time, with timeouts, retries and
/// supersession — the "check → reload" part of DESIGN.md's pipeline, independent of how steps are made.
///
/// ```swift
/// let pipeline = ReloadPipeline(
///     check: ReloadStep(name: "check", timeout: .seconds(10)) { _ in try await runCheck() },
///     actions: [ReloadStep(name: "signal HUP", timeout: .seconds(2)) { _ in try sendHangup() }],
///     retry: .standard, logger: logger)
/// await pipeline.submit(ReloadTrigger(sequence: 1, firstCommitSeen: .now, summary: "nginx.conf"))
/// ```
///
/// The rules, in the order a run meets them:
/// 1. `submit` returns at once. Never two runs at once: a trigger that arrives while a run is going on
///    waits as *pending*; a newer pending trigger replaces an older one (reported `superseded`), because a
///    change set describes the latest state and only the newest needs reloading. The replacement keeps the
///    earliest `firstCommitSeen`, so the latency metric counts from the first change it stands for.
/// 2. The check runs first, once per trigger. If it fails, no action runs, the result is `check_failed`,
///    and nothing is retried — retrying the same content gives the same answer; the next change tries again.
/// 3. The actions run in the given order. When one fails, the run waits (``RetryPolicy``) and retries
///    **from the failed action on**: the actions before it already succeeded on this same content, and
///    running them again would reload or restart the app once more and resend notifications for nothing.
///    The budget of attempts is per run; when it is used up the result is `failed`.
///    a. No action runs on content the check has not seen: before every action but the first (and before
///       every retry) `checkedContentIsCurrent` is asked, and when the kubelet has committed since the
///       check, the check runs again on the newer content; if it fails, the run ends as `check_failed`.
/// 4. A pending newer trigger ends the run at the next step boundary, as `superseded`: while it waits in
///    backoff the wait is cut short, and between steps no further step starts. The step in flight is
///    never cancelled for this, only by its own timeout: interrupting `nginx -s reload` or a webhook half
///    way leaves the app in a state nobody knows, and a step is bounded by its timeout anyway. Ending the
///    run right after a passing check also matters for safety: the files on disk are already the newer,
///    unchecked content, and must not be reloaded before their own check.
/// 5. A superseded run hands its earliest `firstCommitSeen` on to the trigger that replaced it: its change
///    reaches the app only when that one succeeds.
///
/// Metrics go through swift-metrics (`podagent_reloads_total{result}`, `podagent_reload_duration_seconds`,
/// `podagent_change_to_reload_seconds`, `podagent_last_reload_success_timestamp_seconds`), created from
/// `metricsFactory` — the bootstrapped global one unless a test hands in its own — so the pipeline must be
/// created after `MetricsSystem.bootstrap`.
///
/// It is a class with its state under a lock rather than an actor, so that `submit` is a plain,
/// synchronous call: hot reload submits from the watch loop itself (``ChangeWatcher/deliverImmediately(to:)``),
/// which cannot wait for an actor, and the run it starts is the next job on the executor.
public final class ReloadPipeline: Sendable {
    private let check: ReloadStep?
    /// Whether the content on disk is still what the last passing check saw (rule 3a).
    private let checkedContentIsCurrent: (@Sendable () -> Bool)?
    private let actions: [ReloadStep]
    private let retry: RetryPolicy
    private let logger: Logger
    private let metrics: ReloadMetrics
    private let outcomeSink: AsyncStream<ReloadOutcome>.Continuation
    /// Called each time the pipeline has run every trigger it had and goes idle; not once shutdown has
    /// begun (though `shutdown` does not wait for a call that started just before).
    private let becameIdle: (@Sendable () -> Void)?

    /// Every trigger's end, in order, for one consumer (tests, readiness, events). Buffers only the newest
    /// 256, so a pipeline nobody listens to does not grow.
    public nonisolated let outcomes: AsyncStream<ReloadOutcome>

    private struct State {
        /// The newest trigger not yet started.
        var pending: Pending?
        /// The task draining triggers; nil while idle, so an idle pipeline holds no task and no timer.
        var worker: Task<Void, Never>?
        /// The backoff wait of the current run, cancelled by `submit` so a newer trigger starts promptly.
        var backoffWait: Task<Void, Never>?
        var isShutDown = false
    }

    private let state = Mutex(State())

    public init(
        check: ReloadStep?,
        actions: [ReloadStep],
        retry: RetryPolicy = .standard,
        logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil,
        checkedContentIsCurrent: (@Sendable () -> Bool)? = nil,
        becameIdle: (@Sendable () -> Void)? = nil
    ) {
        self.checkedContentIsCurrent = checkedContentIsCurrent
        self.becameIdle = becameIdle
        self.check = check
        self.actions = actions
        self.retry = retry
        self.logger = logger
        self.metrics = ReloadMetrics(factory: metricsFactory ?? MetricsSystem.factory)
        (outcomes, outcomeSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    /// Queues a reload for `trigger` and returns at once; see the type's rules for what happens to older ones.
    ///
    /// `announce` writes what the trigger stands for (podagent's "change set" line). The pipeline calls it
    /// exactly once, before any line it logs about the trigger, but not ahead of the trigger's first
    /// action: a log write (a pipe to the container runtime, in a pod) must not sit between a change and its
    /// reload. With a check it is called before the check; without one, once the first action has run up to
    /// its first wait (a webhook's request written, a signal sent). A trigger that never runs is announced
    /// before the line that says so.
    public func submit(_ trigger: ReloadTrigger, announce: (@Sendable () -> Void)? = nil) {
        let announcement = ReloadAnnouncement(announce)
        let accepted = state.withLock { state in
            guard !state.isShutDown else { return false }
            var trigger = trigger
            if let older = state.pending {
                trigger.firstCommitSeen = earliest(older.trigger.firstCommitSeen, trigger.firstCommitSeen)
                // Under the lock, so the replaced trigger's result comes before anything about its successor.
                finish(
                    ReloadOutcome(
                        trigger: older.trigger, result: .superseded, attempts: 0, duration: .zero,
                        failure: "replaced by trigger \(trigger.sequence) before it started", failedStep: nil),
                    ran: false, announcement: older.announcement, logger: logger.with(trigger: older.trigger.sequence))
            }
            state.pending = Pending(trigger: trigger, announcement: announcement)
            state.backoffWait?.cancel()
            if state.worker == nil {
                state.worker = Task { await self.drain() }
            }
            return true
        }
        if !accepted {
            announcement()
            logger.debug("trigger after shutdown ignored", metadata: ["trigger": "\(trigger.sequence)"])
        }
    }

    /// Stops: drops the pending trigger, cancels the step in flight (shutdown must not wait for a slow
    /// action) and waits for the run to end. Later `submit`s are ignored; ``outcomes`` finishes.
    public func shutdown() async {
        let (dropped, worker) = state.withLock { state in
            state.isShutDown = true
            defer { state.pending = nil }
            state.backoffWait?.cancel()
            return (state.pending, state.worker)
        }
        if let dropped {
            dropped.announcement()
            logger.info("shutdown: pending reload dropped", metadata: ["trigger": "\(dropped.trigger.sequence)"])
        }
        worker?.cancel()
        await worker?.value
        outcomeSink.finish()
    }

    /// Runs pending triggers until there are none. Only one drain exists at a time (`worker`).
    private func drain() async {
        while true {
            // Taking the last trigger and retiring the worker are one step: a `submit` after it starts a new one.
            let (taken, shutDown) = state.withLock { state -> (Pending?, Bool) in
                guard let next = state.pending else {
                    state.worker = nil
                    return (nil, state.isShutDown)
                }
                state.pending = nil
                return (next, false)
            }
            guard let next = taken else {
                if !shutDown { becameIdle?() }
                return
            }
            let (trigger, announcement) = (next.trigger, next.announcement)
            guard let outcome = await run(trigger, announcement: announcement) else {
                announcement()  // cancelled by shutdown
                state.withLock { $0.worker = nil }
                return
            }
            state.withLock { state in
                if outcome.result == .superseded, let newer = state.pending?.trigger {
                    state.pending?.trigger.firstCommitSeen = earliest(outcome.trigger.firstCommitSeen, newer.firstCommitSeen)
                }
            }
            finish(outcome, ran: true, announcement: announcement, logger: logger.with(trigger: trigger.sequence))
        }
    }

    /// One trigger's run: check, then actions with retries. Nil when shutdown cancelled it.
    private func run(_ trigger: ReloadTrigger, announcement: ReloadAnnouncement) async -> ReloadOutcome? {
        let clock = ContinuousClock()
        let started = clock.now
        // Made when a line is logged: building its metadata is work a quiet reload does not need.
        lazy var log = logger.with(trigger: trigger.sequence)
        if logger.logLevel <= .debug {
            announcement()
            log.debug("reload started", metadata: ["change": "\(trigger.summary)"])
        }

        func outcome(_ result: ReloadResult, attempts: Int, failure: String? = nil, step: String? = nil)
            -> ReloadOutcome
        {
            ReloadOutcome(
                trigger: trigger, result: result, attempts: attempts, duration: clock.now - started,
                failure: failure, failedStep: step)
        }
        func supersededOutcome(attempts: Int) -> ReloadOutcome? {
            guard let newer = state.withLock({ $0.pending?.trigger }) else { return nil }
            return outcome(.superseded, attempts: attempts, failure: "superseded by trigger \(newer.sequence)")
        }

        if let check {
            // A check takes milliseconds at least; the announcement costs nothing next to it.
            announcement()
            let checked = await Self.perform(check, for: trigger)
            if Task.isCancelled { return nil }
            switch checked {
            case .success(let took):
                log.info("check passed", metadata: ["step": "\(check.name)", "duration": "\(took.reloadText)"])
            case .failure(let failure):
                return outcome(.checkFailed, attempts: 0, failure: "\(failure.error)", step: check.name)
            }
            // The files on disk are already the newer content, which this check has not seen.
            if let superseded = supersededOutcome(attempts: 0) { return superseded }
        }

        var next = 0  // the first action that has not succeeded on this trigger's content
        var attempt = 1
        while true {
            var failed: (step: ReloadStep, error: any Error)?
            while next < actions.count {
                // Right after the check the content is what it saw; before any later action (the next
                // one, or a retry after a backoff of seconds) the kubelet may have committed again.
                if let check, let isCurrent = checkedContentIsCurrent, next > 0 || attempt > 1, !isCurrent() {
                    log.info("the content changed since it was checked; checking it again", metadata: ["step": "\(check.name)"])
                    let rechecked = await Self.perform(check, for: trigger)
                    if Task.isCancelled { return nil }
                    if case .failure(let failure) = rechecked {
                        return outcome(.checkFailed, attempts: attempt, failure: "\(failure.error)", step: check.name)
                    }
                    if let superseded = supersededOutcome(attempts: attempt) { return superseded }
                }
                let step = actions[next]
                let result = await Self.perform(step, for: trigger, announcing: announcement)
                if Task.isCancelled { return nil }
                announcement()
                switch result {
                case .success(let took):
                    log.debug(
                        "action done",
                        metadata: ["step": "\(step.name)", "attempt": "\(attempt)", "duration": "\(took.reloadText)"])
                    next += 1
                case .failure(let failure):
                    failed = (step, failure.error)
                }
                if failed != nil { break }
                if next < actions.count, let superseded = supersededOutcome(attempts: attempt) { return superseded }
            }
            guard let failed else { return outcome(.success, attempts: attempt) }

            if attempt >= retry.maxAttempts {
                return outcome(.failed, attempts: attempt, failure: "\(failed.error)", step: failed.step.name)
            }
            if let superseded = supersededOutcome(attempts: attempt) { return superseded }
            let wait = retry.backoff(afterAttempt: attempt)
            log.warning(
                "reload action failed, retrying in \(wait.reloadText): \(failed.error)",
                metadata: ["step": "\(failed.step.name)", "attempt": "\(attempt)"])
            await sleepUnlessSuperseded(wait)
            if Task.isCancelled { return nil }
            if let superseded = supersededOutcome(attempts: attempt) { return superseded }
            attempt += 1
        }
    }

    /// Waits out a backoff; `submit` cancels the wait so a newer trigger does not wait for it.
    private func sleepUnlessSuperseded(_ wait: Duration) async {
        let sleeper = Task<Void, Never> { _ = try? await CancellableSleep.sleep(for: wait) }
        // A trigger submitted since the run last looked would not have found this wait to cut short.
        let cutShort = state.withLock { state in
            state.backoffWait = sleeper
            return state.pending != nil || state.isShutDown
        }
        if cutShort { sleeper.cancel() }
        // Shutdown cancels the worker, not the sleeper: forward it, or shutdown would wait out the backoff.
        await withTaskCancellationHandler {
            await sleeper.value
        } onCancel: {
            sleeper.cancel()
        }
        state.withLock { $0.backoffWait = nil }
    }

    /// Publishes, counts and logs a trigger's end — one line per result (a failed check's line is the
    /// check's result line, with its stderr); `ran` is false for a trigger replaced before it started.
    private func finish(_ outcome: ReloadOutcome, ran: Bool, announcement: ReloadAnnouncement, logger log: Logger) {
        metrics.record(outcome, ran: ran, completedAt: ContinuousClock.now)
        announcement()
        var metadata: Logger.Metadata = [
            "result": "\(outcome.result.rawValue)",
            "attempts": "\(outcome.attempts)",
            "duration": "\(outcome.duration.reloadText)",
        ]
        if let step = outcome.failedStep { metadata["step"] = "\(step)" }
        switch outcome.result {
        case .success:
            if let first = outcome.trigger.firstCommitSeen {
                metadata["since_commit"] = "\((ContinuousClock.now - first).reloadText)"
            }
            log.info("reload done", metadata: metadata)
        case .checkFailed:
            log.error("check failed: \(outcome.failure ?? ""), not reloading", metadata: metadata)
        case .failed:
            log.error("reload failed after \(outcome.attempts) attempts: \(outcome.failure ?? "")", metadata: metadata)
        case .superseded:
            log.info("reload superseded: \(outcome.failure ?? "")", metadata: metadata)
        }
        outcomeSink.yield(outcome)
    }

    /// A step that failed, with how long it ran.
    private struct StepFailure: Error {
        var error: any Error
        var took: Duration
    }

    /// Runs one step against its timeout. On timeout the step's task is cancelled and awaited (the step
    /// contract says it returns promptly), so a late step can never overlap the next one.
    ///
    /// The step gets a task of its own, so that the timeout cancels the step and not the pipeline; the
    /// timeout is an event-loop timer, removed when the step ends first. This is on every reload's path,
    /// and one task and one timer cost less than a task group racing the step against a sleeping task.
    ///
    /// `announcing`: the trigger's announcement, queued on the event loop by the step's task as it starts,
    /// so that it runs once the step waits for the first time (after a webhook's request is written) — on
    /// the one loop of podagent, in that order; elsewhere at about that time. The pipeline calls it again
    /// (a no-op by then) before it logs anything about the step, which keeps the lines in order anyway.
    private static func perform(
        _ step: ReloadStep, for trigger: ReloadTrigger, announcing announcement: ReloadAnnouncement? = nil
    ) async -> Result<Duration, StepFailure> {
        let clock = ContinuousClock()
        let started = clock.now
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        if step.boundsItself {
            // No backstop needed: run it in the pipeline's own task (see `boundsItself`).
            if let announcement, !announcement.isDone { loop.execute { announcement() } }
            do {
                try await step.perform(trigger)
                return .success(clock.now - started)
            } catch {
                return .failure(StepFailure(error: error, took: clock.now - started))
            }
        }
        let task = Task {
            if let announcement, !announcement.isDone { loop.execute { announcement() } }
            try await step.perform(trigger)
        }
        let timedOut = StepTimer()
        let timer = loop.scheduleTask(
            in: .nanoseconds(max(0, step.timeout.reloadNanoseconds))
        ) {
            timedOut.fire()
            task.cancel()
        }
        // Shutdown cancels the pipeline's task: pass that on to the step.
        let result = await withTaskCancellationHandler {
            await task.result
        } onCancel: {
            task.cancel()
        }
        timer.cancel()
        // A step that finished its work anyway counts as done: a signal, once sent, is not undone by a
        // late timer, and a retry would send it again.
        if timedOut.fired, case .failure = result {
            return .failure(StepFailure(error: ReloadStepTimeout(step: step.name, timeout: step.timeout), took: clock.now - started))
        }
        switch result {
        case .success: return .success(clock.now - started)
        case .failure(let error): return .failure(StepFailure(error: error, took: clock.now - started))
        }
    }
}

/// The newest trigger not yet started, with its announcement.
private struct Pending {
    var trigger: ReloadTrigger
    let announcement: ReloadAnnouncement
}

/// A trigger's announcement (``ReloadPipeline/submit(_:announce:)``): runs its body the first time it is
/// called, from whichever thread, and never again. A call returns only once the body has run, whoever ran
/// it: the line that follows the call comes after the announcement's line.
final class ReloadAnnouncement: Sendable {
    private let body: (@Sendable () -> Void)?
    private let done = Mutex(false)

    init(_ body: (@Sendable () -> Void)?) {
        self.body = body
    }

    var isDone: Bool { body == nil || done.withLock { $0 } }

    func callAsFunction() {
        guard let body else { return }
        done.withLock { done in
            guard !done else { return }
            done = true
            body()
        }
    }
}

/// Whether a step's timeout went off (set on an event loop, read by the pipeline).
private final class StepTimer: Sendable {
    private let state = Atomic<Bool>(false)
    func fire() { state.store(true, ordering: .releasing) }
    var fired: Bool { state.load(ordering: .acquiring) }
}

private func earliest(_ a: ContinuousClock.Instant?, _ b: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
    switch (a, b) {
    case (let a?, let b?): return min(a, b)
    case (let a?, nil): return a
    case (nil, let b): return b
    }
}

extension Logger {
    /// A copy whose lines carry the trigger's sequence, so one reload's lines can be picked out.
    fileprivate func with(trigger sequence: Int) -> Logger {
        var copy = self
        copy[metadataKey: "trigger"] = "\(sequence)"
        return copy
    }
}

/// The pipeline's metrics, named as in DESIGN.md.
struct ReloadMetrics: Sendable {
    private let results: [ReloadResult: Counter]
    private let runDuration: CoreMetrics.Timer
    private let changeToReload: CoreMetrics.Timer
    private let lastSuccess: Gauge

    init(factory: any MetricsFactory) {
        var results: [ReloadResult: Counter] = [:]
        for result in ReloadResult.allCases {
            results[result] = Counter(
                label: "podagent_reloads_total", dimensions: [("result", result.rawValue)], factory: factory)
        }
        self.results = results
        runDuration = CoreMetrics.Timer(label: "podagent_reload_duration_seconds", factory: factory)
        changeToReload = CoreMetrics.Timer(label: "podagent_change_to_reload_seconds", factory: factory)
        lastSuccess = Gauge(label: "podagent_last_reload_success_timestamp_seconds", factory: factory)
    }

    func record(_ outcome: ReloadOutcome, ran: Bool, completedAt now: ContinuousClock.Instant) {
        results[outcome.result]?.increment()
        // A trigger replaced before it started is not a run: it has no duration to observe.
        if ran {
            runDuration.recordNanoseconds(outcome.duration.reloadNanoseconds)
        }
        if outcome.result == .success {
            if let first = outcome.trigger.firstCommitSeen {
                changeToReload.recordNanoseconds((now - first).reloadNanoseconds)
            }
            lastSuccess.record(Self.unixSeconds())
        }
    }

    private static func unixSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
