import Mustache

/// A name in a template that does not give a value, and where it is.
public struct TemplateProblem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(line):\(column): \(message)" }
}

/// The strict check of a template against the pod's data, before the library renders it.
///
/// Why a walk of our own: Mustache renders a name that resolves to nothing as empty text, and the
/// library has no strict mode. A lookup hook (`MustacheParent.child(named:)`) cannot tell a true miss
/// from a step of the library's context-stack fallback (inside `{{#servers}}`, `port` is looked up in
/// the item first, then in the enclosing contexts), nor which tag asked, nor where that tag is — the
/// library keeps no positions after parsing. So this walk visits the tags (``TemplateScan``) with the
/// same data the library will render, resolving each name exactly as the library's `getChild` does
/// (stack walk for the first part of a dotted name, no fallback for later parts, `.` and a leading `.`
/// meaning the current item, transforms through the library's own `MustacheTransformable`), and
/// entering each section once per item, as rendering does. It reports each tag once.
///
/// Rules:
/// - a variable `{{x}}` or section `{{#x}}` whose name resolves to nothing is a problem, and so is a
///   variable whose value is `null` (the pod does not know it) — unless missing names are allowed;
/// - a name used in an inverted section `{{^x}}default{{/x}}` anywhere in the template is *optional*:
///   missing or `null` it renders the default there, nothing in `{{#x}}…{{/x}}`, and empty in `{{x}}`.
///   That is how a template states "x, or this default";
/// - always a problem, whatever the options: an object or list used as a variable (it would print as
///   Swift's debug text), and partials and parents (`{{>x}}`, `{{<x}}`), which need a template library
///   podagent does not have.
struct TemplateStrictness {
    let allowMissing: Bool
    private var optionalNames: Set<String> = []
    private(set) var problems: [TemplateProblem] = []
    private var reported: Set<[Int]> = []

    init(allowMissing: Bool) {
        self.allowMissing = allowMissing
    }

    mutating func check(_ tags: [TemplateTag], root: Any) -> [TemplateProblem] {
        collectOptionalNames(tags)
        walk(tags, stack: [root])
        return problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
    }

    private mutating func collectOptionalNames(_ tags: [TemplateTag]) {
        for tag in tags {
            if tag.kind == .invertedSection { optionalNames.insert(tag.name) }
            collectOptionalNames(tag.children)
        }
    }

    private mutating func walk(_ tags: [TemplateTag], stack: [Any]) {
        for tag in tags {
            switch tag.kind {
            case .partial, .parent:
                report(tag, "`\(tag.spelling)`: partials and parent templates are not supported — "
                    + "podagent renders each template on its own; copy the partial's text into this template")
            case .block:
                walk(tag.children, stack: stack)
            case .variable:
                checkVariable(tag, stack: stack)
            case .section:
                enterSection(tag, stack: stack)
            case .invertedSection:
                enterInvertedSection(tag, stack: stack)
            }
        }
    }

    private mutating func checkVariable(_ tag: TemplateTag, stack: [Any]) {
        switch resolve(tag, stack: stack) {
        case .sequenceContext:
            break
        case .missing(let reason):
            reportMissing(tag, reason)
        case .found(let value):
            switch value {
            case let ambiguous as TemplateAmbiguousName:
                reportMissing(tag, Self.ambiguity(ambiguous))
            case is TemplateNull:
                reportMissing(tag, "is null: the pod does not know this value")
            case is TemplateObject:
                report(tag, "`\(tag.spelling)` is an object, not text — name one of its members, "
                    + "or use it as a section: {{#\(tag.spelling)}}…{{/\(tag.spelling)}}")
            case is [Any]:
                report(tag, "`\(tag.spelling)` is a list, not text — repeat over it with a section: "
                    + "{{#\(tag.spelling)}}{{.}}{{/\(tag.spelling)}}")
            default:
                break
            }
        }
    }

    /// Follows the library's `renderSection`: lists repeat, bools gate, null-likes skip, other values
    /// become the current item.
    private mutating func enterSection(_ tag: TemplateTag, stack: [Any]) {
        switch resolve(tag, stack: stack) {
        case .sequenceContext:
            walk(tag.children, stack: stack)
        case .missing(let reason):
            reportMissing(tag, reason)
        case .found(let value):
            switch value {
            case let items as [Any]:
                for item in items { walk(tag.children, stack: stack + [item]) }
            case let flag as Bool:
                if flag { walk(tag.children, stack: stack) }
            case let ambiguous as TemplateAmbiguousName:
                reportMissing(tag, Self.ambiguity(ambiguous))
            case is TemplateNull:
                break
            default:
                walk(tag.children, stack: stack + [value])
            }
        }
    }

    /// Follows the library's `renderInvertedSection`.
    private mutating func enterInvertedSection(_ tag: TemplateTag, stack: [Any]) {
        switch resolve(tag, stack: stack) {
        case .sequenceContext:
            walk(tag.children, stack: stack)
        case .missing:
            walk(tag.children, stack: stack)
        case .found(let value):
            switch value {
            case let items as [Any]:
                if items.isEmpty { walk(tag.children, stack: stack + [items]) }
            case let flag as Bool:
                if !flag { walk(tag.children, stack: stack) }
            case is TemplateNull, is TemplateAmbiguousName:
                walk(tag.children, stack: stack)
            default:
                break
            }
        }
    }

    private enum Resolution {
        case found(Any)
        case missing(String)
        /// `{{index()}}`, `{{#first()}}`: the position in the list being repeated.
        case sequenceContext
    }

    /// The library's `getChild(named:transforms:context:)`, step for step.
    private func resolve(_ tag: TemplateTag, stack: [Any]) -> Resolution {
        let name = tag.name
        var value: Any
        if name == "." {
            value = stack.last!
        } else if name.isEmpty, !tag.transforms.isEmpty {
            return .sequenceContext
        } else {
            let parts = name.split(separator: ".").map(String.init)
            // `..` has no parts: the library then takes the current item, as for `.`.
            guard let first = parts.first else { return .found(stack.last!) }
            var start: Any?
            if name.hasPrefix(".") {
                start = Self.child(first, of: stack.last!)
            } else {
                start = stack.reversed().lazy.compactMap { Self.child(first, of: $0) }.first
            }
            guard var current = start else {
                return .missing(name.hasPrefix(".") || stack.count == 1
                    ? "resolves to nothing"
                    : "resolves to nothing, neither in the current item nor in any enclosing one")
            }
            for (offset, part) in parts.enumerated().dropFirst() {
                guard let next = Self.child(part, of: current) else {
                    let found = parts[..<offset].joined(separator: ".")
                    return .missing("resolves to nothing: `\(found)` has no member `\(part)`")
                }
                current = next
            }
            value = current
        }
        for transform in tag.transforms.reversed() {
            guard let transformable = value as? MustacheTransformable,
                  let transformed = transformable.transform(transform) else {
                return .missing("resolves to nothing: the transform `\(transform)` does not apply to this value")
            }
            value = transformed
        }
        return .found(value)
    }

    /// The library's `_getImmediateChild`: a `MustacheParent` answers for itself, anything else by
    /// its Swift reflection (which, for the values ``TemplateContext`` makes, finds nothing).
    private static func child(_ name: String, of object: Any) -> Any? {
        if let parent = object as? MustacheParent { return parent.child(named: name) }
        guard let match = Mirror(reflecting: object).children.first(where: { $0.label == name }) else { return nil }
        let optional = Mirror(reflecting: match.value)
        guard optional.displayStyle == .optional else { return match.value }
        return optional.children.first?.value
    }

    private static func ambiguity(_ name: TemplateAmbiguousName) -> String {
        "is ambiguous: the keys " + name.keys.map { "`\($0)`" }.joined(separator: " and ")
            + " both become this name — iterate them with {{#sorted(…)}}{{key}}={{value}}{{/sorted(…)}} instead"
    }

    private mutating func reportMissing(_ tag: TemplateTag, _ reason: String) {
        guard !allowMissing, !optionalNames.contains(tag.name) else { return }
        report(tag, "`\(tag.spelling)` \(reason) — check the name (a key like `example.com/log-level` is "
            + "named `example_com_log_level`), give a default with {{^\(tag.name)}}default{{/\(tag.name)}}, "
            + "or pass --allow-missing")
    }

    private mutating func report(_ tag: TemplateTag, _ message: String) {
        guard reported.insert([tag.line, tag.column]).inserted else { return }
        problems.append(TemplateProblem(line: tag.line, column: tag.column, message: message))
    }
}
