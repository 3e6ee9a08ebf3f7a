// Reading a volume written by the kubelet's atomic writer (configMap, secret, downwardAPI, projected).
//
// Layout (see kubernetes/kubernetes pkg/volume/util/atomic_writer.go, and AtomicWriter.swift):
//
//     ..2026_11_23_07_45_27.57250255/   real files; nested keys are real subdirectories
//     ..data -> ..2026_11_23_07_45_27.57250255
//     key    -> ..data/key               one symlink per top-level path component
//
// The reader resolves `..data` once, walks the generation it names, and then checks that `..data`
// still names the same generation; if the kubelet swapped it (or removed the old directory) in the
// middle, the read is retried. A snapshot is therefore always one complete generation.

import Glibc

/// The name of one generation directory, e.g. `..2026_11_23_07_45_27.57250255`.
///
/// The kubelet names each generation `mkdtemp(root, "..YYYY_MM_DD_HH_MM_SS.")` from its own wall clock
/// (UTC today). The name is only a hint: older kubelets used a 9-digit zero-padded suffix, and very old
/// ones formatted the date with a broken Go layout that yields names like `..2982_01_02_15_04_05.…`
/// (February) or `..119811_23_11_…` (November). Parse it for logs, never for ordering or freshness:
/// `MOVED_TO ..data` and the link target changing are the only reliable "new generation" signals.
public struct GenerationStamp: Sendable, Hashable, CustomStringConvertible {
    /// The directory name exactly as found, e.g. `..2026_11_23_07_45_27.57250255`.
    public var raw: String

    /// The six numbers of a stamp, in the order they appear in the name.
    ///
    /// For current kubelets they are the UTC date and time the generation was created; for very old
    /// ones they are whatever the broken layout produced (year 2982, "month" holding the day…).
    public struct Components: Sendable, Hashable {
        public var year: Int
        public var month: Int
        public var day: Int
        public var hour: Int
        public var minute: Int
        public var second: Int

        public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
            self.year = year
            self.month = month
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
        }

        /// The current UTC wall-clock time, as the kubelet formats it (`time.Now().UTC()`).
        public static func utcNow() -> Components {
            var now = time(nil)
            var broken = tm()
            gmtime_r(&now, &broken)
            return Components(
                year: Int(broken.tm_year) + 1900, month: Int(broken.tm_mon) + 1, day: Int(broken.tm_mday),
                hour: Int(broken.tm_hour), minute: Int(broken.tm_min), second: Int(broken.tm_sec))
        }
    }

    /// The six numbers, or nil when the name is not `..N_N_N_N_N_N.DIGITS` (not a kubelet generation).
    public var components: Components?

    /// The random decimal suffix after the last dot (`57250255`); empty when the name does not parse.
    /// Current kubelets write 1–10 digits (Go's `os.MkdirTemp`: a random uint32 in decimal), older
    /// ones exactly 9 zero-padded digits (`ioutil.TempDir`).
    public var suffix: String

    /// Parses a generation directory name; never fails — an unexpected name just has no components.
    public init(raw: String) {
        self.raw = raw
        if let (components, suffix) = Self.parse(raw) {
            self.components = components
            self.suffix = suffix
        } else {
            self.components = nil
            self.suffix = ""
        }
    }

    public var description: String { raw }

    /// Seconds since the Unix epoch of the stamp read as a UTC date, only when that date is plausible
    /// (years 1970–2199, real month/day/time). Nil for names of very old kubelets such as `..2982_…`.
    /// Approximate: it is the kubelet's clock, to the second, and pre-UTC kubelets used local time.
    public var approximateEpochSeconds: Int64? {
        guard let c = components,
            (1970...2199).contains(c.year), (1...12).contains(c.month),
            (1...Self.daysInMonth(year: c.year, month: c.month)).contains(c.day),
            (0...23).contains(c.hour), (0...59).contains(c.minute), (0...60).contains(c.second)
        else { return nil }
        let days = Self.daysFromCivil(year: c.year, month: c.month, day: c.day)
        return Int64(days) * 86_400 + Int64(c.hour * 3600 + c.minute * 60 + c.second)
    }

    /// The name prefix the kubelet passes to `MkdirTemp`: Go layout `..2006_01_02_15_04_05.`.
    static func directoryPrefix(for c: Components) -> String {
        ".." + pad(c.year, 4) + "_" + pad(c.month, 2) + "_" + pad(c.day, 2) + "_" + pad(c.hour, 2) + "_"
            + pad(c.minute, 2) + "_" + pad(c.second, 2) + "."
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func parse(_ raw: String) -> (Components, String)? {
        let bytes = Array(raw.utf8)
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "."), bytes[1] == UInt8(ascii: ".") else { return nil }
        var index = 2
        // Six decimal groups; the year group is 4 digits today but 6 in the oldest names. Nine digits
        // at most keeps the value far from overflow.
        func number() -> Int? {
            let start = index
            var value = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]), index - start < 9 {
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            return index > start ? value : nil
        }
        var numbers: [Int] = []
        for position in 0..<6 {
            guard let n = number() else { return nil }
            numbers.append(n)
            let separator = position < 5 ? UInt8(ascii: "_") : UInt8(ascii: ".")
            guard index < bytes.count, bytes[index] == separator else { return nil }
            index += 1
        }
        let suffix = bytes[index...]
        guard (1...20).contains(suffix.count), suffix.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        let components = Components(
            year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3], minute: numbers[4], second: numbers[5])
        return (components, String(decoding: suffix, as: UTF8.self))
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`); pure
    /// arithmetic, so it does not depend on the process time zone the way `mktime` does.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// One regular file of a generation, as seen through `..data`.
public struct VolumeFile: Sendable, Hashable {
    /// Path relative to the generation directory, e.g. `nested/key` (no leading `./`).
    public var path: String
    /// Size in bytes (of the data read, or from `lstat` when read without data).
    public var size: Int
    /// Permission bits (`st_mode & 0o7777`), e.g. 0o644 (defaultMode) or a per-item `mode`.
    public var mode: UInt32
    /// The contents; empty when read with `includeData: false`.
    public var data: [UInt8]

    public init(path: String, size: Int, mode: UInt32, data: [UInt8]) {
        self.path = path
        self.size = size
        self.mode = mode
        self.data = data
    }
}

/// One complete generation of an atomically written volume.
public struct VolumeSnapshot: Sendable, Hashable {
    /// The generation `..data` pointed to for the whole read.
    public var generation: GenerationStamp
    /// Every regular file of the generation, sorted byte-wise by path.
    public var files: [VolumeFile]
    /// Top-level names of the volume root other than the writer's reserved `..`-prefixed entries,
    /// sorted; normally one symlink per first path component of the payload (`key -> ..data/key`).
    public var userVisiblePaths: [String]

    public init(generation: GenerationStamp, files: [VolumeFile], userVisiblePaths: [String]) {
        self.generation = generation
        self.files = files
        self.userVisiblePaths = userVisiblePaths
    }
}

/// Why a volume could not be read.
public enum AtomicVolumeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The volume directory itself is missing or is not a directory.
    case directoryMissing(path: String)
    /// `..data` exists but is not a symlink, so this is not a volume the atomic writer manages.
    case dataNotSymlink(path: String)
    /// `..data` names a generation directory that does not exist.
    case generationMissing(path: String, target: String)
    /// A system call failed (errno kept for callers that care).
    case system(operation: String, path: String, errno: Int32)
    /// `..data` kept changing under the reader.
    case concurrentUpdates(path: String, attempts: Int)

    public var description: String {
        switch self {
        case .directoryMissing(let path):
            return "\(path) does not exist or is not a directory — is the volume mounted at this path?"
        case .dataNotSymlink(let path):
            return "\(path) is not a symlink — this directory is not managed by the kubelet's atomic writer"
                + " (subPath mounts and hostPath volumes are not updated atomically; watch the files instead)"
        case .generationMissing(let path, let target):
            return "\(path) points to \(target), which does not exist — the volume is broken or being torn down"
                + " (the kubelet rewrites it on its next sync)"
        case .system(let operation, let path, let errno):
            return "\(operation) \(path) failed: \(VolumeFS.message(errno))"
                + (errno == EACCES || errno == EPERM ? " — check that this process may read the volume" : "")
        case .concurrentUpdates(let path, let attempts):
            return "\(path)/..data changed during each of \(attempts) reads — the volume is being rewritten"
                + " continuously; retry later"
        }
    }
}

/// Reads volumes written by the kubelet's atomic writer.
public enum AtomicVolume {
    /// The symlink whose target names the current generation.
    public static let dataLinkName = "..data"

    /// How many times a read is retried when `..data` changes underneath it.
    static let maxAttempts = 5

    /// Reads the generation `..data` points to.
    ///
    /// Returns nil when the directory is not managed by the atomic writer (no `..data`). The snapshot is
    /// consistent: `..data` is read before and after walking the generation and the read is retried if
    /// it changed, so a concurrent kubelet update never yields a mix of two generations.
    /// `listVisiblePaths: false` leaves `userVisiblePaths` empty and saves listing the volume's root (the
    /// watcher's reload path needs only the files).
    public static func read(
        _ directory: String, includeData: Bool = true, listVisiblePaths: Bool = true
    ) throws(AtomicVolumeError) -> VolumeSnapshot? {
        let dataPath = VolumeFS.join(directory, dataLinkName)
        // A link read through the directory shows it is one; only without a link is the directory itself
        // looked at, to tell "not the kubelet's" from "not there" (one system call less per reload).
        var link: String?
        do throws(AtomicVolumeError) {
            link = try readDataLink(dataPath)
        } catch {
            guard VolumeFS.isDirectory(followingLinks: directory) else { throw .directoryMissing(path: directory) }
            throw error
        }
        for attempt in 0..<maxAttempts {
            if attempt > 0 { link = try readDataLink(dataPath) }
            guard let target = link else {
                // No link: a plain directory — or, before anything was read, no directory at all.
                if attempt == 0 && !VolumeFS.isDirectory(followingLinks: directory) { throw .directoryMissing(path: directory) }
                return nil
            }
            let generationPath = VolumeFS.join(directory, target)
            let files: [VolumeFile]
            do throws(VolumeSyscallError) {
                files = try VolumeFS.regularFiles(under: generationPath, includeData: includeData)
            } catch let error where error.errno == ENOENT {
                // Usually the kubelet removed this generation mid-walk (step 12): read the new one.
                // A link that still names a missing directory is a broken volume, not a race.
                if try readDataLink(dataPath) == target && VolumeFS.kind(generationPath) == nil {
                    throw .generationMissing(path: dataPath, target: target)
                }
                continue
            } catch {
                throw .system(operation: error.operation, path: error.path, errno: error.errno)
            }
            guard try readDataLink(dataPath) == target else { continue }
            var names: [String] = []
            do throws(VolumeSyscallError) {
                if listVisiblePaths { names = try VolumeFS.entries(of: directory) }
            } catch {
                throw .system(operation: error.operation, path: error.path, errno: error.errno)
            }
            let visible = names.filter { !$0.hasPrefix("..") }.sorted(by: VolumeFS.byteOrder)
            let name = target.split(separator: "/").last.map(String.init) ?? target
            return VolumeSnapshot(generation: GenerationStamp(raw: name), files: files, userVisiblePaths: visible)
        }
        throw .concurrentUpdates(path: directory, attempts: maxAttempts)
    }

    /// The link target with trailing slashes removed (upstream's doc shows `..data -> ..2016_…/`).
    private static func readDataLink(_ dataPath: String) throws(AtomicVolumeError) -> String? {
        do throws(VolumeSyscallError) {
            var target = try VolumeFS.readlink(dataPath)
            while target.count > 1, target.hasSuffix("/") { target.removeLast() }
            return target
        } catch let error where error.errno == ENOENT {
            return nil
        } catch let error where error.errno == EINVAL {
            throw .dataNotSymlink(path: dataPath)
        } catch {
            throw .system(operation: error.operation, path: error.path, errno: error.errno)
        }
    }
}

/// A failed system call: what, on which path, and errno.
struct VolumeSyscallError: Error, Sendable, Equatable {
    var operation: String
    var path: String
    var errno: Int32
}

/// Thin Glibc wrappers shared by the atomic writer and reader. Paths are plain strings; every
/// failure carries errno so callers can decide (ENOENT is often an expected answer here).
enum VolumeFS {
    enum Kind: Equatable { case directory, regular, symlink, other }

    /// `base/name` with exactly one slash between them; like Go's `filepath.Join`, an absolute
    /// `name` stays inside `base`.
    static func join(_ base: String, _ name: String) -> String {
        if base.isEmpty { return name }
        if name.isEmpty { return base }
        let head = base.hasSuffix("/") ? String(base.dropLast()) : base
        let tail = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return head + "/" + tail
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    static func message(_ code: Int32) -> String { String(cString: strerror(code)) }

    private static func failure(_ operation: String, _ path: String) -> VolumeSyscallError {
        VolumeSyscallError(operation: operation, path: path, errno: Glibc.errno)
    }

    /// `lstat`: the entry itself, symlinks not followed.
    static func lstatInfo(_ path: String) throws(VolumeSyscallError) -> stat {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw failure("lstat", path) }
        return info
    }

    static func kind(of info: stat) -> Kind {
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regular
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    /// The kind of the entry itself (symlinks not followed), or nil if it does not exist.
    static func kind(_ path: String) -> Kind? {
        guard let info = try? lstatInfo(path) else { return nil }
        return kind(of: info)
    }

    /// Whether `path` is a directory, following symlinks (a volume may be reached through a link,
    /// e.g. /var/run -> /run; upstream's NewAtomicWriter uses os.Stat).
    static func isDirectory(followingLinks path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && kind(of: info) == .directory
    }

    static func readlink(_ path: String) throws(VolumeSyscallError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { throw failure("readlink", path) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Names in a directory, without `.` and `..`, in readdir order.
    static func entries(of path: String) throws(VolumeSyscallError) -> [String] {
        guard let stream = opendir(path) else { throw failure("opendir", path) }
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 { throw failure("readdir", path) }
                return names
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// `sizeHint`: the size an `lstat` just gave (saves an `fstat`); only a hint, the file is read to its end.
    static func readFile(_ path: String, sizeHint: Int? = nil) throws(VolumeSyscallError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        // Read straight into the result, sized by fstat plus one byte (so the read that finds the end
        // needs no new buffer), growing only if the file grew meanwhile. No zero-filled scratch buffer:
        // this runs for every file of every generation on the reload path.
        var capacity: Int
        if let sizeHint {
            capacity = max(0, sizeHint) + 1
        } else {
            var info = stat()
            capacity = (fstat(fd, &info) == 0 ? max(0, Int(info.st_size)) : 0) + 1
        }
        // A read that stops short exactly at the size stat reported has reached the end: a regular file
        // gives what it has up to the count asked for, and one that grew would have filled the extra
        // byte. That saves the read that returns 0 — one system call per file, per reload.
        let statSize = capacity - 1
        var result: [UInt8] = []
        while true {
            let kept = result
            var failed = false
            var ended = false
            result = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                initialized = buffer.initialize(fromContentsOf: kept)
                while initialized < buffer.count {
                    let count = Glibc.read(fd, buffer.baseAddress! + initialized, buffer.count - initialized)
                    if count < 0 {
                        if Glibc.errno == EINTR { continue }
                        failed = true
                        return
                    }
                    if count == 0 {
                        ended = true
                        return
                    }
                    initialized += count
                    if initialized == statSize && initialized < buffer.count {
                        ended = true
                        return
                    }
                }
            }
            if failed { throw failure("read", path) }
            if ended { return result }
            capacity = max(capacity * 2, 64 * 1024)
        }
    }

    /// Every regular file below `root`, relative paths, sorted byte-wise. Symlinks are not followed.
    static func regularFiles(under root: String, includeData: Bool) throws(VolumeSyscallError) -> [VolumeFile] {
        var files: [VolumeFile] = []
        var pending: [String] = [""]
        while let relative = pending.popLast() {
            let directory = relative.isEmpty ? root : join(root, relative)
            for name in try entries(of: directory) {
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = join(root, path)
                let info = try lstatInfo(full)
                switch kind(of: info) {
                case .directory:
                    pending.append(path)
                case .regular:
                    let data = includeData ? try readFile(full, sizeHint: Int(info.st_size)) : []
                    files.append(VolumeFile(
                        path: path, size: includeData ? data.count : Int(info.st_size),
                        mode: UInt32(info.st_mode) & 0o7777, data: data))
                case .symlink, .other:
                    continue
                }
            }
        }
        return files.sorted { byteOrder($0.path, $1.path) }
    }

    /// Go's `os.RemoveAll`: removes a tree; a missing path is not an error.
    static func removeAll(_ path: String) throws(VolumeSyscallError) {
        let info: stat
        do throws(VolumeSyscallError) {
            info = try lstatInfo(path)
        } catch let error where error.errno == ENOENT {
            return
        }
        guard kind(of: info) == .directory else {
            guard unlink(path) == 0 || Glibc.errno == ENOENT else { throw failure("unlink", path) }
            return
        }
        for name in try entries(of: path) { try removeAll(join(path, name)) }
        guard rmdir(path) == 0 || Glibc.errno == ENOENT else { throw failure("rmdir", path) }
    }
}
