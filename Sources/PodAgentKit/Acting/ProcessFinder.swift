#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Finds the process a `--signal` is meant for: by name (`--process nginx`) or pid file.
///
/// ```swift
/// let finder = ProcessFinder()
/// let master = try finder.oldest(named: "nginx")   // the master, not a worker
/// try SignalDelivery.send(SIGHUP, to: master.pid)
/// ```
///
/// A name matches a process's `comm` (`/proc/PID/stat`; the kernel truncates it to 15 bytes, so a
/// longer name matches its 15-byte prefix) or the basename of its `argv[0]` (`/proc/PID/cmdline`);
/// a name with a `/` must equal `argv[0]`. Of several matches the oldest by start time wins: an
/// nginx master, a gunicorn arbiter or a php-fpm master starts before the workers it forks, and a
/// worker that gets SIGHUP just dies. podagent itself, zombies and kernel threads never match.
/// Look up again before every signal: the app may have restarted under a new PID.
///
/// `procRoot` lets tests (and `--root`) use a fake tree; the default is the real `/proc`.
public struct ProcessFinder: Sendable {
    public var procRoot: String
    /// The process to leave out of every match (podagent itself).
    public var selfPID: Int32

    public init(procRoot: String = "/proc", selfPID: Int32 = getpid()) {
        self.procRoot = procRoot
        self.selfPID = selfPID
    }

    /// Every process visible under `procRoot`. Processes that vanish during the scan are skipped.
    public func processes() throws(ProcessLookupError) -> [ProcessRecord] {
        guard let directory = opendir(procRoot) else {
            throw ProcessLookupError(kind: .procUnreadable(path: procRoot, errno: errno))
        }
        defer { closedir(directory) }
        var records: [ProcessRecord] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard let pid = Int32(name), pid > 0, let record = record(pid: pid, withOwner: false) else { continue }
            records.append(record)
        }
        return records
    }

    /// One process, or nil when it does not exist (or is not visible).
    public func record(pid: Int32) -> ProcessRecord? { record(pid: pid, withOwner: true) }

    private func record(pid: Int32, withOwner: Bool) -> ProcessRecord? {
        let directory = FileSystem.join(procRoot, String(pid))
        guard let stat = try? FileSystem.readFile(directory + "/stat"),
              var record = ProcessRecord(pid: pid, stat: String(decoding: stat, as: UTF8.self))
        else { return nil }
        if let cmdline = try? FileSystem.readFile(directory + "/cmdline"), !cmdline.isEmpty {
            record.argv0 = String(decoding: cmdline.prefix { $0 != 0 }, as: UTF8.self)
        }
        if withOwner, let status = try? FileSystem.readFile(directory + "/status") {
            record.uid = ProcessRecord.realUID(status: String(decoding: status, as: UTF8.self))
        }
        return record
    }

    /// The oldest process matching `name`. Throws `noMatch`, whose message says when the PID
    /// namespace is probably not shared (nothing visible but podagent and its own family).
    public func oldest(named name: String) throws(ProcessLookupError) -> ProcessRecord {
        let all = try processes()
        let candidates = all.filter { record in
            guard record.pid != selfPID, record.state != "Z", !record.isKernelThread else { return false }
            // A path also matches the executable itself: nginx rewrites its argv[0], and a program
            // started through PATH has a bare one.
            return record.matches(name) || (name.contains("/") && executable(of: record.pid) == name)
        }
        // A match whose parent also matches is a worker of it. Workers usually start in the same clock
        // tick as their master, and after PID wraparound may have the lower PID: "oldest" alone could
        // pick one, and a worker that gets SIGHUP ignores it or dies.
        let matched = Set(candidates.map(\.pid))
        let masters = candidates.filter { !matched.contains($0.parentPID) }
        if let oldest = (masters.isEmpty ? candidates : masters).min(by: { ($0.startTime, $0.pid) < ($1.startTime, $1.pid) }) {
            return oldest
        }
        throw ProcessLookupError(kind: .noMatch(name: name, othersVisible: strangers(in: all).count))
    }

    /// `/proc/PID/exe`, when readable (another UID's needs CAP_SYS_PTRACE).
    func executable(of pid: Int32) -> String? {
        try? VolumeFS.readlink(FileSystem.join(procRoot, String(pid)) + "/exe")
    }

    /// Processes that are neither podagent, its ancestors, its descendants, the pod's `pause`
    /// process nor kernel threads: if there are none, podagent cannot see the other containers.
    func strangers(in all: [ProcessRecord]) -> [ProcessRecord] {
        let byPID = Dictionary(all.map { ($0.pid, $0) }, uniquingKeysWith: { first, _ in first })
        var family: Set<Int32> = [selfPID]
        var cursor = byPID[selfPID]?.parentPID ?? 0
        while cursor > 0, !family.contains(cursor) {
            family.insert(cursor)
            cursor = byPID[cursor]?.parentPID ?? 0
        }
        var frontier = [selfPID]
        while let parent = frontier.popLast() {
            for record in all where record.parentPID == parent && !family.contains(record.pid) {
                family.insert(record.pid)
                frontier.append(record.pid)
            }
        }
        return all.filter { !family.contains($0.pid) && $0.name != "pause" && !$0.isKernelThread }
    }

    /// Reads a pid file: one decimal PID, surrounding whitespace allowed. The process must exist.
    public func pid(fromFile path: String) throws(ProcessLookupError) -> Int32 {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path) } catch {
            throw ProcessLookupError(kind: .pidFileUnreadable(path: path, errno: error.errno))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let trimmed = text.split(whereSeparator: { $0.isWhitespace }).first.map(String.init) ?? ""
        guard let pid = Int32(trimmed), pid > 0,
              text.split(whereSeparator: { $0.isWhitespace }).count == 1
        else {
            throw ProcessLookupError(kind: .pidFileInvalid(path: path, content: String(text.prefix(40))))
        }
        // Another container's app, in a pod whose PID namespace is not shared, writes its own PID — often
        // 1, which is podagent itself when podagent is its container's PID 1. Signalling that would be
        // a silent no-op (PID 1 without a handler) or podagent killing itself.
        if pid == selfPID {
            throw ProcessLookupError(kind: .pidFileNamesPodagent(path: path, pid: pid))
        }
        // kill(pid, 0) checks existence without sending anything; EPERM means it exists.
        if kill(pid, 0) != 0 && errno == ESRCH {
            throw ProcessLookupError(kind: .pidFileStale(path: path, pid: pid))
        }
        return pid
    }
}

/// One process as `/proc/PID/stat` and `/proc/PID/cmdline` show it.
public struct ProcessRecord: Sendable, Equatable {
    public var pid: Int32
    public var parentPID: Int32
    /// `comm`: the executable's name, at most 15 bytes (or what the process set with PR_SET_NAME).
    public var name: String
    /// The first element of the command line; nil for zombies and kernel threads.
    public var argv0: String?
    /// One letter: R, S, D, Z, T, …
    public var state: Character
    /// Field 22 of `stat`: clock ticks after boot at which the process started.
    public var startTime: UInt64
    /// Field 9 of `stat`: the kernel's PF_* flags.
    public var flags: UInt64
    /// Real UID from `/proc/PID/status`, when read.
    public var uid: UInt32?

    /// Parses `/proc/PID/stat`. The name sits between the first `(` and the LAST `)`, because it
    /// may itself contain spaces and parentheses (`(my (odd) name)`); fields are numbered from 1
    /// as in proc(5), so the state, field 3, is the first after the `)`.
    public init?(pid: Int32, stat: String) {
        let bytes = Array(stat.utf8)
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")), open < close
        else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 20, let state = fields[0].first,
              let parent = Int32(fields[1]), let flags = UInt64(fields[6]),
              let start = UInt64(fields[19].trimmingSuffixNewline())
        else { return nil }
        self.pid = pid
        self.parentPID = parent
        self.name = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        self.state = state
        self.flags = flags
        self.startTime = start
    }

    /// PF_KTHREAD.
    public var isKernelThread: Bool { flags & 0x0020_0000 != 0 }

    /// Whether `wanted` names this process (see `ProcessFinder`).
    public func matches(_ wanted: String) -> Bool {
        guard !wanted.isEmpty else { return false }
        if wanted.contains("/") { return argv0 == wanted }
        if name == wanted { return true }
        let base = argv0?.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init)
        if base == wanted { return true }
        let commLimit = 15
        if wanted.utf8.count > commLimit && name.utf8.count == commLimit && wanted.utf8.starts(with: name.utf8) {
            // comm is the executable's name cut at 15 bytes. When argv[0] names that longer program — as
            // a path, or at the start of a title the program rewrote (`my-long-daemon: master process`) —
            // it decides; else (no argv[0], or one about something else) the prefix is all there is.
            let program = base.map { String($0.prefix { $0 != " " && $0 != ":" }) } ?? ""
            if program.utf8.count > commLimit, program.utf8.starts(with: name.utf8) { return program == wanted }
            return true
        }
        return false
    }

    static func realUID(status: String) -> UInt32? {
        for line in status.split(separator: "\n") where line.hasPrefix("Uid:") {
            return line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " }).first.flatMap { UInt32($0) }
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingSuffixNewline() -> Substring {
        var text = Substring(self)
        while text.last == "\n" { text.removeLast() }
        return text
    }
}

/// Why no process could be chosen.
public struct ProcessLookupError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure.
    public enum Kind: Sendable, Equatable {
        /// Nothing matched; `othersVisible` counts processes outside podagent's own family.
        case noMatch(name: String, othersVisible: Int)
        case pidFileUnreadable(path: String, errno: Int32)
        case pidFileInvalid(path: String, content: String)
        /// The pid file names a process that does not exist (in podagent's PID namespace).
        case pidFileStale(path: String, pid: Int32)
        /// The pid file names podagent's own PID.
        case pidFileNamesPodagent(path: String, pid: Int32)
        case procUnreadable(path: String, errno: Int32)
    }

    public var kind: Kind

    public var description: String {
        switch kind {
        case .noMatch(let name, 0):
            return "no process named \(name) is visible — the PID namespace may not be shared: set `shareProcessNamespace: true` in the pod spec"
        case .noMatch(let name, let others):
            return "no process named \(name) among the \(others) other visible processes (a name matches /proc/PID/comm or the basename of argv[0]; a path, argv[0] or /proc/PID/exe)"
        case .pidFileUnreadable(let path, let code):
            if code == ENOENT {
                return "pid file \(path) does not exist — has the process started, and is the file on a volume shared with podagent?"
            }
            return "cannot read pid file \(path): \(String(cString: strerror(code)))"
        case .pidFileInvalid(let path, let content):
            return "pid file \(path) does not hold a PID (it starts with \"\(content)\")"
        case .pidFileStale(let path, let pid):
            return "pid file \(path) names PID \(pid), which is not running here — a stale file, or a process in another container of a pod without `shareProcessNamespace: true`"
        case .pidFileNamesPodagent(let path, let pid):
            return "pid file \(path) names PID \(pid), which is podagent itself — the PID was written in another PID namespace (a pod without `shareProcessNamespace: true`?), so it does not name the app here"
        case .procUnreadable(let path, let code):
            return "cannot list processes in \(path): \(String(cString: strerror(code)))"
        }
    }
}
