import Testing

@testable import PodAgentKit

@Suite struct YAMLDocumentTests {
    /// A compact, comparable rendering: scalars with their style's mark, mappings in order.
    static func show(_ node: YAMLNode) -> String {
        switch node {
        case .scalar(let s):
            let mark = switch s.style {
            case .plain: ""
            case .singleQuoted: "'"
            case .doubleQuoted: "\""
            case .literal: "|"
            case .folded: ">"
            }
            return mark + s.string
        case .mapping(let pairs): return "{" + pairs.map { show($0.key) + ":" + show($0.value) }.joined(separator: ",") + "}"
        case .sequence(let items): return "[" + items.map(show).joined(separator: ",") + "]"
        }
    }

    static func shown(_ text: String) throws -> [String] { try YAMLDocuments.parse(text).map(show) }

    @Test func scalarsKeepTheirTextAndStyle() throws {
        let text = "a: 1\nb: '2'\nc: \"x\\ty\"\nd: |\n  line\ne: >\n  folded\n  text\nf:\ng: ~\n"
        #expect(try Self.shown(text) == ["{a:1,b:'2,c:\"x\ty,d:|line\n,e:>folded text\n,f:,g:~}"])
    }

    @Test func mappingsKeepOrderAndRejectARepeatedKey() throws {
        #expect(try Self.shown("z: 1\na: 2\n'b': 3\n") == ["{z:1,a:2,'b:3}"])
        do {
            _ = try YAMLDocuments.parse("data:\n  k: first\n  other: x\n  \"k\": second\n")
            Issue.record("parsed")
        } catch {
            #expect(error.description == "line 4, column 3: duplicate key \"k\" in a mapping")
        }
        // The same key in two mappings is no repetition.
        #expect(try Self.shown("- {k: 1}\n- {k: 2}\n") == ["[{k:1},{k:2}]"])
    }

    /// Linear: a list or mapping of 200,000 entries (a ConfigMap near the API's 1 MiB) parses at once. The
    /// composer once copied a collection at each entry, 19 s for 80,000.
    @Test func largeCollectionsParseInLinearTime() throws {
        let list = "items:\n" + String(repeating: "- x\n", count: 200_000)
        let map = (0..<200_000).map { "k\($0): v\n" }.joined()
        let started = ContinuousClock.now
        let documents = try YAMLDocuments.parse(list) + YAMLDocuments.parse(map)
        let took = ContinuousClock.now - started
        guard case .mapping(let items) = documents[0], case .sequence(let entries) = items[0].value,
              case .mapping(let pairs) = documents[1] else { Issue.record("not parsed as written"); return }
        #expect(entries.count == 200_000 && pairs.count == 200_000)
        // Generous for a debug build on a loaded 2-core machine; the quadratic version needed minutes.
        #expect(took < .seconds(20), "\(took)")
    }

    @Test func bytesTheReaderRefusesAreLocated() throws {
        do {
            _ = try YAMLDocuments.parse("kind: Pod\nmetadata:\n  name: \"a\u{01}b\"\n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 3 && error.column == 11, "\(error)")
            #expect(error.description.contains("control characters"), "\(error)")
        }
        // In characters, as libyaml's own marks count them, not bytes.
        do {
            _ = try YAMLDocuments.parse("name: \"é\u{01}\"\n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 1 && error.column == 9, "\(error)")
        }
    }

    @Test func nulInDoubleQuotesAndAByteOrderMarkAreKept() throws {
        #expect(try Self.shown("a: \"x\\0y\"\n") == ["{a:\"x\u{0}y}"])
        #expect(try Self.shown("\u{FEFF}a: 1\n") == ["{a:1}"])
    }

    @Test func aliasesAreTheNodeTheirAnchorNames() throws {
        let text = "base: &b {image: nginx, ports: [80]}\ncopy: *b\nlist: &l [a, *b]\nagain: *l\n"
        #expect(try Self.shown(text) == ["{base:{image:nginx,ports:[80]},copy:{image:nginx,ports:[80]},"
            + "list:[a,{image:nginx,ports:[80]}],again:[a,{image:nginx,ports:[80]}]}"])
    }

    @Test func documentsOfAStream() throws {
        #expect(try Self.shown("") == [])
        #expect(try Self.shown("a: 1\n---\n- x\n---\n...\n") == ["{a:1}", "[x]", ""])
        // Anchors belong to their document.
        #expect(throws: YAMLError.self) { try YAMLDocuments.parse("a: &x 1\n---\nb: *x\n") }
    }

    @Test func errorsSayWhereAndWhat() throws {
        do {
            _ = try YAMLDocuments.parse("kind: Pod\nmetadata: {name: [unclosed\n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 3, "\(error)")
            #expect(error.description.contains("line 3"), "\(error)")
            #expect(error.description.contains("flow"), "\(error)")
        }
        do {
            _ = try YAMLDocuments.parse("a: 1\nb: *missing\n")
            Issue.record("parsed")
        } catch {
            #expect(error.description == "line 2, column 4: found undefined alias *missing")
        }
        #expect(throws: YAMLError.self) { try YAMLDocuments.parse("a: b: c\n") }
        #expect(throws: YAMLError.self) { try YAMLDocuments.parse("key: \"unterminated\n") }
    }
}
