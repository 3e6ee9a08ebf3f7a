#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a child process ended: it called `exit(code)`, or a signal killed it.
///
/// `podagent run` exits with `shellCode`, the same number a shell puts in `$?`, so a pod's
/// `lastState.terminated.exitCode` reads the same with or without podagent in front of the app.
public enum ProcessExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// The process exited by itself with this code (0–255).
    case exited(Int32)
    /// A signal with this number terminated the process.
    case signaled(Int32)

    /// Decodes a raw `waitpid` status. `WIFEXITED` and friends are C macros Swift cannot import,
    /// so this spells out the Linux encoding: low 7 bits = terminating signal (0 = exited), exit
    /// code in bits 8–15. Stopped children are never reported because podagent never asks for
    /// `WUNTRACED`.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        if signal == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(signal)
        }
    }

    /// The shell's convention: the exit code, or 128 + the signal number (SIGKILL → 137).
    public var shellCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }

    /// Whether the process exited with code 0.
    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with code \(code)"
        case .signaled(let signal): return "killed by \(SignalName.name(of: signal))"
        }
    }
}
