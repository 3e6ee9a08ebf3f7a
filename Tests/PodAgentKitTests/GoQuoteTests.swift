import Foundation
import Testing

@testable import PodAgentKit

/// The records of `Vectors/goquote.tsv`, written by a real Go toolchain
/// (`scripts/gen-go-vectors.sh`; the record kinds are described in `scripts/go-vectors/main.go`).
struct GoVectors: Sendable {
    struct QuoteCase: Sendable {
        let input: [UInt8]
        let output: [UInt8]
    }

    struct UnquoteCase: Sendable {
        let input: [UInt8]
        /// `nil` when Go's strconv.Unquote returned an error.
        let output: [UInt8]?
    }

    struct MapCase: Sendable {
        let entries: [MapEntry]
        let output: [UInt8]
    }

    struct MapEntry: Sendable {
        let key: [UInt8]
        let value: [UInt8]
    }

    var goVersion = ""
    var unicodeVersion = (major: 0, minor: 0)
    var printRanges: [ClosedRange<UInt32>] = []
    var quotes: [QuoteCase] = []
    var unquotes: [UnquoteCase] = []
    var maps: [MapCase] = []

    /// Loaded once per test process; every test that needs the file calls ``load()``.
    private static let cached: Result<GoVectors, VectorFileError> = Result { () throws(VectorFileError) in
        try parse(readFile())
    }

    static func load() throws -> GoVectors {
        try cached.get()
    }

    struct VectorFileError: Error, CustomStringConvertible {
        let description: String
    }

    /// The file sits in `Vectors/` next to this source file; found through `#filePath` so the
    /// tests need no bundle resources.
    private static func readFile(filePath: String = #filePath) throws(VectorFileError) -> [UInt8] {
        var components = filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast()
        let path = components.joined(separator: "/") + "/Vectors/goquote.tsv"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VectorFileError(description: "cannot read \(path) — run scripts/gen-go-vectors.sh")
        }
        return [UInt8](data)
    }

    private static func parse(_ file: [UInt8]) throws(VectorFileError) -> GoVectors {
        var vectors = GoVectors()
        for (number, rawLine) in file.split(separator: UInt8(ascii: "\n")).enumerated() {
            let line = String(decoding: rawLine, as: UTF8.self)
            if line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            func bad() -> VectorFileError {
                VectorFileError(description: "goquote.tsv line \(number + 1) is malformed: \(line)")
            }
            func hex(_ text: String) throws(VectorFileError) -> [UInt8] {
                guard let bytes = decodeHex(text) else { throw bad() }
                return bytes
            }
            switch (fields.first, fields.count) {
            case ("meta", 3):
                if fields[1] == "go" { vectors.goVersion = fields[2] }
                if fields[1] == "unicode" {
                    let parts = fields[2].split(separator: ".").compactMap { Int($0) }
                    guard parts.count >= 2 else { throw bad() }
                    vectors.unicodeVersion = (parts[0], parts[1])
                }
            case ("print", 3):
                guard let lo = UInt32(fields[1], radix: 16), let hi = UInt32(fields[2], radix: 16) else { throw bad() }
                vectors.printRanges.append(lo...hi)
            case ("quote", 3):
                vectors.quotes.append(QuoteCase(input: try hex(fields[1]), output: try hex(fields[2])))
            case ("unquote", 3) where fields[2] == "error":
                vectors.unquotes.append(UnquoteCase(input: try hex(fields[1]), output: nil))
            case ("unquote", 4) where fields[2] == "ok":
                vectors.unquotes.append(UnquoteCase(input: try hex(fields[1]), output: try hex(fields[3])))
            case ("map", 3):
                var entries: [MapEntry] = []
                for pair in fields[1].split(separator: ",") {
                    let kv = pair.split(separator: ":", omittingEmptySubsequences: false)
                    guard kv.count == 2 else { throw bad() }
                    entries.append(MapEntry(key: try hex(String(kv[0])), value: try hex(String(kv[1]))))
                }
                vectors.maps.append(MapCase(entries: entries, output: try hex(fields[2])))
            default:
                throw bad()
            }
        }
        guard !vectors.goVersion.isEmpty, vectors.unicodeVersion.major > 0 else {
            throw VectorFileError(description: "goquote.tsv has no meta records")
        }
        return vectors
    }

    private static func decodeHex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
            index += 2
        }
        return bytes
    }

    /// Whether Go and Swift may legitimately disagree on quoting `bytes`.
    ///
    /// Quote's output depends on Unicode tables (IsPrint). The vectors were made by the Go in
    /// `meta go` (Go 1.19 here, Unicode 13.0), while the Swift runtime ships newer tables. A
    /// code point assigned after Go's Unicode version is unassigned — hence `\u`-escaped — in
    /// that Go but may be printable here, so cases involving one are skipped and counted.
    /// Code points unassigned in Swift's tables (no `age`) are NOT skipped: Unicode never
    /// unassigns a code point, so they are unassigned in Go's older tables too, and both sides
    /// must escape them; likewise noncharacters and private use. Current kubelets are built
    /// with newer Go whose tables are closer to Swift's, so for them the skipped code points
    /// are, if anything, more likely to match.
    func involvesNewerUnicode(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index < bytes.count {
            let (rune, size) = GoQuote.decodeRune(bytes, from: index, to: bytes.count)
            if size > 1, isNewerThanGo(rune) { return true }
            index += max(size, 1)
        }
        return false
    }

    func isNewerThanGo(_ rune: UInt32) -> Bool {
        guard let scalar = Unicode.Scalar(rune), let age = scalar.properties.age else { return false }
        return age.major > unicodeVersion.major
            || (age.major == unicodeVersion.major && age.minor > unicodeVersion.minor)
    }
}

extension GoVectors {
    /// SplitMix64 (the generator main.go uses): seeded, so a failing random case reproduces.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64

        init(seed: UInt64) { state = seed }

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

@Suite("GoQuote: strconv.Quote and strconv.Unquote, checked against real Go")
struct GoQuoteTests {
    // Members rather than file-level functions, so helpers elsewhere in the target can't clash.
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    private func show(_ bytes: [UInt8]) -> String { GoQuote.quote(bytes) }

    // MARK: Vectors from Go

    @Test("quote matches Go's strconv.Quote on every vector")
    func quoteMatchesGo() throws {
        let vectors = try GoVectors.load()
        var checked = 0
        var skipped = 0
        var mismatches: [String] = []
        for vector in vectors.quotes {
            if vectors.involvesNewerUnicode(vector.input) {
                skipped += 1
                continue
            }
            checked += 1
            let got = bytes(GoQuote.quote(vector.input))
            if got != vector.output {
                mismatches.append("\(show(vector.input)): got \(String(decoding: got, as: UTF8.self)), Go \(String(decoding: vector.output, as: UTF8.self))")
            }
        }
        print("GoQuote vectors (\(vectors.goVersion), Unicode \(vectors.unicodeVersion.major).\(vectors.unicodeVersion.minor)): quote checked \(checked), skipped \(skipped) for newer Unicode")
        #expect(mismatches.count == 0, "first mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(checked >= 9000, "too few quote vectors checked — is goquote.tsv complete?")
        #expect(skipped * 20 < checked, "more than 5% of quote vectors skipped")
    }

    @Test("isPrint agrees with Go's strconv.IsPrint on every code point Go's tables know")
    func isPrintMatchesGoEverywhere() throws {
        let vectors = try GoVectors.load()
        var goPrint = [Bool](repeating: false, count: 0x110000)
        for range in vectors.printRanges {
            for r in range { goPrint[Int(r)] = true }
        }
        var checked = 0
        var skipped = 0
        var mismatches: [String] = []
        for r in UInt32(0)...0x10FFFF where GoQuote.isValidRune(r) {
            if r >= 0x80 && vectors.isNewerThanGo(r) {
                skipped += 1
                continue
            }
            checked += 1
            if GoQuote.isPrint(r) != goPrint[Int(r)] {
                mismatches.append("U+\(String(r, radix: 16, uppercase: true)): Swift \(GoQuote.isPrint(r)), Go \(goPrint[Int(r)])")
            }
        }
        print("IsPrint: checked \(checked) code points, skipped \(skipped) assigned after Go's Unicode version")
        #expect(mismatches.count == 0, "first mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(checked > 1_000_000)
        #expect(skipped < 20_000)
    }

    @Test("unquote matches Go's strconv.Unquote on every vector, errors included")
    func unquoteMatchesGo() throws {
        let vectors = try GoVectors.load()
        var mismatches: [String] = []
        for vector in vectors.unquotes {
            let got = try? GoQuote.unquote(vector.input)
            if got != vector.output {
                mismatches.append("\(show(vector.input)): got \(got.map(show) ?? "error"), Go \(vector.output.map(show) ?? "error")")
            }
        }
        #expect(mismatches.count == 0, "first mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
        #expect(vectors.unquotes.count >= 5000)
        #expect(vectors.unquotes.contains { $0.output == nil } && vectors.unquotes.contains { $0.output != nil })
    }

    @Test("unquote inverts every Go-quoted vector, including those skipped for Unicode version")
    func unquoteInvertsGoQuote() throws {
        // Unquote uses no Unicode tables, so Go's own quoting of newer code points is fine here.
        let vectors = try GoVectors.load()
        for vector in vectors.quotes {
            #expect(try GoQuote.unquote(vector.output) == vector.input, "\(show(vector.input))")
        }
    }

    // MARK: KUBELET.md §2

    @Test("non-printable runes are escaped as in KUBELET.md: U+00A0, U+200B, U+FEFF, DEL")
    func kubeletDocEscapes() {
        #expect(GoQuote.quote("a\u{A0}b") == #""a\u00a0b""#)
        #expect(GoQuote.quote("\u{200B}") == #""\u200b""#)
        #expect(GoQuote.quote("\u{FEFF}") == #""\ufeff""#)
        #expect(GoQuote.quote("\u{AD}") == #""\u00ad""#)
        #expect(GoQuote.quote("\u{7F}") == #""\x7f""#)
        #expect(GoQuote.quote("\u{E0001}") == #""\U000e0001""#)
        #expect(GoQuote.quote("\u{10FFFF}") == #""\U0010ffff""#)
    }

    @Test("printable non-ASCII stays raw UTF-8: é, 日本, 😀, combining marks")
    func printableStaysRaw() {
        #expect(GoQuote.quote("é") == "\"é\"")
        #expect(GoQuote.quote("日本") == "\"日本\"")
        #expect(GoQuote.quote("😀") == "\"😀\"")
        #expect(GoQuote.quote("e\u{301}") == "\"e\u{301}\"")
        #expect(GoQuote.quote("\u{FFFD}") == "\"\u{FFFD}\"")
    }

    @Test("quotes, backslashes and the C escapes")
    func asciiEscapes() {
        #expect(GoQuote.quote(#"say "hi" \o/"#) == #""say \"hi\" \\o/""#)
        #expect(GoQuote.quote("\u{7}\u{8}\u{C}\n\r\t\u{B}") == #""\a\b\f\n\r\t\v""#)
        #expect(GoQuote.quote("\u{0}\u{1B}") == #""\x00\x1b""#)
        #expect(GoQuote.quote("it's `raw`") == #""it's `raw`""#)
        #expect(GoQuote.quote("") == #""""#)
    }

    @Test("invalid UTF-8 is escaped one byte at a time")
    func invalidUTF8() {
        #expect(GoQuote.quote([0xFF] as [UInt8]) == #""\xff""#)
        #expect(GoQuote.quote([0xE6, 0x97] as [UInt8]) == #""\xe6\x97""#) // truncated 日
        #expect(GoQuote.quote([0xC0, 0x80] as [UInt8]) == #""\xc0\x80""#) // overlong NUL
        #expect(GoQuote.quote([0xED, 0xA0, 0x80] as [UInt8]) == #""\xed\xa0\x80""#) // surrogate
        #expect(GoQuote.quote([0xF4, 0x90, 0x80, 0x80] as [UInt8]) == #""\xf4\x90\x80\x80""#) // > U+10FFFF
        #expect(GoQuote.quote([0xE6, 0x97, 0xA5, 0xE6] as [UInt8]) == "\"日\\xe6\"")
    }

    // MARK: Unquote forms

    @Test("every escape form decodes")
    func unquoteEscapes() throws {
        #expect(try GoQuote.unquote(#""\a\b\f\n\r\t\v\\\"""#) == [7, 8, 0xC, 0xA, 0xD, 9, 0xB, 0x5C, 0x22])
        #expect(try GoQuote.unquote(#""\x41\xfF\101\377\000""#) == [0x41, 0xFF, 0x41, 0xFF, 0x00])
        #expect(try GoQuote.unquote(#""\u00e9\U0001F600""#) == bytes("é😀"))
        #expect(try GoQuote.unquote(#""rack-\x32\062""#) == bytes("rack-22"))
    }

    @Test("escapes Go rejects are rejected")
    func unquoteRejects() {
        for text in [
            #""\'""#, // \' only inside '…'
            #""\ud800""#, #""\U0000dfff""#, #""\U00110000""#, // surrogates, > U+10FFFF
            #""\400""#, #""\08""#, #""\x4""#, #""\q""#, #""\""#,
            "\"a\nb\"", "'\n'", // raw newline
            #""abc"#, #"abc""#, #""a"b""#, "'ab'", "x", "",
        ] {
            #expect(throws: GoQuote.SyntaxError.self, "\(text.debugDescription)") { try GoQuote.unquote(text) }
        }
    }

    @Test("raw strings drop carriage returns and take everything else verbatim")
    func rawStrings() throws {
        #expect(try GoQuote.unquote("`a\r\nb`") == bytes("a\nb"))
        #expect(try GoQuote.unquote(#"`\n"'`"#) == bytes(#"\n"'"#))
        #expect(try GoQuote.unquote([0x60, 0xFF, 0x60] as [UInt8]) == [0xFF])
        #expect(throws: GoQuote.SyntaxError.self) { try GoQuote.unquote("`a`b`") }
    }

    @Test("single-quoted runes, including Go's accepted empty ''")
    func singleQuotes() throws {
        #expect(try GoQuote.unquote("'日'") == bytes("日"))
        #expect(try GoQuote.unquote(#"'\''"#) == bytes("'"))
        #expect(try GoQuote.unquote(#"'"'"#) == bytes("\""))
        #expect(try GoQuote.unquote(#"'\x80'"#) == [0x80])
        #expect(try GoQuote.unquote("''") == [])
        #expect(throws: GoQuote.SyntaxError.self) { try GoQuote.unquote(#"'\"'"#) }
    }

    @Test("raw invalid UTF-8 inside quotes becomes U+FFFD, as in Go 1.17+")
    func rawInvalidInsideQuotes() throws {
        #expect(try GoQuote.unquote([0x22, 0xFF, 0x22] as [UInt8]) == [0xEF, 0xBF, 0xBD])
        #expect(try GoQuote.unquote([0x22, 0xE6, 0x97, 0x5C, 0x6E, 0x22] as [UInt8]) == [0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD, 0x0A])
        #expect(try GoQuote.unquote([0x27, 0xFF, 0x27] as [UInt8]) == [0xEF, 0xBF, 0xBD])
    }

    @Test("a syntax error says where and why")
    func syntaxErrorDescription() {
        do {
            _ = try GoQuote.unquote(#""ok\qno""#)
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 3)
            #expect(error.description.contains("unknown escape"))
        }
    }

    // MARK: Round trips

    @Test("unquote(quote(b)) == b for every byte and every pair of bytes")
    func roundTripAllShortInputs() throws {
        for a in 0...255 {
            let one = [UInt8(a)]
            #expect(try GoQuote.unquote(GoQuote.quote(one)) == one)
            for b in 0...255 {
                let two = [UInt8(a), UInt8(b)]
                let back = try GoQuote.unquote(GoQuote.quote(two))
                if back != two { Issue.record("round trip failed for \(two)") }
            }
        }
    }

    @Test("unquote(quote(b)) == b for random byte arrays", arguments: [UInt64(1), 2, 3, 0xC0FFEE])
    func roundTripRandom(seed: UInt64) throws {
        var rng = GoVectors.SeededRandom(seed: seed)
        // Mostly bytes that make or break UTF-8, so invalid sequences are common.
        let interesting: [UInt8] = [0x00, 0x07, 0x0A, 0x22, 0x27, 0x5C, 0x60, 0x7F, 0x80, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        for iteration in 0..<2500 {
            let count = Int.random(in: 0...40, using: &rng)
            let input: [UInt8] = (0..<count).map { _ in
                Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng) : interesting.randomElement(using: &rng)!
            }
            let quoted = GoQuote.quote(input)
            let back = try GoQuote.unquote(quoted)
            if back != input {
                Issue.record("seed \(seed) iteration \(iteration): \(input) quoted as \(quoted) came back as \(back)")
                return
            }
            // Quote's output is always valid UTF-8 that re-quotes stably through unquote.
            #expect(GoQuote.isValidUTF8(bytes(quoted), from: 0, to: quoted.utf8.count))
        }
    }

    @Test("random valid Unicode round-trips through quote and unquote")
    func roundTripRandomScalars() throws {
        var rng = GoVectors.SeededRandom(seed: 42)
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                var value = UInt32.random(in: 0...0x10FFFF, using: &rng)
                if Bool.random(using: &rng) { value &= 0xFFFF }
                if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
            }
            #expect(try GoQuote.unquote(GoQuote.quote(text)) == bytes(text))
        }
    }
}
