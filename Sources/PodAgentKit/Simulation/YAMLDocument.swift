import CYAML

/// A YAML node as written, before any typing: scalars keep their text and style, so that the manifest
/// reader types them as the API server's YAML→JSON conversion would (`ManifestNode`). Aliases are
/// replaced by the node their anchor names (anchors belong to their document); mappings keep their order,
/// and a key given twice is an error.
enum YAMLNode {
    case scalar(YAMLScalar)
    case mapping([(key: YAMLNode, value: YAMLNode)])
    case sequence([YAMLNode])
}

struct YAMLScalar {
    enum Style { case plain, singleQuoted, doubleQuoted, literal, folded }
    var string: String
    var style: Style
}

/// Why a text is not YAML, with libyaml's own words and where it stopped (1-based line and column).
struct YAMLError: Error, CustomStringConvertible {
    var problem: String
    var line: Int
    var column: Int
    var context: String?

    var description: String {
        "line \(line), column \(column): \(problem)" + (context.map { " (\($0))" } ?? "")
    }
}

/// The documents of a YAML stream, parsed by libyaml, one node each (an empty document is an empty plain
/// scalar, which reads as null).
enum YAMLDocuments {
    static func parse(_ text: String) throws(YAMLError) -> [YAMLNode] {
        var bytes = Array(text.utf8)
        let count = bytes.count
        bytes.append(0)  // never read (the length is given); a valid pointer for an empty text
        // On the heap: libyaml keeps a pointer to the parser itself (its input handler's data), which must
        // stay where it is from one call to the next.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLError(problem: "out of memory", line: 0, column: 0)
        }
        defer { yaml_parser_delete(parser) }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> [YAMLNode] in
            yaml_parser_set_input_string(parser, buffer.baseAddress, count)
            var composer = Composer()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(parser, &event) == 1 else { throw error(parser.pointee, in: text) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return composer.documents }
                try composer.take(event)
            }
        }
    }

    private static func error(_ parser: yaml_parser_t, in text: String) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "out of memory"
        if parser.error == YAML_READER_ERROR {
            // The reader checks the bytes before the scanner sees them: it gives their offset, not a mark.
            let offset = min(parser.problem_offset, text.utf8.count)
            var cursor = PositionCursor(text)
            let (line, column) = cursor.position(of: text.utf8.index(text.utf8.startIndex, offsetBy: offset))
            let value = parser.problem_value == -1 ? "" : " (#x\(String(parser.problem_value, radix: 16)))"
            return YAMLError(problem: problem + value, line: line, column: column)
        }
        let context = parser.context.map {
            "\(String(cString: $0)) at line \(parser.context_mark.line + 1), column \(parser.context_mark.column + 1)"
        }
        return YAMLError(problem: problem, line: parser.problem_mark.line + 1, column: parser.problem_mark.column + 1,
                         context: context)
    }

    /// Builds nodes from libyaml's events: a stack of the collections still open, each appended to in place.
    private struct Composer {
        struct Open {
            var isMapping: Bool
            var anchor: String?
            var items: [YAMLNode] = []
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            /// A mapping's key waiting for its value.
            var key: YAMLNode?
            /// A mapping's scalar keys so far: a key given twice is an error, as in Kubernetes' strict
            /// decoding (and in Yams, which podagent used before); the API server's lenient one would keep
            /// the last, podagent's field readers would not agree on which.
            var keys: Set<String> = []
        }

        var documents: [YAMLNode] = []
        var open: [Open] = []
        var anchors: [String: YAMLNode] = [:]

        mutating func take(_ event: yaml_event_t) throws(YAMLError) {
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let style: YAMLScalar.Style = switch scalar.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: .literal
                case YAML_FOLDED_SCALAR_STYLE: .folded
                default: .plain
                }
                try add(.scalar(YAMLScalar(string: text, style: style)), anchor: Self.string(scalar.anchor), at: event.start_mark)
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard let node = anchors[name] else {
                    throw YAMLError(problem: "found undefined alias *\(name)", line: event.start_mark.line + 1,
                                    column: event.start_mark.column + 1)
                }
                try add(node, anchor: nil, at: event.start_mark)
            case YAML_SEQUENCE_START_EVENT:
                open.append(Open(isMapping: false, anchor: Self.string(event.data.sequence_start.anchor)))
            case YAML_MAPPING_START_EVENT:
                open.append(Open(isMapping: true, anchor: Self.string(event.data.mapping_start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let done = open.removeLast()
                try add(done.isMapping ? .mapping(done.pairs) : .sequence(done.items), anchor: done.anchor, at: event.start_mark)
            default:
                break  // stream start, document end: nothing to build
            }
        }

        /// A finished node: into the collection that is open, or a document of its own.
        private mutating func add(_ node: YAMLNode, anchor: String?, at mark: yaml_mark_t) throws(YAMLError) {
            if let anchor { anchors[anchor] = node }
            guard !open.isEmpty else {
                documents.append(node)
                return
            }
            let last = open.count - 1
            guard open[last].isMapping else {
                open[last].items.append(node)
                return
            }
            guard let key = open[last].key else {
                if case .scalar(let scalar) = node, !open[last].keys.insert(scalar.string).inserted {
                    throw YAMLError(problem: "duplicate key \"\(scalar.string)\" in a mapping", line: mark.line + 1,
                                    column: mark.column + 1)
                }
                open[last].key = node
                return
            }
            open[last].pairs.append((key, node))
            open[last].key = nil
        }

        private static func string(_ text: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            text.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
    }
}
