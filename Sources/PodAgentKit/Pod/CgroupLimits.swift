/// The container's CPU and memory limits as the kernel enforces them: the effective view, which
/// unlike the downward API's `limits.*` never reports the node's allocatable for "no limit".
///
/// Read from the cgroup filesystem under ``PodPaths/cgroupMount``:
/// - v2 (a `cgroup.controllers` file at the mount): `cpu.max` (`max 100000`, `50000 100000`),
///   `memory.max` (`max`, bytes);
/// - v1: `cpu/cpu.cfs_quota_us` (-1 = unlimited, else µs per `cpu.cfs_period_us`) — the
///   controller directory may be named `cpu`, `cpu,cpuacct` or `cpuacct,cpu` — and
///   `memory/memory.limit_in_bytes`, where the kernel's "unlimited" is the largest page-aligned
///   Int64 (9223372036854771712 with 4 KiB pages), so anything from 2^62 up is read as unlimited.
///
/// Which cgroup: the path in `/proc/self/cgroup` (`0::/kubepods/…` for v2, the `cpu` and
/// `memory` lines for v1), when that directory exists under the mount; otherwise the mount
/// root, because with a cgroup namespace (or a container runtime that mounts only the
/// container's own cgroup) the root is the container's cgroup. From there up to the mount root,
/// the smallest limit wins: a pod-level parent can be stricter than the container.
public struct CgroupLimits: Sendable, Hashable {
    /// The cgroup filesystem version.
    public enum Version: Int, Sendable, Hashable {
        case v1 = 1
        case v2 = 2
    }

    /// A limit the kernel enforces.
    public enum Limit: Sendable, Hashable {
        case unlimited
        case limited(Int64)

        /// The number when limited.
        public var limitedValue: Int64? {
            if case .limited(let value) = self { return value }
            return nil
        }

        static func tighter(_ a: Limit?, _ b: Limit?) -> Limit? {
            switch (a, b) {
            case (nil, let other), (let other, nil): return other
            case (.limited(let x)?, .limited(let y)?): return .limited(min(x, y))
            case (.limited?, _): return a
            default: return b
            }
        }
    }

    public var version: Version
    /// The CPU quota in millicores (quota / period, rounded up); nil when no cgroup shows one.
    public var cpuMillicores: Limit?
    /// The memory limit in bytes; nil when no cgroup shows one.
    public var memoryBytes: Limit?
    /// The cgroup directory the CPU limit was looked up from (as opened).
    public var cpuDirectory: String?
    /// The cgroup directory the memory limit was looked up from (as opened).
    public var memoryDirectory: String?

    public init(version: Version, cpuMillicores: Limit? = nil, memoryBytes: Limit? = nil, cpuDirectory: String? = nil, memoryDirectory: String? = nil) {
        self.version = version
        self.cpuMillicores = cpuMillicores
        self.memoryBytes = memoryBytes
        self.cpuDirectory = cpuDirectory
        self.memoryDirectory = memoryDirectory
    }

    /// v1 `memory.limit_in_bytes` at or above this means "no limit" (see the type's comment).
    public static let v1UnlimitedMemoryThreshold: Int64 = 1 << 62

    /// Reads the limits; nil when there is no cgroup filesystem at the mount (unknown, e.g. not Linux
    /// or not mounted in a sandbox).
    public static func load(paths: PodPaths) throws(PodViewError) -> CgroupLimits? {
        let mount = paths.cgroupMountPath
        let memberships = try readPodFileIfPresent(paths.procSelfCgroupPath).map(parseMemberships) ?? []
        if FileSystem.exists(FileSystem.join(mount, "cgroup.controllers")) {
            let path = memberships.first { $0.hierarchy == "0" && $0.controllers.isEmpty }?.path
            let directory = containerDirectory(base: mount, path: path)
            var limits = CgroupLimits(version: .v2, cpuDirectory: directory, memoryDirectory: directory)
            for level in levels(from: directory, upTo: mount) {
                limits.cpuMillicores = Limit.tighter(limits.cpuMillicores, try readV2CPU(FileSystem.join(level, "cpu.max")))
                limits.memoryBytes = Limit.tighter(limits.memoryBytes, try readV2Memory(FileSystem.join(level, "memory.max")))
            }
            return limits
        }
        let cpuMembership = memberships.first { $0.controllers.contains("cpu") }
        let cpuMountNames = (cpuMembership.map { [$0.controllers.joined(separator: ",")] } ?? []) + ["cpu", "cpu,cpuacct", "cpuacct,cpu"]
        let cpuBase = cpuMountNames.map { FileSystem.join(mount, $0) }.first(where: FileSystem.isDirectory)
        let memoryBase = FileSystem.join(mount, "memory")
        let hasMemory = FileSystem.isDirectory(memoryBase)
        guard cpuBase != nil || hasMemory else { return nil }
        var limits = CgroupLimits(version: .v1)
        if let cpuBase {
            let directory = containerDirectory(base: cpuBase, path: cpuMembership?.path)
            limits.cpuDirectory = directory
            for level in levels(from: directory, upTo: cpuBase) {
                limits.cpuMillicores = Limit.tighter(limits.cpuMillicores, try readV1CPU(level))
            }
        }
        if hasMemory {
            let path = memberships.first { $0.controllers.contains("memory") }?.path
            let directory = containerDirectory(base: memoryBase, path: path)
            limits.memoryDirectory = directory
            for level in levels(from: directory, upTo: memoryBase) {
                limits.memoryBytes = Limit.tighter(limits.memoryBytes, try readV1Memory(FileSystem.join(level, "memory.limit_in_bytes")))
            }
        }
        return limits
    }

    // MARK: /proc/self/cgroup

    struct Membership {
        var hierarchy: String
        var controllers: [String]
        var path: String
    }

    /// `hierarchy-ID:controller-list:cgroup-path` per line (cgroups(7)); the path may itself
    /// hold ':'. v1 named hierarchies (`name=systemd`) are kept and simply never match.
    static func parseMemberships(_ bytes: [UInt8]) -> [Membership] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            return Membership(
                hierarchy: String(fields[0]), controllers: fields[1].split(separator: ",").map(String.init), path: String(fields[2]))
        }
    }

    /// The container's cgroup directory under `base`: `path` when it exists there, else `base`.
    static func containerDirectory(base: String, path: String?) -> String {
        guard let path, path != "/", !path.isEmpty, !path.split(separator: "/").contains("..") else { return base }
        let candidate = FileSystem.join(base, path)
        return FileSystem.isDirectory(candidate) ? candidate : base
    }

    /// `directory`, its parents, …, `base`.
    static func levels(from directory: String, upTo base: String) -> [String] {
        var result = [directory]
        var current = directory
        while current.count > base.count, current.hasPrefix(base) {
            current = parentDirectory(current)
            result.append(current)
        }
        return result
    }

    // MARK: Interface files

    static func content(_ path: String) throws(PodViewError) -> String? {
        guard let bytes = try readPodFileIfPresent(path) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    static func malformed(_ path: String, _ text: String, expected: String) -> PodViewError {
        .malformedCgroupFile(path: path, content: GoQuote.quote(text), expected: expected)
    }

    /// `cpu.max`: "$MAX $PERIOD", MAX being `max` or µs of CPU time per PERIOD µs.
    static func readV2CPU(_ path: String) throws(PodViewError) -> Limit? {
        guard let text = try content(path) else { return nil }
        let expected = "\"max PERIOD\" or \"QUOTA PERIOD\" in microseconds"
        let fields = text.split(separator: " ")
        guard fields.count == 2, let period = Int64(fields[1]), period > 0 else { throw malformed(path, text, expected: expected) }
        if fields[0] == "max" { return .unlimited }
        guard let quota = Int64(fields[0]), quota > 0, let millicores = millicores(quota: quota, period: period) else {
            throw malformed(path, text, expected: expected)
        }
        return .limited(millicores)
    }

    /// `memory.max`: `max` or bytes.
    static func readV2Memory(_ path: String) throws(PodViewError) -> Limit? {
        guard let text = try content(path) else { return nil }
        if text == "max" { return .unlimited }
        guard let bytes = Int64(text), bytes >= 0 else { throw malformed(path, text, expected: "\"max\" or a number of bytes") }
        return .limited(bytes)
    }

    /// `cpu.cfs_quota_us` (-1 = unlimited) over `cpu.cfs_period_us`.
    static func readV1CPU(_ directory: String) throws(PodViewError) -> Limit? {
        let quotaPath = FileSystem.join(directory, "cpu.cfs_quota_us")
        guard let quotaText = try content(quotaPath) else { return nil }
        guard let quota = Int64(quotaText), quota != 0 else {
            throw malformed(quotaPath, quotaText, expected: "-1 or a number of microseconds")
        }
        if quota < 0 { return .unlimited }
        let periodPath = FileSystem.join(directory, "cpu.cfs_period_us")
        guard let periodText = try content(periodPath) else { return nil }
        guard let period = Int64(periodText), period > 0 else {
            throw malformed(periodPath, periodText, expected: "a positive number of microseconds")
        }
        guard let millicores = millicores(quota: quota, period: period) else {
            throw malformed(quotaPath, quotaText, expected: "a quota whose millicores fit in 64 bits")
        }
        return .limited(millicores)
    }

    /// `memory.limit_in_bytes`.
    static func readV1Memory(_ path: String) throws(PodViewError) -> Limit? {
        guard let text = try content(path) else { return nil }
        guard let bytes = Int64(text), bytes >= 0 else { throw malformed(path, text, expected: "a number of bytes") }
        return bytes >= v1UnlimitedMemoryThreshold ? .unlimited : .limited(bytes)
    }

    /// ceil(quota · 1000 / period): a quota that is not a whole number of millicores still
    /// allows that fraction, so rounding down would understate it.
    static func millicores(quota: Int64, period: Int64) -> Int64? {
        let (scaled, overflow) = quota.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return nil }
        return scaled / period + (scaled % period == 0 ? 0 : 1)
    }
}
