// Specification of labels and annotations as PodView reads them from the downwardAPI volume
// (KUBELET.md §2): exact bytes, sorted keys, absent when the file is absent, and an error that
// points at the line when a file is not what the kubelet writes.
import Testing

@testable import PodAgentKit

@Suite("PodView: labels and annotations")
struct PodMetadataTests {
    @Test("hostile values written by the kubelet's format come back byte for byte")
    func hostileValuesRoundTrip() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let hostile = [
            "quotes": #"say "hi" \o/"#,
            "newlines": "line 1\nline 2\r\n\ttabbed",
            "shell": "$(rm -rf /) `id` ${HOME}",
            "unicode": "é 日本 😀 \u{00A0}\u{200B}",
            "equals": "a=b=c",
            "empty": "",
        ]
        var file = DownwardAPIMap.format(hostile)
        // A Swift String cannot hold the byte 0xff; the kubelet writes such a Go string as \xff.
        file += podBytes("\nzz-invalid-utf8=") + podBytes(GoQuote.quote([0xFF, 0x00, 0x22]))
        try pod.downwardVolume(["annotations": file])
        let annotations = try #require(try pod.load().annotations)
        var expected = hostile.map { PodMetadata.Entry(key: $0.key, value: podBytes($0.value)) }
        expected.append(PodMetadata.Entry(key: "zz-invalid-utf8", value: [0xFF, 0x00, 0x22]))
        #expect(annotations.entries == expected.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
    }

    @Test("entries are sorted by key bytes whatever the file's order")
    func sortedByKey() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        // Kubelets before FormatMap sorted wrote Go's map order.
        try pod.downwardVolume(["labels": podBytes("b=\"2\"\nB=\"3\"\na=\"1\"")])
        let labels = try #require(try pod.load().labels)
        #expect(labels.entries.map(\.key) == ["B", "a", "b"])
    }

    @Test("a missing labels file is absent, not empty")
    func missingFileIsAbsent() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["annotations": DownwardAPIMap.format(["a": "b"])])
        let view = try pod.load()
        #expect(view.labels == nil)
        #expect(view.value["labels"] == .null)
        #expect(view.annotations != nil)
    }

    @Test("an empty labels file is an empty map, not absent")
    func emptyFileIsEmpty() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["labels": []])
        let view = try pod.load()
        #expect(view.labels == PodMetadata(entries: []))
        #expect(view.value["labels"] == .object([]))
    }

    @Test("a malformed line is an error with the file path, its line number and a hint")
    func malformedLine() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["labels": podBytes("app=\"web\"\ntier=front\n")])
        let error = try #require(try pod.loadError())
        let path = pod.paths.labelsPath
        guard case .malformedMetadataFile(path, .labels, let parseError) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(parseError.lineNumber == 2)
        #expect(error.description.hasPrefix("\(path):2: malformed labels line: value is not double-quoted"))
        #expect(error.description.contains("the kubelet never writes this; is this the downwardAPI labels file?"))
    }

    @Test("explicit labels and annotations paths replace the downward directory's files")
    func explicitPaths() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["labels": DownwardAPIMap.format(["from": "default"])])
        try pod.downwardVolume(["l": DownwardAPIMap.format(["from": "explicit"])], at: "/meta")
        var paths = pod.paths
        paths.labelsFile = "/meta/l"
        paths.annotationsFile = "/meta/missing"
        let view = try PodView.load(environment: [:], paths: paths)
        #expect(view.labels?["from"] == podBytes("explicit"))
        #expect(view.annotations == nil)
    }

    @Test("a different downward directory moves the labels file with it")
    func downwardDirectory() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["labels": DownwardAPIMap.format(["app": "web"])], at: "/podinfo")
        var paths = pod.paths
        paths.downwardDirectory = "/podinfo"
        #expect(try PodView.load(environment: [:], paths: paths).labels?["app"] == podBytes("web"))
    }
}
