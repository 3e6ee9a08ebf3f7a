#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the pod sees, read once: identity, labels, annotations, resources, cgroup limits.
///
/// ```swift
/// let view = try PodView.load(
///     environment: PodView.processEnvironment(),
///     paths: PodPaths(root: "/"),
///     declarations: [try ResourceDeclaration(parsing: "GOMAXPROCS=limits.cpu")])
/// view.cpus                 // e.g. 2, for nginx's worker_processes
/// view.value                // the tree `podagent env --format json` prints and templates see
/// view.warnings             // e.g. "limits.cpu is an upper bound: divisor 1 rounds up, …"
/// ```
///
/// Nothing is guessed: what no source shows is nil here and `null` in ``value``. What is
/// known but imprecise (a divisor-rounded value, a CPU count from a limit that may be the node's
/// allocatable) is kept, with a warning.
public struct PodView: Sendable, Hashable {
    public var identity: PodIdentity
    /// Nil when there is no labels file (unknown), not when it is empty (no labels).
    public var labels: PodMetadata?
    /// Nil when there is no annotations file.
    public var annotations: PodMetadata?
    public var resources: PodResources
    /// Nil when there is no cgroup filesystem at the mount.
    public var cgroup: CgroupLimits?
    /// Things a person should know about these values; none of them stops podagent.
    public var warnings: [String]
    /// The warnings that explain how precise the resource values are (rounding, node allocatable):
    /// what `inspect`'s resources section says in its own words, so it leaves these out elsewhere.
    public var precisionWarnings: [String] = []

    public init(
        identity: PodIdentity = PodIdentity(), labels: PodMetadata? = nil, annotations: PodMetadata? = nil,
        resources: PodResources = PodResources(), cgroup: CgroupLimits? = nil, warnings: [String] = []
    ) {
        self.identity = identity
        self.labels = labels
        self.annotations = annotations
        self.resources = resources
        self.cgroup = cgroup
        self.warnings = warnings
    }

    /// Reads every source. `environment` maps env var names to their exact bytes
    /// (``processEnvironment()`` gives this process's).
    public static func load(
        environment: [String: [UInt8]],
        paths: PodPaths = PodPaths(),
        declarations: [ResourceDeclaration] = []
    ) throws(PodViewError) -> PodView {
        var warnings: [String] = []
        let identity = try PodIdentity.load(environment: environment, paths: paths, warnings: &warnings)
        let labels = try PodMetadata.load(.labels, from: paths.labelsPath)
        let annotations = try PodMetadata.load(.annotations, from: paths.annotationsPath)
        let resources = try PodResources.load(environment: environment, paths: paths, declarations: declarations, warnings: &warnings)
        var precision = resources.upperBoundWarnings
        let cgroup = try CgroupLimits.load(paths: paths)
        var view = PodView(identity: identity, labels: labels, annotations: annotations, resources: resources, cgroup: cgroup)
        if let limit = view.effectiveCPULimit, case .downwardLimit = limit.source {
            precision.append(
                "the CPU count \(view.cpus ?? 0) comes from limits.cpu (\(limit.millicores) millicores), since no cgroup CPU quota was "
                    + "found; for a container without a CPU limit the kubelet reports the node's allocatable CPU there")
        }
        view.warnings = warnings + precision
        view.precisionWarnings = precision
        return view
    }

    // MARK: Derived values

    /// The CPU limit podagent acts on, and where it comes from.
    public struct EffectiveCPULimit: Sendable, Hashable {
        /// Where the effective limit was found.
        public enum Source: Sendable, Hashable {
            /// The cgroup's CPU quota: what the kernel enforces.
            case cgroupQuota
            /// The downward API's `limits.cpu`, used when no cgroup quota is known. For a
            /// container without a CPU limit this is the node's allocatable CPU.
            case downwardLimit
        }

        public var millicores: Int64
        public var source: Source
    }

    /// The cgroup quota when there is one, else the downward `limits.cpu`; nil when neither is known.
    public var effectiveCPULimit: EffectiveCPULimit? {
        if let quota = cgroup?.cpuMillicores?.limitedValue {
            return EffectiveCPULimit(millicores: quota, source: .cgroupQuota)
        }
        if let limit = resources.limits.cpuMillicores {
            return EffectiveCPULimit(millicores: limit.value, source: .downwardLimit)
        }
        return nil
    }

    /// The number of CPUs to size thread pools by (nginx `worker_processes`, GOMAXPROCS):
    /// ceil(effective CPU limit in cores), at least 1. Nil when no limit is known — including an
    /// unlimited cgroup with no downward `limits.cpu`, where counting the node's CPUs would be
    /// exactly the trap this avoids.
    public var cpus: Int64? {
        guard let millicores = effectiveCPULimit?.millicores else { return nil }
        return max(1, millicores / 1000 + (millicores % 1000 == 0 ? 0 : 1))
    }

    // MARK: The data tree

    /// The tree `podagent env --format json` prints and templates see:
    /// ```
    /// {"pod": {"name", "namespace", "uid", "ip", "ips", "node", "hostIP", "serviceAccount"},
    ///  "labels": {…}, "annotations": {…},
    ///  "resources": {"requests": {"cpuMillicores", "memoryBytes", "ephemeralStorageBytes"}, "limits": {…}},
    ///  "cgroup": {"version", "cpuMillicores", "memoryBytes"},
    ///  "cpus": N}
    /// ```
    /// Unknown values are `.null`: absent labels/annotations files, unset env vars, resources
    /// no source holds, cgroup limits that are unlimited or not found. Resource values are the
    /// upper bound when rounded (``ResourceAmount/value``).
    public var value: PodValue {
        func text(_ string: String?) -> PodValue { string.map(PodValue.text) ?? .null }
        func metadata(_ map: PodMetadata?) -> PodValue {
            map.map { .object($0.entries.map { PodValue.Member($0.key, .string($0.value)) }) } ?? .null
        }
        func integer(_ number: Int64?) -> PodValue { number.map(PodValue.integer) ?? .null }
        func resources(_ values: ResourceValues) -> PodValue {
            .object([
                .init("cpuMillicores", integer(values.cpuMillicores?.value)),
                .init("memoryBytes", integer(values.memoryBytes?.value)),
                .init("ephemeralStorageBytes", integer(values.ephemeralStorageBytes?.value)),
            ])
        }
        return .object([
            .init(
                "pod",
                .object([
                    .init("name", text(identity.name)),
                    .init("namespace", text(identity.namespace)),
                    .init("uid", text(identity.uid)),
                    .init("ip", text(identity.ip)),
                    .init("ips", identity.ips.map { .list($0.map(PodValue.text)) } ?? .null),
                    .init("node", text(identity.node)),
                    .init("hostIP", text(identity.hostIP)),
                    .init("serviceAccount", text(identity.serviceAccount)),
                ])),
            .init("labels", metadata(labels)),
            .init("annotations", metadata(annotations)),
            .init("resources", .object([.init("requests", resources(self.resources.requests)), .init("limits", resources(self.resources.limits))])),
            .init(
                "cgroup",
                .object([
                    .init("version", integer(cgroup.map { Int64($0.version.rawValue) })),
                    .init("cpuMillicores", integer(cgroup?.cpuMillicores?.limitedValue)),
                    .init("memoryBytes", integer(cgroup?.memoryBytes?.limitedValue)),
                ])),
            .init("cpus", integer(cpus)),
        ])
    }

    // MARK: The process environment

    /// This process's environment as exact bytes. For a name given twice (possible in `environ`),
    /// the first wins, as `getenv` does.
    ///
    /// Reads `environ` directly, so values keep bytes that are not UTF-8. (Glibc's overlay traps
    /// when `environ` is NULL, which only `clearenv()` causes; podagent never calls it.)
    public static func processEnvironment() -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let length = strlen(pointer)
            let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
            if let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
                let name = String(decoding: bytes[..<equals], as: UTF8.self)
                if result[name] == nil {
                    result[name] = Array(bytes[(equals + 1)...])
                }
            }
            entry += 1
        }
        return result
    }
}
