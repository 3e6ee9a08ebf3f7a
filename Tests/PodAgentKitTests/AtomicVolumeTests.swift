// Specification of AtomicVolume (reading what the kubelet's atomic writer wrote) and GenerationStamp.

import Foundation
import Glibc
import Testing

@testable import PodAgentKit

@Suite("GenerationStamp")
struct GenerationStampTests {
    struct StampCase: Sendable, CustomTestStringConvertible {
        var name: String
        var raw: String
        var components: GenerationStamp.Components?
        var suffix: String
        var plausible: Bool
        var testDescription: String { name }
    }

    static func c(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> GenerationStamp.Components {
        .init(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
    }

    static let cases: [StampCase] = [
        .init(name: "current kubelet, 8-digit suffix", raw: "..2026_11_23_07_45_27.57250255",
              components: c(2026, 11, 23, 7, 45, 27), suffix: "57250255", plausible: true),
        .init(name: "current kubelet, 1-digit suffix", raw: "..2026_11_23_07_45_27.7",
              components: c(2026, 11, 23, 7, 45, 27), suffix: "7", plausible: true),
        .init(name: "current kubelet, 10-digit suffix (uint32 max)", raw: "..2026_11_23_07_45_27.4294967295",
              components: c(2026, 11, 23, 7, 45, 27), suffix: "4294967295", plausible: true),
        .init(name: "older kubelet, 9 zero-padded digits", raw: "..2019_03_04_05_06_07.000123456",
              components: c(2019, 3, 4, 5, 6, 7), suffix: "000123456", plausible: true),
        .init(name: "very old kubelet in February (Go layout \"1981_02_01\")", raw: "..2982_01_02_15_04_05.012345678",
              components: c(2982, 1, 2, 15, 4, 5), suffix: "012345678", plausible: false),
        .init(name: "very old kubelet in November", raw: "..119811_23_11_07_45_27.000000042",
              components: c(119_811, 23, 11, 7, 45, 27), suffix: "000000042", plausible: false),
        .init(name: "impossible day", raw: "..2027_02_29_00_00_00.1", components: c(2027, 2, 29, 0, 0, 0), suffix: "1",
              plausible: false),
        .init(name: "leap day", raw: "..2028_02_29_23_59_59.1", components: c(2028, 2, 29, 23, 59, 59), suffix: "1",
              plausible: true),
        .init(name: "the data link", raw: "..data", components: nil, suffix: "", plausible: false),
        .init(name: "no suffix", raw: "..2026_11_23_07_45_27", components: nil, suffix: "", plausible: false),
        .init(name: "empty suffix", raw: "..2026_11_23_07_45_27.", components: nil, suffix: "", plausible: false),
        .init(name: "non-decimal suffix", raw: "..2026_11_23_07_45_27.12a", components: nil, suffix: "", plausible: false),
        .init(name: "five groups", raw: "..2026_11_23_07_45.1", components: nil, suffix: "", plausible: false),
        .init(name: "no leading dots", raw: "2026_11_23_07_45_27.1", components: nil, suffix: "", plausible: false),
    ]

    @Test("stamps of every kubelet era parse; the date is trusted only when plausible", arguments: cases)
    func parse(_ testCase: StampCase) {
        let stamp = GenerationStamp(raw: testCase.raw)
        #expect(stamp.raw == testCase.raw)
        #expect(stamp.components == testCase.components)
        #expect(stamp.suffix == testCase.suffix)
        #expect((stamp.approximateEpochSeconds != nil) == testCase.plausible)
    }

    @Test("approximateEpochSeconds reads the stamp as UTC", arguments: [
        "..1970_01_01_00_00_00.1", "..2026_11_23_07_45_27.57250255", "..2000_02_29_12_00_00.5", "..2199_12_31_23_59_59.9",
    ])
    func epoch(_ raw: String) throws {
        let c = try #require(GenerationStamp(raw: raw).components)
        var broken = tm()
        broken.tm_year = Int32(c.year - 1900)
        broken.tm_mon = Int32(c.month - 1)
        broken.tm_mday = Int32(c.day)
        broken.tm_hour = Int32(c.hour)
        broken.tm_min = Int32(c.minute)
        broken.tm_sec = Int32(c.second)
        #expect(GenerationStamp(raw: raw).approximateEpochSeconds == Int64(timegm(&broken)))
    }

    @Test("utcNow agrees with the system clock")
    func utcNow() throws {
        let before = Int64(time(nil))
        let raw = GenerationStamp.directoryPrefix(for: .utcNow()) + "1"
        let after = Int64(time(nil))
        let epoch = try #require(GenerationStamp(raw: raw).approximateEpochSeconds)
        #expect((before...after).contains(epoch))
    }
}

@Suite("AtomicVolume.read")
struct AtomicVolumeTests {
    @Test("a snapshot holds the generation, every file sorted by path with mode and data, and the visible names")
    func snapshotOfWriterOutput() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            guard case .committed(let generation) = try writer.write([
                "z.conf": FileProjection(text: "zz"), "a/b/c": FileProjection(text: "abc", mode: 0o600),
                ".dot": FileProjection(text: ""), "a/a": FileProjection(text: "aa", mode: 0o755),
            ]) else { Issue.record("must commit"); return }
            let snapshot = try #require(try AtomicVolume.read(root))
            #expect(snapshot.generation.raw == generation)
            #expect(snapshot.generation.components != nil)
            #expect(snapshot.files == [
                VolumeFile(path: ".dot", size: 0, mode: 0o644, data: []),
                VolumeFile(path: "a/a", size: 2, mode: 0o755, data: Array("aa".utf8)),
                VolumeFile(path: "a/b/c", size: 3, mode: 0o600, data: Array("abc".utf8)),
                VolumeFile(path: "z.conf", size: 2, mode: 0o644, data: Array("zz".utf8)),
            ])
            #expect(snapshot.userVisiblePaths == [".dot", "a", "z.conf"])
        }
    }

    @Test("listVisiblePaths: false reads the same files and leaves the visible names out")
    func withoutVisiblePaths() throws {
        try AtomicFixture.withVolume { root throws in
            try AtomicWriter(targetDirectory: root).write(["k": FileProjection(text: "12345"), "d/e": FileProjection(text: "")])
            let full = try #require(try AtomicVolume.read(root))
            let lean = try #require(try AtomicVolume.read(root, listVisiblePaths: false))
            #expect(lean.files == full.files)
            #expect(lean.generation == full.generation)
            #expect(full.userVisiblePaths == ["d", "k"])
            #expect(lean.userVisiblePaths.isEmpty)
        }
    }

    @Test("files are read whole whatever size they claim: bigger than the size hint, and /proc files that claim 0")
    func readFileWhole() throws {
        try AtomicFixture.withVolume { root throws in
            let path = root + "/big"
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            #expect(try VolumeFS.readFile(path) == bytes)
            #expect(try VolumeFS.readFile(path, sizeHint: 10) == bytes, "a file that grew after its lstat")
            #expect(try VolumeFS.readFile(path, sizeHint: bytes.count) == bytes, "the size it claims: no read past the end")
            #expect(try VolumeFS.readFile(path, sizeHint: 1_000_000) == bytes, "a file that shrank")
            #expect(FileManager.default.createFile(atPath: root + "/empty", contents: Data()))
            #expect(try VolumeFS.readFile(root + "/empty").isEmpty)
        }
        // /proc files report size 0 but have content.
        let status = try VolumeFS.readFile("/proc/self/status")
        #expect(String(decoding: status, as: UTF8.self).contains("\nPid:"))
    }

    @Test("includeData: false reports sizes without reading contents")
    func withoutData() throws {
        try AtomicFixture.withVolume { root throws in
            try AtomicWriter(targetDirectory: root).write(["k": FileProjection(text: "12345")])
            let snapshot = try #require(try AtomicVolume.read(root, includeData: false))
            #expect(snapshot.files == [VolumeFile(path: "k", size: 5, mode: 0o644, data: [])])
        }
    }

    @Test("a directory without ..data is not managed by the atomic writer: nil")
    func notManaged() throws {
        try AtomicFixture.withVolume { root throws in
            #expect(FileManager.default.createFile(atPath: root + "/plain", contents: Data("x".utf8)))
            #expect(try AtomicVolume.read(root) == nil)
        }
    }

    @Test("a missing directory is an error that asks whether the volume is mounted")
    func missingDirectory() {
        #expect {
            try AtomicVolume.read("/tmp/podagent-no-such-volume-\(getpid())")
        } throws: { error in
            guard case .directoryMissing? = error as? AtomicVolumeError else { return false }
            return "\(error)".contains("is the volume mounted")
        }
    }

    @Test("a volume path that is a regular file is reported like a missing directory")
    func volumePathIsAFile() throws {
        try AtomicFixture.withVolume { root throws in
            #expect(FileManager.default.createFile(atPath: root + "/file", contents: Data("x".utf8)))
            #expect(throws: AtomicVolumeError.directoryMissing(path: root + "/file")) { try AtomicVolume.read(root + "/file") }
        }
    }

    @Test("a ..data that is a real directory is reported, not followed")
    func dataNotSymlink() throws {
        try AtomicFixture.withVolume { root throws in
            #expect(mkdir(root + "/..data", 0o755) == 0)
            #expect(throws: AtomicVolumeError.dataNotSymlink(path: root + "/..data")) { try AtomicVolume.read(root) }
        }
    }

    @Test("a volume reached through a symlink is written and read like any other")
    func volumeBehindSymlink() throws {
        try AtomicFixture.withVolume { root throws in
            #expect(mkdir(root + "/real", 0o755) == 0)
            #expect(symlink("real", root + "/link") == 0)
            try AtomicWriter(targetDirectory: root + "/link").write(["k": FileProjection(text: "v")])
            #expect(try AtomicVolume.read(root + "/link")?.files.map(\.path) == ["k"])
            #expect(AtomicFixture.readlink(root + "/real/k") == "..data/k")
        }
    }

    @Test("a ..data naming a missing directory is reported as a broken volume, not retried as a race")
    func danglingData() throws {
        try AtomicFixture.withVolume { root throws in
            #expect(symlink("..2026_01_01_00_00_00.1", root + "/..data") == 0)
            #expect(throws: AtomicVolumeError.generationMissing(path: root + "/..data", target: "..2026_01_01_00_00_00.1")) {
                try AtomicVolume.read(root)
            }
        }
    }

    /// Lays out a volume by hand, as an older kubelet would have left it.
    private func handMadeVolume(_ root: String, generation: String, link: String) throws {
        #expect(mkdir(root + "/" + generation, 0o755) == 0)
        #expect(FileManager.default.createFile(atPath: root + "/" + generation + "/key", contents: Data("v".utf8)))
        #expect(symlink(link, root + "/..data") == 0)
        #expect(symlink("..data/key", root + "/key") == 0)
    }

    @Test("volumes of older kubelets read the same; their stamps parse but their dates are not trusted", arguments: [
        ("..2019_03_04_05_06_07.000123456", true), ("..2982_01_02_15_04_05.012345678", false),
        ("..119811_23_11_07_45_27.000000042", false),
    ])
    func olderKubelets(_ generation: String, _ plausible: Bool) throws {
        try AtomicFixture.withVolume { root throws in
            try handMadeVolume(root, generation: generation, link: generation)
            let snapshot = try #require(try AtomicVolume.read(root))
            #expect(snapshot.generation.raw == generation)
            #expect(snapshot.generation.components != nil)
            #expect((snapshot.generation.approximateEpochSeconds != nil) == plausible)
            #expect(snapshot.files.map(\.path) == ["key"])
            #expect(snapshot.userVisiblePaths == ["key"])
        }
    }

    @Test("a ..data target written with a trailing slash is accepted")
    func trailingSlash() throws {
        try AtomicFixture.withVolume { root throws in
            try handMadeVolume(root, generation: "..2016_02_01_15_04_05.12345678", link: "..2016_02_01_15_04_05.12345678/")
            #expect(try AtomicVolume.read(root)?.generation.raw == "..2016_02_01_15_04_05.12345678")
        }
    }

    /// Shares a stop flag and a failure log between the writer thread and the test.
    final class Race: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private var failures: [String] = []
        private var writes = 0
        var isStopped: Bool { lock.withLock { stopped } }
        func stop() { lock.withLock { stopped = true } }
        func fail(_ message: String) { lock.withLock { failures.append(message) } }
        var recorded: [String] { lock.withLock { failures } }
        func wrote() { lock.withLock { writes += 1 } }
        var writeCount: Int { lock.withLock { writes } }
    }

    @Test("reads racing a writer always see one whole generation")
    func consistentUnderConcurrentUpdates() throws {
        try AtomicFixture.withVolume { root throws in
            let writer = AtomicWriter(targetDirectory: root)
            @Sendable func payload(_ version: Int) -> [String: FileProjection] {
                var files: [String: FileProjection] = [:]
                for key in ["a", "b", "nested/c", "nested/deeper/d"] { files[key] = FileProjection(text: "v\(version)") }
                if version % 2 == 0 { files["even"] = FileProjection(text: "v\(version)") }
                return files
            }
            try writer.write(payload(0))
            let race = Race()
            let finished = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                var version = 1
                while !race.isStopped {
                    do { try writer.write(payload(version)); race.wrote() } catch { race.fail("write \(version): \(error)") }
                    version += 1
                }
                finished.signal()
            }
            var snapshots = 0
            var reads = 0
            // At least 300 reads, and on until the writer has committed a few generations meanwhile: on a
            // loaded machine the writer thread may get little CPU at first.
            let deadline = ContinuousClock.now + .seconds(20)
            while reads < 300 || (race.writeCount < 20 && ContinuousClock.now < deadline) {
                reads += 1
                do {
                    guard let snapshot = try AtomicVolume.read(root) else { race.fail("volume vanished"); continue }
                    let versions = Set(snapshot.files.map { String(decoding: $0.data, as: UTF8.self) })
                    let version = Int(versions.first?.dropFirst() ?? "") ?? -1
                    if versions.count != 1 { race.fail("mixed generations: \(versions)") }
                    if snapshot.files.map(\.path) != (version % 2 == 0 ? ["a", "b", "even", "nested/c", "nested/deeper/d"]
                                                                      : ["a", "b", "nested/c", "nested/deeper/d"]) {
                        race.fail("wrong file set for v\(version): \(snapshot.files.map(\.path))")
                    }
                    snapshots += 1
                } catch AtomicVolumeError.concurrentUpdates {
                    continue  // allowed: the writer outran five attempts
                } catch {
                    race.fail("read: \(error)")
                }
            }
            race.stop()
            #expect(finished.wait(timeout: .now() + 30) == .success)
            #expect(race.recorded.isEmpty, "\(race.recorded.prefix(5))")
            #expect(snapshots > 0)
            #expect(race.writeCount > 2, "the writer really ran during the reads")
        }
    }
}
