#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Mustache

/// A Mustache template for `podagent render`, parsed and ready to render with the pod's data.
///
/// ```swift
/// let template = try PodTemplate.load("/etc/podagent/nginx.conf.mustache")
/// let text = try template.render(podView.value)   // [UInt8]
/// ```
///
/// Rendering differs from HTML Mustache in three deliberate ways, because the outputs are config
/// files (nginx, YAML, properties), not web pages:
/// - **No escaping.** `{{x}}`, `{{{x}}}` and `{{&x}}` all insert the value verbatim; `"`, `<` or `&`
///   in an annotation reach the config unchanged. (A template that wants HTML escaping says so with
///   the library's pragma `{{%CONTENT_TYPE:HTML}}`.)
/// - **Strict names.** A name that resolves to nothing is an error naming the template, line and
///   column, unless `allowMissing` is set or the template declares the name optional by using it in
///   an inverted section: `{{^annotations.example_com_log_level}}warn{{/annotations.example_com_log_level}}`.
///   See ``TemplateStrictness`` for the exact rules.
/// - **Bytes kept.** Values and template text that are not valid UTF-8 come out byte for byte.
///
/// Keys that Mustache cannot name (label and annotation keys hold `.` and `/`) are also reachable by
/// their alias: every byte other than an ASCII letter, digit or `_` replaced by `_`
/// (`app.kubernetes.io/name` → `app_kubernetes_io_name`). Two keys with one alias get none; both stay
/// reachable by iterating: `{{#sorted(labels)}}{{key}}={{value}}{{/sorted(labels)}}`.
/// Lists repeat a section once per item (`{{#pod.ips}}{{.}} {{/pod.ips}}`).
public struct PodTemplate: Sendable {
    /// Where the template was read from; named in every error.
    public let path: String
    /// The template file's permission bits, which its output gets too (a template kept `0600`
    /// because its output will hold something private renders to a `0600` file).
    public let mode: mode_t

    private let compiled: MustacheTemplate
    private let tags: [TemplateTag]

    /// Parses template text. Throws ``TemplateError/syntax(path:line:column:reason:lineText:)``.
    public init(path: String, bytes: [UInt8], mode: mode_t = 0o644) throws(TemplateError) {
        self.path = path
        self.mode = mode & 0o777
        let text = TemplateText.decode(bytes)
        let scan = TemplateScan(text)
        do {
            // The pragma on a line of its own switches the library's default (HTML) to plain text.
            // It is a standalone tag, so it leaves no blank line, but it shifts line numbers by one.
            compiled = try MustacheTemplate(string: "{{%CONTENT_TYPE:TEXT}}\n" + text)
        } catch let error as MustacheTemplate.ParserError {
            throw Self.syntaxError(path: path, error, scan: scan, text: text)
        } catch {
            throw .syntax(path: path, line: 1, column: 1, reason: "\(error)", lineText: "")
        }
        if let (line, column) = scan.unterminated {
            throw .syntax(path: path, line: line, column: column,
                          reason: "this tag is never closed — close it with }}, or write a literal `{{` with a "
                            + "set-delimiter tag such as {{=<% %>=}}",
                          lineText: Self.lineText(text, line: line))
        }
        tags = scan.tags
    }

    /// Reads and parses the template file at `path`, remembering its mode for the output.
    public static func load(_ path: String) throws(TemplateError) -> PodTemplate {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch {
            throw .unreadableTemplate(path: path, error)
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadableTemplate(path: path, SystemError("stat", path)) }
        return try PodTemplate(path: path, bytes: bytes, mode: info.st_mode)
    }

    /// Renders the template with `data` (normally `PodView.value`).
    ///
    /// Throws ``TemplateError/unresolvedNames(path:_:)`` listing every problem found, before
    /// anything is rendered. With `allowMissing`, names that resolve to nothing render as empty text.
    public func render(_ data: PodValue, allowMissing: Bool = false) throws(TemplateError) -> [UInt8] {
        let root = TemplateContext.value(data)
        var strictness = TemplateStrictness(allowMissing: allowMissing)
        let problems = strictness.check(tags, root: root)
        guard problems.isEmpty else { throw .unresolvedNames(path: path, problems) }
        return TemplateText.encode(compiled.render(root))
    }

    private static func syntaxError(
        path: String, _ error: MustacheTemplate.ParserError, scan: TemplateScan, text: String
    ) -> TemplateError {
        // An unclosed section is reported by the library at the end of the file; where it was
        // opened is what the user needs.
        if case MustacheTemplate.Error.expectedSectionEnd = error.error, let open = scan.unclosed {
            return .syntax(path: path, line: open.line, column: open.column,
                           reason: "the section `\(open.spelling)` opened here is never closed — add {{/\(open.spelling)}}",
                           lineText: lineText(text, line: open.line))
        }
        let reason: String
        switch error.error {
        case MustacheTemplate.Error.sectionCloseNameIncorrect:
            if let (_, open) = scan.mismatch {
                reason = "this closing tag does not match the open section `\(open.spelling)` "
                    + "(line \(open.line), column \(open.column)) — close that one first with {{/\(open.spelling)}}"
            } else {
                reason = "this closing tag does not match the section it closes"
            }
        case MustacheTemplate.Error.unfinishedName:
            reason = "the tag is not closed, or its name has a character a name cannot have "
                + "(names are letters, digits, `.`, `-`, `_`; `{{{x}}}` needs three closing braces)"
        case MustacheTemplate.Error.expectedSectionEnd:
            reason = "a section is never closed"
        case MustacheTemplate.Error.invalidSetDelimiter:
            reason = "invalid set-delimiter tag — write it like {{=<% %>=}}"
        case MustacheTemplate.Error.invalidConfigVariableSyntax, MustacheTemplate.Error.unrecognisedConfigVariable:
            reason = "unknown pragma — the only ones are {{%CONTENT_TYPE:TEXT}} and {{%CONTENT_TYPE:HTML}}"
        case MustacheTemplate.Error.transformAppliedToInheritanceSection,
             MustacheTemplate.Error.illegalTokenInsideInheritSection,
             MustacheTemplate.Error.textInsideInheritSection:
            reason = "invalid template inheritance (`{{<…}}` / `{{$…}}`): \(error.error)"
        default:
            // The library's reader runs out of text inside a tag ("overflow").
            reason = "the template ends inside a tag (\(error.error)) — close it with }}"
        }
        return .syntax(path: path, line: max(1, error.context.lineNumber - 1), column: error.context.columnNumber,
                       reason: reason, lineText: TemplateText.readable(error.context.line))
    }

    private static func lineText(_ text: String, line: Int) -> String {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        return line <= lines.count ? TemplateText.readable(String(lines[line - 1])) : ""
    }
}
