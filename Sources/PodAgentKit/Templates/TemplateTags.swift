/// One tag of a template, where it starts, and for sections the tags inside.
///
/// The Mustache library parses and renders, but keeps no positions once parsing succeeded; the strict
/// check (``TemplateStrictness``) needs them to say *where* a name resolves to nothing, so
/// ``TemplateScan`` finds the tags again, following the same tag grammar as the library
/// (hummingbird-project/swift-mustache 2.1.1, `Template+Parser.swift`). It only runs on templates
/// the library has already accepted.
struct TemplateTag: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// `{{x}}`, `{{{x}}}`, `{{&x}}`
        case variable
        /// `{{#x}}…{{/x}}`
        case section
        /// `{{^x}}…{{/x}}`
        case invertedSection
        /// `{{$x}}…{{/x}}`: renders its content, as no parent template overrides it
        case block
        /// `{{>x}}`
        case partial
        /// `{{<x}}…{{/x}}`
        case parent
    }

    var kind: Kind
    /// The name without transforms: `x` for `{{lowercased(x)}}`, `""` for `{{index()}}`.
    var name: String
    /// Outermost first, as the library stores them: `[f, g]` for `{{f(g(x))}}`.
    var transforms: [String]
    var line: Int
    var column: Int
    var children: [TemplateTag] = []

    /// The tag's name as written, for messages.
    var spelling: String {
        transforms.reduce(into: "") { $0 += $1 + "(" } + name + String(repeating: ")", count: transforms.count)
    }
}

/// The tags of a template text, as a tree of sections.
struct TemplateScan {
    var tags: [TemplateTag] = []
    /// The innermost section still open at the end of the text.
    var unclosed: TemplateTag?
    /// A closing tag whose name is not the one of the section it closes, and that section.
    var mismatch: (closing: TemplateTag, open: TemplateTag)?
    /// Where an opening delimiter without a closing one is: the library drops a trailing `{{`
    /// silently, which in a config file is almost certainly a mistake.
    var unterminated: (line: Int, column: Int)?

    init(_ text: String) {
        var cursor = PositionCursor(text)
        var start = "{{"
        var end = "}}"
        var open: [TemplateTag] = []
        var index = text.startIndex

        func append(_ tag: TemplateTag) {
            if open.isEmpty { tags.append(tag) } else { open[open.count - 1].children.append(tag) }
        }

        while let opening = Self.find(start, in: text, from: index) {
            let (line, column) = cursor.position(of: opening.lowerBound)
            var body = opening.upperBound
            guard body < text.endIndex else {
                unterminated = (line, column)
                break
            }
            let sigil = text[body]
            if "#^$</!{&>=%".contains(sigil) { body = text.index(after: body) }
            let closingDelimiter = sigil == "=" ? "=" + end : end
            guard let closing = Self.find(closingDelimiter, in: text, from: body) else {
                unterminated = (line, column)
                break
            }
            let content = text[body..<closing.lowerBound]
            index = closing.upperBound
            let (name, transforms) = Self.name(content)
            let tag = { (kind: TemplateTag.Kind) in
                TemplateTag(kind: kind, name: name, transforms: transforms, line: line, column: column)
            }
            switch sigil {
            case "#": open.append(tag(.section))
            case "^": open.append(tag(.invertedSection))
            case "$": open.append(tag(.block))
            case "<": open.append(tag(.parent))
            case "/":
                guard let section = open.popLast() else { return }
                guard section.name == name, section.transforms == transforms else {
                    mismatch = (tag(.section), section)
                    return
                }
                append(section)
            case "!", "%":
                break
            case "=":
                let delimiters = content.split(whereSeparator: \.isWhitespace)
                guard delimiters.count == 2 else { return }
                start = String(delimiters[0])
                end = String(delimiters[1])
            case "{":
                // `{{{x}}}`: the third brace follows the closing delimiter.
                if index < text.endIndex, text[index] == "}" { index = text.index(after: index) }
                append(tag(.variable))
            case ">": append(tag(.partial))
            default: append(tag(.variable))
            }
        }
        unclosed = open.last
    }

    /// Name and transforms as the library splits them: `f(g(x))` → `x`, `[f, g]`.
    static func name(_ content: Substring) -> (String, [String]) {
        let trimmed = content.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        let parts = String(trimmed).split(separator: "(", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return (String(trimmed), []) }
        return (parts.last!.filter { $0 != ")" }, parts.dropLast().map(String.init))
    }

    static func find(_ needle: String, in text: String, from start: String.Index) -> Range<String.Index>? {
        guard let first = needle.first else { return nil }
        var index = start
        while index < text.endIndex {
            if text[index] == first, text[index...].starts(with: needle) {
                return index..<text.index(index, offsetBy: needle.count)
            }
            index = text.index(after: index)
        }
        return nil
    }
}

/// Line and column (1-based, in characters) of positions visited in increasing order.
struct PositionCursor {
    let text: String
    var index: String.Index
    var line = 1
    var column = 1

    init(_ text: String) {
        self.text = text
        self.index = text.startIndex
    }

    mutating func position(of target: String.Index) -> (line: Int, column: Int) {
        while index < target {
            if text[index].isNewline {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index = text.index(after: index)
        }
        return (line, column)
    }
}
