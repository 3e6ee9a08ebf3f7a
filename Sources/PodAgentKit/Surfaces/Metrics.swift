import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// The metric names of DESIGN.md, spelled once so that emitters and `/metrics` cannot drift apart.
///
/// Emit them through the swift-metrics API (`Counter(label:dimensions:)`, `Timer(label:)`, …); once
/// ``MetricsSetup/bootstrap()`` has run they land in the Prometheus registry under exactly these names.
/// A name must always be used with the same kind of metric and always with labels or always without:
/// swift-prometheus stops the process on a mismatch, so a name is never reused for something else.
public enum MetricName {
    /// Counter, label `result` = one of ``reloadResults``.
    public static let reloadsTotal = "podagent_reloads_total"
    /// Timer: the check and actions of one pipeline run.
    public static let reloadDurationSeconds = "podagent_reload_duration_seconds"
    /// Timer: from the kubelet commit first seen to the reload done.
    public static let changeToReloadSeconds = "podagent_change_to_reload_seconds"
    /// Gauge: Unix time of the last successful reload.
    public static let lastReloadSuccessTimestampSeconds = "podagent_last_reload_success_timestamp_seconds"
    /// Counter, label `volume` = the watched directory.
    public static let volumeGenerationsTotal = "podagent_volume_generations_total"
    /// Counter, no labels.
    public static let watchErrorsTotal = "podagent_watch_errors_total"
    /// Gauge = 1, labels `version` and `swift`.
    public static let buildInfo = "podagent_build_info"

    /// The values of the `result` label of ``reloadsTotal``, all shown from the start.
    public static let reloadResults = ["success", "check_failed", "failed", "superseded"]
}

/// Connects swift-metrics to a Prometheus registry, once per process.
///
/// ```swift
/// let registry = MetricsSetup.bootstrap()          // at startup, before any metric is created
/// Counter(label: MetricName.reloadsTotal, dimensions: [("result", "success")]).increment()
/// registry.emitToString()                          // what `/metrics` serves
/// ```
///
/// swift-metrics resolves its factory when a metric object is created, so a metric made before
/// `bootstrap()` stays a no-op forever: bootstrap first. Tests should not bootstrap the global
/// system (it can be done only once per process, and other suites may want their own backend);
/// they bind ``makeFactory(registry:)`` task-locally with swift-metrics' `withMetricsFactory`.
public enum MetricsSetup {
    /// Histogram buckets for every swift-metrics `Timer`, in seconds.
    ///
    /// The reload latency target is p50 ≤ 0.5 ms and p99 ≤ 2 ms, so the low end must resolve
    /// sub-millisecond values; the high end covers checks and webhooks that take seconds.
    public static let timerBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static let bootstrapped = NIOLockedValueBox<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps swift-metrics with a Prometheus registry and pre-registers the DESIGN.md metrics.
    ///
    /// Idempotent: every call returns the same registry, and only the first one touches
    /// `MetricsSystem`. It must still not be combined with another `MetricsSystem.bootstrap` in the
    /// same process (swift-metrics allows one).
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        bootstrapped.withLockedValue { existing in
            if let existing { return existing }
            let registry = PrometheusCollectorRegistry()
            let factory = makeFactory(registry: registry)
            MetricsSystem.bootstrap(factory)
            existing = registry
            return registry
        }
    }

    /// A swift-metrics factory writing into `registry`, with podagent's buckets and help texts, and
    /// the DESIGN.md metrics registered at zero so that `/metrics` shows them before the first reload.
    public static func makeFactory(registry: PrometheusCollectorRegistry) -> any MetricsFactory {
        var prometheus = PrometheusMetricsFactory(registry: registry)
        prometheus.defaultDurationHistogramBuckets = timerBuckets
        let factory = DocumentedMetricsFactory(prometheus: prometheus)
        preregister(factory: factory, registry: registry)
        return factory
    }

    /// The label value for `swift` in `podagent_build_info`: the compiler that built this binary.
    public static let swiftVersion: String = {
        #if compiler(>=6.5)
        return "6.5+"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()

    private static func preregister(factory: any MetricsFactory, registry: PrometheusCollectorRegistry) {
        // Created through the factory, not the registry, so that they are the very series later
        // emitters get back (same name, labels, buckets and help; any difference would be fatal).
        for result in MetricName.reloadResults {
            _ = factory.makeCounter(label: MetricName.reloadsTotal, dimensions: [("result", result)])
        }
        _ = factory.makeCounter(label: MetricName.watchErrorsTotal, dimensions: [])
        _ = factory.makeTimer(label: MetricName.reloadDurationSeconds, dimensions: [])
        _ = factory.makeTimer(label: MetricName.changeToReloadSeconds, dimensions: [])
        // Not pre-registered: the success timestamp (0 would claim a reload at 1970) and the
        // per-volume generations (their label values are only known once watching starts).
        let buildInfo = factory.makeRecorder(
            label: MetricName.buildInfo,
            dimensions: [("version", PodAgentVersion.string), ("swift", swiftVersion)],
            aggregate: false
        )
        buildInfo.record(Int64(1))
    }
}

/// Wraps `PrometheusMetricsFactory` to add `# HELP` lines for podagent's own metrics.
///
/// The Prometheus factory always registers with an empty help text and swift-prometheus refuses a
/// second registration of a name with a different text, so the help has to come from the factory
/// that every emitter goes through — this one.
struct DocumentedMetricsFactory: MetricsFactory {
    let prometheus: PrometheusMetricsFactory

    static let help: [String: String] = [
        MetricName.reloadsTotal: "Reload pipeline runs by result.",
        MetricName.reloadDurationSeconds: "Duration of the check and reload actions of one pipeline run.",
        MetricName.changeToReloadSeconds: "Time from the kubelet commit first seen to the reload done.",
        MetricName.lastReloadSuccessTimestampSeconds: "Unix time of the last successful reload.",
        MetricName.volumeGenerationsTotal: "Kubelet generations committed per watched volume.",
        MetricName.watchErrorsTotal: "Errors while watching volume directories.",
        MetricName.buildInfo: "Build of the running podagent; the value is always 1.",
    ]

    private var registry: PrometheusCollectorRegistry { prometheus.registry }

    /// The name stays exactly `label`: the descriptor joins only non-empty parts.
    private static func descriptor(_ label: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let help = Self.help[label] else {
            return prometheus.makeCounter(label: label, dimensions: dimensions)
        }
        return registry.makeCounter(descriptor: Self.descriptor(label, help), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let help = Self.help[label] else {
            return prometheus.makeFloatingPointCounter(label: label, dimensions: dimensions)
        }
        return registry.makeCounter(descriptor: Self.descriptor(label, help), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let help = Self.help[label] else {
            return prometheus.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        guard aggregate else {
            return registry.makeGauge(descriptor: Self.descriptor(label, help), labels: dimensions)
        }
        let buckets = prometheus.valueHistogramBuckets[label] ?? prometheus.defaultValueHistogramBuckets
        return registry.makeValueHistogram(
            descriptor: Self.descriptor(label, help), labels: dimensions, buckets: buckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let help = Self.help[label] else {
            return prometheus.makeMeter(label: label, dimensions: dimensions)
        }
        return registry.makeGauge(descriptor: Self.descriptor(label, help), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let help = Self.help[label] else {
            return prometheus.makeTimer(label: label, dimensions: dimensions)
        }
        let buckets = prometheus.durationHistogramBuckets[label] ?? prometheus.defaultDurationHistogramBuckets
        return registry.makeDurationHistogram(
            descriptor: Self.descriptor(label, help), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { prometheus.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        prometheus.destroyFloatingPointCounter(handler)
    }
    func destroyRecorder(_ handler: any RecorderHandler) { prometheus.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { prometheus.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { prometheus.destroyTimer(handler) }
}
