#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import NIOConcurrencyHelpers

/// The value of `--log-format`.
public enum LogFormat: String, Sendable, CaseIterable {
    /// One JSON object per line, for log collectors in a cluster.
    case json
    /// Aligned, readable lines for a person at a terminal.
    case text

    /// Parses `--log-format`; the error lists the valid values.
    public init(parsing text: String) throws(LogOptionError) {
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw LogOptionError(option: "--log-format", value: text, valid: Self.allCases.map(\.rawValue))
        }
        self = format
    }

    /// The format to use when none is given: text for a person at a terminal, JSON otherwise
    /// (a container's stderr is a pipe read by the node's log collector).
    public static func preferred(for output: LogOutput = .standardError) -> LogFormat {
        isatty(output.fileDescriptor) == 1 ? .text : .json
    }
}

extension Logger.Level {
    /// Parses `--log-level` (`trace` … `critical`, any case, `warn` for `warning`).
    public init(parsing text: String) throws(LogOptionError) {
        let lowered = text.lowercased()
        if let level = Logger.Level(rawValue: lowered == "warn" ? "warning" : lowered) {
            self = level
            return
        }
        throw LogOptionError(option: "--log-level", value: text, valid: Logger.Level.allCases.map(\.rawValue))
    }
}

/// An unknown `--log-format` or `--log-level` value.
public struct LogOptionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var option: String
    public var value: String
    public var valid: [String]

    public var description: String {
        "unknown \(option) `\(value)`: use one of \(valid.joined(separator: ", "))"
    }
}

/// Installs ``PodAgentLogHandler`` as the process's swift-log backend.
///
/// swift-log allows one bootstrap per process; this helper remembers that it ran so a second call
/// is a harmless no-op (returning false) instead of a crash. Tests exercise the handler directly.
public enum LogSetup {
    private static let done = NIOLockedValueBox(false)

    /// Every `Logger` created afterwards writes `format` lines at `level` and above to `output`.
    @discardableResult
    public static func bootstrap(
        format: LogFormat, level: Logger.Level, output: LogOutput = .standardError
    ) -> Bool {
        done.withLockedValue { done in
            guard !done else { return false }
            LoggingSystem.bootstrap { label in
                PodAgentLogHandler(label: label, format: format, level: level, output: output)
            }
            done = true
            return true
        }
    }
}
