#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Signal names as users write them in flags (`--signal HUP`, `SIGHUP`, `hup`, `1`) and as podagent
/// prints them. Numbers are Linux's.
public enum SignalName {
    /// Every named signal, by number, without the `SIG` prefix.
    public static let known: [(name: String, number: Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM),
        ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD), ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP),
        ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ),
        ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO), ("PWR", SIGPWR),
        ("SYS", SIGSYS),
    ]

    /// Other spellings the kill(1) of procps and util-linux accept.
    private static let aliases: [String: Int32] = ["IOT": SIGABRT, "CLD": SIGCHLD, "POLL": SIGIO]

    /// Linux's highest signal number (`SIGRTMAX`); real-time signals are accepted by number.
    public static let highest: Int32 = 64

    /// Parses a signal given by name (any case, with or without `SIG`) or number.
    public static func parse(_ text: String) throws(SignalNameError) -> Int32 {
        let trimmed = text.trimmingWhitespace()
        if let number = Int32(trimmed) {
            guard number >= 1 && number <= highest else { throw SignalNameError(text: text) }
            return number
        }
        var name = trimmed.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let entry = known.first(where: { $0.name == name }) { return entry.number }
        if let number = aliases[name] { return number }
        throw SignalNameError(text: text)
    }

    /// `SIGHUP` for 1; `signal 40` for numbers without a name.
    public static func name(of signal: Int32) -> String {
        known.first { $0.number == signal }.map { "SIG" + $0.name } ?? "signal \(signal)"
    }
}

/// A signal flag that names no signal; lists the names that work.
public struct SignalNameError: Error, CustomStringConvertible, Sendable, Equatable {
    public var text: String

    public var description: String {
        let names = SignalName.known.map(\.name).joined(separator: " ")
        return "unknown signal `\(text)`: use a name (HUP, SIGHUP, hup) or a number 1–\(SignalName.highest); names: \(names)"
    }
}

