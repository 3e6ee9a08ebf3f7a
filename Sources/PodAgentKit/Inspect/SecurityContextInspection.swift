/// The `securityContext` section of `podagent inspect`: what the pod's `securityContext` became once the
/// runtime applied it — uid, gid, groups, capabilities, no_new_privs and seccomp from `/proc/self/status`,
/// and whether the root filesystem is read-only from `/proc/self/mountinfo`. Both are resolved inside
/// the root, so `--root` sandboxes can hold crafted copies.
///
/// Warnings are hardening hints (running as root, powerful capabilities, no_new_privs off, seccomp off,
/// writable root filesystem), each naming the `securityContext` field that fixes it.
///
/// Value (`null` for what the files do not show):
/// ```
/// {"uid": {"real", "effective", "saved", "filesystem"} | null,
///  "gid": {…same…} | null,
///  "groups": [Int, …] | null,
///  "capabilities": {"inheritable", "permitted", "effective", "bounding", "ambient":
///                   {"mask": "00000000a80425fb", "names": ["CAP_CHOWN", …]} | null} | null,
///  "noNewPrivs": bool | null,
///  "seccomp": {"mode": 0|1|2, "name": "disabled"|"strict"|"filter", "filters": Int | null} | null,
///  "readOnlyRootFilesystem": bool | null}
/// ```
public enum SecurityContextInspection {
    /// Reads `<root>/proc/self/status` and `<root>/proc/self/mountinfo`.
    public static func inspect(paths: PodPaths) -> InspectSection {
        let statusPath = paths.resolve("/proc/self/status")
        let mountinfoPath = paths.resolve("/proc/self/mountinfo")
        var rows: [InspectSection.Row] = []
        var warnings: [String] = []

        let status = (try? FileSystem.readFile(statusPath)).map { ProcessSecurityStatus(status: String(decoding: $0, as: UTF8.self)) }
        let readOnlyRoot = (try? FileSystem.readFile(mountinfoPath)).flatMap { rootMountIsReadOnly(mountinfo: String(decoding: $0, as: UTF8.self)) }

        if let status {
            rows.append(.init("uid", status.uid.map(describe) ?? "(unknown)"))
            rows.append(.init("gid", status.gid.map(describe) ?? "(unknown)"))
            rows.append(.init("groups", status.groups.map { $0.isEmpty ? "(none)" : $0.map(String.init).joined(separator: " ") } ?? "(unknown)"))
            for set in CapabilitySet.allCases {
                guard let mask = status.capabilities[set] else { continue }
                let names = Capability.names(in: mask)
                rows.append(.init("capabilities \(set.label)", names.isEmpty ? "(none)" : names.joined(separator: " ")))
            }
            rows.append(.init("no_new_privs", status.noNewPrivs.map { $0 ? "on" : "off" } ?? "(unknown)"))
            rows.append(.init("seccomp", status.seccomp.map { mode in
                "\(mode) (\(seccompName(mode)))" + (status.seccompFilters.map { ", \($0) filter\($0 == 1 ? "" : "s")" } ?? "")
            } ?? "(unknown)"))
        } else {
            rows.append(.init("status", "(no \(statusPath))"))
        }
        rows.append(.init("root filesystem", readOnlyRoot.map { $0 ? "read-only" : "writable" } ?? "(unknown: no / mount in \(mountinfoPath))"))

        if let status {
            if let effective = status.uid?.effective, effective == 0 {
                warnings.append(
                    "running as root (uid 0) — if the image allows it, set securityContext.runAsNonRoot: true and a non-zero runAsUser")
            }
            if let effective = status.capabilities[.effective] {
                if effective & Capability.allKnownMask == Capability.allKnownMask {
                    warnings.append(
                        "every capability is effective — this looks like privileged: true; drop that unless the container manages the node, "
                            + "and add back only the capabilities it needs (capabilities.drop: [ALL], add: […])")
                } else {
                    let powerful = Capability.powerful.filter { effective & (1 << UInt64($0.bit)) != 0 }.map(\.name)
                    if !powerful.isEmpty {
                        warnings.append(
                            "effective capabilities include \(powerful.joined(separator: ", ")) — powerful enough to escape or disturb the node; "
                                + "remove them from securityContext.capabilities.add unless the container really needs them")
                    }
                }
            }
            if status.noNewPrivs == false {
                warnings.append(
                    "no_new_privs is off, so setuid binaries can gain privileges — set securityContext.allowPrivilegeEscalation: false")
            }
            if status.seccomp == 0 {
                warnings.append("seccomp is disabled — set securityContext.seccompProfile.type: RuntimeDefault to filter system calls")
            }
        }
        if readOnlyRoot == false {
            warnings.append(
                "the root filesystem is writable — set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the app writes")
        }

        return InspectSection(key: "securityContext", title: "Security context", rows: rows, warnings: warnings,
                              value: value(status, readOnlyRoot: readOnlyRoot))
    }

    private static func describe(_ ids: ProcessSecurityStatus.IDs) -> String {
        if ids.real == ids.effective && ids.effective == ids.saved && ids.saved == ids.filesystem { return "\(ids.effective)" }
        return "\(ids.real) real, \(ids.effective) effective, \(ids.saved) saved, \(ids.filesystem) filesystem"
    }

    static func seccompName(_ mode: Int64) -> String {
        switch mode {
        case 0: "disabled"
        case 1: "strict"
        case 2: "filter"
        default: "unknown"
        }
    }

    private static func value(_ status: ProcessSecurityStatus?, readOnlyRoot: Bool?) -> PodValue {
        func ids(_ ids: ProcessSecurityStatus.IDs?) -> PodValue {
            guard let ids else { return .null }
            return .object([
                .init("real", .integer(ids.real)), .init("effective", .integer(ids.effective)),
                .init("saved", .integer(ids.saved)), .init("filesystem", .integer(ids.filesystem)),
            ])
        }
        let capabilities: PodValue = status.map { status in
            .object(CapabilitySet.allCases.map { set in
                PodValue.Member(set.key, status.capabilities[set].map { mask in
                    .object([.init("mask", .text(hex16(mask))), .init("names", .list(Capability.names(in: mask).map(PodValue.text)))])
                } ?? .null)
            })
        } ?? .null
        return .object([
            .init("uid", ids(status?.uid)),
            .init("gid", ids(status?.gid)),
            .init("groups", status?.groups.map { .list($0.map(PodValue.integer)) } ?? .null),
            .init("capabilities", capabilities),
            .init("noNewPrivs", status?.noNewPrivs.map(PodValue.bool) ?? .null),
            .init("seccomp", status?.seccomp.map { mode in
                .object([.init("mode", .integer(mode)), .init("name", .text(seccompName(mode))),
                         .init("filters", status?.seccompFilters.map(PodValue.integer) ?? .null)])
            } ?? .null),
            .init("readOnlyRootFilesystem", readOnlyRoot.map(PodValue.bool) ?? .null),
        ])
    }

    /// A mask as `/proc/self/status` writes it: 16 lower-case hex digits.
    static func hex16(_ mask: UInt64) -> String {
        let digits = String(mask, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// Whether the mount at `/` is read-only, from `/proc/self/mountinfo` (proc(5)): field 5 is the
    /// mount point, field 6 the per-mount options, and after the ` - ` separator come the filesystem
    /// type, the source and the superblock options. `ro` in either option list makes it read-only. When
    /// `/` is mounted more than once, the last line is the mount on top, the one the process sees.
    ///
    /// Deliberately minimal — only the `/` line; the volumes section has the full mountinfo reader.
    static func rootMountIsReadOnly(mountinfo: String) -> Bool? {
        var result: Bool?
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[4] == "/" else { continue }
            var readOnly = fields[5].split(separator: ",").contains("ro")
            if let separator = fields.firstIndex(of: "-"), separator + 3 < fields.count {
                readOnly = readOnly || fields[separator + 3].split(separator: ",").contains("ro")
            }
            result = readOnly
        }
        return result
    }
}

/// The five capability sets of `/proc/PID/status`, in the order the kernel prints them.
enum CapabilitySet: CaseIterable {
    case inheritable, permitted, effective, bounding, ambient

    /// The `/proc/PID/status` field.
    var field: String {
        switch self {
        case .inheritable: "CapInh"
        case .permitted: "CapPrm"
        case .effective: "CapEff"
        case .bounding: "CapBnd"
        case .ambient: "CapAmb"
        }
    }

    /// The key in the section's value.
    var key: String {
        switch self {
        case .inheritable: "inheritable"
        case .permitted: "permitted"
        case .effective: "effective"
        case .bounding: "bounding"
        case .ambient: "ambient"
        }
    }

    var label: String { key }
}

/// Linux capabilities by bit number (`include/uapi/linux/capability.h`, as of Linux 5.9 which added
/// bit 40). Bits without a name here print as `cap_N`, as libcap does.
enum Capability {
    static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Every named capability (bits 0–40): a container that has all of them is privileged.
    static let allKnownMask: UInt64 = (1 << UInt64(names.count)) - 1

    /// Capabilities worth a warning when effective: each is enough to reach beyond the container.
    static let powerful: [(bit: Int, name: String)] = [21, 12, 19, 16, 17, 39, 25].map { ($0, names[$0]) }

    /// The names of the bits set in `mask`, lowest bit first.
    static func names(in mask: UInt64) -> [String] {
        (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map { $0 < names.count ? names[$0] : "cap_\($0)" }
    }
}

/// The security-related fields of `/proc/PID/status` (proc(5)).
struct ProcessSecurityStatus: Equatable {
    /// `Uid:` / `Gid:`: real, effective, saved set, filesystem.
    struct IDs: Equatable {
        var real: Int64
        var effective: Int64
        var saved: Int64
        var filesystem: Int64
    }

    var uid: IDs?
    var gid: IDs?
    var groups: [Int64]?
    var capabilities: [CapabilitySet: UInt64] = [:]
    var noNewPrivs: Bool?
    var seccomp: Int64?
    var seccompFilters: Int64?
    /// `TracerPid`: the process tracing this one with ptrace, 0 for none.
    var tracerPid: Int64?

    /// Reads `Name:\tvalue` lines; fields it does not know or cannot parse stay nil (older kernels lack
    /// `NoNewPrivs`, `Seccomp_filters` and `CapAmb`).
    init(status: String) {
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon]
            let values = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            switch name {
            case "Uid": uid = Self.ids(values)
            case "Gid": gid = Self.ids(values)
            case "Groups":
                let parsed = values.compactMap { Int64($0) }
                groups = parsed.count == values.count ? parsed : nil
            case "NoNewPrivs": noNewPrivs = values.first.flatMap { Int($0) }.map { $0 != 0 }
            case "Seccomp": seccomp = values.first.flatMap { Int64($0) }
            case "Seccomp_filters": seccompFilters = values.first.flatMap { Int64($0) }
            case "TracerPid": tracerPid = values.first.flatMap { Int64($0) }
            default:
                if let set = CapabilitySet.allCases.first(where: { $0.field == name }), let mask = values.first.flatMap({ UInt64($0, radix: 16) }) {
                    capabilities[set] = mask
                }
            }
        }
    }

    private static func ids(_ values: [Substring]) -> IDs? {
        let numbers = values.compactMap { Int64($0) }
        guard numbers.count == 4 else { return nil }
        return IDs(real: numbers[0], effective: numbers[1], saved: numbers[2], filesystem: numbers[3])
    }
}
