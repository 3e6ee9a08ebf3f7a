// Content snapshots, diffs and filters on their own: no inotify, real files.

import Foundation
import Glibc
import Testing

@testable import PodAgentKit

@Suite("Watching: content, diffs and filters")
struct WatchingContentTests {
    /// SHA-256 of "abc" (FIPS 180-2 test vector).
    static let abcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    @Test("a kubelet volume is read through ..data: SHA-256 per file, nested keys included, generation named")
    func kubeletVolume() throws {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        guard case .committed(let generation) = try AtomicWriter(targetDirectory: sandbox.path).write([
            "key": FileProjection(text: "abc"), "nested/deep": FileProjection(text: "abc"),
        ]) else { Issue.record("must commit"); return }
        let content = try VolumeContent.read(sandbox.path)
        #expect(content.generation == generation)
        #expect(content.files == ["key": Self.abcDigest, "nested/deep": Self.abcDigest])
    }

    @Test("a directory inside a kubelet volume: found through the volume's link into ..data, read from one generation")
    func directoryInsideAKubeletVolume() throws {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        guard case .committed(let generation) = try AtomicWriter(targetDirectory: sandbox.path).write([
            "top": FileProjection(text: "abc"), "conf.d/a.conf": FileProjection(text: "abc"),
            "conf.d/inner/b.conf": FileProjection(text: "abc"), "conf.dx/c": FileProjection(text: "abc"),
        ]) else { Issue.record("must commit"); return }
        try FileManager.default.createDirectory(atPath: sandbox.path("plain/sub"), withIntermediateDirectories: true)
        let root = sandbox.path
        #expect(VolumeWatch.kubeletNesting(of: root + "/conf.d") == KubeletNesting(root: root, subpath: "conf.d"))
        #expect(VolumeWatch.kubeletNesting(of: root + "/conf.d/inner") == KubeletNesting(root: root, subpath: "conf.d/inner"))
        #expect(VolumeWatch.kubeletNesting(of: root + "/..data/conf.d") == KubeletNesting(root: root, subpath: "conf.d"))
        #expect(VolumeWatch.kubeletNesting(of: root + "/" + generation + "/conf.d") == nil, "a generation's own path is not followed")
        #expect(VolumeWatch.kubeletNesting(of: root) == nil, "the root is a volume, not inside one")
        #expect(VolumeWatch.kubeletNesting(of: root + "/plain/sub") == nil)
        #expect(VolumeWatch.kubeletNesting(of: "/") == nil)
        #expect(VolumeWatch.kubeletNesting(of: root + "/conf.d/inner/..") == nil, "`..` is not followed out of a generation")

        let nesting = try #require(VolumeWatch.kubeletNesting(of: root + "/conf.d"))
        let content = try VolumeContent.read(root + "/conf.d", nesting: nesting)
        #expect(content.directory == root + "/conf.d")
        #expect(content.generation == generation)
        #expect(content.files == ["a.conf": Self.abcDigest, "inner/b.conf": Self.abcDigest], "not conf.dx, not top")
        #expect(throws: ContentReadError.missing) {
            try VolumeContent.read(root + "/gone", nesting: KubeletNesting(root: root, subpath: "gone"))
        }
    }

    @Test("the symlinks a path goes through: relative and absolute targets, `..` after a link, a link last, a missing tail, a loop")
    func symlinksOnAPath() throws {
        let sandbox = try WatchSandbox("links")
        defer { sandbox.remove() }
        let base = FileSystem.canonical(sandbox.path)
        try FileManager.default.createDirectory(atPath: base + "/worktrees/a/conf", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/shared", withIntermediateDirectories: true)
        #expect(symlink("worktrees/a", base + "/repo") == 0)
        #expect(symlink(base + "/repo", base + "/absolute") == 0)
        #expect(symlink("../shared", base + "/worktrees/a/up") == 0)
        #expect(symlink("loop2", base + "/loop1") == 0 && symlink("loop1", base + "/loop2") == 0)
        func hops(_ path: String) -> [String] { VolumeWatch.symlinks(on: path).map { $0.directory + " " + $0.name } }
        #expect(hops(base + "/repo/conf") == [base + " repo"])
        #expect(hops(base + "/repo") == [base + " repo"], "a link as the last component")
        #expect(hops(base + "/absolute/conf") == [base + " absolute", base + " repo"])
        #expect(hops(base + "/repo/up/../worktrees") == [base + " repo", base + "/worktrees/a up"], "`..` after a link is physical")
        #expect(hops(base + "/repo/missing/deeper") == [base + " repo"], "stops where the path stops existing")
        #expect(hops(base + "/worktrees/a/conf").isEmpty)
        #expect(hops(base + "/loop1/x") == [base + " loop1", base + " loop2"], "a loop: each link once, then nothing")
    }

    @Test("a plain directory: regular files and subdirectories, links to files followed, `..` names skipped")
    func plainDirectory() throws {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        try sandbox.write("app.conf", "abc")
        try sandbox.write("conf.d/site.conf", "abc")
        try sandbox.write("..2026_01_01_00_00_00.1/uncommitted", "abc")
        #expect(symlink("app.conf", sandbox.path("link")) == 0)
        #expect(symlink("missing", sandbox.path("dangling")) == 0)
        #expect(symlink("conf.d", sandbox.path("dirlink")) == 0)
        let content = try VolumeContent.read(sandbox.path)
        #expect(content.generation == nil)
        #expect(content.files == ["app.conf": Self.abcDigest, "conf.d/site.conf": Self.abcDigest, "link": Self.abcDigest])
    }

    @Test("a plain directory past the bound of the walk says so; files the globs leave out do not count toward it")
    func plainDirectoryPastTheBoundIsTruncated() throws {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        try sandbox.write("objs/.keep", "")
        for index in 0..<VolumeContent.maxFiles {
            let fd = open(sandbox.path("objs/\(index).o"), O_WRONLY | O_CREAT, 0o644)
            try #require(fd >= 0)
            close(fd)
        }
        try sandbox.write("app.conf", "abc")
        let all = try VolumeContent.read(sandbox.path)
        #expect(all.truncated && all.files.count == VolumeContent.maxFiles)
        let narrowed = try VolumeContent.read(sandbox.path, filter: ChangeFilter(exclude: ["objs/*"]))
        #expect(!narrowed.truncated && narrowed.files == ["app.conf": Self.abcDigest])
    }

    @Test("a plain directory's files that the globs leave out are not read (a log growing in a shared emptyDir)")
    func plainDirectoryFilteredFilesAreNotRead() throws {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        try sandbox.write("app.conf", "abc")
        try sandbox.write("logs/app.log", "abc")
        try sandbox.write("unreadable.log", "abc")
        #expect(chmod(sandbox.path("unreadable.log"), 0) == 0 || getuid() == 0)
        let content = try VolumeContent.read(sandbox.path, filter: ChangeFilter(exclude: ["*.log"]))
        #expect(content.files == ["app.conf": Self.abcDigest])
    }

    @Test("a missing directory reads as missing")
    func missingDirectory() {
        #expect(throws: ContentReadError.missing) { try VolumeContent.read("/nonexistent/podagent-content") }
    }

    static func content(_ files: [String: String]) throws -> VolumeContent {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        try AtomicWriter(targetDirectory: sandbox.path).write(files.mapValues { FileProjection(text: $0) })
        var content = try VolumeContent.read(sandbox.path)
        content.directory = "/etc/podinfo"
        return content
    }

    @Test("label and annotation files are diffed by key: added, removed and changed keys")
    func keyDiff() throws {
        let old = try Self.content([
            "labels": watchMapFile(["app": "web", "tier": "front", "gone": "x"]),
            "annotations": watchMapFile(["a": "1"]),
        ])
        let new = try Self.content([
            "labels": watchMapFile(["app": "web", "tier": "back", "new": "y"]),
            "annotations": watchMapFile(["a": "1", "b": "with \"quotes\"\nand a newline"]),
        ])
        let change = try #require(VolumeChange.between(old, new, filter: ChangeFilter()))
        #expect(change.modified == ["annotations", "labels"])
        #expect(change.labelKeys == ["gone", "new", "tier"])
        #expect(change.annotationKeys == ["b"])
    }

    @Test("--on-label keeps a labels change only if a listed key changed; a file that is not a map always counts")
    func keyFilter() throws {
        let old = try Self.content(["labels": watchMapFile(["app": "web", "tier": "front"]), "meta/labels": "not a map"])
        let tierOnly = try Self.content(["labels": watchMapFile(["app": "web", "tier": "back"]), "meta/labels": "not a map"])
        let filter = ChangeFilter(onLabels: ["app"])
        #expect(VolumeChange.between(old, tierOnly, filter: filter) == nil)
        let unparseable = try Self.content(["labels": watchMapFile(["app": "web", "tier": "front"]), "meta/labels": "still not"])
        #expect(VolumeChange.between(old, unparseable, filter: filter)?.modified == ["meta/labels"])
    }

    @Test("identical bytes in a new generation are no change")
    func identicalContent() throws {
        let old = try Self.content(["a": "1"])
        let new = try Self.content(["a": "1"])
        #expect(old.generation != new.generation)
        #expect(VolumeChange.between(old, new, filter: ChangeFilter()) == nil)
    }

    @Test("globs: fnmatch on the relative path, `*` crosses `/`, exclude wins, no include means everything")
    func globs() {
        let filter = ChangeFilter(include: ["*.conf", "certs/*"], exclude: ["*.swp.conf"])
        #expect(filter.admitsPath("nginx.conf"))
        #expect(filter.admitsPath("conf.d/site.conf"))
        #expect(filter.admitsPath("certs/tls.crt"))
        #expect(!filter.admitsPath("README"))
        #expect(!filter.admitsPath(".nginx.swp.conf"))
        #expect(ChangeFilter(exclude: ["*.tmp"]).admitsPath("anything"))
        #expect(!ChangeFilter(exclude: ["*.tmp"]).admitsPath("cache/x.tmp"))
    }

    @Test("the summary names directories, generations, files and keys — never content")
    func summary() {
        let set = ChangeSet(sequence: 3, firstCommitSeen: .now, volumes: [
            VolumeChange(directory: "/etc/config", generation: "..2026_11_23_07_45_27.57250255",
                         added: ["new.conf"], modified: ["nginx.conf"]),
            VolumeChange(directory: "/etc/podinfo", modified: ["labels"], labelKeys: ["app"]),
        ], contents: [])
        #expect(set.summary == "/etc/config (..2026_11_23_07_45_27.57250255): added new.conf; modified nginx.conf"
                + " | /etc/podinfo: modified labels; label keys app")
    }

    @Test("configuration: paths made absolute and normalised, duplicates dropped, bad options explained")
    func configuration() throws {
        let sandbox = try WatchSandbox("content")
        defer { sandbox.remove() }
        var configuration = WatchConfiguration(directories: [sandbox.path + "/", sandbox.path + "/./", sandbox.path])
        #expect(try configuration.validatedDirectories() == [sandbox.path])
        try sandbox.write("file", "x")
        configuration.directories = [sandbox.path("file")]
        #expect(throws: WatchError(.notADirectory(path: sandbox.path("file")))) { try configuration.validatedDirectories() }
        configuration.directories = [sandbox.path]
        configuration.debounce = .milliseconds(-1)
        #expect(throws: WatchError(.negativeDuration(option: "debounce"))) { try configuration.validatedDirectories() }
        #expect(throws: WatchError(.noDirectories)) { try WatchConfiguration(directories: []).validatedDirectories() }
        #expect(WatchConfiguration.absolute("/a//b/./c/") == "/a/b/c")
    }
}
