// `podagent env --format json`: the pod data tree as JSON text.
//
// Written by hand rather than through a JSON library because the output must be byte-for-byte
// deterministic (member order as built, fixed indentation) and because PodValue strings are raw bytes
// that JSON cannot carry when they are not UTF-8: each repair has to be reported, not silently done.

/// How ``PodValue/json(_:)`` lays out its text.
public enum JSONLayout: Sendable, Equatable {
    /// Two-space indentation, one member or element per line, `"key": value` (as `jq .` and Python's
    /// `json.dumps(indent=2)` print it); empty objects and lists stay `{}` and `[]`.
    case pretty
    /// No whitespace at all: `{"key":value,...}`, for logs and one-line consumers.
    case compact
}

/// JSON text made from a ``PodValue``, with the places where invalid UTF-8 had to be repaired.
public struct JSONDocument: Sendable, Equatable {
    /// The UTF-8 JSON text, without a trailing newline.
    public var bytes: [UInt8]
    /// Paths (jq syntax, e.g. `.annotations["example.com/blob"]`, `.pod.ips[1]`) of the strings whose
    /// bytes were not valid UTF-8 and were written with U+FFFD in place of each maximal invalid
    /// subsequence — the CLI warns about each, because the JSON value is no longer the exact value.
    public var repairedPaths: [String]

    public init(bytes: [UInt8], repairedPaths: [String]) {
        self.bytes = bytes
        self.repairedPaths = repairedPaths
    }

    /// The JSON text as a Swift string (always valid UTF-8, because invalid input was repaired).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension PodValue {
    /// This value as JSON text (RFC 8259), deterministic for equal values.
    ///
    /// - Members keep their order; nothing is sorted or dropped (`null` stays `null`).
    /// - Strings: `"` and `\` are escaped; the control characters U+0000–U+001F are escaped, as
    ///   `\b \f \n \r \t` where JSON has a short form and as `\u00XX` (lowercase hex) otherwise;
    ///   `/`, DEL and all non-ASCII characters are written as they are, in UTF-8.
    /// - A string whose bytes are not valid UTF-8 gets one U+FFFD per maximal invalid subsequence
    ///   (the policy of Swift's `String(decoding:as:)` and of the Unicode standard's "best practice"),
    ///   and its path is listed in ``JSONDocument/repairedPaths``. dotenv and shell output keep the
    ///   original bytes instead.
    ///
    /// ```swift
    /// let pod: PodValue = .object([.init("pod", .object([.init("name", .text("web-0"))])),
    ///                              .init("cpus", .integer(2))])
    /// pod.json(.compact).text   // {"pod":{"name":"web-0"},"cpus":2}
    /// ```
    public func json(_ layout: JSONLayout = .pretty) -> JSONDocument {
        var writer = JSONWriter(layout: layout)
        writer.write(self, path: JSONPath())
        return JSONDocument(bytes: writer.output, repairedPaths: writer.repairedPaths)
    }
}

/// The location of a value inside a ``PodValue`` tree, spelled as jq spells it, so a user can paste it
/// into `podagent env --format json | jq '<path>'`.
struct JSONPath: Sendable, Equatable {
    private var components: [Component] = []

    private enum Component: Sendable, Equatable {
        case member(String)
        case index(Int)
    }

    func appending(member key: String) -> JSONPath {
        var copy = self
        copy.components.append(.member(key))
        return copy
    }

    func appending(index: Int) -> JSONPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    /// `.pod.name`, `.labels["app.kubernetes.io/name"]`, `.pod.ips[0]`; the root is `.`.
    var text: String {
        if components.isEmpty { return "." }
        var result = ""
        for component in components {
            switch component {
            case .member(let key) where JSONPath.isPlainIdentifier(key):
                result += "." + key
            case .member(let key):
                // jq needs `.["key"]` at the start of a path and accepts `["key"]` after a component.
                var quoted: [UInt8] = []
                JSONWriter.appendQuoted(Array(key.utf8), to: &quoted)
                result += (result.isEmpty ? "." : "") + "[" + String(decoding: quoted, as: UTF8.self) + "]"
            case .index(let index):
                result += (result.isEmpty ? "." : "") + "[\(index)]"
            }
        }
        return result
    }

    /// Keys jq accepts after a dot: ASCII letters, digits and `_`, not starting with a digit.
    static func isPlainIdentifier(_ key: String) -> Bool {
        guard let first = key.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }
    }
}

/// Appends the JSON text of a value tree to a byte buffer.
struct JSONWriter {
    let layout: JSONLayout
    var output: [UInt8] = []
    var repairedPaths: [String] = []

    init(layout: JSONLayout) {
        self.layout = layout
    }

    mutating func write(_ value: PodValue, path: JSONPath, depth: Int = 0) {
        switch value {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let flag):
            output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let number):
            output.append(contentsOf: String(number).utf8)
        case .string(let bytes):
            writeString(bytes, path: path)
        case .list(let elements):
            writeContainer(open: "[", close: "]", count: elements.count, depth: depth) { writer, index in
                writer.write(elements[index], path: path.appending(index: index), depth: depth + 1)
            }
        case .object(let members):
            writeContainer(open: "{", close: "}", count: members.count, depth: depth) { writer, index in
                let member = members[index]
                JSONWriter.appendQuoted(Array(member.key.utf8), to: &writer.output)
                writer.output.append(UInt8(ascii: ":"))
                if writer.layout == .pretty { writer.output.append(UInt8(ascii: " ")) }
                writer.write(member.value, path: path.appending(member: member.key), depth: depth + 1)
            }
        }
    }

    private mutating func writeContainer(
        open: Unicode.Scalar, close: Unicode.Scalar, count: Int, depth: Int,
        element: (inout JSONWriter, Int) -> Void
    ) {
        output.append(UInt8(ascii: open))
        // An empty container stays on one line in both layouts, as jq and Python print it.
        if count > 0 {
            for index in 0..<count {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(indent: depth + 1)
                element(&self, index)
            }
            newline(indent: depth)
        }
        output.append(UInt8(ascii: close))
    }

    private mutating func newline(indent: Int) {
        guard layout == .pretty else { return }
        output.append(UInt8(ascii: "\n"))
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * indent))
    }

    private mutating func writeString(_ bytes: [UInt8], path: JSONPath) {
        if String(validating: bytes, as: UTF8.self) != nil {
            JSONWriter.appendQuoted(bytes, to: &output)
        } else {
            // String(decoding:) substitutes one U+FFFD per maximal invalid subsequence.
            JSONWriter.appendQuoted(Array(String(decoding: bytes, as: UTF8.self).utf8), to: &output)
            repairedPaths.append(path.text)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends `"…"` with JSON escapes; `utf8` must be valid UTF-8.
    static func appendQuoted(_ utf8: [UInt8], to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        appendEscaped(utf8, to: &output)
        output.append(UInt8(ascii: "\""))
    }

    /// Appends `utf8` with the escapes of a JSON string (RFC 8259 §7), without the surrounding quotes.
    /// `escapingQuotes: false` leaves `"` and `\` as they are and escapes only control characters (the
    /// text log format, which is not JSON but must stay on one line). Multi-byte UTF-8 passes through.
    static func appendEscaped(_ utf8: some Sequence<UInt8>, to output: inout [UInt8], escapingQuotes: Bool = true) {
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                if escapingQuotes { output.append(UInt8(ascii: "\\")) }
                output.append(byte)
            case 0x08: output.append(contentsOf: #"\b"#.utf8)
            case 0x0C: output.append(contentsOf: #"\f"#.utf8)
            case 0x0A: output.append(contentsOf: #"\n"#.utf8)
            case 0x0D: output.append(contentsOf: #"\r"#.utf8)
            case 0x09: output.append(contentsOf: #"\t"#.utf8)
            case 0x00..<0x20:
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            default:
                output.append(byte)
            }
        }
    }
}
