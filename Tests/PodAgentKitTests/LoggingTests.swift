import Foundation  // JSONSerialization, to check the JSON lines with a real parser; tests only.
import Glibc
import Logging
import Testing

@testable import PodAgentKit

/// A pipe standing in for stderr: the handler writes to its write end as it would to fd 2,
/// and the test reads back exactly the bytes that were written.
final class ObsLogPipe {
    let readEnd: Int32
    let writeEnd: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        readEnd = fds[0]
        writeEnd = fds[1]
        // Room for every test's output, so writers never block on a reader that runs afterwards.
        let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ, which Glibc's Swift module does not export
        _ = fcntl(writeEnd, setPipeSize, Int32(1 << 20))
    }

    func logger(_ format: LogFormat, level: Logger.Level = .trace, colour: Bool = false) -> Logger {
        let output = LogOutput(fileDescriptor: writeEnd, colour: colour)
        return Logger(label: "test") { label in
            PodAgentLogHandler(label: label, format: format, level: level, output: output)
        }
    }

    /// Closes the write end and returns everything written, split into lines (terminators removed).
    func lines() -> [String] {
        close(writeEnd)
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(readEnd, &chunk, chunk.count)
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        close(readEnd)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.isEmpty || text.hasSuffix("\n"), "output does not end with a newline")
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }
}

func obsParseJSON(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}

func obsIsTimestamp(_ text: some StringProtocol) -> Bool {
    String(text).wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/#) != nil
}

/// The pseudo-terminal calls, which Glibc's Swift module hides behind _XOPEN_SOURCE.
enum ObsPseudoTerminal {
    /// Opens a new pseudo-terminal pair; returns (master, terminal) descriptors.
    static func open() -> (master: Int32, terminal: Int32)? {
        typealias OpenPT = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        guard let openpt = symbol("posix_openpt", as: OpenPT.self), let grant = symbol("grantpt", as: OpenPT.self),
            let unlock = symbol("unlockpt", as: OpenPT.self), let name = symbol("ptsname", as: Name.self)
        else { return nil }
        let master = openpt(O_RDWR | O_NOCTTY)
        guard master >= 0 else { return nil }
        guard grant(master) == 0, unlock(master) == 0, let path = name(master) else {
            close(master)
            return nil
        }
        let terminal = Glibc.open(path, O_RDWR | O_NOCTTY)
        guard terminal >= 0 else {
            close(master)
            return nil
        }
        return (master, terminal)
    }

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }
}

@Suite("Logging: JSON and text lines, redaction, atomic writes")
struct LoggingTests {
    @Test("A JSON line is one object with ts, level, msg and the metadata as string values")
    func jsonLine() throws {
        let pipe = ObsLogPipe()
        let before = time(nil)
        pipe.logger(.json).info("reload done", metadata: ["trigger": "\(3)", "result": "success"])
        let lines = pipe.lines()
        try #require(lines.count == 1)
        let object = try #require(obsParseJSON(lines[0]), "not JSON: \(lines[0])")
        #expect(object["level"] as? String == "info")
        #expect(object["msg"] as? String == "reload done")
        #expect(object["trigger"] as? String == "3")
        #expect(object["result"] as? String == "success")
        #expect(object.count == 5)
        #expect(lines[0].hasPrefix(#"{"ts":""#), "ts comes first")

        let ts = try #require(object["ts"] as? String)
        #expect(obsIsTimestamp(ts), "ts \(ts) is not RFC 3339 with millis in UTC")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(formatter.date(from: ts))
        #expect(abs(parsed.timeIntervalSince1970 - Double(before)) < 60, "ts \(ts) is not now")
    }

    @Test("Quotes, backslashes, newlines and control characters are escaped, and parse back unchanged")
    func jsonEscaping() throws {
        let pipe = ObsLogPipe()
        let message = "check failed: \"nginx -t\"\nemerg: unknown directive \\x\tat line 3\u{01} ✓ é"
        let stderr = "line 1\nline \"2\"\r\n\u{1B}[31m"
        pipe.logger(.json).error("\(message)", metadata: ["stderr": "\(stderr)", "quote\"key": "v"])
        let lines = pipe.lines()
        try #require(lines.count == 1, "a multi-line message must stay on one line")
        let object = try #require(obsParseJSON(lines[0]), "not JSON: \(lines[0])")
        #expect(object["msg"] as? String == message)
        #expect(object["stderr"] as? String == stderr)
        #expect(object["quote\"key"] as? String == "v")
        #expect(lines[0].contains(#"\u001b"#) && lines[0].contains(#"\u0001"#))
    }

    @Test("Nested metadata is flattened to dotted keys; lists and other values become strings")
    func jsonFlattening() throws {
        let pipe = ObsLogPipe()
        pipe.logger(.json).notice(
            "change set",
            metadata: [
                "volume": ["directory": "/etc/config", "generation": "..2026_11_23_19_20_00.123"],
                "files": ["nginx.conf", "mime.types"],
                "count": .stringConvertible(2),
                "msg": "collides with the message key",
            ])
        let object = try #require(obsParseJSON(pipe.lines()[0]))
        #expect(object["volume.directory"] as? String == "/etc/config")
        #expect(object["volume.generation"] as? String == "..2026_11_23_19_20_00.123")
        let files = try #require(object["files"] as? String)
        #expect(files.contains("nginx.conf") && files.contains("mime.types"))
        #expect(object["count"] as? String == "2")
        #expect(object["msg"] as? String == "change set")
        #expect(object["metadata.msg"] as? String == "collides with the message key")
    }

    @Test("Handler metadata, provider metadata, call metadata and the error all appear; the call wins")
    func metadataSources() throws {
        let pipe = ObsLogPipe()
        let output = LogOutput(fileDescriptor: pipe.writeEnd, colour: false)
        var logger = Logger(label: "test") { label in
            PodAgentLogHandler(
                label: label, format: .json, output: output,
                metadataProvider: Logger.MetadataProvider { ["pod": "web-0"] })
        }
        logger[metadataKey: "component"] = "watch"
        logger[metadataKey: "volume"] = "/etc/a"
        struct Failure: Error, CustomStringConvertible { var description: String { "boom" } }
        logger.warning("x", error: Failure(), metadata: ["volume": "/etc/b"])
        logger.info("y")
        let lines = pipe.lines()
        let first = try #require(obsParseJSON(lines[0]))
        #expect(first["component"] as? String == "watch")
        #expect(first["pod"] as? String == "web-0")
        #expect(first["volume"] as? String == "/etc/b")
        #expect(first["error"] as? String == "boom")
        let second = try #require(obsParseJSON(lines[1]))
        #expect(second["volume"] as? String == "/etc/a")
        #expect(second["error"] == nil)
    }

    @Test("A text line reads: time, padded level, message, two spaces, sorted key=value pairs")
    func textLine() throws {
        let pipe = ObsLogPipe()
        let logger = pipe.logger(.text)
        logger.info("reload done", metadata: ["trigger": "3", "duration": "1.2ms", "result": "success"])
        logger.warning("check failed", metadata: ["stderr": "nginx: [emerg] \"x\"\nline 2", "empty": ""])
        logger.error("no metadata")
        let lines = pipe.lines()
        try #require(lines.count == 3)
        let (ts, rest) = (lines[0].prefix(24), lines[0].dropFirst(24))
        #expect(obsIsTimestamp(ts), "\(lines[0])")
        #expect(rest == " info  reload done  duration=1.2ms result=success trigger=3")
        #expect(lines[1].dropFirst(24) == #" warning check failed  empty="" stderr="nginx: [emerg] \"x\"\nline 2""#)
        #expect(lines[2].dropFirst(24) == " error no metadata")
        #expect(!lines.joined().contains("\u{1B}"), "no colour when not asked for")
    }

    @Test("A text line's message keeps quotes and backslashes as they are and escapes control characters")
    func textMessageEscaping() throws {
        let pipe = ObsLogPipe()
        pipe.logger(.text).info("say \"hi\" C:\\x\nnext\u{01}")
        let lines = pipe.lines()
        try #require(lines.count == 1)
        #expect(lines[0].dropFirst(24) == #" info  say "hi" C:\x\nnext\u0001"#)
    }

    @Test("Text lines colour the level only when colour is on; a pipe gets none by default, a terminal does")
    func textColour() throws {
        let pipe = ObsLogPipe()
        pipe.logger(.text, colour: true).info("hello", metadata: ["k": "v"])
        let coloured = pipe.lines()[0]
        #expect(coloured.contains("\u{1B}[32minfo\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[2mk=\u{1B}[0mv"))

        let another = ObsLogPipe()
        #expect(LogOutput(fileDescriptor: another.writeEnd).colour == false)
        #expect(LogFormat.preferred(for: LogOutput(fileDescriptor: another.writeEnd)) == .json)
        _ = another.lines()

        // A real pseudo-terminal, as when a person runs podagent in a shell.
        let (master, terminal) = try #require(ObsPseudoTerminal.open())
        defer {
            close(terminal)
            close(master)
        }
        let environmentSaysNo = getenv("NO_COLOR").map { $0.pointee != 0 } == true
            || getenv("TERM").map { String(cString: $0) == "dumb" } == true
        #expect(LogOutput(fileDescriptor: terminal).colour == !environmentSaysNo)
        #expect(LogFormat.preferred(for: LogOutput(fileDescriptor: terminal)) == .text)
    }

    @Test("Messages below the handler's level are not written")
    func levelFiltering() {
        let pipe = ObsLogPipe()
        let logger = pipe.logger(.json, level: .warning)
        logger.debug("hidden")
        logger.info("hidden")
        logger.warning("shown")
        logger.critical("shown too")
        let levels = pipe.lines().compactMap { obsParseJSON($0)?["level"] as? String }
        #expect(levels == ["warning", "critical"])
    }

    @Test("--log-level and --log-format values parse, and unknown ones list the valid choices")
    func optionParsing() throws {
        #expect(try Logger.Level(parsing: "trace") == .trace)
        #expect(try Logger.Level(parsing: "DEBUG") == .debug)
        #expect(try Logger.Level(parsing: "warn") == .warning)
        #expect(try Logger.Level(parsing: "critical") == .critical)
        #expect(throws: LogOptionError.self) { try Logger.Level(parsing: "verbose") }
        do {
            _ = try Logger.Level(parsing: "verbose")
        } catch {
            #expect(
                error.description
                    == "unknown --log-level `verbose`: use one of trace, debug, info, notice, warning, error, critical")
        }
        #expect(try LogFormat(parsing: "JSON") == .json)
        #expect(try LogFormat(parsing: "text") == .text)
        #expect(throws: LogOptionError(option: "--log-format", value: "yaml", valid: ["json", "text"])) {
            try LogFormat(parsing: "yaml")
        }
    }

    @Test("A secret is logged as its size only, in both formats")
    func redaction() throws {
        let token = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.signature"
        let key: [UInt8] = Array("-----BEGIN PRIVATE KEY-----\nMIIB\n".utf8)
        let pipe = ObsLogPipe()
        pipe.logger(.json).info("token read", metadata: ["token": .secret(token), "key": .secret(bytes: key)])
        pipe.logger(.text).info("token read", metadata: ["token": .secret(token)])
        let lines = pipe.lines()
        let object = try #require(obsParseJSON(lines[0]))
        #expect(object["token"] as? String == "<redacted \(token.utf8.count) bytes>")
        #expect(object["key"] as? String == "<redacted \(key.count) bytes>")
        #expect(lines[1].hasSuffix(#"token="<redacted \#(token.utf8.count) bytes>""#))
        for line in lines {
            #expect(!line.contains("eyJ") && !line.contains("signature") && !line.contains("PRIVATE"))
        }
    }

    @Test("Lines from many concurrent loggers never interleave: each is written whole")
    func concurrentLinesStayWhole() async throws {
        let pipe = ObsLogPipe()
        let logger = pipe.logger(.json)
        let writers = 8
        let perWriter = 200
        // Long enough that a line written in pieces would very likely be split by another writer.
        let padding = String(repeating: "x", count: 300)
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in 0..<perWriter {
                        logger.info("line", metadata: ["writer": "\(writer)", "index": "\(index)", "padding": "\(padding)"])
                    }
                }
            }
        }
        let lines = pipe.lines()
        #expect(lines.count == writers * perWriter)
        var seen = Set<String>()
        for line in lines {
            guard let object = obsParseJSON(line), let writer = object["writer"] as? String,
                let index = object["index"] as? String, object["padding"] as? String == padding
            else {
                Issue.record("a broken line: \(line.prefix(120))")
                return
            }
            seen.insert("\(writer)/\(index)")
        }
        #expect(seen.count == writers * perWriter)
    }

    @Test("RFC 3339 timestamps are rendered in UTC with zero-padded milliseconds")
    func timestampRendering() {
        #expect(LogTimestamp(seconds: 0, milliseconds: 7).rfc3339 == "1970-01-01T00:00:00.007Z")
        #expect(LogTimestamp(seconds: 1_795_461_600, milliseconds: 123).rfc3339 == "2026-11-23T19:20:00.123Z")
    }
}
