import Glibc
import Testing
@testable import PodAgentKit

/// `podagent env --format dotenv`: the forms chosen, and a round trip through the real python-dotenv.
@Suite struct ExportDotenvTests {
    @Test func safeValueIsWrittenBare() throws {
        #expect(try dotenvText(Array("10.1.2.3,fd00::1".utf8)) == "X=10.1.2.3,fd00::1\n")
    }

    @Test func emptyValueIsWrittenAsNothingAfterTheEqualsSign() throws {
        #expect(try dotenvText([]) == "X=\n")
    }

    @Test func valueWithSpacesOrDollarIsSingleQuoted() throws {
        #expect(try dotenvText(Array("a $HOME b".utf8)) == "X='a $HOME b'\n")
    }

    @Test func newlineStaysRawInsideSingleQuotes() throws {
        #expect(try dotenvText(Array("one\ntwo".utf8)) == "X='one\ntwo'\n")
    }

    @Test func singleQuoteBackslashAndCarriageReturnAreDoubleQuotedWithEscapes() throws {
        #expect(try dotenvText(Array("it's \"x\" \\ a\rb".utf8)) == #"X="it's \"x\" \\ a\rb""# + "\n")
    }

    @Test func valueEndingInBackslashIsWrittenRawWhenItFitsOnOneLine() throws {
        #expect(try dotenvText(Array(#"it's C:\dir\"#.utf8)) == #"X=it's C:\dir\"# + "\n")
    }

    @Test func multiLineValueEndingInBackslashIsDoubleQuotedWithAWarning() throws {
        let variable = EnvVariable(name: "X", value: Array("two\nlines\\".utf8), origin: .annotation("a"))
        let file = try EnvFileFormat.dotenvFile([variable])
        #expect(String(decoding: file.bytes, as: UTF8.self) == "X=\"two\nlines\\\\\"\n")
        #expect(file.warnings == [.dotenvValueMisread(name: "X", origin: .annotation("a"))])
    }

    @Test func nulByteIsAnErrorNamingTheVariable() {
        #expect(throws: EnvOutputError.nulInValue(name: "X", origin: .label("k"))) {
            try EnvFileFormat.dotenvFile([EnvVariable(name: "X", value: [0], origin: .label("k"))])
        }
    }

    @Test func invalidUTF8BytesAreWrittenAsTheyAre() throws {
        let file = try EnvFileFormat.dotenvFile([EnvVariable(name: "X", value: [0xFF, 0x20], origin: .field("x"))]).bytes
        #expect(file == Array("X='".utf8) + [0xFF, 0x20] + Array("'\n".utf8))
    }

    @Test func renderReportsCollisionsAsWarnings() throws {
        let pod: PodValue = .object([.init("labels", .object([.init("a.b", .text("1")), .init("a-b", .text("2"))]))])
        let file = try EnvFileFormat.dotenv.render(pod)
        #expect(String(decoding: file.bytes, as: UTF8.self) == "POD_LABEL_A_B=2\n")
        #expect(file.warnings == [.nameCollision(EnvNameCollision(
            name: "POD_LABEL_A_B", kept: .label("a-b"), dropped: .label("a.b")))])
    }

    @Test func renderRejectsAPrefixThatCannotStartAName() {
        #expect(throws: EnvOutputError.invalidPrefix(EnvPrefixError(prefix: "my-"))) {
            try EnvFileFormat.dotenv.render(.object([]), prefix: "my-")
        }
    }

    @Test(.enabled("python-dotenv could not be installed (scripts/python-dotenv.sh failed)") { await PythonDotenv.availability.value })
    func pythonDotenvReadsEveryHostileValueExactlyWithoutInterpolation() async throws {
        let dir = TemporaryDirectory("export-dotenv")
        defer { dir.remove() }
        let variables = hostileVariables(canary: dir.file("canary"), includeInvalidUTF8: false)
        let read = try await PythonDotenv.read(try EnvFileFormat.dotenvFile(variables).bytes, in: dir, interpolate: false)
        for variable in variables {
            #expect(read[variable.name] == variable.value,
                    "\(variable.name): \(read[variable.name].map(hexString) ?? "missing") != \(hexString(variable.value))")
        }
        #expect(read.count == variables.count)
    }

    @Test(.enabled("python-dotenv could not be installed (scripts/python-dotenv.sh failed)") { await PythonDotenv.availability.value })
    func pythonDotenvDefaultSettingsReadValuesWithoutBracedDollarExactly() async throws {
        let dir = TemporaryDirectory("export-dotenv")
        defer { dir.remove() }
        // load_dotenv()/dotenv_values() interpolate ${NAME} by default; none of these values has "${".
        let variables = hostileVariables(canary: dir.file("canary"), includeInvalidUTF8: false)
        #expect(!variables.contains { value in
            value.value.indices.dropLast().contains { value.value[$0] == UInt8(ascii: "$") && value.value[$0 + 1] == UInt8(ascii: "{") }
        })
        let read = try await PythonDotenv.read(try EnvFileFormat.dotenvFile(variables).bytes, in: dir, interpolate: true)
        for variable in variables {
            #expect(read[variable.name] == variable.value,
                    "\(variable.name): \(read[variable.name].map(hexString) ?? "missing") != \(hexString(variable.value))")
        }
    }

    @Test(.enabled("python-dotenv could not be installed (scripts/python-dotenv.sh failed)") { await PythonDotenv.availability.value })
    func pythonDotenvGetsInvalidUTF8BytesBackThroughSurrogateEscape() async throws {
        let dir = TemporaryDirectory("export-dotenv")
        defer { dir.remove() }
        let values: [[UInt8]] = [
            [0x61, 0xFF, 0xFE, 0x62],            // bare-looking but not UTF-8: single-quoted
            [0x27, 0xC3, 0x28, 0x5C],            // ' and \ with a broken 2-byte sequence: double-quoted
            [0xF0, 0x9F, 0x98, 0x0A, 0xE9],      // truncated 4-byte sequence and a newline
        ]
        let variables = values.enumerated().map { EnvVariable(name: "V\($0.offset)", value: $0.element, origin: .field("v")) }
        let read = try await PythonDotenv.read(try EnvFileFormat.dotenvFile(variables).bytes, in: dir, interpolate: false,
                                         errors: "surrogateescape")
        for variable in variables {
            #expect(read[variable.name] == variable.value,
                    "\(variable.name): \(read[variable.name].map(hexString) ?? "missing") != \(hexString(variable.value))")
        }
    }
}

/// Returns the dotenv text of one variable `X` with `value`.
private func dotenvText(_ value: [UInt8]) throws -> String {
    String(decoding: try EnvFileFormat.dotenvFile([EnvVariable(name: "X", value: value, origin: .field("x"))]).bytes, as: UTF8.self)
}

/// The real python-dotenv from PyPI, run in a Python child process.
enum PythonDotenv {
    /// The Python to run it with: `scripts/python-dotenv.sh` installs a pinned python-dotenv into a venv
    /// of its own when it is not there yet (Debian's python3 refuses a system-wide pip install), and
    /// prints that venv's python. A task, run once and awaited, so no test thread blocks on pip.
    static let python = Task<String?, Never> {
        let dir = TemporaryDirectory("python-dotenv")
        defer { dir.remove() }
        let found = await runProcess(["/bin/bash", repositoryRoot + "/scripts/python-dotenv.sh"],
                                     directory: dir, environment: currentProcessEnvironment())
        let path = String(decoding: found.stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard found.status == 0, path.hasPrefix("/") else {
            print("python-dotenv tests skipped: scripts/python-dotenv.sh failed: \(found.stderr)")
            return nil
        }
        return path
    }

    static let availability = Task<Bool, Never> { await python.value != nil }

    /// Writes `file` and reads it with `dotenv_values`, returning each value's bytes. With `errors`, the
    /// file is opened with that UTF-8 error handler and passed as a stream (the only way to read bytes
    /// that are not UTF-8), and values are encoded back with it.
    static func read(_ file: [UInt8], in dir: TemporaryDirectory, interpolate: Bool,
                     errors: String = "strict") async throws -> [String: [UInt8]] {
        let path = dir.file("pod.env")
        try FileSystem.writeFileAtomically(path, file)
        let script = """
            import sys
            from dotenv import dotenv_values
            path, interpolate, errors = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
            if errors == "strict":
                values = dotenv_values(path, interpolate=interpolate)
            else:
                with open(path, encoding="utf-8", errors=errors) as stream:
                    values = dotenv_values(stream=stream, interpolate=interpolate)
            for name, value in values.items():
                print(name, "none" if value is None else value.encode("utf-8", errors).hex())
            """
        let python = try #require(await Self.python.value)
        let result = await runProcess([python, "-c", script, path, interpolate ? "1" : "0", errors],
                                directory: dir, environment: currentProcessEnvironment())
        #expect(result.status == 0, "python-dotenv failed: \(result.stderr)")
        #expect(!result.stderr.contains("could not parse"), "python-dotenv warned: \(result.stderr)")
        var values: [String: [UInt8]] = [:]
        for line in String(decoding: result.stdout, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[1] != "none" else { continue }
            values[String(parts[0])] = bytes(fromHex: parts[1])
        }
        return values
    }

    private static func bytes(fromHex text: Substring) -> [UInt8] {
        let digits = Array(text.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).map {
            UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16) ?? 0
        }
    }
}
