import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Unmaps the pages of code and read-only data the process is not using, after work that runs once.
///
/// The binary and its shared libraries are mapped from their files. Every page that start-up touches
/// (argument parsing, the runtime's and the libraries' initialisation, placing watches, binding the
/// endpoint) stays mapped until memory runs short, whether or not it ever runs again. So does every
/// page that some work touches only the first time it runs (the first reload, the first answer on each
/// status path: metadata the runtime builds on first use, first connections). These pages count in the
/// process's RSS and in the OOM killer's score. ``OneTimePages`` calls `release` after each of those.
///
/// `release` unmaps (`MADV_DONTNEED`) every page of these mappings that is still exactly the file's,
/// used or not; what the steady state runs comes back at once with a minor fault, from the page cache,
/// where the pages stay. What it does not lower: the page cache is charged to the pod's memory cgroup
/// as before (the kubelet's working set hardly changes). What it costs: if memory pressure reclaims
/// those pages from the cache before they are run again, the next run reads them from disk (from the
/// network, with an image snapshotter that pulls lazily), where a mapped page would have been
/// reclaimed a little later and read back the same way.
///
/// What it leaves alone, so that nothing the process or the loader changed is lost:
/// - pages the process has its own copy of: pagemap reports them anonymous (relocated pointers that
///   are read-only after relocation, a debugger's breakpoint, a uprobe). Each run of pages is looked
///   up again right before its `madvise`; a breakpoint or uprobe placed in those microseconds would be
///   lost, so nothing is given back while a tracer is attached (`TracerPid`);
/// - writable mappings;
/// - files not yet (or never) mapped as a loaded ELF object is, with a writable data segment beside
///   its read-only ones. `dlopen` in another thread (an NSS module for `getaddrinfo`) first maps a
///   library's whole span with its first segment's protection, then the rest over it, the data
///   segment last, and relocates that; only once the data segment is in place are the read-only
///   mappings of the file final, never written by the loader again.
/// Without a readable pagemap (not Linux, or a sandbox without it) nothing is given back.
public enum StartupPages {
    /// What `release` gave back.
    public struct Released: Sendable, Equatable {
        /// Bytes unmapped.
        public var bytes: Int
        /// Mappings they came from.
        public var mappings: Int
    }

    /// Unmaps the pages of code and read-only data of the loaded executable and libraries that are still
    /// the files' (see the type).
    public static func release() -> Released {
        var released = Released(bytes: 0, mappings: 0)
        guard !isTraced(), let maps = try? FileSystem.readFile("/proc/self/maps") else { return released }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return released }
        defer { close(pagemap) }
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pageSize > 0 else { return released }
        for mapping in candidates(maps) {
            guard let bytes = release(mapping, pagemap: pagemap, pageSize: pageSize) else {
                return released  // pagemap unreadable: give back nothing more
            }
            if bytes > 0 {
                released.bytes += bytes
                released.mappings += 1
            }
        }
        return released
    }

    /// A line of `/proc/PID/maps`: a file mapped private and not writable.
    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
        var path: String
    }

    /// The mappings of `/proc/PID/maps` (`start-end perms offset dev inode path`, perms like `r-xp`)
    /// that `release` may give back: private and not writable, of a file (a path that does not start
    /// with `/` is a kernel region such as `[vdso]`) that also has a private writable mapping, as a
    /// loaded executable or library has for its data.
    static func candidates(_ maps: [UInt8]) -> [Mapping] {
        var readOnly: [(mapping: Mapping, path: String)] = []
        var hasData: Set<String> = []
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let perms = Array(fields[1])
            guard perms.count == 4, perms[0] == UInt8(ascii: "r"), perms[3] == UInt8(ascii: "p") else { continue }
            let path = String(decoding: fields[5], as: UTF8.self).trimmingLeadingSpaces()
            guard path.hasPrefix("/") else { continue }
            if perms[1] == UInt8(ascii: "w") {
                hasData.insert(path)
                continue
            }
            let range = fields[0].split(separator: UInt8(ascii: "-"))
            guard range.count == 2,
                  let start = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                  let end = UInt(String(decoding: range[1], as: UTF8.self), radix: 16), end > start
            else { continue }
            readOnly.append((Mapping(start: start, end: end, path: path), path))
        }
        return readOnly.filter { hasData.contains($0.path) }.map(\.mapping)
    }

    /// Whether a debugger (or anything else using ptrace) is attached: `TracerPid:` in /proc/self/status
    /// is not 0. Unknown counts as attached.
    static func isTraced() -> Bool {
        isTraced(status: try? FileSystem.readFile("/proc/self/status"))
    }

    static func isTraced(status: [UInt8]?) -> Bool {
        guard let status else { return true }
        for line in status.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("TracerPid:".utf8)) {
            let value = String(decoding: line.dropFirst("TracerPid:".utf8.count), as: UTF8.self)
            return value.drop { $0 == " " || $0 == "\t" } != "0"
        }
        return true
    }

    /// Bit 63 of a pagemap entry: the page is present. Bit 61: it is a file page (or shared anonymous,
    /// which a private file mapping does not have); a page the process has its own copy of has it clear.
    static let present: UInt64 = 1 << 63
    static let filePage: UInt64 = 1 << 61

    /// The pagemap entries of `count` pages from `start`; nil when they cannot be read.
    private static func entries(_ pagemap: Int32, _ start: UInt, _ count: Int, pageSize: Int) -> [UInt64]? {
        var entries = [UInt64](repeating: 0, count: count)
        let offset = off_t(start / UInt(pageSize)) * 8
        let complete = entries.withUnsafeMutableBytes { buffer -> Bool in
            var done = 0
            while done < buffer.count {
                let n = pread(pagemap, buffer.baseAddress! + done, buffer.count - done, offset + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        return complete ? entries : nil
    }

    /// Calls `body` with each maximal run (first page, count) of pages that are present and the file's.
    private static func runs(_ entries: [UInt64], _ body: (Int, Int) -> Void) {
        var runStart: Int?
        for index in 0...entries.count {
            if index < entries.count && entries[index] & (present | filePage) == present | filePage {
                if runStart == nil { runStart = index }
            } else if let first = runStart {
                body(first, index - first)
                runStart = nil
            }
        }
    }

    /// Gives back the runs of present file pages in one mapping, each looked up again right before its
    /// `madvise`. Nil when its pagemap entries cannot be read.
    private static func release(_ mapping: Mapping, pagemap: Int32, pageSize: Int) -> Int? {
        guard let all = entries(pagemap, mapping.start, Int(mapping.end - mapping.start) / pageSize, pageSize: pageSize)
        else { return nil }
        var released = 0
        runs(all) { first, count in
            let runStart = mapping.start + UInt(first * pageSize)
            guard let now = entries(pagemap, runStart, count, pageSize: pageSize) else { return }
            runs(now) { offset, length in
                let address = UnsafeMutableRawPointer(bitPattern: runStart + UInt(offset * pageSize))
                if madvise(address, length * pageSize, MADV_DONTNEED) == 0 { released += length * pageSize }
            }
        }
        return released
    }
}

/// Gives back the pages of code and read-only data podagent is not using (see ``StartupPages``), once
/// after each kind of work has run for the first time: start-up, the first reload, the first answer on
/// each status path. Each `release` reads the process's maps and pagemap and takes ~0.6 ms, on the
/// thread that finished the work (an event loop's for a status answer); five in a process's life.
public final class OneTimePages: Sendable {
    private let done = Mutex<Set<String>>([])
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// `kind` of work has just run; the first time it has, give back what it used only then.
    public func ran(_ kind: String) {
        guard done.withLock({ $0.insert(kind).inserted }) else { return }
        let started = ContinuousClock.now
        let released = StartupPages.release()
        logger.debug("one-time pages given back", metadata: [
            "after": "\(kind)", "bytes": "\(released.bytes)", "mappings": "\(released.mappings)",
            "took": "\((ContinuousClock.now - started).reloadText)",
        ])
    }
}

extension String {
    fileprivate func trimmingLeadingSpaces() -> String {
        String(drop { $0 == " " })
    }
}
