#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call, with the path it was about.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(_ operation: String, _ path: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno)))"
    }
}

/// The few file operations podagent needs, on raw system calls (no Foundation).
public enum FileSystem {
    public static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path)
            }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    /// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path`, so readers
    /// see either the old or the new content, never a torn file.
    public static func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemError) {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("create", tmp) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = SystemError("write", tmp)
                close(fd); unlink(tmp)
                throw e
            }
            offset += n
        }
        fchmod(fd, mode)
        fsync(fd)
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = SystemError("rename", tmp)
            unlink(tmp)
            throw e
        }
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw SystemError("mkdir", current)
            }
        }
        guard isDirectory(path) else { throw SystemError("mkdir", path, errno: ENOTDIR) }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `path` with every symlink resolved (realpath(3)); as given if it does not exist (yet).
    static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Joins `root` and an absolute pod path: `("/tmp/pod", "/etc/podinfo")` → `/tmp/pod/etc/podinfo`.
    public static func join(_ root: String, _ path: String) -> String {
        let trimmedRoot = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        if path.isEmpty { return trimmedRoot }
        if trimmedRoot == "/" { return path.hasPrefix("/") ? path : "/" + path }
        return trimmedRoot + (path.hasPrefix("/") ? path : "/" + path)
    }
}

/// Wall-clock time from the system, without Foundation.
public enum WallClock {
    public static func now() -> (seconds: Int64, nanoseconds: Int64) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), Int64(ts.tv_nsec))
    }

    /// UTC calendar fields of a Unix time.
    public static func utcComponents(_ seconds: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var t = time_t(seconds)
        var tmValue = tm()
        gmtime_r(&t, &tmValue)
        return (Int(tmValue.tm_year) + 1900, Int(tmValue.tm_mon) + 1, Int(tmValue.tm_mday),
                Int(tmValue.tm_hour), Int(tmValue.tm_min), Int(tmValue.tm_sec))
    }

    /// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed, `Z` suffix.
    public static func rfc3339Nano(seconds: Int64, nanoseconds: Int64) -> String {
        let c = utcComponents(seconds)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var text = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))"
        if nanoseconds > 0 {
            var fraction = pad(Int(nanoseconds), 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }
}
