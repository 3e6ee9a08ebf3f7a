import Testing
@testable import PodAgentKit

/// `podagent env --format json`: layout, escaping and U+FFFD repair.
@Suite struct ExportJSONTests {
    static let small: PodValue = .object([
        .init("pod", .object([.init("name", .text("web-0")), .init("ips", .list([.text("10.1.2.3"), .text("fd00::3")]))])),
        .init("labels", .object([])),
        .init("annotations", .null),
        .init("ready", .bool(true)),
        .init("cpus", .integer(-2)),
        .init("empty", .list([])),
    ])

    @Test func compactLayoutHasNoWhitespaceAndKeepsMemberOrder() {
        #expect(Self.small.json(.compact).text
            == #"{"pod":{"name":"web-0","ips":["10.1.2.3","fd00::3"]},"labels":{},"annotations":null,"ready":true,"cpus":-2,"empty":[]}"#)
    }

    @Test func prettyLayoutIndentsByTwoSpacesAndKeepsEmptyContainersOnOneLine() {
        #expect(Self.small.json(.pretty).text == """
            {
              "pod": {
                "name": "web-0",
                "ips": [
                  "10.1.2.3",
                  "fd00::3"
                ]
              },
              "labels": {},
              "annotations": null,
              "ready": true,
              "cpus": -2,
              "empty": []
            }
            """)
    }

    @Test func quoteBackslashAndControlCharactersAreEscaped() {
        let value: PodValue = .string(Array("\"\\\u{08}\u{0C}\n\r\t\u{00}\u{01}\u{1F}".utf8))
        #expect(value.json().text == #""\"\\\b\f\n\r\t\u0000\u0001\u001f""#)
    }

    @Test func slashDeleteAndNonASCIIAreWrittenAsTheyAre() {
        let value: PodValue = .text("a/b \u{7F} é 日本 😀 \u{2028}")
        #expect(value.json().bytes == Array("\"a/b \u{7F} é 日本 😀 \u{2028}\"".utf8))
    }

    @Test func keysAreEscapedLikeValues() {
        let value: PodValue = .object([.init("say \"hi\"\n", .integer(1))])
        #expect(value.json(.compact).text == #"{"say \"hi\"\n":1}"#)
    }

    @Test func invalidUTF8GetsOneReplacementPerMaximalInvalidSubsequence() {
        // ff → 1, truncated 4-byte sequence f0 9f 98 → 1, c0 af (c0 can never start a sequence) → 2,
        // a surrogate ed a0 80 → 3, a lone continuation 80 → 1.
        let value: PodValue = .string([0x61, 0xFF, 0x62, 0xF0, 0x9F, 0x98, 0x63, 0xC0, 0xAF, 0x64, 0xED, 0xA0, 0x80, 0x65, 0x80])
        #expect(value.json().text == "\"a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}d\u{FFFD}\u{FFFD}\u{FFFD}e\u{FFFD}\"")
    }

    @Test func repairedStringsAreReportedByTheirJqPath() {
        let bad = PodValue.string([0xFF])
        let value: PodValue = .object([
            .init("pod", .object([.init("name", .text("ok")), .init("ips", .list([.text("10.0.0.1"), bad]))])),
            .init("labels", .object([.init("app.kubernetes.io/name", bad), .init("plain_key", bad)])),
        ])
        #expect(value.json().repairedPaths == [
            ".pod.ips[1]", #".labels["app.kubernetes.io/name"]"#, ".labels.plain_key",
        ])
    }

    @Test func validStringsAreNotReported() {
        #expect(Self.small.json().repairedPaths.isEmpty)
    }

    @Test func renderEndsWithNewlineAndWarnsAboutEachRepair() throws {
        let value: PodValue = .object([.init("annotations", .object([.init("blob", .string([0x61, 0xFE]))]))])
        let file = try EnvFileFormat.json.render(value, jsonLayout: .compact)
        #expect(String(decoding: file.bytes, as: UTF8.self) == "{\"annotations\":{\"blob\":\"a\u{FFFD}\"}}\n")
        #expect(file.warnings == [.invalidUTF8Replaced(path: #".annotations.blob"#)])
        #expect(file.warnings[0].description.contains(".annotations.blob"))
    }

    @Test func rootStringPathIsADot() {
        #expect(PodValue.string([0xFF]).json().repairedPaths == ["."])
    }

    @Test(.enabled("python3 is not installed") { await pythonAvailability.value })
    func pythonJSONReadsTheOutputAndWritesItBackIdentically() async throws {
        // Python's json module escapes exactly the same characters (ensure_ascii=False) and lays out
        // indent=2 the same way, so a round trip through it must reproduce the bytes.
        let dir = TemporaryDirectory("export-json")
        defer { dir.remove() }
        let tree: PodValue = .object([
            .init("pod", .object([.init("name", .text("web-0")), .init("ips", .list([.text("10.1.2.3")]))])),
            .init("labels", .object([.init("a/b\"c", .text("line\none\ttab \\ \u{01} 日本 😀 / \u{7F}"))])),
            .init("annotations", .object([])),
            .init("cpus", .integer(4)),
            .init("x", .list([.null, .bool(false), .list([])])),
        ])
        for (layout, dumpArguments) in [(JSONLayout.pretty, "indent=2"), (.compact, "separators=(',', ':')")] {
            let path = dir.file("pod.json")
            try FileSystem.writeFileAtomically(path, tree.json(layout).bytes)
            let script = """
                import json, sys
                with open(sys.argv[1], encoding="utf-8") as f:
                    sys.stdout.write(json.dumps(json.load(f), ensure_ascii=False, \(dumpArguments)))
                """
            let result = await runProcess(["/usr/bin/env", "python3", "-c", script, path], directory: dir,
                                    environment: currentProcessEnvironment())
            #expect(result.status == 0, "python3 failed: \(result.stderr)")
            #expect(result.stdout == tree.json(layout).bytes, "\(layout): \(String(decoding: result.stdout, as: UTF8.self))")
        }
    }
}

private let pythonAvailability = Task<Bool, Never> {
    let dir = TemporaryDirectory("python")
    defer { dir.remove() }
    return await runProcess(["/usr/bin/env", "python3", "-c", "pass"], directory: dir, environment: currentProcessEnvironment()).status == 0
}
