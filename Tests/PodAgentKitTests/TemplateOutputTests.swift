import Glibc
import Testing

@testable import PodAgentKit

/// How `TemplateRenderer` writes outputs: real files in a temporary directory.
@Suite("Templates: writing outputs")
struct TemplateOutputTests {
    private let data = PodValue.object([.init("cpus", .integer(2))])

    private func inode(_ path: String) -> UInt? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt(info.st_ino) : nil
    }

    @Test("the output is the rendered template")
    func writesOutput() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        let template = dir.write("t.mustache", "worker_processes {{cpus}};\n")
        let results = try TemplateRenderer(jobs: [.init(template: template, output: dir.file("out.conf"))]).render(data)
        #expect(readText(dir.file("out.conf")) == "worker_processes 2;\n")
        #expect(results.map(\.changed) == [true])
    }

    @Test("the output keeps the template's mode", arguments: [0o600, 0o640, 0o755] as [UInt32])
    func keepsTemplateMode(mode: UInt32) throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        let template = dir.write("t.mustache", "x")
        chmod(template, mode_t(mode))
        dir.write("out", "old")  // an existing 0644 file gets the template's mode too
        _ = try TemplateRenderer(jobs: [.init(template: template, output: dir.file("out"))]).render(data)
        #expect(fileMode(dir.file("out")) == mode)
    }

    @Test("an identical render is reported unchanged and leaves the file alone")
    func identicalRenderUnchanged() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        let renderer = TemplateRenderer(jobs: [.init(template: dir.write("t.mustache", "{{cpus}}"), output: dir.file("out"))])
        _ = try renderer.render(data)
        let before = inode(dir.file("out"))
        let again = try renderer.render(data)
        #expect(again.map(\.changed) == [false])
        #expect(inode(dir.file("out")) == before)  // not even rewritten: a watcher sees no event
    }

    @Test("a render with different data is reported changed")
    func changedRenderReported() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        let renderer = TemplateRenderer(jobs: [.init(template: dir.write("t.mustache", "{{cpus}}"), output: dir.file("out"))])
        _ = try renderer.render(data)
        let results = try renderer.render(.object([.init("cpus", .integer(4))]))
        #expect(results.map(\.changed) == [true])
        #expect(readText(dir.file("out")) == "4")
    }

    @Test("a failing template leaves every output untouched, also those of templates that rendered")
    func failureWritesNothing() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        dir.write("a.conf", "old a")
        let renderer = TemplateRenderer(jobs: [
            .init(template: dir.write("a.mustache", "new {{cpus}}"), output: dir.file("a.conf")),
            .init(template: dir.write("b.mustache", "{{typo}}"), output: dir.file("b.conf")),
        ])
        #expect(throws: TemplateError.self) { try renderer.render(data) }
        #expect(readText(dir.file("a.conf")) == "old a")
        #expect(!FileSystem.exists(dir.file("b.conf")))
        #expect(listDirectory(dir.path) == ["a.conf", "a.mustache", "b.mustache"])
    }

    @Test("a missing output directory fails before anything is written")
    func missingOutputDirectory() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        let renderer = TemplateRenderer(jobs: [
            .init(template: dir.write("a.mustache", "{{cpus}}"), output: dir.file("a.conf")),
            .init(template: dir.write("b.mustache", "{{cpus}}"), output: dir.file("nowhere/b.conf")),
        ])
        #expect(throws: TemplateError.missingOutputDirectory(output: dir.file("nowhere/b.conf"))) { try renderer.render(data) }
        #expect(!FileSystem.exists(dir.file("a.conf")))
    }

    @Test("no temporary file is left beside the output")
    func noTemporaryLeft() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        _ = try TemplateRenderer(jobs: [.init(template: dir.write("t.mustache", "{{cpus}}"), output: dir.file("out"))]).render(data)
        #expect(listDirectory(dir.path) == ["out", "t.mustache"])
    }

    @Test("a template that cannot be read is named in the error")
    func unreadableTemplate() throws {
        let dir = TemporaryDirectory("render")
        defer { dir.remove() }
        do {
            _ = try TemplateRenderer(jobs: [.init(template: dir.file("absent.mustache"), output: dir.file("out"))]).render(data)
            Issue.record("rendered")
        } catch {
            #expect(error.description.hasPrefix("cannot read template \(dir.file("absent.mustache")): open "))
            #expect(error.description.contains("No such file or directory"))
        }
    }
}
