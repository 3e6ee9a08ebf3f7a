#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `processes` section of `podagent inspect`: whether this container shares its PID namespace with
/// the rest of the pod (`shareProcessNamespace: true`, which `podagent watch --signal` needs), and the
/// processes it can see.
///
/// Only each process's `comm` (the executable's name) is shown, never its command line: arguments
/// carry passwords and tokens often enough (`--password=…`, `curl -H "Authorization: …"`).
///
/// Whether the namespace is shared, in order:
/// 1. PID 1 is `pause`: the pod's sandbox process is only visible in a shared namespace.
/// 2. Visible processes sit in more than one cgroup (`/proc/PID/cgroup`): each container has its own,
///    so that means more than one container's processes; all in one cgroup means not shared.
/// 3. Without cgroup files (a crafted sandbox), not shared when every process other than podagent's own
///    family descends from PID 1; otherwise unknown. PID 1 not being podagent's ancestor alone proves
///    nothing: under `kubectl exec` podagent's parent is outside the namespace (ppid 0) in any case.
///
/// Value:
/// ```
/// {"sharedPIDNamespace": bool | null, "reason": "PID 1 is pause, the pod's sandbox process" | …,
///  "selfPID": Int | null, "count": Int,
///  "list": [{"pid", "ppid", "comm", "uid": Int | null, "state": "S", "cgroup": String | null, "self": bool}]}
/// ```
/// `list` is sorted by pid and leaves out kernel threads; `count` is its length.
public enum ProcessInspection {
    /// Lists `<root>/proc`. `selfPID` defaults to the target of `<root>/proc/self` (podagent itself on a
    /// real `/proc`).
    public static func inspect(paths: PodPaths, selfPID: Int32? = nil) -> InspectSection {
        let procRoot = paths.resolve("/proc")
        let selfPID = selfPID ?? readLinkNumber(FileSystem.join(procRoot, "self"))
        let finder = ProcessFinder(procRoot: procRoot, selfPID: selfPID ?? -1)
        let listed: [ProcessRecord]
        do {
            listed = try finder.processes()
        } catch {
            return InspectSection(
                key: "processes", title: "Processes", rows: [.init("(unreadable)", procRoot)],
                warnings: ["\(error) — is /proc mounted? (with --root, the sandbox needs a proc directory)"],
                value: .object([
                    .init("sharedPIDNamespace", .null), .init("reason", .null), .init("selfPID", selfPID.map { .integer(Int64($0)) } ?? .null),
                    .init("count", .integer(0)), .init("list", .list([])),
                ]))
        }
        let processes = listed.filter { !$0.isKernelThread }.sorted { $0.pid < $1.pid }.map { record in
            VisibleProcess(record: finder.record(pid: record.pid) ?? record,
                           cgroup: (try? FileSystem.readFile(FileSystem.join(procRoot, "\(record.pid)/cgroup"))).map { String(decoding: $0, as: UTF8.self) })
        }
        let verdict = sharedNamespace(processes, selfPID: selfPID)

        var rows: [InspectSection.Row] = [
            .init("shared PID namespace", (verdict.shared.map { $0 ? "yes" : "no" } ?? "unknown") + "  (\(verdict.reason))"),
            .init("visible processes", "\(processes.count)"),
        ]
        for process in processes {
            let record = process.record
            let uid = record.uid.map { "uid \($0)" } ?? "uid ?"
            rows.append(.init("\(record.pid)", "\(record.name)  (ppid \(record.parentPID), \(uid), \(record.state))\(record.pid == selfPID ? "  ← podagent" : "")", indent: 1))
        }
        let list = processes.map { process -> PodValue in
            let record = process.record
            return .object([
                .init("pid", .integer(Int64(record.pid))), .init("ppid", .integer(Int64(record.parentPID))),
                .init("comm", .text(record.name)), .init("uid", record.uid.map { .integer(Int64($0)) } ?? .null),
                .init("state", .text(String(record.state))),
                .init("cgroup", process.cgroupIdentity.map(PodValue.text) ?? .null),
                .init("self", .bool(record.pid == selfPID)),
            ])
        }
        return InspectSection(
            key: "processes", title: "Processes", rows: rows, warnings: [],
            value: .object([
                .init("sharedPIDNamespace", verdict.shared.map(PodValue.bool) ?? .null),
                .init("reason", .text(verdict.reason)),
                .init("selfPID", selfPID.map { .integer(Int64($0)) } ?? .null),
                .init("count", .integer(Int64(processes.count))),
                .init("list", .list(list)),
            ]))
    }

    struct VisibleProcess {
        var record: ProcessRecord
        /// `/proc/PID/cgroup` as read.
        var cgroup: String?

        /// What tells containers apart: the v2 line (`0::/…`) when there is one, else the whole file
        /// (v1 lists each controller, and every line differs between containers).
        var cgroupIdentity: String? {
            guard let cgroup else { return nil }
            let lines = cgroup.split(separator: "\n")
            if let unified = lines.first(where: { $0.hasPrefix("0::") }) { return String(unified.dropFirst(3)) }
            return lines.isEmpty ? nil : lines.joined(separator: ";")
        }
    }

    /// See the type's comment for the order of the rules.
    static func sharedNamespace(_ processes: [VisibleProcess], selfPID: Int32?) -> (shared: Bool?, reason: String) {
        let byPID = Dictionary(processes.map { ($0.record.pid, $0.record) }, uniquingKeysWith: { first, _ in first })
        // 1.
        if let first = byPID[1], first.name == "pause" {
            return (true, "PID 1 is pause, the pod's sandbox process")
        }
        // 2.
        let live = processes.filter { $0.record.state != "Z" }
        let cgroups = Set(live.compactMap(\.cgroupIdentity))
        if live.count > 1, live.allSatisfy({ $0.cgroupIdentity != nil }) {
            if cgroups.count > 1 {
                return (true, "processes of \(cgroups.count) cgroups are visible: more than one container's")
            }
            return (false, "every visible process is in this container's cgroup")
        }
        // 3.
        guard byPID[1] != nil else { return (nil, "PID 1 is not visible") }
        var family: Set<Int32> = []
        if let selfPID {
            var cursor: Int32? = selfPID
            while let pid = cursor, pid > 0, !family.contains(pid) {
                family.insert(pid)
                cursor = byPID[pid]?.parentPID
            }
        }
        func descendsFromInit(_ pid: Int32) -> Bool {
            var seen: Set<Int32> = []
            var cursor: Int32? = pid
            while let current = cursor, current > 0, seen.insert(current).inserted {
                if current == 1 { return true }
                cursor = byPID[current]?.parentPID
            }
            return false
        }
        let outsiders = processes.filter { !family.contains($0.record.pid) && !descendsFromInit($0.record.pid) }
        if outsiders.isEmpty {
            return (false, "every process descends from PID 1 \(byPID[1]!.name) or is podagent's own")
        }
        return (nil, "no cgroup files to tell containers apart, and \(outsiders.count) process(es) outside PID 1's tree")
    }

    /// The number a `/proc/self` symlink points to.
    private static func readLinkNumber(_ path: String) -> Int32? {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = readlink(path, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int32(target.split(separator: "/").last ?? "")
    }
}
