import CLoadedObjects
import CMalloc
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
/// `release` unmaps (`MADV_DONTNEED`) every page of these segments that is still exactly the file's,
/// used or not; what the steady state runs comes back at once with a minor fault, from the page cache,
/// where the pages stay. What it does not lower: the page cache is charged to the pod's memory cgroup
/// as before (the kubelet's working set hardly changes). What it costs: if memory pressure reclaims
/// those pages from the cache before they are run again, the next run reads them from disk (from the
/// network, with an image snapshotter that pulls lazily), where a mapped page would have been
/// reclaimed a little later and read back the same way.
///
/// What it looks at: the segments of the loaded executable and libraries that the loader maps from the
/// file and never writes (`PT_LOAD` without `PF_W`, less any page shared with a writable segment;
/// objects with text relocations left out), walked with `dl_iterate_phdr`. That lists an object once
/// all its segments are mapped — a library `dlopen` is still relocating in another thread (an NSS module
/// for `getaddrinfo`) too, whose read-only segments relocation does not write — and holds the lock under
/// which objects are removed before they are unmapped, so no range is unmapped or mapped over meanwhile.
/// Other file mappings and all writable memory are left alone.
///
/// Of those segments, pages the process has its own copy of are kept: pagemap reports them anonymous (a
/// debugger's breakpoint, a uprobe). Each run of pages is looked up again right before its `madvise`,
/// and nothing is given back while a ptrace tracer is attached (`TracerPid`, read once before). That
/// lowers the risk of dropping a breakpoint set at that very moment; it does not rule it out, nor for a
/// uprobe or a write through /proc/PID/mem in those microseconds.
/// Without a readable pagemap (not Linux, or a sandbox without it) nothing is given back.
public enum StartupPages {
    /// What `release` gave back.
    public struct Released: Sendable, Equatable {
        /// Bytes unmapped.
        public var bytes: Int
        /// Segments they came from.
        public var segments: Int
        /// The page ranges given back, in order (for tests).
        var ranges: [Range<UInt>] = []
    }

    /// Unmaps the pages of the loaded executable's and libraries' never-written segments that are still
    /// the files' (see the type).
    public static func release() -> Released {
        guard !isTraced() else { return Released(bytes: 0, segments: 0) }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return Released(bytes: 0, segments: 0) }
        defer { close(pagemap) }
        let walk = UnsafeMutablePointer<Walk>.allocate(capacity: 1)
        walk.initialize(to: Walk(pagemap: pagemap, pageSize: Int(sysconf(Int32(_SC_PAGESIZE)))))
        defer { walk.deinitialize(count: 1); walk.deallocate() }
        _ = podagent_each_readonly_segment(releaseSegment, walk)
        return walk.pointee.released
    }

    /// What the segment walk carries through the C callback.
    private struct Walk {
        let pagemap: Int32
        let pageSize: Int
        var released = Released(bytes: 0, segments: 0)
        var failed = false
    }

    /// The C callback of `release`: gives back one segment's pages (runs inside `dl_iterate_phdr`).
    private static let releaseSegment: @convention(c) (UnsafeMutableRawPointer?, UInt, UInt) -> Void = { context, start, end in
        let walk = context!.assumingMemoryBound(to: Walk.self)
        guard !walk.pointee.failed else { return }
        guard let ranges = release(start, end, pagemap: walk.pointee.pagemap, pageSize: walk.pointee.pageSize) else {
            walk.pointee.failed = true  // pagemap unreadable: give back nothing more
            return
        }
        if !ranges.isEmpty {
            walk.pointee.released.bytes += ranges.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound) }
            walk.pointee.released.segments += 1
            walk.pointee.released.ranges += ranges
        }
    }

    /// The page ranges `release` looks at: the loaded objects' never-written segments (see the type).
    static func readOnlySegments() -> [Range<UInt>] {
        let ranges = UnsafeMutablePointer<[Range<UInt>]>.allocate(capacity: 1)
        ranges.initialize(to: [])
        defer { ranges.deinitialize(count: 1); ranges.deallocate() }
        _ = podagent_each_readonly_segment(collectSegment, ranges)
        return ranges.pointee
    }

    private static let collectSegment: @convention(c) (UnsafeMutableRawPointer?, UInt, UInt) -> Void = { context, start, end in
        context!.assumingMemoryBound(to: [Range<UInt>].self).pointee.append(start..<end)
    }

    /// Whether a debugger (or anything else using ptrace) is attached: `TracerPid:` in /proc/self/status
    /// is not 0. Unknown counts as attached.
    static func isTraced() -> Bool {
        isTraced(status: try? FileSystem.readFile("/proc/self/status"))
    }

    static func isTraced(status: [UInt8]?) -> Bool {
        guard let status, let tracer = ProcessSecurityStatus(status: String(decoding: status, as: UTF8.self)).tracerPid
        else { return true }
        return tracer != 0
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

    /// Gives back the runs of present file pages in [start, end), each looked up again right before its
    /// `madvise`, and returns them. Nil when the pagemap entries cannot be read.
    private static func release(_ start: UInt, _ end: UInt, pagemap: Int32, pageSize: Int) -> [Range<UInt>]? {
        guard pageSize > 0, end > start,
              let all = entries(pagemap, start, Int(end - start) / pageSize, pageSize: pageSize)
        else { return nil }
        var released: [Range<UInt>] = []
        runs(all) { first, count in
            let runStart = start + UInt(first * pageSize)
            guard let now = entries(pagemap, runStart, count, pageSize: pageSize) else { return }
            runs(now) { offset, length in
                let from = runStart + UInt(offset * pageSize)
                if madvise(UnsafeMutableRawPointer(bitPattern: from), length * pageSize, MADV_DONTNEED) == 0 {
                    released.append(from..<from + UInt(length * pageSize))
                }
            }
        }
        return released
    }
}

/// Gives back the pages of code and read-only data podagent is not using (see ``StartupPages``), and the
/// free pages inside malloc's heap (`malloc_trim`), once after each kind of work has run for the first
/// time: start-up, the first reload, the first answer on each status path. Each `release` walks the loaded objects and reads pagemap, ~0.6 ms, on the thread
/// that finished the work (an event loop's for a status answer); five in a process's life.
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
        podagent_malloc_trim()
        logger.debug("one-time pages given back", metadata: [
            "after": "\(kind)", "bytes": "\(released.bytes)", "segments": "\(released.segments)",
            "took": "\((ContinuousClock.now - started).reloadText)",
        ])
    }
}
