import NIOCore
import NIOPosix

/// `Task.sleep` on an NIO event-loop timer that cancellation removes.
///
/// Why: podagent runs Swift concurrency on NIO's event loops (see `main.swift`), but a clock-based
/// `Task.sleep` is still scheduled by libdispatch, and a *cancelled* sleep stays in its timer queue
/// until the original deadline. Every reload races its steps against such timeouts, so a burst of
/// reloads used to echo as wakeups for the next 30+ s, and libdispatch's own threads stayed busy. Here
/// cancelling removes the timer, and an idle podagent has nothing left to wake it.
public enum CancellableSleep {
    /// Sleeps for `duration`; throws `CancellationError` when the calling task is cancelled.
    public static func sleep(for duration: Duration) async throws {
        let nanoseconds = max(Int64(0), duration.reloadNanoseconds)
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let scheduled = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { () }
        try await withTaskCancellationHandler {
            do {
                try await scheduled.futureResult.get()
            } catch {
                throw CancellationError()
            }
        } onCancel: {
            scheduled.cancel()
        }
        try Task.checkCancellation()
    }

    /// Sleeps until `deadline` on the continuous clock.
    public static func sleep(until deadline: ContinuousClock.Instant) async throws {
        let remaining = ContinuousClock.now.duration(to: deadline)
        try await sleep(for: remaining > .zero ? remaining : .zero)
    }
}
