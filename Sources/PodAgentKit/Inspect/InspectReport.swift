/// `podagent inspect`'s whole report: its sections in order, printed for a person (aligned text,
/// colour on a terminal) or for a script (`-o json`, `-o yaml`, one object keyed by section).
///
/// ```swift
/// let report = InspectReport(sections: [identity, resources, volumes])
/// print(report.text(colour: false))
/// ```
public struct InspectReport: Sendable, Equatable {
    public var sections: [InspectSection]

    public init(sections: [InspectSection]) {
        self.sections = sections
    }

    /// Every warning of every section, prefixed with its section's title.
    public var warnings: [String] {
        sections.flatMap { section in section.warnings.map { "\(section.title): \($0)" } }
    }

    /// The documented schema: `{"<section key>": <section value>, …, "warnings": ["<title>: …"]}`.
    public var value: PodValue {
        .object(sections.map { PodValue.Member($0.key, $0.value) } + [.init("warnings", .list(warnings.map(PodValue.text)))])
    }

    /// Sections as headed blocks of aligned `label  value` rows, warnings after the rows they concern.
    public func text(colour: Bool) -> String {
        func styled(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        var out = ""
        for (index, section) in sections.enumerated() {
            if index > 0 { out += "\n" }
            out += styled(section.title, "1") + "\n"
            // Align labels per nesting level, so a volume's files line up with each other.
            var width: [Int: Int] = [:]
            for row in section.rows { width[row.indent] = max(width[row.indent] ?? 0, row.label.count) }
            for row in section.rows {
                let pad = String(repeating: " ", count: (width[row.indent] ?? 0) - row.label.count)
                let indent = String(repeating: "  ", count: row.indent + 1)
                let value = row.value.replacingNewlines()
                out += value.isEmpty ? "\(indent)\(row.label)\n" : "\(indent)\(styled(row.label, "2"))\(pad)  \(value)\n"
            }
            for warning in section.warnings {
                out += "  " + styled("warning:", "33;1") + " " + warning.replacingNewlines() + "\n"
            }
        }
        return out
    }

    public func json() -> JSONDocument {
        value.json(.pretty)
    }

    public func yaml() -> String {
        YAMLText.document(value)
    }
}

extension String {
    /// A value shown on one text row: newlines and other control characters as visible escapes.
    func replacingNewlines() -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\x" + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// A small YAML emitter for ``PodValue`` trees: block style, two-space indent, keys in tree order.
/// Strings are plain only when YAML 1.1 and 1.2 readers both take them back as the same string;
/// everything else is double-quoted with JSON escapes, which YAML's double-quoted style accepts.
enum YAMLText {
    static func document(_ value: PodValue) -> String {
        var out = ""
        emit(value, indent: 0, into: &out, inline: false)
        if !out.hasSuffix("\n") { out += "\n" }
        return out
    }

    private static func emit(_ value: PodValue, indent: Int, into out: inout String, inline: Bool) {
        let pad = String(repeating: "  ", count: indent)
        switch value {
        case .object(let members) where members.isEmpty:
            out += "{}\n"
        case .list(let items) where items.isEmpty:
            out += "[]\n"
        case .object(let members):
            if inline { out += "\n" }
            for member in members {
                out += pad + scalar(member.key) + ":"
                switch member.value {
                case .object(let m) where !m.isEmpty:
                    emit(member.value, indent: indent + 1, into: &out, inline: true)
                case .list(let l) where !l.isEmpty:
                    out += "\n"
                    emit(member.value, indent: indent, into: &out, inline: false)
                default:
                    out += " "
                    emit(member.value, indent: indent + 1, into: &out, inline: false)
                }
            }
        case .list(let items):
            if inline { out += "\n" }
            for item in items {
                out += pad + "-"
                switch item {
                case .object(let m) where !m.isEmpty:
                    // The first member goes on the dash's line; the rest line up under it.
                    var first = true
                    for member in m {
                        out += (first ? " " : pad + "  ") + scalar(member.key) + ":"
                        first = false
                        switch member.value {
                        case .object(let inner) where !inner.isEmpty:
                            emit(member.value, indent: indent + 2, into: &out, inline: true)
                        case .list(let inner) where !inner.isEmpty:
                            out += "\n"
                            emit(member.value, indent: indent + 1, into: &out, inline: false)
                        default:
                            out += " "
                            emit(member.value, indent: indent + 2, into: &out, inline: false)
                        }
                    }
                case .list(let l) where !l.isEmpty:
                    out += "\n"
                    emit(item, indent: indent + 1, into: &out, inline: false)
                default:
                    out += " "
                    emit(item, indent: indent + 1, into: &out, inline: false)
                }
            }
        case .null: out += "null\n"
        case .bool(let b): out += (b ? "true" : "false") + "\n"
        case .integer(let i): out += "\(i)\n"
        case .string(let bytes): out += scalar(String(decoding: bytes, as: UTF8.self)) + "\n"
        }
    }

    /// YAML 1.1 words that a reader would not take as a string (booleans, nulls), any case.
    private static let reserved: Set<String> = ["y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", ""]

    static func scalar(_ text: String) -> String {
        let safe = text.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "/")
        }
        let first = text.utf8.first
        let startsPlain = first.map { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == UInt8(ascii: "/") } ?? false
        if safe && startsPlain && !reserved.contains(text.lowercased()) { return text }
        return JSONText.string(text)
    }
}
