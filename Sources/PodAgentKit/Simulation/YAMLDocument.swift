import CYAML

/// A YAML node as written, before any typing: scalars keep their text and style, so that the manifest
/// reader types them as the API server's YAML→JSON conversion would (`ManifestNode`). Aliases are
/// replaced by the node their anchor names; mappings keep their order and any repeated key.
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
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(problem: "out of memory", line: 0, column: 0)
        }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> [YAMLNode] in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, count)
            var composer = Composer()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw error(parser) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return composer.documents }
                try composer.take(event)
            }
        }
    }

    private static func error(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "not YAML"
        let context = parser.context.map {
            "\(String(cString: $0)) at line \(parser.context_mark.line + 1), column \(parser.context_mark.column + 1)"
        }
        return YAMLError(problem: problem, line: parser.problem_mark.line + 1, column: parser.problem_mark.column + 1,
                         context: context)
    }

    /// Builds nodes from libyaml's events: a stack of the collections still open.
    private struct Composer {
        enum Open {
            case sequence([YAMLNode], anchor: String?)
            case mapping([(key: YAMLNode, value: YAMLNode)], key: YAMLNode?, anchor: String?)
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
                add(.scalar(YAMLScalar(string: text, style: style)), anchor: Self.string(scalar.anchor))
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard let node = anchors[name] else {
                    throw YAMLError(problem: "found undefined alias *\(name)", line: event.start_mark.line + 1,
                                    column: event.start_mark.column + 1)
                }
                add(node, anchor: nil)
            case YAML_SEQUENCE_START_EVENT:
                open.append(.sequence([], anchor: Self.string(event.data.sequence_start.anchor)))
            case YAML_MAPPING_START_EVENT:
                open.append(.mapping([], key: nil, anchor: Self.string(event.data.mapping_start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                switch open.removeLast() {
                case .sequence(let items, let anchor): add(.sequence(items), anchor: anchor)
                case .mapping(let pairs, _, let anchor): add(.mapping(pairs), anchor: anchor)
                }
            default:
                break  // stream start, document end: nothing to build
            }
        }

        /// A finished node: into the collection that is open, or a document of its own.
        private mutating func add(_ node: YAMLNode, anchor: String?) {
            if let anchor { anchors[anchor] = node }
            guard let last = open.popLast() else {
                documents.append(node)
                return
            }
            switch last {
            case .sequence(var items, let anchor):
                items.append(node)
                open.append(.sequence(items, anchor: anchor))
            case .mapping(var pairs, let key, let anchor):
                if let key {
                    pairs.append((key, node))
                    open.append(.mapping(pairs, key: nil, anchor: anchor))
                } else {
                    open.append(.mapping(pairs, key: node, anchor: anchor))
                }
            }
        }

        private static func string(_ text: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            text.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
    }
}
