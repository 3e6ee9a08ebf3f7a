// Specification of AtomicWriter: ports of kubernetes/kubernetes pkg/volume/util/atomic_writer_test.go
// (TestValidatePath, TestValidatePayload, TestPathsToRemove, TestWriteOnce, TestUpdate,
// TestMultipleUpdates, TestCreateUserVisibleFiles) plus the layout and failure behaviour podagent relies on.

import Foundation
import Glibc
import Testing

@testable import PodAgentKit

/// Filesystem probes for the atomic-volume tests, written against Glibc directly so they check the
/// writer rather than share its code.
enum AtomicFixture {
    /// Runs `body` with a fresh empty directory under /tmp, removed afterwards.
    static func withVolume(_ body: (String) throws -> Void) throws {
        var template = Array("/tmp/podagent-atomic-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let root = String(cString: created)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(root)
    }

    static func readlink(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    static func lstat(_ path: String) -> stat? {
        var info = stat()
        return Glibc.lstat(path, &info) == 0 ? info : nil
    }

    static func isSymlink(_ path: String) -> Bool { lstat(path).map { $0.st_mode & S_IFMT == S_IFLNK } ?? false }
    static func isDirectory(_ path: String) -> Bool { lstat(path).map { $0.st_mode & S_IFMT == S_IFDIR } ?? false }
    static func permissions(_ path: String) -> UInt32? { lstat(path).map { UInt32($0.st_mode) & 0o7777 } }
    static func inode(_ path: String) -> UInt64? { lstat(path).map { UInt64($0.st_ino) } }

    /// Names in `directory`, sorted.
    static func listing(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// The generation directories (`..` names other than `..data` and `..data_tmp`).
    static func generationDirectories(_ root: String) -> [String] {
        listing(root).filter { $0.hasPrefix("..") && $0 != "..data" && $0 != "..data_tmp" }
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    /// Upstream `checkVolumeContents`: rebuilds the payload by walking through every user-visible
    /// top-level symlink (so the links must work) and returns path → (data, mode).
    static func observedPayload(_ root: String) -> [String: FileProjection] {
        var observed: [String: FileProjection] = [:]
        func visit(_ relative: String) {
            let full = root + "/" + relative
            var info = stat()
            guard stat(full, &info) == 0 else { return }  // follows the top-level symlink
            if info.st_mode & S_IFMT == S_IFDIR {
                for name in listing(full) { visit(relative + "/" + name) }
            } else if info.st_mode & S_IFMT == S_IFREG {
                observed[relative] = FileProjection(data: contents(full) ?? [], mode: UInt32(info.st_mode) & 0o7777)
            }
        }
        for name in listing(root) where !name.hasPrefix("..") && isSymlink(root + "/" + name) { visit(name) }
        return observed
    }

    /// The payload as the writer stores it: cleaned paths, no owner.
    static func cleaned(_ payload: [String: FileProjection]) -> [String: FileProjection] {
        var result: [String: FileProjection] = [:]
        for (path, file) in payload { result[AtomicWriter.cleanPath(path)] = FileProjection(data: file.data, mode: file.mode & 0o777) }
        return result
    }

    /// A clock for reproducible generation names.
    static func clock(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int)
        -> @Sendable () -> GenerationStamp.Components
    {
        { GenerationStamp.Components(year: year, month: month, day: day, hour: hour, minute: minute, second: second) }
    }
}

/// Shorthand for payloads in tables: `["foo": f("foo", 0o644)]`.
private func f(_ text: String, _ mode: UInt32 = 0o644) -> FileProjection { FileProjection(text: text, mode: mode) }

@Suite("AtomicWriter (port of kubelet atomic_writer.go)")
struct AtomicWriterTests {
    /// A named table row of successive payloads, printed by its name in test output.
    struct PayloadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var payloads: [[String: FileProjection]]
        var valid = true
        var testDescription: String { name }
    }

    // MARK: - TestValidatePath / TestValidatePayload

    struct PathCase: Sendable, CustomTestStringConvertible {
        var name: String
        var path: String
        var problem: InvalidPathProblem?
        var testDescription: String { name }
    }

    static let pathCases: [PathCase] = [
        .init(name: "valid 1", path: "i/am/well/behaved.txt", problem: nil),
        .init(name: "valid 2", path: "keepyourheaddownandfollowtherules.txt", problem: nil),
        .init(name: "max path length", path: String(repeating: "a", count: 4097), problem: .tooLong),
        .init(name: "path of exactly 4096 bytes", path: String(repeating: "a/", count: 2048), problem: nil),
        .init(name: "max file length", path: String(repeating: "a", count: 256), problem: .fileNameTooLong),
        .init(name: "file name of exactly 255 bytes", path: String(repeating: "a", count: 255), problem: nil),
        .init(name: "lengths count bytes, not characters", path: String(repeating: "é", count: 128), problem: .fileNameTooLong),
        .init(name: "absolute failure", path: "/dev/null", problem: .absolute),
        .init(name: "reserved path", path: "..sneaky.txt", problem: .reservedPrefix),
        .init(name: "reserved prefix only checked on the first element", path: "dir/..nested", problem: nil),
        .init(name: "contains doubledot 1", path: "hello/there/../../../../../../etc/passwd", problem: .containsDoubleDot),
        .init(name: "contains doubledot 2", path: "hello/../etc/somethingbad", problem: .containsDoubleDot),
        .init(name: "doubledot alone", path: "..", problem: .containsDoubleDot),
        .init(name: "empty", path: "", problem: .empty),
        .init(name: "dotfile", path: ".dotfile", problem: nil),
    ]

    @Test("validatePath accepts or rejects each upstream case", arguments: pathCases)
    func validatePath(_ testCase: PathCase) {
        #expect(AtomicWriter.validatePath(testCase.path) == testCase.problem)
    }

    @Test("pathProblem reports the error write would throw, naming the path")
    func pathProblem() {
        #expect(AtomicWriter.pathProblem("ok/path") == nil)
        let problem = AtomicWriter.pathProblem("..data")
        #expect(problem?.reason == .invalidPath(path: "..data", problem: .reservedPrefix))
        #expect(problem?.description.contains("\"..data\": must not start with '..'") == true)
    }

    @Test("validatePayload cleans paths like filepath.Clean")
    func validatePayloadCleans() throws {
        let writer = AtomicWriter(targetDirectory: "/nonexistent")
        let clean = try writer.validatePayload(["foo////bar": f("x"), "./bar": f("y"), "baz/": f("z"), "a/./b": f("w")])
        #expect(Set(clean.keys) == ["foo/bar", "bar", "baz", "a/b"])
    }

    @Test("validatePayload rejects the whole payload when one path is invalid")
    func validatePayloadRejects() {
        let writer = AtomicWriter(targetDirectory: "/nonexistent", logContext: "vol")
        #expect {
            try writer.validatePayload(["foo": f("a"), "foo/../etc/password": f("b")])
        } throws: { error in
            guard let error = error as? AtomicWriterError else { return false }
            return error.reason == .invalidPath(path: "foo/../etc/password", problem: .containsDoubleDot)
                && error.description.hasPrefix("vol: invalid payload path \"foo/../etc/password\"")
        }
    }

    // MARK: - TestPathsToRemove

    struct RemoveCase: Sendable, CustomTestStringConvertible {
        var name: String
        var first: [String: FileProjection]
        var next: [String: FileProjection]
        var expected: Set<String>
        var testDescription: String { name }
    }

    static let removeCases: [RemoveCase] = [
        .init(name: "simple", first: ["foo.txt": f("foo"), "bar.txt": f("bar")], next: ["foo.txt": f("foo")],
              expected: ["bar.txt"]),
        .init(name: "simple 2", first: ["foo.txt": f("foo"), "zip/bar.txt": f("zip/b}ar")], next: ["foo.txt": f("foo")],
              expected: ["zip/bar.txt", "zip"]),
        .init(name: "subdirs 1", first: ["foo.txt": f("foo"), "zip/zap/bar.txt": f("zip/bar")], next: ["foo.txt": f("foo")],
              expected: ["zip/zap/bar.txt", "zip", "zip/zap"]),
        .init(name: "subdirs 2", first: ["foo.txt": f("foo"), "zip/1/2/3/4/bar.txt": f("zip/b}ar")], next: ["foo.txt": f("foo")],
              expected: ["zip/1/2/3/4/bar.txt", "zip", "zip/1", "zip/1/2", "zip/1/2/3", "zip/1/2/3/4"]),
        .init(name: "subdirs 3",
              first: ["foo.txt": f("foo"), "zip/1/2/3/4/bar.txt": f("zip/b}ar"), "zap/a/b/c/bar.txt": f("zap/bar")],
              next: ["foo.txt": f("foo")],
              expected: ["zip/1/2/3/4/bar.txt", "zip", "zip/1", "zip/1/2", "zip/1/2/3", "zip/1/2/3/4",
                         "zap", "zap/a", "zap/a/b", "zap/a/b/c", "zap/a/b/c/bar.txt"]),
        .init(name: "subdirs 4",
              first: ["foo.txt": f("foo"), "zap/1/2/3/4/bar.txt": f("zip/bar"), "zap/1/2/c/bar.txt": f("zap/bar"),
                      "zap/1/2/magic.txt": f("indigo")],
              next: ["foo.txt": f("foo"), "zap/1/2/magic.txt": f("indigo")],
              expected: ["zap/1/2/3/4/bar.txt", "zap/1/2/3", "zap/1/2/3/4", "zap/1/2/c", "zap/1/2/c/bar.txt"]),
        .init(name: "subdirs 5",
              first: ["foo.txt": f("foo"), "zap/1/2/3/4/bar.txt": f("zip/bar"), "zap/1/2/c/bar.txt": f("zap/bar")],
              next: ["foo.txt": f("foo"), "zap/1/2/magic.txt": f("indigo")],
              expected: ["zap/1/2/3/4/bar.txt", "zap/1/2/3", "zap/1/2/3/4", "zap/1/2/c", "zap/1/2/c/bar.txt"]),
    ]

    @Test("pathsToRemove lists old paths (files and directories) absent from the new payload", arguments: removeCases)
    func pathsToRemove(_ testCase: RemoveCase) throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            try writer.write(testCase.first)
            let old = try #require(AtomicFixture.readlink(root + "/..data"))
            #expect(writer.pathsToRemove(testCase.next, oldTsDir: root + "/" + old) == testCase.expected)
        }
    }

    // MARK: - TestWriteOnce

    /// The 125-byte ELF binary of upstream's TestWriteOnce ("$1 if you can tell me what this binary is").
    static let mysteryBinary: [UInt8] = Array(Data(base64Encoded:
        "f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAEAAOAABAAAAAAAAAAEAAAAFAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAfQAAAAAAAAB9AAAAAAAAAAAAIAAAAAAAsDyZDwU=")!)

    static let writeOnceCases: [PayloadCase] = [
        .init(name: "invalid payload 1",
              payloads: [["foo": f("foo"), "..bar": f("bar"), "binary.bin": FileProjection(data: mysteryBinary)]], valid: false),
        .init(name: "invalid payload 2", payloads: [["foo/../bar": f("foo")]], valid: false),
        .init(name: "basic 1", payloads: [["foo": f("foo"), "bar": f("bar")]]),
        .init(name: "basic 2",
              payloads: [["binary.bin": FileProjection(data: mysteryBinary), ".binary.bin": FileProjection(data: mysteryBinary)]]),
        .init(name: "basic mode 1", payloads: [["foo": f("foo", 0o777), "bar": f("bar", 0o400)]]),
        .init(name: "dotfiles",
              payloads: [["foo": f("foo"), "bar": f("bar"), ".dotfile": f("dotfile"), ".dotfile.file": f("dotfile.file")]]),
        .init(name: "dotfiles mode",
              payloads: [["foo": f("foo", 0o407), "bar": f("bar", 0o440), ".dotfile": f("dotfile", 0o777),
                          ".dotfile.file": f("dotfile.file", 0o666)]]),
        .init(name: "subdirectories 1", payloads: [["foo/bar.txt": f("foo/bar"), "bar/zab.txt": f("bar/zab.txt")]]),
        .init(name: "subdirectories mode 1",
              payloads: [["foo/bar.txt": f("foo/bar", 0o400), "bar/zab.txt": f("bar/zab.txt")]]),
        .init(name: "subdirectories 2",
              payloads: [["foo//bar.txt": f("foo//bar"), "bar///bar/zab.txt": f("bar/../bar/zab.txt")]]),
        .init(name: "subdirectories 3",
              payloads: [["foo/bar.txt": f("foo/bar"), "bar/zab.txt": f("bar/zab.txt"), "foo/blaz/bar.txt": f("foo/blaz/bar"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt")]]),
        .init(name: "kitchen sink",
              payloads: [["foo.log": f("foo"), "bar.zap": f("bar"), ".dotfile": f("dotfile"), "foo/bar.txt": f("foo/bar"),
                          "bar/zab.txt": f("bar/zab.txt"), "foo/blaz/bar.txt": f("foo/blaz/bar"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt", 0o400), "1/2/3/4/5/6/7/8/9/10/.dotfile.lib": f("1-2-3-dotfile", 0o777)]]),
    ]

    @Test("a first write projects the payload exactly, modes included", arguments: writeOnceCases)
    func writeOnce(_ testCase: PayloadCase) throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            let payload = testCase.payloads[0]
            if testCase.valid {
                #expect(try writer.write(payload) != .unchanged)
                #expect(AtomicFixture.observedPayload(root) == AtomicFixture.cleaned(payload))
            } else {
                #expect(throws: AtomicWriterError.self) { try writer.write(payload) }
                #expect(AtomicFixture.listing(root).isEmpty, "an invalid payload must write nothing")
            }
        }
    }

    // MARK: - TestUpdate

    static let updateCases: [PayloadCase] = [
        .init(name: "update", payloads: [["foo": f("foo"), "bar": f("bar")], ["foo": f("foo2"), "bar": f("bar2", 0o640)]]),
        .init(name: "no update", payloads: [["foo": f("foo"), "bar": f("bar")], ["foo": f("foo"), "bar": f("bar")]]),
        .init(name: "no update 2",
              payloads: [["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar")], ["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar")]]),
        .init(name: "add 1",
              payloads: [["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar")],
                         ["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar"), "blu/zip.txt": f("zip")]]),
        .init(name: "add 2",
              payloads: [["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar")],
                         ["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar"), "blu/two/2/3/4/5/zip.txt": f("zip")]]),
        .init(name: "add 3",
              payloads: [["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar")],
                         ["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar"), "bar/2/3/4/5/zip.txt": f("zip")]]),
        .init(name: "delete 1",
              payloads: [["foo/bar.txt": f("foo"), "bar/zab.txt": f("bar")], ["foo/bar.txt": f("foo")]]),
        .init(name: "delete 2",
              payloads: [["foo/bar.txt": f("foo"), "bar/1/2/3/zab.txt": f("bar")], ["foo/bar.txt": f("foo")]]),
        .init(name: "delete 3",
              payloads: [["foo/bar.txt": f("foo"), "bar/1/2/sip.txt": f("sip"), "bar/1/2/3/zab.txt": f("bar")],
                         ["foo/bar.txt": f("foo"), "bar/1/2/sip.txt": f("sip")]]),
        .init(name: "delete 4",
              payloads: [["foo/bar.txt": f("foo"), "bar/1/2/sip.txt": f("sip"), "bar/1/2/3/4/5/6zab.txt": f("bar")],
                         ["foo/bar.txt": f("foo"), "bar/1/2/sip.txt": f("sip")]]),
        .init(name: "delete all",
              payloads: [["foo/bar.txt": f("foo"), "bar/1/2/sip.txt": f("sip"), "bar/1/2/3/4/5/6zab.txt": f("bar")], [:]]),
        .init(name: "add and delete 1", payloads: [["foo/bar.txt": f("foo")], ["bar/baz.txt": f("baz")]]),
    ]

    @Test("a second write leaves exactly the new payload visible", arguments: updateCases)
    func update(_ testCase: PayloadCase) throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            for payload in testCase.payloads {
                try writer.write(payload)
                #expect(AtomicFixture.observedPayload(root) == AtomicFixture.cleaned(payload))
                #expect(AtomicFixture.generationDirectories(root).count == 1, "exactly one generation directory remains")
            }
        }
    }

    // MARK: - TestMultipleUpdates

    static let multipleUpdateCases: [PayloadCase] = [
        .init(name: "update 1",
              payloads: [["foo": f("foo"), "bar": f("bar")], ["foo": f("foo2", 0o400), "bar": f("bar2", 0o400)],
                         ["foo": f("foo3", 0o600), "bar": f("bar3", 0o600)]]),
        .init(name: "update 2",
              payloads: [["foo/bar.txt": f("foo/bar"), "bar/zab.txt": f("bar/zab.txt")],
                         ["foo/bar.txt": f("foo/bar2"), "bar/zab.txt": f("bar/zab.txt2", 0o400)]]),
        .init(name: "clear sentinel",
              payloads: [["foo": f("foo"), "bar": f("bar")], ["foo": f("foo2"), "bar": f("bar2")],
                         ["foo": f("foo3"), "bar": f("bar3")], ["foo": f("foo4"), "bar": f("bar4")]]),
        .init(name: "subdirectories 2",
              payloads: [["foo/bar.txt": f("foo/bar"), "bar/zab.txt": f("bar/zab.txt"), "foo/blaz/bar.txt": f("foo/blaz/bar"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt")],
                         ["foo/bar.txt": f("foo/bar2"), "bar/zab.txt": f("bar/zab.txt2"), "foo/blaz/bar.txt": f("foo/blaz/bar2"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt2")]]),
        .init(name: "add 1",
              payloads: [["foo/bar.txt": f("foo/bar"), "bar//zab.txt": f("bar/zab.txt"), "foo/blaz/bar.txt": f("foo/blaz/bar"),
                          "bar/zib////zib/zab.txt": f("bar/zib/zab.txt")],
                         ["foo/bar.txt": f("foo/bar2"), "bar/zab.txt": f("bar/zab.txt2"), "foo/blaz/bar.txt": f("foo/blaz/bar2"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt2"), "add/new/keys.txt": f("addNewKeys")]]),
        .init(name: "add 2",
              payloads: [["foo/bar.txt": f("foo/bar2"), "bar/zab.txt": f("bar/zab.txt2"), "foo/blaz/bar.txt": f("foo/blaz/bar2"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt2"), "add/new/keys.txt": f("addNewKeys")],
                         ["foo/bar.txt": f("foo/bar2"), "bar/zab.txt": f("bar/zab.txt2"), "foo/blaz/bar.txt": f("foo/blaz/bar2"),
                          "bar/zib/zab.txt": f("bar/zib/zab.txt2"), "add/new/keys.txt": f("addNewKeys"),
                          "add/new/keys2.txt": f("addNewKeys2"), "add/new/keys3.txt": f("addNewKeys3")]]),
        .init(name: "remove 1",
              payloads: [["foo/bar.txt": f("foo/bar"), "bar//zab.txt": f("bar/zab.txt"), "foo/blaz/bar.txt": f("foo/blaz/bar"),
                          "zip/zap/zup/fop.txt": f("zip/zap/zup/fop.txt")],
                         ["foo/bar.txt": f("foo/bar2"), "bar/zab.txt": f("bar/zab.txt2")],
                         ["foo/bar.txt": f("foo/bar")]]),
    ]

    @Test("every write in a series leaves exactly its payload visible", arguments: multipleUpdateCases)
    func multipleUpdates(_ testCase: PayloadCase) throws {
        try update(testCase)
    }

    // MARK: - TestCreateUserVisibleFiles

    @Test("createUserVisibleFiles links only the first path component", arguments: [
        (["foo": f(""), "bar": f("")], ["foo": "..data/foo", "bar": "..data/bar"]),
        (["foo/bar": f(""), "foo/bar/txt": f(""), "bar/txt": f("")], ["foo": "..data/foo", "bar": "..data/bar"]),
        (["./bar": f(""), "foo///bar": f("")], ["bar": "..data/bar", "foo": "..data/foo"]),
    ])
    func createUserVisibleFiles(_ payload: [String: FileProjection], _ expected: [String: String]) throws {
        try AtomicFixture.withVolume { root throws in
            #expect(mkdir(root + "/..data", 0o755) == 0)
            let writer = AtomicWriter(targetDirectory: root)
            try writer.createUserVisibleFiles(try writer.validatePayload(payload))
            var links: [String: String] = [:]
            for name in AtomicFixture.listing(root) where !name.hasPrefix("..") { links[name] = AtomicFixture.readlink(root + "/" + name) }
            #expect(links == expected)
        }
    }

    // MARK: - Layout of a volume

    @Test("the first write creates a 0755 generation directory, ..data, and one symlink per top-level component")
    func firstWriteLayout() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root, clock: AtomicFixture.clock(2026, 11, 23, 7, 45, 27))
            let outcome = try writer.write([
                "app.conf": f("level=debug"), "nested/key": f("n", 0o600), "nested/deeper/leaf": f("l"),
            ])
            guard case .committed(let generation) = outcome else { Issue.record("expected a commit"); return }
            #expect(generation.hasPrefix("..2026_11_23_07_45_27."))
            let suffix = generation.dropFirst("..2026_11_23_07_45_27.".count)
            #expect((1...10).contains(suffix.count) && suffix.allSatisfy(\.isASCII) && UInt32(suffix) != nil,
                    "suffix is a random uint32 in decimal, like Go's os.MkdirTemp")
            #expect(AtomicFixture.listing(root) == [generation, "..data", "app.conf", "nested"])
            #expect(AtomicFixture.isDirectory(root + "/" + generation))
            #expect(AtomicFixture.permissions(root + "/" + generation) == 0o755, "created 0700 by mkdtemp, then chmod 0755")
            #expect(AtomicFixture.readlink(root + "/..data") == generation)
            #expect(AtomicFixture.readlink(root + "/app.conf") == "..data/app.conf")
            #expect(AtomicFixture.readlink(root + "/nested") == "..data/nested")
            #expect(AtomicFixture.isDirectory(root + "/" + generation + "/nested"), "nested keys are real subdirectories")
            #expect(AtomicFixture.isDirectory(root + "/" + generation + "/nested/deeper"))
            #expect(!AtomicFixture.isSymlink(root + "/" + generation + "/nested/key"))
            #expect(AtomicFixture.permissions(root + "/" + generation + "/app.conf") == 0o644)
            #expect(AtomicFixture.permissions(root + "/" + generation + "/nested/key") == 0o600)
            #expect(AtomicFixture.contents(root + "/nested/deeper/leaf") == Array("l".utf8))
        }
    }

    @Test("file modes are set by chmod, so bits the umask would clear survive; setuid bits do not")
    func modesIgnoreUmask() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            try writer.write(["open": f("x", 0o777), "rw": f("y", 0o666), "setuid": f("z", 0o4755)])
            #expect(AtomicFixture.permissions(root + "/..data/open") == 0o777)
            #expect(AtomicFixture.permissions(root + "/..data/rw") == 0o666)
            #expect(AtomicFixture.permissions(root + "/..data/setuid") == 0o755, "Go's os.FileMode(0o4755) has no setuid bit")
        }
    }

    @Test("fsUser sets the file owner and leaves the group alone")
    func fsUserChownsFiles() throws {
        try AtomicFixture.withVolume { root throws in
            let uid = getuid() == 0 ? uid_t(4242) : getuid()  // only root may give a file away
            try AtomicWriter(targetDirectory: root).write(["token": FileProjection(text: "t", mode: 0o600, fsUser: Int64(uid))])
            let info = try #require(AtomicFixture.lstat(root + "/..data/token"))
            #expect(info.st_uid == uid)
            #expect(info.st_gid == getegid())
        }
    }

    // MARK: - Updates

    @Test("rewriting identical data writes nothing: same generation, same inodes, no new directory")
    func noOpRewrite() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            let payload = ["a": f("1"), "nested/b": f("2")]
            try writer.write(payload)
            let before = AtomicFixture.listing(root)
            let inodes = ["..data", "a", "nested", "..data/a", "..data/nested/b"].map { AtomicFixture.inode(root + "/" + $0) }
            #expect(try writer.write(payload) == .unchanged)
            #expect(AtomicFixture.listing(root) == before)
            #expect(["..data", "a", "nested", "..data/a", "..data/nested/b"].map { AtomicFixture.inode(root + "/" + $0) } == inodes)
        }
    }

    @Test("a mode-only change is not an update: upstream compares data bytes only")
    func modeOnlyChangeIsNoOp() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            try writer.write(["a": f("1", 0o644)])
            #expect(try writer.write(["a": f("1", 0o600)]) == .unchanged)
            #expect(AtomicFixture.permissions(root + "/..data/a") == 0o644)
        }
    }

    @Test("a changed value commits a new generation and removes the old directory")
    func changedValueCommits() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            guard case .committed(let first) = try writer.write(["a": f("1"), "b": f("same")]) else {
                Issue.record("first write must commit"); return
            }
            let unchangedLink = AtomicFixture.inode(root + "/b")
            guard case .committed(let second) = try writer.write(["a": f("2"), "b": f("same")]) else {
                Issue.record("changed data must commit"); return
            }
            #expect(first != second)
            #expect(AtomicFixture.readlink(root + "/..data") == second)
            #expect(AtomicFixture.generationDirectories(root) == [second], "the old generation is removed")
            #expect(AtomicFixture.contents(root + "/a") == Array("2".utf8))
            #expect(AtomicFixture.inode(root + "/b") == unchangedLink, "the top-level symlink of an unchanged key is kept")
            #expect(AtomicFixture.readlink(root + "/..data_tmp") == nil)
        }
    }

    @Test("removed keys lose their top-level symlink, added keys get one")
    func addedAndRemovedKeys() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            try writer.write(["keep": f("k"), "gone": f("g"), "dir/gone": f("d")])
            try writer.write(["keep": f("k"), "new": f("n"), "newdir/x": f("x")])
            #expect(AtomicFixture.listing(root).filter { !$0.hasPrefix("..") } == ["keep", "new", "newdir"])
            #expect(AtomicFixture.readlink(root + "/new") == "..data/new")
            #expect(AtomicFixture.readlink(root + "/newdir") == "..data/newdir")
        }
    }

    @Test("a no-op write re-creates a missing top-level symlink (kubernetes #121472)")
    func noOpRecreatesMissingSymlink() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            guard case .committed(let generation) = try writer.write(["a": f("1"), "b": f("2")]) else {
                Issue.record("first write must commit"); return
            }
            #expect(unlink(root + "/b") == 0)
            #expect(try writer.write(["a": f("1"), "b": f("2")]) == .unchanged)
            #expect(AtomicFixture.readlink(root + "/b") == "..data/b")
            #expect(AtomicFixture.readlink(root + "/..data") == generation)
        }
    }

    @Test("generation names come from the injected clock, even impossible old-kubelet dates")
    func generationNameFromClock() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root, clock: AtomicFixture.clock(2982, 1, 2, 15, 4, 5))
            guard case .committed(let generation) = try writer.write(["a": f("1")]) else { Issue.record("must commit"); return }
            let stamp = GenerationStamp(raw: generation)
            #expect(stamp.components == .init(year: 2982, month: 1, day: 2, hour: 15, minute: 4, second: 5))
            #expect(stamp.approximateEpochSeconds == nil)
        }
    }

    // MARK: - Failures

    @Test("an invalid path in an update leaves the current generation untouched")
    func invalidUpdateWritesNothing() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            try writer.write(["a": f("1")])
            let before = AtomicFixture.listing(root)
            #expect(throws: AtomicWriterError.self) { try writer.write(["a": f("2"), "..data": f("evil")]) }
            #expect(AtomicFixture.listing(root) == before)
            #expect(AtomicFixture.contents(root + "/a") == Array("1".utf8))
        }
    }

    @Test("a missing volume directory is reported with what to do")
    func missingTarget() {
        let writer = AtomicWriter(targetDirectory: "/tmp/podagent-does-not-exist-\(getpid())")
        #expect {
            try writer.write(["a": f("1")])
        } throws: { error in
            (error as? AtomicWriterError)?.reason == .targetDirectoryMissing(path: writer.targetDirectory)
                && "\(error)".contains("create it first")
        }
    }

    /// Asserts the volume still shows `generation` with `payload`, with no leftover directory or link.
    private func expectIntact(_ root: String, generation: String, payload: [String: FileProjection],
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(AtomicFixture.readlink(root + "/..data") == generation, sourceLocation: sourceLocation)
        #expect(AtomicFixture.generationDirectories(root) == [generation], "no half-written generation is left",
                sourceLocation: sourceLocation)
        #expect(AtomicFixture.observedPayload(root) == AtomicFixture.cleaned(payload), sourceLocation: sourceLocation)
    }

    @Test("a failure while writing files leaves the old generation intact and removes the new directory")
    func failureWhileWritingFiles() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            let original = ["a": f("1")]
            guard case .committed(let generation) = try writer.write(original) else { Issue.record("must commit"); return }
            // "x" as a file and as a directory cannot both be written: step 6 fails halfway.
            #expect {
                try writer.write(["a": f("2"), "x": f("file"), "x/y": f("nested")])
            } throws: { error in
                guard case .system(let operation, _, let code)? = (error as? AtomicWriterError)?.reason else { return false }
                return operation == "mkdir" && code == ENOTDIR && (error as? AtomicWriterError)?.committedGeneration == nil
            }
            expectIntact(root, generation: generation, payload: original)
        }
    }

    @Test("setPerms sees the written generation before it is published, and its changes are kept")
    func setPermsHook() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            try writer.write(["a": f("1")])
            let previous = AtomicFixture.readlink(root + "/..data")
            var seen: String?
            let outcome = try writer.write(["a": f("2")]) { subPath in
                seen = subPath
                #expect(AtomicFixture.readlink(root + "/..data") == previous, "not yet published")
                #expect(AtomicFixture.contents(root + "/" + subPath + "/a") == Array("2".utf8), "files already written")
                #expect(chmod(root + "/" + subPath + "/a", 0o640) == 0)
            }
            #expect(outcome == .committed(generation: try #require(seen)))
            #expect(AtomicFixture.permissions(root + "/..data/a") == 0o640)
        }
    }

    struct HookFailure: Error, CustomStringConvertible { var description: String { "no such group" } }

    @Test("a throwing setPerms discards the new generation")
    func setPermsFailure() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root, logContext: "pod/vol")
            let original = ["a": f("1")]
            guard case .committed(let generation) = try writer.write(original) else { Issue.record("must commit"); return }
            #expect {
                try writer.write(["a": f("2")]) { _ in throw HookFailure() }
            } throws: { error in
                guard case .setPermsFailed(_, let message)? = (error as? AtomicWriterError)?.reason else { return false }
                return message == "no such group" && "\(error)".hasPrefix("pod/vol: ")
            }
            expectIntact(root, generation: generation, payload: original)
        }
    }

    @Test("a stale ..data_tmp blocks the update, as it does in the kubelet, and the message says how to fix it")
    func staleDataTmp() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            let original = ["a": f("1")]
            guard case .committed(let generation) = try writer.write(original) else { Issue.record("must commit"); return }
            #expect(symlink("..nowhere", root + "/..data_tmp") == 0)
            #expect {
                try writer.write(["a": f("2")])
            } throws: { error in
                guard case .system("symlink", _, EEXIST)? = (error as? AtomicWriterError)?.reason else { return false }
                return "\(error)".contains("remove it")
            }
            #expect(AtomicFixture.readlink(root + "/..data_tmp") == "..nowhere", "not ours to remove")
            #expect(unlink(root + "/..data_tmp") == 0)
            expectIntact(root, generation: generation, payload: original)
            #expect(try writer.write(["a": f("2")]) != .unchanged, "works again once the stale link is gone")
        }
    }

    @Test("a key turning from file into directory fails like the kubelet and keeps the old generation")
    func fileBecomesDirectory() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            let original = ["foo": f("file")]
            guard case .committed(let generation) = try writer.write(original) else { Issue.record("must commit"); return }
            // shouldWriteFile: Lstat of old/foo/bar fails with ENOTDIR, which is not "does not exist",
            // so upstream goes on to ReadFile and returns its error.
            #expect {
                try writer.write(["foo/bar": f("nested")])
            } throws: { error in
                guard case .system("open", _, ENOTDIR)? = (error as? AtomicWriterError)?.reason else { return false }
                return "\(error)".contains("between file and directory")
            }
            expectIntact(root, generation: generation, payload: original)
        }
    }

    @Test("a key turning from directory into file fails like the kubelet and keeps the old generation")
    func directoryBecomesFile() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            let original = ["foo/bar": f("nested")]
            guard case .committed(let generation) = try writer.write(original) else { Issue.record("must commit"); return }
            #expect {
                try writer.write(["foo": f("file")])
            } throws: { error in
                guard case .system("read", _, EISDIR)? = (error as? AtomicWriterError)?.reason else { return false }
                return true
            }
            expectIntact(root, generation: generation, payload: original)
        }
    }

    @Test("a ..data that points outside the volume is refused before anything is touched")
    func unexpectedDataLink() throws {
        try AtomicFixture.withVolume { root throws in
            #expect(symlink("..", root + "/..data") == 0)
            #expect {
                try AtomicWriter(targetDirectory: root).write(["a": f("1")])
            } throws: { error in
                (error as? AtomicWriterError)?.reason == .unexpectedDataLink(path: root + "/..data", target: "..")
            }
            #expect(AtomicFixture.listing(root) == ["..data"])
        }
    }
}
