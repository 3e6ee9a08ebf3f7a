// Every Go-generated `%q` vector (Vectors/goquote.tsv, written by real Go) through the whole path a
// value takes in a pod: the kubelet's labels/annotations file → PodView → `podagent env` output → a
// real shell. The bytes that come out must be the bytes Go quoted.
import Glibc
import Testing

@testable import PodAgentKit

@Suite("PodView with Go's own %q vectors")
struct PodGoVectorTests {
    /// An annotations file of `k<i>="<Go's quoting of input i>"` lines, keys in byte order like FormatMap.
    private func annotationsFile(_ cases: [GoVectors.QuoteCase]) -> (file: [UInt8], expected: [String: [UInt8]]) {
        var expected: [String: [UInt8]] = [:]
        var lines: [(String, [UInt8])] = []
        for (index, vector) in cases.enumerated() {
            let key = "k" + String(100_000 + index)
            expected[key] = vector.input
            lines.append((key, vector.output))
        }
        let file = lines.sorted { $0.0 < $1.0 }.map { Array("\($0.0)=".utf8) + $0.1 }.joined(separator: [0x0A])
        return (Array(file), expected)
    }

    @Test("every Go-quoted value in an annotations file is read back as Go's input bytes")
    func everyQuoteVectorParsesBack() throws {
        let vectors = try GoVectors.load()
        let pod = PodSandbox()
        defer { pod.remove() }
        let (file, expected) = annotationsFile(vectors.quotes)
        try pod.downwardVolume(["annotations": file])
        let annotations = try #require(try pod.load().annotations)
        #expect(annotations.entries.count == expected.count)
        var mismatches = 0
        for entry in annotations.entries where expected[entry.key] != entry.value { mismatches += 1 }
        #expect(mismatches == 0, "\(mismatches) of \(expected.count) vectors did not come back exactly")
    }

    @Test("every map Go's FormatMap wrote is read back entry for entry")
    func everyMapVectorParsesBack() throws {
        let vectors = try GoVectors.load()
        for (index, vector) in vectors.maps.enumerated() {
            let pod = PodSandbox()
            defer { pod.remove() }
            try pod.downwardVolume(["labels": vector.output])
            let labels = try pod.load().labels ?? PodMetadata(entries: [])
            let expected = vector.entries.map { PodMetadata.Entry(key: String(decoding: $0.key, as: UTF8.self), value: $0.value) }
                .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            #expect(labels.entries == expected, "map vector \(index)")
        }
    }

    @Test("shell output for every vector without a NUL byte, sourced by bash, gives Go's input bytes back")
    func everyQuoteVectorThroughShell() async throws {
        let vectors = try GoVectors.load()
        let exportable = vectors.quotes.filter { !$0.input.contains(0) }
        let pod = PodSandbox()
        defer { pod.remove() }
        let (file, expected) = annotationsFile(exportable)
        try pod.downwardVolume(["annotations": file])
        let shell = try EnvFileFormat.shell.render(try pod.load().value)
        let script = pod.directory.file("pod.sh")
        try FileSystem.writeFileAtomically(script, shell.bytes)
        let sourced = await runProcess(["/bin/bash", "-c", "set -a; . \"$0\"; exec env -0", script], directory: pod.directory)
        #expect(sourced.status == 0, "\(sourced.stderr)")
        let environment = nulSeparatedEnvironment(sourced.stdout)
        var mismatches: [String] = []
        for (key, value) in expected where environment["POD_ANNOTATION_" + key.uppercased()] != value {
            mismatches.append(key)
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(expected.count) values changed on the way through bash")
    }
}
