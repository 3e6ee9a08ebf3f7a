import Testing

@testable import PodAgentKit

/// What a template renders to, and which names are errors: in memory, no files involved.
@Suite("Templates: rendering and strict names")
struct TemplateRenderingTests {
    private let path = "/templates/app.conf.mustache"

    private func render(_ template: String, _ data: PodValue, allowMissing: Bool = false) throws -> String {
        let bytes = try PodTemplate(path: path, bytes: Array(template.utf8)).render(data, allowMissing: allowMissing)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The problems a render reports, or nil when it renders.
    private func problems(_ template: String, _ data: PodValue, allowMissing: Bool = false) throws -> [TemplateProblem]? {
        do {
            _ = try PodTemplate(path: path, bytes: Array(template.utf8)).render(data, allowMissing: allowMissing)
            return nil
        } catch .unresolvedNames(let errorPath, let problems) {
            #expect(errorPath == path)
            return problems
        }
    }

    private let servers: PodValue = .object([
        .init("domain", .text("example.com")),
        .init("servers", .list([
            .object([.init("name", .text("a")), .init("port", .integer(80))]),
            .object([.init("name", .text("b")), .init("port", .integer(81))]),
        ])),
    ])

    // MARK: Escaping

    @Test("{{x}} inserts the value verbatim: configs are not HTML")
    func doubleMustacheIsVerbatim() throws {
        let data = PodValue.object([.init("x", .text(#"a"<b>&'c\"#))])
        #expect(try render("{{x}}", data) == #"a"<b>&'c\"#)
    }

    @Test("{{{x}}} and {{&x}} are verbatim too")
    func tripleMustacheIsVerbatim() throws {
        let data = PodValue.object([.init("x", .text("<&>"))])
        #expect(try render("{{{x}}} {{&x}}", data) == "<&> <&>")
    }

    @Test("a template opts into HTML escaping with the library's pragma")
    func htmlPragmaEscapes() throws {
        let data = PodValue.object([.init("x", .text("<&>"))])
        #expect(try render("{{%CONTENT_TYPE:HTML}}{{x}}", data) == "&lt;&amp;&gt;")
    }

    // MARK: Values

    @Test("numbers, bools and dotted names render as text")
    func scalarsRender() throws {
        let data = PodValue.object([
            .init("cpus", .integer(2)),
            .init("resources", .object([.init("limits", .object([.init("memoryBytes", .integer(134_217_728))]))])),
            .init("flag", .bool(true)),
        ])
        #expect(try render("{{cpus}} {{resources.limits.memoryBytes}} {{flag}}", data) == "2 134217728 true")
    }

    @Test("a list repeats its section once per item, with {{.}} the item")
    func listRepeatsSection() throws {
        let data = PodValue.object([.init("pod", .object([.init("ips", .list([.text("10.0.0.1"), .text("fd00::1")]))]))])
        #expect(try render("{{#pod.ips}}listen {{.}};\n{{/pod.ips}}", data) == "listen 10.0.0.1;\nlisten fd00::1;\n")
    }

    @Test("a label key with `.` and `/` is reachable by its alias")
    func annotationKeyAlias() throws {
        let data = PodValue.object([.init("annotations", .object([.init("example.com/log-level", .text("debug"))]))])
        #expect(try render("{{annotations.example_com_log_level}}", data) == "debug")
    }

    @Test("two keys with the same alias: using the alias is an error naming both keys")
    func ambiguousAlias() throws {
        let data = PodValue.object([.init("labels", .object([.init("a.b", .text("1")), .init("a/b", .text("2"))]))])
        let found = try #require(try problems("{{labels.a_b}}", data))
        #expect(found.count == 1)
        #expect(found[0].message.contains("`a.b` and `a/b`"))
    }

    @Test("labels can be iterated in byte order with sorted(…), aliases not repeated")
    func sortedIteration() throws {
        let data = PodValue.object([.init("labels", .object([.init("tier", .text("web")), .init("app.kubernetes.io/name", .text("shop"))]))])
        #expect(try render("{{#sorted(labels)}}{{key}}={{value}};{{/sorted(labels)}}", data)
            == "app.kubernetes.io/name=shop;tier=web;")
    }

    @Test("bytes that are not UTF-8, in values and in the template, come out unchanged")
    func invalidUTF8Kept() throws {
        let value: [UInt8] = [0x61, 0xFF, 0xC3, 0x28, 0x62] + Array("\u{10FF41}".utf8)
        let template: [UInt8] = [0xFE] + Array("{{x}}".utf8) + [0xE2, 0x82]
        let out = try PodTemplate(path: path, bytes: template).render(.object([.init("x", .string(value))]))
        #expect(out == [0xFE] + value + [0xE2, 0x82])
    }

    // MARK: Strict names

    @Test("a missing variable is an error with its line and column")
    func missingVariable() throws {
        let found = try #require(try problems("server {\n  listen {{prot}};\n}\n", .object([.init("port", .integer(80))])))
        #expect(found == [TemplateProblem(line: 2, column: 10, message: found[0].message)])
        #expect(found[0].message.hasPrefix("`prot` resolves to nothing"))
    }

    @Test("the error text names the template path, line, column and the ways out")
    func missingVariableMessage() throws {
        do {
            _ = try PodTemplate(path: path, bytes: Array("x\n{{nope}}".utf8)).render(.object([]))
            Issue.record("rendered")
        } catch {
            let text = error.description
            #expect(text.hasPrefix("/templates/app.conf.mustache:2:1: `nope` resolves to nothing"))
            #expect(text.contains("{{^nope}}default{{/nope}}"))
            #expect(text.contains("pass --allow-missing"))
        }
    }

    @Test("every missing name is reported, in template order")
    func allProblemsReported() throws {
        let found = try #require(try problems("{{b}}{{a}}\n{{c}}", .object([.init("a", .integer(1))])))
        #expect(found.map { [$0.line, $0.column] } == [[1, 1], [2, 1]])
    }

    @Test("allowMissing renders a missing name as empty text")
    func allowMissing() throws {
        #expect(try render("[{{nope}}][{{#gone}}x{{/gone}}][{{a.b.c}}]", .object([]), allowMissing: true) == "[][][]")
    }

    @Test("a section on a missing name is an error (a typo would drop its content silently)")
    func missingSection() throws {
        let found = try #require(try problems("{{#tls}}ssl on;{{/tls}}", .object([])))
        #expect(found.count == 1 && found[0].column == 1)
    }

    @Test("an inverted section on a missing name renders its default")
    func invertedSectionDefault() throws {
        #expect(try render("level {{^level}}warn{{/level}};", .object([])) == "level warn;")
    }

    @Test("a name used in an inverted section is optional everywhere in the template")
    func invertedSectionMakesNameOptional() throws {
        let template = "{{#level}}[{{.}}]{{/level}}{{level}}{{^level}}warn{{/level}}"
        #expect(try render(template, .object([])) == "warn")
        #expect(try render(template, .object([.init("level", .text("debug"))])) == "[debug]debug")
    }

    @Test("a null variable is an error: the pod does not know the value")
    func nullVariable() throws {
        let found = try #require(try problems("{{cpus}}", .object([.init("cpus", .null)])))
        #expect(found[0].message.contains("is null"))
    }

    @Test("a null section is skipped without an error")
    func nullSection() throws {
        #expect(try render("a{{#cpus}}{{.}}{{/cpus}}b", .object([.init("cpus", .null)])) == "ab")
    }

    @Test("inside a section, a name resolves in the item first, then in the enclosing context")
    func sectionFallsBackToRoot() throws {
        #expect(try render("{{#servers}}{{name}}.{{domain}}:{{port}} {{/servers}}", servers)
            == "a.example.com:80 b.example.com:81 ")
    }

    @Test("inside a section, a name missing in the item and in every enclosing context is an error")
    func sectionMissEverywhere() throws {
        let found = try #require(try problems("{{#servers}}\n{{name}} {{weight}}\n{{/servers}}", servers))
        #expect(found.count == 1)  // once, although both items miss it
        #expect([found[0].line, found[0].column] == [2, 10])
    }

    @Test("a name missing in only one list item is an error")
    func missInOneItem() throws {
        let data = PodValue.object([.init("servers", .list([
            .object([.init("port", .integer(80))]), .object([]),
        ]))])
        #expect(try problems("{{#servers}}{{port}}{{/servers}}", data)?.count == 1)
    }

    @Test("the same name resolves inside a section and misses outside it: only the outside tag is reported")
    func sameNameTwoPlaces() throws {
        let found = try #require(try problems("{{#servers}}{{port}}{{/servers}}\n{{port}}", servers))
        #expect(found.map { [$0.line, $0.column] } == [[2, 1]])
    }

    @Test("the later parts of a dotted name do not fall back to enclosing contexts, as in the library")
    func dottedNameNoFallback() throws {
        let data = PodValue.object([
            .init("b", .object([.init("c", .text("root"))])),
            .init("a", .object([.init("b", .object([]))])),
        ])
        let template = "{{#a}}[{{b.c}}]{{/a}}"
        let found = try #require(try problems(template, data))
        #expect(found[0].message.contains("`b` has no member `c`"))
        // The library agrees that nothing is there.
        #expect(try render(template, data, allowMissing: true) == "[]")
    }

    @Test("a leading dot anchors the name at the current item: no fallback")
    func leadingDotAnchors() throws {
        #expect(try problems("{{#servers}}{{.domain}}{{/servers}}", servers)?.count == 1)
        #expect(try render("{{#servers}}{{.name}}{{/servers}}", servers) == "ab")
    }

    @Test("an object or list as a variable is an error even when missing names are allowed")
    func containerAsVariable() throws {
        let found = try #require(try problems("{{servers}}", servers, allowMissing: true))
        #expect(found[0].message.contains("is a list"))
    }

    @Test("partials are rejected: there is no template library to take them from")
    func partialRejected() throws {
        let found = try #require(try problems("a\n  {{> header}}", .object([]), allowMissing: true))
        #expect([found[0].line, found[0].column] == [2, 3])
    }

    @Test("names inside a false or empty section are not checked: they are not rendered")
    func falseSectionNotChecked() throws {
        let data = PodValue.object([.init("tls", .bool(false)), .init("hosts", .list([]))])
        #expect(try render("{{#tls}}{{cert}}{{/tls}}{{#hosts}}{{nope}}{{/hosts}}ok", data) == "ok")
    }

    @Test("a transform that does not apply is an error, one that applies renders")
    func transforms() throws {
        let data = PodValue.object([.init("cpus", .integer(2)), .init("name", .text("Web"))])
        #expect(try render("{{plusone(cpus)}} {{lowercased(name)}}", data) == "3 web")
        #expect(try problems("{{lowercased(cpus)}}", data)?.first?.message.contains("`lowercased`") == true)
    }

    @Test("capitalized: each word's first letter upper-cased, the rest lower-cased, words split by white space")
    func capitalizedTransform() throws {
        let data = PodValue.object([.init("name", .text("hello wORLD\tfront-end\nx"))])
        #expect(try render("{{capitalized(name)}}", data) == "Hello World\tFront-end\nX")
    }

    // MARK: Syntax errors

    private func syntaxError(_ template: String) -> (line: Int, column: Int, reason: String, description: String)? {
        do {
            _ = try PodTemplate(path: path, bytes: Array(template.utf8))
            return nil
        } catch {
            guard case .syntax(let errorPath, let line, let column, let reason, _) = error else { return nil }
            #expect(errorPath == path)
            return (line, column, reason, error.description)
        }
    }

    @Test("an unclosed tag: file, line and column of where the library stopped, and the reason")
    func unclosedTag() throws {
        let found = try #require(syntaxError("a\nworker_processes {{cpus;\n"))
        #expect([found.line, found.column] == [2, 24])  // the `;` where a name cannot go on
        #expect(found.reason.contains("not closed"))
        #expect(found.description.hasPrefix("/templates/app.conf.mustache:2:24: template syntax error: "))
        #expect(found.description.contains("\n    worker_processes {{cpus;\n"))
    }

    @Test("a `{{` at the very end, which the library would drop silently, is an error")
    func trailingOpeningDelimiter() throws {
        let found = try #require(syntaxError("listen 80;\nworker_processes {{"))
        #expect([found.line, found.column] == [2, 18])
        #expect(found.reason.contains("never closed"))
    }

    @Test("a closing tag that does not match names the open section and where it is")
    func mismatchedClose() throws {
        let found = try #require(syntaxError("x\n{{#a}}\n  {{#b}}{{/a}}\n"))
        #expect([found.line, found.column] == [3, 12])
        #expect(found.reason.contains("`b` (line 3, column 3)"))
    }

    @Test("a section never closed is reported where it opens")
    func unclosedSection() throws {
        let found = try #require(syntaxError("one\n two {{#tls}}\nthree\n"))
        #expect([found.line, found.column] == [2, 6])
        #expect(found.reason.contains("`tls`"))
    }

    @Test("an error on the first line keeps line 1 and its column")
    func firstLineError() throws {
        let found = try #require(syntaxError("ab{{=<% %>}}"))
        #expect(found.line == 1)
        #expect(found.reason.contains("set-delimiter"))
    }
}
