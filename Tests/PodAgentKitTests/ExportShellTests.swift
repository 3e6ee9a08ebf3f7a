import Foundation
import Glibc
import Testing
@testable import PodAgentKit

/// `podagent env --format shell`, sourced by real shells.
@Suite struct ExportShellTests {
    @Test func bashSourcingGivesEveryValueByteForByteAndRunsNothing() async throws {
        try await expectSourcedExactly(by: ["/usr/bin/bash", "-c"])
    }

    @Test func dashSourcingGivesEveryValueByteForByteAndRunsNothing() async throws {
        try await expectSourcedExactly(by: ["/usr/bin/dash", "-c"])
    }

    @Test func bashInPOSIXModeSourcingGivesEveryValueByteForByte() async throws {
        try await expectSourcedExactly(by: ["/usr/bin/bash", "--posix", "-c"])
    }

    @Test func singleQuoteIsWrittenAsCloseEscapeReopen() throws {
        let text = try EnvFileFormat.shellFile([EnvVariable(name: "X", value: Array("it's".utf8), origin: .field("x"))]).bytes
        #expect(String(decoding: text, as: UTF8.self) == #"export X='it'\''s'"# + "\n")
    }

    @Test func emptyValueIsAnEmptyQuotedString() throws {
        let text = try EnvFileFormat.shellFile([EnvVariable(name: "X", value: [], origin: .field("x"))]).bytes
        #expect(String(decoding: text, as: UTF8.self) == "export X=''\n")
    }

    @Test func nulByteIsAnErrorNamingTheVariableAndItsKey() {
        let variable = EnvVariable(name: "POD_ANNOTATION_BLOB", value: [0x61, 0x00, 0x62], origin: .annotation("blob"))
        #expect(throws: EnvOutputError.nulInValue(name: "POD_ANNOTATION_BLOB", origin: .annotation("blob"))) {
            try EnvFileFormat.shellFile([variable])
        }
        let message = EnvOutputError.nulInValue(name: "POD_ANNOTATION_BLOB", origin: .annotation("blob")).description
        #expect(message.contains("POD_ANNOTATION_BLOB") && message.contains(#"annotation "blob""#))
    }

    @Test func renderFromPodTreeExportsPrefixedVariables() throws {
        let pod: PodValue = .object([
            .init("pod", .object([.init("name", .text("web-0"))])),
            .init("labels", .object([.init("app", .text("it's"))])),
        ])
        let file = try EnvFileFormat.shell.render(pod, prefix: "APP_")
        #expect(String(decoding: file.bytes, as: UTF8.self)
            == "export APP_NAME='web-0'\nexport APP_LABEL_APP='it'\\''s'\n")
        #expect(file.warnings.isEmpty)
    }

    /// Writes the hostile values as a shell file, has `shell` source it in an empty environment and
    /// dump its environment with `env -0`, then compares every variable's bytes.
    private func expectSourcedExactly(by shell: [String]) async throws {
        let dir = TemporaryDirectory("export-shell")
        defer { dir.remove() }
        let canary = dir.file("canary")
        let variables = hostileVariables(canary: canary)
        let file = dir.file("pod.env")
        try FileSystem.writeFileAtomically(file, try EnvFileFormat.shellFile(variables).bytes)

        let script = #"set -a; . "$1"; exec /usr/bin/env -0 > "$2""#
        let result = await runProcess(shell + [script, "sh", file, dir.file("env.out")], directory: dir)
        #expect(result.status == 0, "\(shell) failed: \(result.stderr)")
        let environment = nulSeparatedEnvironment(try FileSystem.readFile(dir.file("env.out")))
        for variable in variables {
            #expect(environment[variable.name] == variable.value,
                    "\(variable.name): \(environment[variable.name].map(hexString) ?? "missing") != \(hexString(variable.value))")
        }
        #expect(!FileSystem.exists(canary), "sourcing ran a command from a value")
        #expect(!FileSystem.exists(canary + "-backtick"), "sourcing ran a command from a value")
        #expect(!FileSystem.exists(canary + "-semicolon"), "sourcing ran a command from a value")
    }
}

// MARK: - Shared by the Export*Tests files

/// Values that break naive quoting, each as a variable `V_<what>`; the commands in them would create
/// `canary`, `canary-backtick` or `canary-semicolon` if anything ran them.
func hostileVariables(canary: String, includeInvalidUTF8: Bool = true) -> [EnvVariable] {
    var values: [(String, [UInt8])] = [
        ("PLAIN", Array("web-0".utf8)),
        ("EMPTY", []),
        ("SPACES", Array("  two  spaces  ".utf8)),
        ("SINGLE_QUOTE", Array("it's".utf8)),
        ("ONLY_QUOTE", Array("'".utf8)),
        ("QUOTE_ESCAPE_LOOKALIKE", Array(#"'\''"#.utf8)),
        ("DOUBLE_QUOTE", Array(#"say "hi""#.utf8)),
        ("BOTH_QUOTES", Array(#"it's "quoted""#.utf8)),
        ("BACKSLASH", Array(#"C:\path\n\t"#.utf8)),
        ("DOUBLE_BACKSLASH", Array(#"a\\b"#.utf8)),
        ("TRAILING_BACKSLASH", Array(#"end\"#.utf8)),
        ("NEWLINES", Array("line one\nline two\n\nline four".utf8)),
        ("TRAILING_NEWLINE", Array("ends with newline\n".utf8)),
        ("CARRIAGE_RETURN", Array("a\r\nb\rc".utf8)),
        ("TAB", Array("a\tb".utf8)),
        ("COMMAND", Array("$(touch \(canary))".utf8)),
        ("BACKTICK", Array("`touch \(canary)-backtick`".utf8)),
        ("SEMICOLON", Array("x'; touch \(canary)-semicolon; '".utf8)),
        ("DOLLAR", Array("$HOME and $1 and $ alone".utf8)),
        ("BANG", Array("!! !$ !-1 hello!".utf8)),
        ("HASH", Array("#not a comment".utf8)),
        ("INLINE_HASH", Array("value #not a comment".utf8)),
        ("EQUALS", Array("a=b==c".utf8)),
        ("JSON", Array(#"{"a": [1, 2], "b": "c"}"#.utf8)),
        ("UTF8", Array("日本 é 😀".utf8)),
        ("CONTROL", [0x01, 0x1B, 0x5B, 0x33, 0x31, 0x6D, 0x7F]),
    ]
    if includeInvalidUTF8 {
        values.append(("INVALID_UTF8", [0x61, 0xFF, 0xFE, 0x62, 0xC3, 0x28, 0xF0, 0x9F, 0x98]))
    }
    return values.map { EnvVariable(name: "V_" + $0.0, value: $0.1, origin: .field($0.0.lowercased())) }
}

/// The outcome of ``runProcess(_:directory:environment:)``.
struct ProcessOutput {
    var status: Int32
    var stdout: [UInt8]
    var stderr: String
}

/// Runs `arguments` (an absolute program path first) with stdout and stderr in files of `directory`,
/// waits for it, and returns its exit status and output. The environment is only `PATH`, unless given.
///
/// Async, and the wait happens on a thread of its own: a test blocked in `waitpid` on one of the
/// cooperative pool's few threads (two on a 2-core CI machine) starves every other test of the run.
func runProcess(_ arguments: [String], directory: TemporaryDirectory,
                environment: [String]? = nil) async -> ProcessOutput {
    let stdoutPath = directory.file("process-\(UInt32.random(in: 0...UInt32.max)).stdout")
    let stderrPath = stdoutPath.replacingOccurrences(of: ".stdout", with: ".stderr")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = (environment ?? ["PATH=/usr/bin:/bin"]).map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
    guard spawned == 0 else {
        return ProcessOutput(status: -1, stdout: [], stderr: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
    }
    let child = pid
    let status: Int32 = await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            continuation.resume(returning: status)
        }
    }
    let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    defer { unlink(stdoutPath); unlink(stderrPath) }
    return ProcessOutput(status: exitStatus,
                         stdout: (try? FileSystem.readFile(stdoutPath)) ?? [],
                         stderr: readText(stderrPath) ?? "")
}

/// This process's environment as `NAME=value` strings, for children that need a configured toolchain
/// (pyenv's `python3` shim).
func currentProcessEnvironment() -> [String] {
    var result: [String] = []
    var pointer = environ
    while let entry = pointer.pointee {
        result.append(String(cString: entry))
        pointer += 1
    }
    return result
}

/// `env -0` output as a map from name to value bytes.
func nulSeparatedEnvironment(_ bytes: [UInt8]) -> [String: [UInt8]] {
    var result: [String: [UInt8]] = [:]
    for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) {
        guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
        result[String(decoding: entry[..<equals], as: UTF8.self)] = Array(entry[(equals + 1)...])
    }
    return result
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}
