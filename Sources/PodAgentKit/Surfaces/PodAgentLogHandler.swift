#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

/// podagent's swift-log backend: one line per event, as JSON or readable text, on stderr.
///
/// JSON: `{"ts":"2026-11-23T19:20:00.123Z","level":"info","msg":"reload done","duration":"1.2ms","result":"success"}`
/// — metadata flattened into top-level keys (nested dictionaries as `parent.child`), every value a
/// string, keys after `ts`, `level`, `msg` in sorted order.
///
/// Text: `2026-11-23T19:20:00.123Z info  reload done  duration=1.2ms result=success` — values
/// with spaces, quotes or control characters are quoted, and the level is coloured when the
/// output is a terminal.
///
/// Each line is built in full and written with a single `write(2)`, so lines from concurrent
/// loggers never interleave. Secrets are logged with `.secret(value)` (see `Logger+Secret.swift`),
/// which keeps only their size.
public struct PodAgentLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    /// The logger's label; not printed (podagent is one program), kept for swift-log's contract.
    public let label: String
    public let format: LogFormat
    public let output: LogOutput

    public init(
        label: String, format: LogFormat, level: Logger.Level = .info, output: LogOutput = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let own = event.metadata {
            merged.merge(own) { _, new in new }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = .string("\(error)")
        }
        let line = LogLine(
            time: LogTimestamp.now(), level: event.level, message: event.message.description,
            fields: LogLine.flatten(merged))
        switch format {
        case .json: output.write(line.json())
        case .text: output.write(line.text(colour: output.colour))
        }
    }
}

/// Where log lines go: a file descriptor, written with one `write(2)` per line.
public struct LogOutput: Sendable {
    public let fileDescriptor: Int32
    /// ANSI colours in text lines; by default only for a terminal, and never with `NO_COLOR` set.
    public let colour: Bool

    /// stderr, with colour decided once from `isatty(2)`, `NO_COLOR` and `TERM=dumb`.
    public static let standardError = LogOutput(fileDescriptor: STDERR_FILENO)

    public init(fileDescriptor: Int32, colour: Bool? = nil) {
        self.fileDescriptor = fileDescriptor
        self.colour = colour ?? Self.wantsColour(fileDescriptor)
    }

    private static func wantsColour(_ fd: Int32) -> Bool {
        guard isatty(fd) == 1 else { return false }
        if let noColour = getenv("NO_COLOR"), noColour.pointee != 0 { return false }
        if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
        return true
    }

    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    // Nowhere to report a failing log sink; dropping the line beats blocking podagent.
                    return
                }
            }
        }
    }
}

/// `write(2)`, named apart from ``LogOutput``'s own `write`.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}

/// Wall-clock time split for RFC 3339 output.
struct LogTimestamp: Sendable, Equatable {
    var seconds: Int
    var milliseconds: Int

    static func now() -> LogTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return LogTimestamp(seconds: Int(spec.tv_sec), milliseconds: Int(spec.tv_nsec) / 1_000_000)
    }

    /// `2026-11-23T19:20:00.123Z`.
    var rfc3339: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
            + ".\(pad(milliseconds, 3))Z"
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// One event, ready to be rendered in either format.
fileprivate struct LogLine {
    var time: LogTimestamp
    var level: Logger.Level
    var message: String
    /// Flattened metadata, sorted by key.
    var fields: [(key: String, value: String)]

    /// Keys the JSON line uses itself; metadata with these names is moved aside, not dropped.
    static let reservedKeys: Set<String> = ["ts", "level", "msg"]

    static func flatten(_ metadata: Logger.Metadata) -> [(key: String, value: String)] {
        var fields: [(key: String, value: String)] = []
        func add(_ key: String, _ value: Logger.MetadataValue) {
            switch value {
            case .string(let text): fields.append((key, text))
            case .stringConvertible(let convertible): fields.append((key, convertible.description))
            case .array: fields.append((key, value.description))
            case .dictionary(let nested):
                for (nestedKey, nestedValue) in nested { add("\(key).\(nestedKey)", nestedValue) }
            }
        }
        for (key, value) in metadata { add(key, value) }
        return fields.sorted { $0.key < $1.key }
    }

    func json() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + message.utf8.count)
        out.append(contentsOf: #"{"ts":""#.utf8)
        out.append(contentsOf: time.rfc3339.utf8)
        out.append(contentsOf: #"","level":""#.utf8)
        out.append(contentsOf: level.rawValue.utf8)
        out.append(contentsOf: #"","msg":""#.utf8)
        JSONWriter.appendEscaped(message.utf8, to: &out)
        out.append(UInt8(ascii: "\""))
        for (key, value) in fields {
            out.append(contentsOf: #",""#.utf8)
            JSONWriter.appendEscaped((Self.reservedKeys.contains(key) ? "metadata.\(key)" : key).utf8, to: &out)
            out.append(contentsOf: #"":""#.utf8)
            JSONWriter.appendEscaped(value.utf8, to: &out)
            out.append(UInt8(ascii: "\""))
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    func text(colour: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + message.utf8.count)
        out.append(contentsOf: time.rfc3339.utf8)
        out.append(UInt8(ascii: " "))
        let name = level.rawValue
        if colour { out.append(contentsOf: Self.colourCode(level).utf8) }
        out.append(contentsOf: name.utf8)
        if colour { out.append(contentsOf: "\u{1B}[0m".utf8) }
        // Padded to "error"'s width so that messages of the common levels line up.
        out.append(contentsOf: String(repeating: " ", count: max(1, 6 - name.count)).utf8)
        // Control characters are escaped so that a message never spans lines.
        JSONWriter.appendEscaped(message.utf8, to: &out, escapingQuotes: false)
        for (index, (key, value)) in fields.enumerated() {
            out.append(contentsOf: (index == 0 ? "  " : " ").utf8)
            if colour { out.append(contentsOf: "\u{1B}[2m".utf8) }
            Self.appendLogfmt(key, to: &out)
            out.append(UInt8(ascii: "="))
            if colour { out.append(contentsOf: "\u{1B}[0m".utf8) }
            Self.appendLogfmt(value, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// A bare word when it is unambiguous, else a double-quoted, escaped string.
    private static func appendLogfmt(_ text: String, to out: inout [UInt8]) {
        let bare = !text.isEmpty && text.utf8.allSatisfy { byte in
            byte > 0x20 && byte != 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=")
                && byte != UInt8(ascii: "\\")
        }
        if bare {
            out.append(contentsOf: text.utf8)
        } else {
            out.append(UInt8(ascii: "\""))
            JSONWriter.appendEscaped(text.utf8, to: &out)
            out.append(UInt8(ascii: "\""))
        }
    }

    private static func colourCode(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "\u{1B}[2m"
        case .info: "\u{1B}[32m"
        case .notice: "\u{1B}[36m"
        case .warning: "\u{1B}[33m"
        case .error: "\u{1B}[31m"
        case .critical: "\u{1B}[1;31m"
        }
    }
}
