#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The few Linux/GNU calls process handling needs that Swift's `Glibc` module does not expose.
///
/// The module is built without `_GNU_SOURCE`, so `pipe2`, `prctl` (variadic, never imported) and
/// `posix_spawn_file_actions_addclosefrom_np` are invisible to Swift even though every glibc podagent
/// runs on has them. They are looked up once with `dlsym`; each has a portable fallback (or a clear
/// "unsupported" answer) for a C library without them, e.g. a fully static binary.
enum LinuxCalls {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    // prctl is variadic in C; its four extra arguments are all `unsigned long`, which the x86-64 and
    // arm64 Linux ABIs pass in the same registers as fixed arguments.
    private typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32

    private static func lookup<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let symbol = dlsym(nil, name) else { return nil }  // nil handle = RTLD_DEFAULT
        return unsafeBitCast(symbol, to: type)
    }

    private static let pipe2Call = lookup("pipe2", as: Pipe2.self)
    private static let closeFromCall = lookup("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self)
    private static let prctlCall = lookup("prctl", as: Prctl.self)

    /// A pipe whose two ends are close-on-exec from birth, so no other thread's fork can inherit them.
    static func makePipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if let pipe2Call {
            guard pipe2Call(&fds, O_CLOEXEC) == 0 else { throw SystemError("pipe2", "(pipe)") }
        } else {
            guard pipe(&fds) == 0 else { throw SystemError("pipe", "(pipe)") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    /// Makes the child close every descriptor from `lowest` up, whoever opened it and whether or not
    /// it is close-on-exec (libinotifytools, for one, opens its inotify descriptor without
    /// `IN_CLOEXEC`). Falls back to one close action per descriptor currently open in this process.
    static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, lowest: Int32) {
        if let closeFromCall, closeFromCall(&actions, lowest) == 0 { return }
        for fd in openDescriptors() where fd >= lowest {
            // Closing a descriptor that is already closed in the child is not an error for glibc.
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// The descriptors open in this process, from `/proc/self/fd`.
    static func openDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var result: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if let fd = Int32(name) { result.append(fd) }
        }
        return result
    }

    private static let setChildSubreaper: Int32 = 36  // PR_SET_CHILD_SUBREAPER, <linux/prctl.h>
    private static let getChildSubreaper: Int32 = 37  // PR_GET_CHILD_SUBREAPER

    /// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants are re-parented to this process
    /// instead of PID 1. Returns 0 or an errno value.
    static func becomeChildSubreaper() -> Int32 {
        guard let prctlCall else { return ENOSYS }
        return prctlCall(setChildSubreaper, 1, 0, 0, 0) == 0 ? 0 : errno
    }

    /// Whether this process is a child subreaper.
    static func isChildSubreaper() -> Bool {
        guard let prctlCall else { return false }
        var flag: Int32 = 0
        let result = withUnsafeMutablePointer(to: &flag) {
            prctlCall(getChildSubreaper, UInt(bitPattern: Int(bitPattern: $0)), 0, 0, 0)
        }
        return result == 0 && flag != 0
    }
}
