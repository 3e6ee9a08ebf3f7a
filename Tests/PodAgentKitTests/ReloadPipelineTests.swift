import Glibc
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import Synchronization
import Testing

@testable import PodAgentKit

// MARK: - Test parts: steps that record what ran, a gate, a log capture

/// Records which steps ran for which trigger, and how many ran at once.
actor PipeStepLog {
    private(set) var calls: [String] = []
    private(set) var cancelled: [String] = []
    private(set) var running = 0
    private(set) var maxRunning = 0

    func enter(_ call: String) {
        calls.append(call)
        running += 1
        maxRunning = max(maxRunning, running)
    }

    func leave(_ call: String, cancelled wasCancelled: Bool) {
        running -= 1
        if wasCancelled { cancelled.append(call) }
    }
}

/// A barrier that steps wait at until the test opens it; the test can wait for steps to arrive.
actor PipeGate {
    private var isOpen = false
    private var arrivals = 0
    private var passers: [CheckedContinuation<Void, Never>] = []
    private var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    /// Waits until the gate is open, ignoring cancellation on purpose: it stands for a step that finishes
    /// what it started.
    func pass() async {
        arrive()
        if isOpen { return }
        await withCheckedContinuation { passers.append($0) }
    }

    /// Counts an arrival without waiting (for steps that block elsewhere).
    func arrive() {
        arrivals += 1
        for watcher in watchers where watcher.count <= arrivals { watcher.continuation.resume() }
        watchers.removeAll { $0.count <= arrivals }
    }

    func open() {
        isOpen = true
        for passer in passers { passer.resume() }
        passers = []
    }

    func waitForArrivals(_ count: Int) async {
        if arrivals >= count { return }
        await withCheckedContinuation { watchers.append((count, $0)) }
    }
}

/// Counts calls so a step can fail its first N.
actor PipeCounter {
    private(set) var value = 0
    func next() -> Int {
        value += 1
        return value
    }
}

/// A step's failure, with text like a check's stderr.
struct PipeStepFailure: Error, CustomStringConvertible {
    var description: String
}

/// A step that records `name#sequence` in `log`, then runs `body`.
func pipeStep(
    _ name: String, log: PipeStepLog, timeout: Duration = .seconds(30), boundsItself: Bool = false,
    body: @escaping @Sendable (ReloadTrigger) async throws -> Void = { _ in }
) -> ReloadStep {
    ReloadStep(name: name, timeout: timeout, boundsItself: boundsItself) { trigger in
        let call = "\(name)#\(trigger.sequence)"
        await log.enter(call)
        do {
            try await body(trigger)
        } catch {
            await log.leave(call, cancelled: Task.isCancelled)
            throw error
        }
        await log.leave(call, cancelled: Task.isCancelled)
    }
}

/// One captured log line: level, message and all metadata (the logger's and the call's).
struct PipeLogLine: Sendable {
    var level: Logger.Level
    var message: String
    var metadata: [String: String]

    /// The line as a log would show it, for "never contains" checks.
    var rendered: String {
        message + " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// Keeps every line logged through loggers made by ``logger()``.
final class PipeLogSink: Sendable {
    private let lines = NIOLockedValueBox<[PipeLogLine]>([])

    var all: [PipeLogLine] { lines.withLockedValue { $0 } }

    func append(_ line: PipeLogLine) { lines.withLockedValue { $0.append(line) } }

    func logger() -> Logger {
        Logger(label: "podagent.test") { _ in PipeLogCapture(sink: self) }
    }

    /// Waits (polling, bounded) for a line whose message contains `text`.
    func waitForLine(containing text: String, within limit: Duration = .seconds(30)) async throws -> PipeLogLine {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let line = all.first(where: { $0.message.contains(text) }) { return line }
            try await Task.sleep(for: .milliseconds(2))
        }
        Issue.record("no log line containing \"\(text)\"; got: \(all.map(\.message))")
        throw PipeStepFailure(description: "log line not found")
    }
}

struct PipeLogCapture: LogHandler {
    let sink: PipeLogSink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        sink.append(
            PipeLogLine(
                level: event.level, message: event.message.description,
                metadata: merged.mapValues { "\($0)" }))
    }
}

/// Reads outcomes one by one.
struct PipeOutcomes {
    private var iterator: AsyncStream<ReloadOutcome>.Iterator

    init(_ pipeline: ReloadPipeline) { iterator = pipeline.outcomes.makeAsyncIterator() }

    mutating func next() async throws -> ReloadOutcome {
        try #require(await iterator.next(), "the outcome stream ended")
    }

    mutating func rest() async -> [ReloadOutcome] {
        var outcomes: [ReloadOutcome] = []
        while let outcome = await iterator.next() { outcomes.append(outcome) }
        return outcomes
    }
}

extension TestMetrics {
    func pipeReloads(_ result: ReloadResult) throws -> Int64 {
        try expectCounter("podagent_reloads_total", [("result", result.rawValue)]).totalValue
    }

    func pipeTimerValues(_ label: String) throws -> [Int64] { try expectTimer(label).values }
}

func pipeTrigger(_ sequence: Int, committedAgo: Duration = .zero) -> ReloadTrigger {
    ReloadTrigger(sequence: sequence, firstCommitSeen: .now - committedAgo, summary: "change \(sequence)")
}

func pipeUnixNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Fast retries for tests whose backoff length does not matter.
let pipeQuickRetry = RetryPolicy(initialBackoff: .milliseconds(20), multiplier: 2, maxBackoff: .seconds(1), maxAttempts: 5)

// MARK: - Tests

@Suite("Reload pipeline", .timeLimit(.minutes(1)))
struct ReloadPipelineTests {
    @Test func checkThenActionsRunInOrderAndSucceed() async throws {
        let steps = PipeStepLog()
        let metrics = TestMetrics()
        let logs = PipeLogSink()
        let pipeline = ReloadPipeline(
            check: pipeStep("check", log: steps),
            actions: [pipeStep("exec", log: steps), pipeStep("signal", log: steps)],
            retry: pipeQuickRetry, logger: logs.logger(), metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)
        let before = pipeUnixNow()

        pipeline.submit(pipeTrigger(1, committedAgo: .seconds(5)))
        let outcome = try await outcomes.next()

        #expect(outcome.trigger.sequence == 1)
        #expect(outcome.result == .success)
        #expect(outcome.attempts == 1)
        #expect(await steps.calls == ["check#1", "exec#1", "signal#1"])
        #expect(try metrics.pipeReloads(.success) == 1)
        for other in [ReloadResult.checkFailed, .failed, .superseded] { #expect(try metrics.pipeReloads(other) == 0) }
        #expect(try metrics.pipeTimerValues("podagent_reload_duration_seconds").count == 1)
        let latency = try metrics.pipeTimerValues("podagent_change_to_reload_seconds")
        #expect(latency.count == 1 && latency[0] >= 5_000_000_000)
        let stamp = try #require(try metrics.expectGauge("podagent_last_reload_success_timestamp_seconds").lastValue)
        #expect(stamp >= before && stamp <= pipeUnixNow())

        let checkLine = try #require(logs.all.first { $0.message == "check passed" })
        #expect(checkLine.metadata["trigger"] == "1" && checkLine.metadata["step"] == "check")
        #expect(checkLine.metadata["duration"] != nil)
        let done = try #require(logs.all.first { $0.message == "reload done" })
        #expect(done.metadata["trigger"] == "1" && done.metadata["result"] == "success")
        #expect(done.metadata["duration"] != nil && done.metadata["since_commit"] != nil)
    }

    /// `becameIdle` is called when the pipeline has run all it had (hot reload gives back the pages only
    /// the first reload used then), once per idle spell, and not when shutdown stops it.
    @Test func becameIdleIsCalledEachTimeThePipelineRunsDry() async throws {
        let steps = PipeStepLog()
        let idle = Mutex(0)
        let pipeline = ReloadPipeline(
            check: nil, actions: [pipeStep("exec", log: steps)], retry: pipeQuickRetry,
            logger: PipeLogSink().logger(), metricsFactory: TestMetrics(),
            becameIdle: { idle.withLock { $0 += 1 } })
        var outcomes = PipeOutcomes(pipeline)
        #expect(idle.withLock { $0 } == 0)

        pipeline.submit(pipeTrigger(1, committedAgo: .zero))
        _ = try await outcomes.next()
        #expect(await eventually { idle.withLock { $0 } == 1 })
        pipeline.submit(pipeTrigger(2, committedAgo: .zero))
        _ = try await outcomes.next()
        #expect(await eventually { idle.withLock { $0 } == 2 })
        await pipeline.shutdown()
        try await Task.sleep(for: .milliseconds(50))
        #expect(idle.withLock { $0 } == 2)
        #expect(await steps.calls == ["exec#1", "exec#2"])
    }

    @Test func failedCheckBlocksEveryActionAndTheNextChangeGoesThrough() async throws {
        let steps = PipeStepLog()
        let metrics = TestMetrics()
        let logs = PipeLogSink()
        let stderr = #"nginx: [emerg] unknown directive "gzipp" in /etc/nginx/conf.d/app.conf:3"#
        let check = pipeStep("check", log: steps) { trigger in
            if trigger.sequence == 1 { throw PipeStepFailure(description: stderr) }
        }
        let pipeline = ReloadPipeline(
            check: check, actions: [pipeStep("exec", log: steps)], retry: pipeQuickRetry, logger: logs.logger(),
            metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        let refused = try await outcomes.next()
        #expect(refused.result == .checkFailed)
        #expect(refused.attempts == 0)
        #expect(refused.failure == stderr)
        #expect(refused.failedStep == "check")
        #expect(await steps.calls == ["check#1"])  // no action, and the check is not retried
        let line = try #require(logs.all.first { $0.message.hasPrefix("check failed") })
        #expect(logs.all.filter { $0.metadata["result"] != nil }.count == 1)  // one line for this result
        #expect(line.level == .error)
        #expect(line.message.contains(stderr))
        #expect(line.metadata["result"] == "check_failed" && line.metadata["step"] == "check")

        pipeline.submit(pipeTrigger(2))
        let accepted = try await outcomes.next()
        #expect(accepted.result == .success)
        #expect(await steps.calls == ["check#1", "check#2", "exec#2"])
        #expect(try metrics.pipeReloads(.checkFailed) == 1)
        #expect(try metrics.pipeReloads(.success) == 1)
        #expect(try metrics.pipeTimerValues("podagent_change_to_reload_seconds").count == 1)
    }

    @Test func webhookAnswering500IsRetriedWithBackoffAndSucceedsOnTheThirdAttempt() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(failures: 2))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let metrics = TestMetrics()
        let logs = PipeLogSink()
        let webhook = try WebhookAction(url: server.url + "/reload", timeout: unreachedTimeout, client: client)
        let pipeline = ReloadPipeline(
            check: nil, actions: [webhook.step()], retry: pipeQuickRetry, logger: logs.logger(),
            metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()
        await client.shutdown()

        #expect(outcome.result == .success)
        #expect(outcome.attempts == 3)
        let requests = server.requests
        #expect(requests.map(\.trigger) == [1, 1, 1])
        // The backoff is a wait of at least 20 ms, then at least 40 ms.
        if requests.count == 3 {
            #expect(requests[1].receivedAt - requests[0].receivedAt >= .milliseconds(20))
            #expect(requests[2].receivedAt - requests[1].receivedAt >= .milliseconds(40))
        }
        let retries = logs.all.filter { $0.message.hasPrefix("reload action failed, retrying") }
        #expect(retries.map { $0.metadata["attempt"] } == ["1", "2"])
        #expect(retries.allSatisfy { $0.level == .warning && $0.metadata["trigger"] == "1" })
        #expect(retries.allSatisfy { $0.metadata["step"] == "webhook POST \(server.url)/reload" })
        #expect(retries.first?.message.contains("retrying in 20ms") == true)
        #expect(retries.first?.message.contains("answered 500") == true)
        #expect(try metrics.pipeReloads(.success) == 1)
        #expect(try metrics.pipeReloads(.failed) == 0)
    }

    @Test func webhookFailingForeverEndsFailedAfterMaxAttempts() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(failures: .max))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let metrics = TestMetrics()
        let logs = PipeLogSink()
        let webhook = try WebhookAction(url: server.url + "/reload", timeout: unreachedTimeout, client: client)
        let retry = RetryPolicy(initialBackoff: .milliseconds(10), multiplier: 2, maxBackoff: .seconds(1), maxAttempts: 4)
        let pipeline = ReloadPipeline(
            check: nil, actions: [webhook.step()], retry: retry, logger: logs.logger(), metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()

        #expect(outcome.result == .failed)
        #expect(outcome.attempts == 4)
        #expect(outcome.failure?.contains("answered 500, expected 2xx: receiver says no") == true)
        try await Task.sleep(for: .milliseconds(100))  // nothing more may arrive after the verdict
        #expect(server.requests.count == 4)
        await client.shutdown()
        #expect(try metrics.pipeReloads(.failed) == 1)
        #expect(try metrics.pipeReloads(.success) == 0)
        #expect(try metrics.pipeTimerValues("podagent_change_to_reload_seconds").isEmpty)
        let final = try #require(logs.all.first { $0.message.hasPrefix("reload failed after 4 attempts") })
        #expect(final.level == .error && final.metadata["result"] == "failed")
        #expect(final.metadata["step"] == "webhook POST \(server.url)/reload")
        #expect(final.metadata["attempts"] == "4")
    }

    @Test func newerTriggerSupersedesRetriesWaitingInBackoff() async throws {
        // Trigger 1's requests always fail; its backoff is a minute, longer than the test's time limit, so
        // only supersession can let trigger 2 through in time.
        let server = try await PipeHTTPServer.start(PipeServerScript(failingTriggers: [1]))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let metrics = TestMetrics()
        let logs = PipeLogSink()
        let webhook = try WebhookAction(url: server.url + "/reload", timeout: unreachedTimeout, client: client)
        let slowRetry = RetryPolicy(initialBackoff: .seconds(60), multiplier: 2, maxBackoff: .seconds(60), maxAttempts: 5)
        let pipeline = ReloadPipeline(
            check: nil, actions: [webhook.step()], retry: slowRetry, logger: logs.logger(), metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1, committedAgo: .seconds(10)))
        _ = try await logs.waitForLine(containing: "retrying in 1m")
        pipeline.submit(pipeTrigger(2))

        let first = try await outcomes.next()
        let second = try await outcomes.next()
        await client.shutdown()

        #expect(first.trigger.sequence == 1 && first.result == .superseded)
        #expect(first.attempts == 1)
        #expect(first.failure == "superseded by trigger 2")
        #expect(second.trigger.sequence == 2 && second.result == .success)
        #expect(server.requests.map(\.trigger) == [1, 2])
        #expect(try metrics.pipeReloads(.superseded) == 1)
        #expect(try metrics.pipeReloads(.success) == 1)
        // Trigger 1's change reached the app only with trigger 2: the latency counts from trigger 1's commit.
        let latency = try metrics.pipeTimerValues("podagent_change_to_reload_seconds")
        #expect(latency.count == 1 && latency[0] >= 10_000_000_000)
    }

    @Test func triggersArrivingDuringARunCoalesceIntoTheNewest() async throws {
        let steps = PipeStepLog()
        let gate = PipeGate()
        let metrics = TestMetrics()
        let action = pipeStep("exec", log: steps) { trigger in
            if trigger.sequence == 1 { await gate.pass() }
        }
        let pipeline = ReloadPipeline(
            check: nil, actions: [action], retry: pipeQuickRetry, logger: PipeLogSink().logger(),
            metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        await gate.waitForArrivals(1)
        pipeline.submit(pipeTrigger(2, committedAgo: .seconds(20)))
        pipeline.submit(pipeTrigger(3))
        await gate.open()

        let seen = [try await outcomes.next(), try await outcomes.next(), try await outcomes.next()]
        #expect(seen.map(\.trigger.sequence) == [2, 1, 3])
        #expect(seen.map(\.result) == [.superseded, .success, .success])
        #expect(seen[0].attempts == 0)
        #expect(seen[0].failure == "replaced by trigger 3 before it started")
        #expect(await steps.calls == ["exec#1", "exec#3"])  // trigger 2 never ran: 3 describes a newer state
        #expect(await steps.maxRunning == 1)
        // Trigger 3 stands for trigger 2's change too, so its latency counts from 2's commit.
        let latency = try metrics.pipeTimerValues("podagent_change_to_reload_seconds")
        #expect(latency.count == 2 && latency[1] >= 20_000_000_000)
        #expect(try metrics.pipeTimerValues("podagent_reload_duration_seconds").count == 2)  // 2 never ran
        #expect(try metrics.pipeReloads(.superseded) == 1)
        #expect(try metrics.pipeReloads(.success) == 2)
    }

    @Test func stepInFlightFinishesButTheOlderRunTakesNoFurtherStep() async throws {
        let steps = PipeStepLog()
        let gate = PipeGate()
        let first = pipeStep("exec", log: steps) { trigger in
            if trigger.sequence == 1 { await gate.pass() }
        }
        let pipeline = ReloadPipeline(
            check: nil, actions: [first, pipeStep("webhook", log: steps)], retry: pipeQuickRetry,
            logger: PipeLogSink().logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        await gate.waitForArrivals(1)
        pipeline.submit(pipeTrigger(2))
        await gate.open()

        let older = try await outcomes.next()
        let newer = try await outcomes.next()
        #expect(older.trigger.sequence == 1 && older.result == .superseded)
        #expect(newer.trigger.sequence == 2 && newer.result == .success)
        #expect(await steps.calls == ["exec#1", "exec#2", "webhook#2"])
        #expect(await steps.cancelled.isEmpty)  // the reload in flight was not interrupted
    }

    @Test func checkPassedForAnOlderTriggerDoesNotLetItsActionsRun() async throws {
        let steps = PipeStepLog()
        let gate = PipeGate()
        let check = pipeStep("check", log: steps) { trigger in
            if trigger.sequence == 1 { await gate.pass() }
        }
        let pipeline = ReloadPipeline(
            check: check, actions: [pipeStep("signal", log: steps)], retry: pipeQuickRetry,
            logger: PipeLogSink().logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        await gate.waitForArrivals(1)
        pipeline.submit(pipeTrigger(2))  // the files on disk are now content the check has not seen
        await gate.open()

        #expect(try await outcomes.next().result == .superseded)
        #expect(try await outcomes.next().result == .success)
        #expect(await steps.calls == ["check#1", "check#2", "signal#2"])
    }

    @Test func stepTimeoutCancelsTheStepAndCountsAsAFailedAttempt() async throws {
        let steps = PipeStepLog()
        let metrics = TestMetrics()
        let hanging = pipeStep("exec", log: steps, timeout: .milliseconds(100)) { _ in
            try await Task.sleep(for: .seconds(600))
        }
        let retry = RetryPolicy(initialBackoff: .milliseconds(10), multiplier: 1, maxBackoff: .seconds(1), maxAttempts: 2)
        let pipeline = ReloadPipeline(
            check: nil, actions: [hanging], retry: retry, logger: PipeLogSink().logger(), metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()

        #expect(outcome.result == .failed)
        #expect(outcome.attempts == 2)
        #expect(outcome.failure == "exec timed out after 100ms")
        #expect(await steps.cancelled == ["exec#1", "exec#1"])
        #expect(await steps.running == 0)  // the timed-out step ended before the pipeline moved on
        #expect(try metrics.pipeReloads(.failed) == 1)
    }

    @Test func aStepThatFinishesItsWorkAfterItsTimerWentOffCountsAsDoneAndIsNotRepeated() async throws {
        // A signal is sent synchronously and cannot be interrupted: if the timer goes off while it is being
        // sent, the signal has still gone out, and a retry would send it a second time.
        let steps = PipeStepLog()
        let sent = PipeCounter()
        let signal = pipeStep("signal", log: steps, timeout: .nanoseconds(1)) { _ in
            usleep(20_000)  // busy past the timer, without looking at cancellation
            _ = await sent.next()
        }
        let retry = RetryPolicy(initialBackoff: .milliseconds(10), multiplier: 1, maxBackoff: .seconds(1), maxAttempts: 3)
        let pipeline = ReloadPipeline(
            check: nil, actions: [signal], retry: retry, logger: PipeLogSink().logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)
        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()
        #expect(outcome.result == .success, "\(outcome.failure ?? "")")
        #expect(outcome.attempts == 1)
        #expect(await sent.next() == 2)  // sent once
    }

    @Test func aTimeoutTooLongForNanosecondsIsNotAnImmediateTimeout() async throws {
        // ~292 years and more overflow Int64 nanoseconds; the timer must saturate, not wrap to zero.
        let steps = PipeStepLog()
        let slowish = pipeStep("exec", log: steps, timeout: .seconds(Int64.max / 2)) { _ in
            try await Task.sleep(for: .milliseconds(20))
        }
        let pipeline = ReloadPipeline(
            check: nil, actions: [slowish], retry: pipeQuickRetry, logger: PipeLogSink().logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)
        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()
        #expect(outcome.result == .success, "\(outcome.failure ?? "")")
        #expect(await steps.cancelled.isEmpty)
    }

    @Test func checkTimeoutIsACheckFailure() async throws {
        let steps = PipeStepLog()
        let check = pipeStep("check", log: steps, timeout: .milliseconds(50)) { _ in
            try await Task.sleep(for: .seconds(600))
        }
        let pipeline = ReloadPipeline(
            check: check, actions: [pipeStep("signal", log: steps)], retry: pipeQuickRetry,
            logger: PipeLogSink().logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)
        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()
        #expect(outcome.result == .checkFailed)
        #expect(outcome.failure == "check timed out after 50ms")
        #expect(await steps.calls == ["check#1"])
    }

    @Test(arguments: [false, true])
    func retryResumesFromTheFailedAction(boundsItself: Bool) async throws {
        let steps = PipeStepLog()
        let failures = PipeCounter()
        let flaky = pipeStep("webhook", log: steps, boundsItself: boundsItself) { _ in
            if await failures.next() <= 2 { throw PipeStepFailure(description: "503") }
        }
        let pipeline = ReloadPipeline(
            check: pipeStep("check", log: steps), actions: [pipeStep("exec", log: steps), flaky],
            retry: pipeQuickRetry, logger: PipeLogSink().logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        let outcome = try await outcomes.next()
        #expect(outcome.result == .success)
        #expect(outcome.attempts == 3)
        // Neither the check nor the action that already succeeded runs again.
        #expect(await steps.calls == ["check#1", "exec#1", "webhook#1", "webhook#1", "webhook#1"])
    }

    @Test func reloadOnStartRunsTheCheckThenTheActionsAndRecordsNoChangeLatency() async throws {
        let steps = PipeStepLog()
        let metrics = TestMetrics()
        let pipeline = ReloadPipeline(
            check: pipeStep("check", log: steps), actions: [pipeStep("signal", log: steps)], retry: pipeQuickRetry,
            logger: PipeLogSink().logger(), metricsFactory: metrics)
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(.start())
        let outcome = try await outcomes.next()
        #expect(outcome.result == .success)
        #expect(outcome.trigger.summary == "reload on start")
        #expect(await steps.calls == ["check#0", "signal#0"])
        #expect(try metrics.pipeTimerValues("podagent_change_to_reload_seconds").isEmpty)
        #expect(try metrics.expectGauge("podagent_last_reload_success_timestamp_seconds").lastValue != nil)
    }

    /// `boundsItself`: the step runs in the pipeline's own task, without a task and timer of its own.
    @Test(arguments: [false, true])
    func shutdownCancelsTheStepInFlightAndDropsWhatIsPending(boundsItself: Bool) async throws {
        let steps = PipeStepLog()
        let arrived = PipeGate()
        let slow = pipeStep("exec", log: steps, boundsItself: boundsItself) { _ in
            await arrived.arrive()
            try await Task.sleep(for: .seconds(600))
        }
        let pipeline = ReloadPipeline(
            check: nil, actions: [slow], retry: pipeQuickRetry, logger: PipeLogSink().logger(),
            metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        await arrived.waitForArrivals(1)
        pipeline.submit(pipeTrigger(2))
        await pipeline.shutdown()
        pipeline.submit(pipeTrigger(3))

        #expect(await outcomes.rest().isEmpty)  // the stream ended; nothing half-done is reported as a result
        #expect(await steps.calls == ["exec#1"])
        #expect(await steps.cancelled == ["exec#1"])
        #expect(await steps.running == 0)
    }

    @Test func shutdownCutsABackoffShort() async throws {
        let steps = PipeStepLog()
        let failing = pipeStep("exec", log: steps) { _ in throw PipeStepFailure(description: "exit 1") }
        let logs = PipeLogSink()
        let slowRetry = RetryPolicy(initialBackoff: .seconds(600), multiplier: 1, maxBackoff: .seconds(600), maxAttempts: 3)
        let pipeline = ReloadPipeline(
            check: nil, actions: [failing], retry: slowRetry, logger: logs.logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        _ = try await logs.waitForLine(containing: "retrying in 10m")
        await pipeline.shutdown()  // would take 10 minutes if it waited out the backoff
        #expect(await outcomes.rest().isEmpty)
        #expect(await steps.calls == ["exec#1"])
    }

    /// The announcement of `submit(_:announce:)`, as podagent uses it: the "change set" line.
    static func announcing(_ sequence: Int, to logs: PipeLogSink) -> @Sendable () -> Void {
        let logger = logs.logger()
        return { logger.info("change set", metadata: ["trigger": "\(sequence)"]) }
    }

    /// The messages logged about `trigger` (lines carrying its sequence), in order.
    static func lines(about trigger: Int, in logs: PipeLogSink) -> [String] {
        logs.all.filter { $0.metadata["trigger"] == "\(trigger)" }.map(\.message)
    }

    @Test func eachTriggerIsAnnouncedOnceBeforeEveryOtherLineAboutIt() async throws {
        // 1: a check that fails. 2: an action failing once, retried. 3: blocks while 4 and 5 arrive; 5
        // replaces 4 before it starts.
        let steps = PipeStepLog()
        let gate = PipeGate()
        let failures = PipeCounter()
        let logs = PipeLogSink()
        var logger = logs.logger()
        logger.logLevel = .info  // as podagent runs by default: no debug line announces early
        let check = pipeStep("check", log: steps) { trigger in
            if trigger.sequence == 1 { throw PipeStepFailure(description: "bad config") }
        }
        let action = pipeStep("exec", log: steps) { trigger in
            if trigger.sequence == 2, await failures.next() == 1 { throw PipeStepFailure(description: "exit 1") }
            if trigger.sequence == 3 { await gate.pass() }
        }
        let pipeline = ReloadPipeline(
            check: check, actions: [action], retry: pipeQuickRetry, logger: logger, metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1), announce: Self.announcing(1, to: logs))
        #expect(try await outcomes.next().result == .checkFailed)
        pipeline.submit(pipeTrigger(2), announce: Self.announcing(2, to: logs))
        #expect(try await outcomes.next().result == .success)
        pipeline.submit(pipeTrigger(3), announce: Self.announcing(3, to: logs))
        await gate.waitForArrivals(1)
        pipeline.submit(pipeTrigger(4), announce: Self.announcing(4, to: logs))
        pipeline.submit(pipeTrigger(5), announce: Self.announcing(5, to: logs))
        await gate.open()
        let rest = [try await outcomes.next(), try await outcomes.next(), try await outcomes.next()]
        #expect(rest.map(\.trigger.sequence) == [4, 3, 5])
        #expect(rest.map(\.result) == [.superseded, .success, .success])

        let one = Self.lines(about: 1, in: logs)
        #expect(one.count == 2 && one.first == "change set" && one.last?.hasPrefix("check failed") == true)
        let two = Self.lines(about: 2, in: logs)
        #expect(two.count == 4 && Array(two.prefix(2)) == ["change set", "check passed"] && two.last == "reload done")
        #expect(two.dropFirst(2).first?.hasPrefix("reload action failed, retrying") == true)
        #expect(Self.lines(about: 3, in: logs) == ["change set", "check passed", "reload done"])
        let four = Self.lines(about: 4, in: logs)
        #expect(four.count == 2 && four.first == "change set" && four.last?.hasPrefix("reload superseded") == true)
        #expect(Self.lines(about: 5, in: logs) == ["change set", "check passed", "reload done"])
    }

    @Test(arguments: [false, true])
    func aWaitingTriggerIsAnnouncedWhenItStartsAndARunningOneBeforeItsActionEnds(boundsItself: Bool) async throws {
        let steps = PipeStepLog()
        let gate = PipeGate()
        let logs = PipeLogSink()
        var logger = logs.logger()
        logger.logLevel = .info
        let action = pipeStep("exec", log: steps, boundsItself: boundsItself) { trigger in
            await gate.arrive()
            if trigger.sequence == 1 { await gate.pass() }
        }
        let pipeline = ReloadPipeline(
            check: nil, actions: [action], retry: pipeQuickRetry, logger: logger, metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1), announce: Self.announcing(1, to: logs))
        await gate.waitForArrivals(1)
        // Trigger 1's action is under way and blocked: its line is not held back until the action ends.
        _ = try await logs.waitForLine(containing: "change set")
        #expect(Self.lines(about: 1, in: logs) == ["change set"])
        // Trigger 2 waits for trigger 1: it is not announced while it waits.
        pipeline.submit(pipeTrigger(2), announce: Self.announcing(2, to: logs))
        try await Task.sleep(for: .milliseconds(100))
        #expect(Self.lines(about: 2, in: logs).isEmpty)
        await gate.open()
        #expect(try await outcomes.next().trigger.sequence == 1)
        #expect(try await outcomes.next().trigger.sequence == 2)
        #expect(Self.lines(about: 2, in: logs) == ["change set", "reload done"])
        #expect(await steps.calls == ["exec#1", "exec#2"])
    }

    @Test func aTriggerDroppedOrCutShortByShutdownIsStillAnnounced() async throws {
        let arrived = PipeGate()
        let logs = PipeLogSink()
        var logger = logs.logger()
        logger.logLevel = .info
        let slow = pipeStep("exec", log: PipeStepLog()) { _ in
            await arrived.arrive()
            try await Task.sleep(for: .seconds(600))
        }
        let pipeline = ReloadPipeline(
            check: nil, actions: [slow], retry: pipeQuickRetry, logger: logger, metricsFactory: TestMetrics())

        pipeline.submit(pipeTrigger(1), announce: Self.announcing(1, to: logs))
        await arrived.waitForArrivals(1)
        pipeline.submit(pipeTrigger(2), announce: Self.announcing(2, to: logs))
        await pipeline.shutdown()

        #expect(Self.lines(about: 1, in: logs) == ["change set"])
        #expect(Self.lines(about: 2, in: logs) == ["change set", "shutdown: pending reload dropped"])
    }

    @Test func webhookHeaderValuesNeverReachTheLog() async throws {
        let server = try await PipeHTTPServer.start(PipeServerScript(failures: .max))
        let client = WebhookClient()
        defer { Task { await server.stop() } }
        let logs = PipeLogSink()
        let webhook = try WebhookAction(
            url: server.url + "/reload?token=qu3ry-s3cr3t",
            headers: [try WebhookHeader(parsing: "Authorization: Bearer h3ader-s3cr3t")], timeout: unreachedTimeout,
            client: client)
        let retry = RetryPolicy(initialBackoff: .milliseconds(10), multiplier: 1, maxBackoff: .seconds(1), maxAttempts: 2)
        let pipeline = ReloadPipeline(
            check: nil, actions: [webhook.step()], retry: retry, logger: logs.logger(), metricsFactory: TestMetrics())
        var outcomes = PipeOutcomes(pipeline)

        pipeline.submit(pipeTrigger(1))
        #expect(try await outcomes.next().result == .failed)
        await client.shutdown()

        #expect(server.requests.first?.header("Authorization") == "Bearer h3ader-s3cr3t")  // it was sent
        let lines = logs.all.map(\.rendered)
        #expect(lines.contains { $0.contains("\(server.url)/reload") })
        #expect(!lines.contains { $0.contains("s3cr3t") })
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test func backoffGrowsExponentiallyUpToTheCap() {
        let policy = RetryPolicy.standard
        let waits = (1...8).map { policy.backoff(afterAttempt: $0) }
        #expect(
            waits == [
                .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                .milliseconds(3200), .milliseconds(6400), .seconds(10), .seconds(10),
            ])
        #expect(policy.maxAttempts == 5)
        #expect(policy.backoff(afterAttempt: 10_000) == .seconds(10))  // no overflow on absurd counts
    }

    @Test func nonsenseSettingsAreClampedToSafeOnes() {
        let policy = RetryPolicy(initialBackoff: .seconds(-1), multiplier: .nan, maxBackoff: .seconds(5), maxAttempts: 0)
        #expect(policy.initialBackoff == .zero)
        #expect(policy.multiplier == 1)
        #expect(policy.maxAttempts == 1)
        #expect(RetryPolicy(initialBackoff: .seconds(1), multiplier: 0.5).backoff(afterAttempt: 3) == .seconds(1))
    }

    @Test(arguments: [
        (Duration.nanoseconds(850), "850ns"), (.microseconds(850), "850µs"), (.microseconds(1234), "1.2ms"),
        (.milliseconds(2), "2ms"), (.milliseconds(200), "200ms"), (.seconds(2), "2s"), (.milliseconds(1500), "1.5s"),
        (.seconds(60), "1m"), (.seconds(150), "2m30s"),
    ])
    func durationsReadCompactly(duration: Duration, text: String) {
        #expect(duration.reloadText == text)
    }
}
