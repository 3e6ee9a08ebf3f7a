/// How a failed reload is retried: exponential backoff with a cap and a bounded number of attempts.
///
/// Attempt 1 runs at once; before attempt `k + 1` the pipeline waits
/// `min(initialBackoff × multiplier^(k-1), maxBackoff)`. With the defaults (200 ms × 2 up to 10 s, 5 attempts)
/// a reload that keeps failing is given up after 200 + 400 + 800 + 1600 ms ≈ 3 s of waiting, quickly enough
/// that a broken receiver is reported while the change is still fresh, slowly enough not to hammer it.
/// A newer change ends the wait at once (see ``ReloadPipeline``), so a long backoff never delays new data.
///
/// There is no jitter: one podagent drives one app, so there is no herd of clients to spread out.
public struct RetryPolicy: Sendable, Equatable {
    /// The wait after the first failed attempt.
    public var initialBackoff: Duration
    /// The factor applied to the wait after each further failure (1 keeps it constant).
    public var multiplier: Double
    /// The longest single wait, whatever the multiplier made of it.
    public var maxBackoff: Duration
    /// Attempts in all, the first included; 1 means "never retry".
    public var maxAttempts: Int

    public init(
        initialBackoff: Duration = .milliseconds(200),
        multiplier: Double = 2,
        maxBackoff: Duration = .seconds(10),
        maxAttempts: Int = 5
    ) {
        // Clamp rather than trap: these come from flags, and a nonsense value still has a safe reading.
        self.initialBackoff = max(initialBackoff, .zero)
        self.multiplier = multiplier.isFinite ? max(multiplier, 1) : 1
        self.maxBackoff = max(maxBackoff, .zero)
        self.maxAttempts = max(maxAttempts, 1)
    }

    /// The defaults: 200 ms, ×2, capped at 10 s, 5 attempts.
    public static let standard = RetryPolicy()

    /// The wait before attempt `attempt + 1`, after attempt number `attempt` (counted from 1) failed.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let exponent = max(attempt - 1, 0)
        let capSeconds = maxBackoff.reloadSeconds
        var seconds = initialBackoff.reloadSeconds
        // Multiply step by step and stop at the cap, so a large attempt count cannot overflow to infinity.
        for _ in 0..<exponent where seconds < capSeconds {
            seconds *= multiplier
        }
        return min(Duration.reloadSeconds(seconds), maxBackoff)
    }
}

extension Duration {
    /// The duration as floating-point seconds, for metrics and backoff arithmetic.
    var reloadSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// A duration from floating-point seconds, rounded to nanoseconds.
    static func reloadSeconds(_ seconds: Double) -> Duration {
        guard seconds.isFinite, seconds > 0 else { return .zero }
        // Beyond ~292 years Int64 nanoseconds overflow; no backoff or timeout is meant to be that long.
        return .nanoseconds(Int64(min(seconds, 9e9) * 1e9))
    }

    /// Whole nanoseconds, saturating, for swift-metrics' `Timer.recordNanoseconds`.
    var reloadNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }

    /// Compact human text for logs and error messages: `850µs`, `1.2ms`, `200ms`, `2s`, `1.5s`, `2m30s`.
    var reloadText: String {
        let nanos = reloadNanoseconds
        if nanos < 1_000 { return "\(nanos)ns" }
        if nanos < 1_000_000 { return "\(nanos / 1_000)µs" }
        if nanos < 10_000_000 { return Self.oneDecimal(nanos, unit: 1_000_000) + "ms" }
        if nanos < 1_000_000_000 { return "\(nanos / 1_000_000)ms" }
        if nanos < 60_000_000_000 { return Self.oneDecimal(nanos, unit: 1_000_000_000) + "s" }
        let totalSeconds = nanos / 1_000_000_000
        let seconds = totalSeconds % 60
        return "\(totalSeconds / 60)m" + (seconds == 0 ? "" : "\(seconds)s")
    }

    private static func oneDecimal(_ value: Int64, unit: Int64) -> String {
        let tenths = (value * 10 + unit / 2) / unit
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }
}
