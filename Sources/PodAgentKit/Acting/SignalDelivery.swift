#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sends a signal to a process podagent did not start (`--signal SIG --process NAME | --pid-file F`)
/// and turns the kernel's refusal into advice.
///
/// For podagent's own children use `ChildProcess.send`, which cannot hit a recycled pid.
public enum SignalDelivery {
    /// `kill(pid, signal)`. `procRoot` is only used to name the target's owner in the EPERM message.
    public static func send(_ signal: Int32, to pid: Int32, procRoot: String = "/proc") throws(SignalDeliveryError) {
        // kill(0, …) and kill(-n, …) address process groups, kill(-1, …) every process we may signal:
        // never what a pid from a lookup or a pid file means.
        guard pid > 0 else { throw SignalDeliveryError(kind: .invalidTarget, pid: pid, signal: signal) }
        guard kill(pid, signal) != 0 else { return }
        let code = errno
        switch code {
        case EPERM:
            let owner = ProcessFinder(procRoot: procRoot).record(pid: pid)?.uid
            throw SignalDeliveryError(kind: .notPermitted(targetUID: owner, ourUID: geteuid()), pid: pid, signal: signal)
        case ESRCH:
            throw SignalDeliveryError(kind: .noSuchProcess, pid: pid, signal: signal)
        case EINVAL:
            throw SignalDeliveryError(kind: .invalidSignal, pid: pid, signal: signal)
        default:
            throw SignalDeliveryError(kind: .failed(errno: code), pid: pid, signal: signal)
        }
    }
}

/// Why a signal did not reach its process.
public struct SignalDeliveryError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of refusal.
    public enum Kind: Sendable, Equatable {
        /// EPERM: different UID and no CAP_KILL. The target's UID is read from /proc when visible.
        case notPermitted(targetUID: UInt32?, ourUID: UInt32)
        /// ESRCH: the process exited between lookup and signal.
        case noSuchProcess
        case invalidSignal
        case invalidTarget
        case failed(errno: Int32)
        /// `podagent run`'s app is not running (it has exited, and podagent ends with it).
        case appNotRunning
    }

    public var kind: Kind
    public var pid: Int32
    public var signal: Int32

    public var description: String {
        let name = SignalName.name(of: signal)
        switch kind {
        case .notPermitted(let target, let ours):
            let owner = target.map { " (uid \($0))" } ?? ""
            return "not permitted to signal PID \(pid)\(owner) with \(name): podagent runs as uid \(ours) — run podagent with the same UID as the target (securityContext.runAsUser) or grant CAP_KILL"
        case .noSuchProcess:
            return "PID \(pid) is gone: it exited before \(name) could be sent"
        case .invalidSignal:
            return "\(name) is not a valid signal on this system"
        case .invalidTarget:
            return "refusing to send \(name) to PID \(pid): not a single process"
        case .failed(let code):
            return "cannot send \(name) to PID \(pid): \(String(cString: strerror(code)))"
        case .appNotRunning:
            return "cannot send \(name) to the app: it is not running (it exited; podagent ends with it)"
        }
    }
}
