// Delivery of change sets to one consumer that may be slow.
//
// Nothing is queued. The outbox keeps two states: `reported`, the content the consumer last received
// (or silently absorbed, when everything that changed was filtered out), and `latest`, the newest
// content read. A change set is the filtered diff between the two, recomputed on every publish, and
// handed over only when the consumer asks for the next one. So while the consumer is busy, new commits
// fold into the waiting set instead of piling up behind it; a set whose changes were reverted in the
// meantime disappears; and because every set is a diff from what the consumer really saw, folding
// loses nothing. `minInterval` is applied on the consumer's side: it waits out the interval, then takes
// whatever has accumulated — no timer runs while nothing is pending.
//
// A consumer may also register a sink (`deliver(to:)`): a set that may go out at once is then handed to
// it synchronously, on the watch loop, as it is published — no task has to be woken to take it. Sets
// held back by `minInterval` still go to a consumer waiting in `next()` once the interval is over; both
// paths take from the same state, so nothing is delivered twice or lost.

import Logging
import Synchronization

/// The coalescing hand-over between the watch loop and the consumer of `ChangeWatcher.changes()`.
final class ChangeOutbox: Sendable {
    enum Phase: Sendable {
        case starting
        case running
        case failed(WatchError)
        case stopped

        var isTerminal: Bool {
            switch self {
            case .starting, .running: return false
            case .failed, .stopped: return true
            }
        }
    }

    private struct Pending {
        var volumes: [VolumeChange]
        var firstCommitSeen: ContinuousClock.Instant
    }

    private struct State {
        var phase = Phase.starting
        var reported: [VolumeContent] = []
        var latest: [VolumeContent] = []
        var pending: Pending?
        var lastDelivery: ContinuousClock.Instant?
        var sequence = 0
        var phaseWaiters: [CheckedContinuation<Phase, Never>] = []
        var takers: [Int: CheckedContinuation<Bool, Never>] = [:]
        var cancelledTakers: Set<Int> = []
        var nextTaker = 0
        /// Takes sets at once as they are published (see `deliver(to:)`).
        var sink: (@Sendable (ChangeSet) -> Void)?

        mutating func wakeTakers(_ value: Bool) {
            for taker in takers.values { taker.resume(returning: value) }
            takers = [:]
        }

        mutating func enter(_ phase: Phase) {
            self.phase = phase
            for waiter in phaseWaiters { waiter.resume(returning: phase) }
            phaseWaiters = []
        }
    }

    private let state = Mutex(State())
    /// Whether the watch loop has a timer task sleeping; an idle watcher has none.
    private let timerArmed = Atomic<Bool>(false)
    private let filter: ChangeFilter
    private let minInterval: Duration
    private let logger: Logger

    init(filter: ChangeFilter, minInterval: Duration, logger: Logger) {
        self.filter = filter
        self.minInterval = minInterval
        self.logger = logger
    }

    // MARK: - watch loop side

    /// The watches are in place and `baseline` was read: changes from now on are reported.
    func ready(baseline: [VolumeContent]) {
        state.withLock { state in
            state.reported = baseline
            state.latest = baseline
            state.enter(.running)
        }
    }

    /// Offers the newest content. Emits (or updates the waiting set) only if something that passes the
    /// filters differs from what the consumer last received; otherwise that becomes the baseline.
    func publish(_ contents: [VolumeContent], firstCommitSeen: ContinuousClock.Instant) {
        let direct = state.withLock { state -> (ChangeSet, @Sendable (ChangeSet) -> Void)? in
            guard !state.phase.isTerminal else { return nil }
            let volumes = VolumeChange.changes(from: state.reported, to: contents, filter: filter)
            state.latest = contents
            if volumes.isEmpty {
                // Filtered out, identical bytes, or a waiting set's changes reverted: absorb it, so
                // it can never come back as part of a later set.
                state.reported = contents
                state.pending = nil
                return nil
            }
            let first = min(state.pending?.firstCommitSeen ?? firstCommitSeen, firstCommitSeen)
            state.pending = Pending(volumes: volumes, firstCommitSeen: first)
            if let sink = state.sink, Self.gateIsOpen(state, minInterval: minInterval), let set = Self.take(&state) {
                return (set, sink)
            }
            state.wakeTakers(true)
            return nil
        }
        // Outside the lock: the sink may take its time, and may ask this outbox things.
        if let (set, sink) = direct { sink(set) }
    }

    /// Whether a set may be delivered now: no `minInterval` is set, or it has passed since the last one.
    private static func gateIsOpen(_ state: State, minInterval: Duration) -> Bool {
        guard minInterval > .zero, let last = state.lastDelivery else { return true }
        return last + minInterval <= .now
    }

    func noteTimer(armed: Bool) {
        timerArmed.store(armed, ordering: .relaxed)
    }

    var isTimerArmed: Bool { timerArmed.load(ordering: .relaxed) }

    func fail(_ error: WatchError) {
        state.withLock { state in
            state.enter(.failed(error))
            state.wakeTakers(false)
        }
    }

    /// Ends the stream; a set not taken yet is dropped.
    func finish() {
        state.withLock { state in
            if !state.phase.isTerminal { state.enter(.stopped) }
            state.pending = nil
            state.wakeTakers(false)
        }
    }

    // MARK: - consumer side

    /// Hands every set that may go out at once to `sink`, synchronously, from the watch loop, as it is
    /// published; `next()` gets only the sets that had to wait for `minInterval`. Set it before the
    /// watcher runs. `sink` must return promptly: the watch loop waits for it.
    func deliver(to sink: @escaping @Sendable (ChangeSet) -> Void) {
        state.withLock { $0.sink = sink }
    }

    var phase: Phase { state.withLock { $0.phase } }

    /// The newest content read (the baseline until a change is read).
    var latest: [VolumeContent] { state.withLock { $0.latest } }

    /// Returns once the watcher runs; throws why it could not start.
    func waitUntilReady() async throws(WatchError) {
        switch await waitForPhase(where: { $0 != .starting }) {
        case .failed(let error): throw error
        default: return
        }
    }

    func waitUntilStopped() async {
        _ = await waitForPhase(where: \.isTerminal)
    }

    private func waitForPhase(where done: @escaping @Sendable (PhaseKind) -> Bool) async -> Phase {
        while true {
            let phase = await withCheckedContinuation { (continuation: CheckedContinuation<Phase, Never>) in
                state.withLock { state in
                    if done(PhaseKind(state.phase)) {
                        continuation.resume(returning: state.phase)
                    } else {
                        state.phaseWaiters.append(continuation)
                    }
                }
            }
            if done(PhaseKind(phase)) { return phase }
        }
    }

    /// The next change set; nil once the watcher stopped or the calling task is cancelled.
    /// `logging`: write its "change set" line now (else the consumer does, with ``log(_:)``).
    func next(logging: Bool = true) async -> ChangeSet? {
        while true {
            guard await waitForPending() else { return nil }
            let gate = state.withLock { state in state.lastDelivery.map { $0 + minInterval } }
            if let gate, minInterval > .zero, gate > .now {
                do { try await CancellableSleep.sleep(until: gate) } catch { return nil }
            }
            if let set = take() {
                if logging { log(set) }
                return set
            }
        }
    }

    /// The line that says a change set was delivered.
    func log(_ set: ChangeSet) {
        logger.info("change set", metadata: [
            "sequence": "\(set.sequence)",
            "volumes": .array(set.volumes.map { .string($0.directory) }),
            "summary": .string(set.summary),
        ])
    }

    private func take() -> ChangeSet? {
        state.withLock { Self.take(&$0) }
    }

    private static func take(_ state: inout State) -> ChangeSet? {
        guard let pending = state.pending, !state.phase.isTerminal else { return nil }
        state.sequence += 1
        state.reported = state.latest
        state.pending = nil
        state.lastDelivery = .now
        return ChangeSet(
            sequence: state.sequence, firstCommitSeen: pending.firstCommitSeen, volumes: pending.volumes,
            contents: state.latest)
    }

    /// True when a set is waiting; false when the stream ended or the task was cancelled.
    private func waitForPending() async -> Bool {
        let id = state.withLock { state in
            defer { state.nextTaker += 1 }
            return state.nextTaker
        }
        let ready = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                state.withLock { state in
                    if state.cancelledTakers.contains(id) || state.phase.isTerminal {
                        continuation.resume(returning: false)
                    } else if state.pending != nil {
                        continuation.resume(returning: true)
                    } else {
                        state.takers[id] = continuation
                    }
                }
            }
        } onCancel: {
            state.withLock { state in
                if let taker = state.takers.removeValue(forKey: id) {
                    taker.resume(returning: false)
                } else {
                    state.cancelledTakers.insert(id)
                }
            }
        }
        state.withLock { _ = $0.cancelledTakers.remove(id) }
        return ready
    }
}

/// A phase without its payload, for comparisons.
enum PhaseKind: Equatable {
    case starting, running, failed, stopped

    init(_ phase: ChangeOutbox.Phase) {
        switch phase {
        case .starting: self = .starting
        case .running: self = .running
        case .failed: self = .failed
        case .stopped: self = .stopped
        }
    }

    var isTerminal: Bool { self == .failed || self == .stopped }
}
