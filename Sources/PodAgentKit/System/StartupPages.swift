import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Gives back the pages of code and read-only data that only start-up used.
///
/// The binary and its shared libraries are mapped from their files. Every page that start-up touches
/// (argument parsing, the runtime's and the libraries' initialisation, setting up watches, binding the
/// endpoint) stays mapped until memory runs short, whether or not it ever runs again. So does every
/// page that some work touches only the first time it runs (the first reload, the first answer on each
/// status path: metadata the runtime builds on first use, first connections). These pages count in the
/// process's RSS and in the OOM killer's score; the steady state uses a fraction of them.
/// ``OneTimePages`` calls `release` after each of those.
///
/// `MADV_DONTNEED` unmaps such a page. It stays in the page cache, shared with every other process that
/// maps the file. A page that is needed again comes back with a minor fault, without a disk read while
/// the cache holds it. The first reload after start-up pays those faults once, well under a millisecond
/// to a couple of milliseconds.
///
/// Only pages that are exactly the file's are given back. That means pages of private read-only
/// mappings of a file, and of those only the pages `/proc/self/pagemap` reports as the file's page.
/// A page the process changed is anonymous and is kept: relocated pointers made read-only afterwards
/// (RELRO), or a debugger's breakpoint. Given back, such a page would come back as the file has it,
/// without the change. Read-only mappings cannot be written, so a page cannot change between the look
/// and the `madvise`. Without a readable pagemap, nothing is given back.
public enum StartupPages {
    /// What `release` gave back.
    public struct Released: Sendable, Equatable {
        /// Bytes unmapped.
        public var bytes: Int
        /// Mappings they came from.
        public var mappings: Int
    }

    /// Unmaps the file pages of this process's private read-only file mappings (see the type).
    public static func release() -> Released {
        var released = Released(bytes: 0, mappings: 0)
        guard let maps = try? FileSystem.readFile("/proc/self/maps") else { return released }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { return released }
        defer { close(pagemap) }
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pageSize > 0 else { return released }
        for mapping in fileMappings(maps) {
            let bytes = release(mapping, pagemap: pagemap, pageSize: pageSize)
            guard let bytes else { return released }  // pagemap unreadable: give back nothing more
            if bytes > 0 {
                released.bytes += bytes
                released.mappings += 1
            }
        }
        return released
    }

    /// A line of `/proc/PID/maps` that maps a file, private and not writable.
    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
        var path: String
    }

    /// The private read-only file mappings in the text of `/proc/PID/maps`: `start-end perms offset dev
    /// inode path`, with perms like `r-xp`. A path that does not start with `/` is a kernel region
    /// (`[vdso]`, `[vvar]`), not a file.
    static func fileMappings(_ maps: [UInt8]) -> [Mapping] {
        var result: [Mapping] = []
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            let perms = Array(fields[1])
            guard perms.count == 4, perms[0] == UInt8(ascii: "r"), perms[1] == UInt8(ascii: "-"),
                  perms[3] == UInt8(ascii: "p") else { continue }
            let path = String(decoding: fields[5], as: UTF8.self).trimmingLeadingSpaces()
            guard path.hasPrefix("/") else { continue }
            let range = fields[0].split(separator: UInt8(ascii: "-"))
            guard range.count == 2,
                  let start = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                  let end = UInt(String(decoding: range[1], as: UTF8.self), radix: 16), end > start
            else { continue }
            result.append(Mapping(start: start, end: end, path: path))
        }
        return result
    }

    /// Bit 63 of a pagemap entry: the page is present. Bit 61: it is a file page (or shared anonymous,
    /// which a private file mapping does not have); a page the process wrote to has it clear.
    static let present: UInt64 = 1 << 63
    static let filePage: UInt64 = 1 << 61

    /// Gives back the runs of present file pages in one mapping. Nil when its pagemap entries cannot be read.
    private static func release(_ mapping: Mapping, pagemap: Int32, pageSize: Int) -> Int? {
        let pages = Int(mapping.end - mapping.start) / pageSize
        var entries = [UInt64](repeating: 0, count: pages)
        let offset = off_t(mapping.start / UInt(pageSize)) * 8
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
        guard complete else { return nil }
        var released = 0
        var runStart: Int?
        for index in 0...pages {
            let givesBack = index < pages && entries[index] & (present | filePage) == present | filePage
            if givesBack {
                if runStart == nil { runStart = index }
            } else if let first = runStart {
                let address = UnsafeMutableRawPointer(bitPattern: mapping.start + UInt(first * pageSize))
                if madvise(address, (index - first) * pageSize, MADV_DONTNEED) == 0 {
                    released += (index - first) * pageSize
                }
                runStart = nil
            }
        }
        return released
    }
}

/// Gives back the pages only one-time work used (see ``StartupPages``), once after each kind of work
/// has run for the first time: start-up, the first reload, the first answer on each status path.
/// Each `release` reads the process's maps and pagemap (a few milliseconds); five in a process's life.
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
