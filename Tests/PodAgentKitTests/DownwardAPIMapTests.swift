import Testing

@testable import PodAgentKit

@Suite("DownwardAPIMap: the kubelet's labels/annotations files")
struct DownwardAPIMapTests {
    // Members rather than file-level functions, so helpers elsewhere in the target can't clash.
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Vectors from Go (pkg/fieldpath FormatMap run by a real Go)

    @Test("format matches FormatMap on every vector, and parse reads Go's output back")
    func formatMatchesGo() throws {
        let vectors = try GoVectors.load()
        var skipped = 0
        for vector in vectors.maps {
            // Same reason as GoQuoteTests.quoteMatchesGo: values with code points newer than
            // Go's Unicode tables may be quoted differently by that Go.
            if vector.entries.contains(where: { vectors.involvesNewerUnicode($0.value) }) {
                skipped += 1
                continue
            }
            var map: [String: String] = [:]
            for entry in vector.entries {
                map[text(entry.key)] = text(entry.value)
            }
            try #require(map.count == vector.entries.count, "vector keys collide as Swift Strings")
            #expect(DownwardAPIMap.format(map) == vector.output, "\(map)")
            #expect(try DownwardAPIMap.parse(vector.output) == map)
        }
        #expect(vectors.maps.count >= 300)
        #expect(skipped == 0)
    }

    // MARK: The Kubernetes docs' Downward API example

    @Test("labels file of the docs' example pod")
    func docsLabels() throws {
        let labels = ["zone": "us-est-coast", "cluster": "test-cluster1", "rack": "rack-22"]
        let file = #"cluster="test-cluster1"\#nrack="rack-22"\#nzone="us-est-coast""#
        #expect(text(DownwardAPIMap.format(labels)) == file)
        #expect(try DownwardAPIMap.parse(bytes(file)) == labels)
    }

    @Test("annotations file of the docs' example pod")
    func docsAnnotations() throws {
        let annotations = ["build": "two", "builder": "john-doe"]
        let file = #"build="two"\#nbuilder="john-doe""#
        #expect(text(DownwardAPIMap.format(annotations)) == file)
        #expect(try DownwardAPIMap.parse(bytes(file)) == annotations)
    }

    // MARK: Format

    @Test("an empty map is a 0-byte file, and a 0-byte file an empty map")
    func emptyMap() throws {
        #expect(DownwardAPIMap.format([:]) == [])
        #expect(try DownwardAPIMap.parse([UInt8]()) == [:])
        #expect(try DownwardAPIMap.parse(bytes("\n")) == [:])
    }

    @Test("a multi-line annotation stays on one line, escaped")
    func multiLineValue() throws {
        let map = ["config": "a: 1\nb: \"two\"\n\tc: [3]\n"]
        let file = DownwardAPIMap.format(map)
        #expect(text(file) == #"config="a: 1\nb: \"two\"\n\tc: [3]\n""#)
        #expect(!file.contains(UInt8(ascii: "\n")))
        #expect(try DownwardAPIMap.parse(file) == map)
    }

    @Test("values containing = and \" split on the first = only")
    func equalsAndQuotesInValues() throws {
        let map = ["example.com/q": #"a=b "c"=d"#, "k": "="]
        let file = DownwardAPIMap.format(map)
        #expect(text(file) == #"example.com/q="a=b \"c\"=d"\#nk="=""#)
        #expect(try DownwardAPIMap.parse(file) == map)
    }

    @Test("keys are sorted by UTF-8 bytes, as Go's sort.Strings, not by Swift's String <")
    func byteWiseKeyOrder() {
        // Swift compares Strings by canonical equivalence: "A\u{30A}" behaves like "Å" (U+00C5)
        // and sorts after "B"; Go compares bytes, 0x41 < 0x42.
        #expect("B" < "A\u{30A}")
        let file = text(DownwardAPIMap.format(["B": "2", "A\u{30A}": "1", "a": "3", "Z": "4"]))
        #expect(file == "A\u{30A}=\"1\"\nB=\"2\"\nZ=\"4\"\na=\"3\"")
    }

    @Test("the kubelet's own annotations format like any other")
    func kubeletAnnotations() {
        let map = ["kubernetes.io/config.seen": "2024-05-01T10:00:00.123456789Z", "kubernetes.io/config.source": "api"]
        #expect(text(DownwardAPIMap.format(map))
            == "kubernetes.io/config.seen=\"2024-05-01T10:00:00.123456789Z\"\nkubernetes.io/config.source=\"api\"")
    }

    // MARK: Parse

    @Test("older kubelets' unsorted lines and trailing newline are accepted")
    func olderKubeletFiles() throws {
        let file = bytes("zone=\"us-est-coast\"\ncluster=\"test-cluster1\"\nrack=\"rack-22\"\n")
        #expect(try DownwardAPIMap.parse(file) == ["zone": "us-est-coast", "cluster": "test-cluster1", "rack": "rack-22"])
        let entries = try DownwardAPIMap.parseEntries(file)
        #expect(entries.map(\.key) == ["zone", "cluster", "rack"])
    }

    @Test("DEL written by kubelets built with Go <= 1.18 (\\u007f) reads like Go 1.19's \\x7f")
    func olderGoEscapes() throws {
        #expect(try DownwardAPIMap.parse(bytes(#"k="a\u007fb""#)) == ["k": "a\u{7F}b"])
        #expect(try DownwardAPIMap.parse(bytes(#"k="a\x7fb""#)) == ["k": "a\u{7F}b"])
        #expect(text(DownwardAPIMap.format(["k": "a\u{7F}b"])) == #"k="a\x7fb""#)
    }

    @Test("a repeated key: last wins in parse, both kept by parseEntries")
    func duplicateKeys() throws {
        let file = bytes("k=\"first\"\nk=\"second\"")
        #expect(try DownwardAPIMap.parse(file) == ["k": "second"])
        #expect(try DownwardAPIMap.parseEntries(file).map(\.value) == [bytes("first"), bytes("second")])
    }

    @Test("invalid UTF-8 from \\x escapes: parse replaces it, parseEntries keeps the bytes")
    func invalidUTF8Values() throws {
        let file = bytes(#"k="ok\xff\xe6\x97!""#)
        #expect(try DownwardAPIMap.parse(file) == ["k": "ok\u{FFFD}\u{FFFD}!"])
        #expect(try DownwardAPIMap.parseEntries(file).first?.value == [0x6F, 0x6B, 0xFF, 0xE6, 0x97, 0x21])
    }

    @Test("a malformed line is reported with its number and content", arguments: [
        ("a=\"1\"\nno-equals-sign\nb=\"2\"", 2, "no '='"),
        ("a=\"1\"\n\nb=\"2\"", 2, "empty line"),
        ("=\"v\"", 1, "empty key"),
        ("a=\"1\"\nb=unquoted", 2, "not double-quoted"),
        ("a=\"1\"\nb=\"open", 2, "not a valid Go quoted string"),
        ("a=\"1\"\nb=\"x\" trailing", 2, "not a valid Go quoted string"),
        ("a=\"1\"\r\nb=\"2\"", 1, "not a valid Go quoted string"),
        ("a=\"1\"\n\n", 2, "empty line"),
    ])
    func malformedLines(file: String, line: Int, reason: String) {
        do {
            _ = try DownwardAPIMap.parse(bytes(file))
            Issue.record("expected an error for \(file.debugDescription)")
        } catch {
            #expect(error.lineNumber == line)
            #expect(error.reason.contains(reason))
            #expect(error.description.contains("line \(line)"))
            // Split the bytes: as a Swift String, "\r\n" is one Character and would not split.
            let offending = bytes(file).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)[line - 1]
            #expect(error.line == GoQuote.quote(offending))
        }
    }

    @Test("parse(format(m)) == m for random maps")
    func roundTripRandomMaps() throws {
        var rng = GoVectors.SeededRandom(seed: 7)
        let keys = ["app", "app.kubernetes.io/name", "tier", "zone", "Zone", "a", "A", "example.com/x-y", "é", "日本", "A\u{30A}", "B"]
        let pieces = ["", "v", "a=b", #"say "hi""#, "multi\nline", "\t", "\\", "é", "e\u{301}", "😀", "\u{A0}", "\u{200B}", "\u{0}", "\u{7F}", "\r\n"]
        for _ in 0..<2000 {
            var map: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                var value = ""
                for _ in 0..<Int.random(in: 0...4, using: &rng) { value += pieces.randomElement(using: &rng)! }
                if Int.random(in: 0..<4, using: &rng) == 0, let scalar = Unicode.Scalar(UInt32.random(in: 0x80...0x10FFFF, using: &rng)) {
                    value.unicodeScalars.append(scalar)
                }
                map[keys.randomElement(using: &rng)!] = value
            }
            let file = DownwardAPIMap.format(map)
            #expect(try DownwardAPIMap.parse(file) == map)
            #expect(try DownwardAPIMap.parseEntries(file).map { bytes($0.key) }
                == map.keys.map(bytes).sorted { $0.lexicographicallyPrecedes($1) })
        }
    }
}
