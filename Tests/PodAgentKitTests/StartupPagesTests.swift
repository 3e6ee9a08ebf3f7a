import Glibc
import Testing
@testable import PodAgentKit

/// Whether this process can read its own pagemap (not under gVisor or a kernel without it): without it
/// `release()` gives back nothing, by design.
let pagemapReadable = access("/proc/self/pagemap", R_OK) == 0

/// `StartupPages.release()` in this very process, on real mappings: which pages it gives back, which it
/// must keep, and that what it gave back reads the same afterwards. Serialized: each test calls
/// `release()`, which acts on every mapping of the process, the other tests' too.
@Suite("start-up pages", .serialized)
struct StartupPagesTests {
    @Test func candidatesAreLoadedObjectsCodeAndReadOnlyData() {
        let maps = """
            55a5d4c99000-55a5d768f000 r--p 00000000 fe:00 1234     /usr/local/bin/podagent
            55a5d768f000-55a5d8d64000 r-xp 029f6000 fe:00 1234     /usr/local/bin/podagent
            55a5d8d64000-55a5d8e50000 r--p 04344000 fe:00 1234     /usr/local/bin/podagent
            55a5d8e50000-55a5d8ee6000 rw-p 04430000 fe:00 1234     /usr/local/bin/podagent
            7fb28e029000-7fb28e04f000 r--s 00000000 fe:00 99       /dev/shm/shared
            7fb28e04f000-7fb28e1a5000 r-xp 00026000 fe:00 77       /usr/lib/x86_64-linux-gnu/libc.so.6
            7fb28e1a5000-7fb28e1f8000 r--p 0017c000 fe:00 77       /usr/lib/x86_64-linux-gnu/libc.so.6
            7fb28e1f8000-7fb28e1fc000 rw-p 001cf000 fe:00 77       /usr/lib/x86_64-linux-gnu/libc.so.6
            7fb28e1fe000-7fb28e20b000 r--p 00000000 00:00 0
            7ffdd15a5000-7ffdd15a7000 r-xp 00000000 00:00 0        [vdso]
            7fb28e300000-7fb28e301000 r-xp 00000000 fe:00 88       /opt/lib with space/x.so
            7fb28e301000-7fb28e302000 rw-p 00001000 fe:00 88       /opt/lib with space/x.so
            7fb28e400000-7fb28e402000 r--p 00000000 fe:00 89       /usr/lib/being-loaded.so
            7fb28e402000-7fb28e408000 ---p 00002000 fe:00 89       /usr/lib/being-loaded.so
            7fb28e500000-7fb28e501000 r--p 00000000 fe:00 90       /tmp/old binary (deleted)
            7fb28e501000-7fb28e502000 rw-p 00000000 fe:00 90       /tmp/old binary (deleted)
            garbage line
            """
        let found = StartupPages.candidates(Array(maps.utf8))
        #expect(found == [
            .init(start: 0x55a5d4c99000, end: 0x55a5d768f000, path: "/usr/local/bin/podagent"),
            .init(start: 0x55a5d768f000, end: 0x55a5d8d64000, path: "/usr/local/bin/podagent"),
            .init(start: 0x55a5d8d64000, end: 0x55a5d8e50000, path: "/usr/local/bin/podagent"),
            .init(start: 0x7fb28e04f000, end: 0x7fb28e1a5000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            .init(start: 0x7fb28e1a5000, end: 0x7fb28e1f8000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            .init(start: 0x7fb28e300000, end: 0x7fb28e301000, path: "/opt/lib with space/x.so"),
            .init(start: 0x7fb28e500000, end: 0x7fb28e501000, path: "/tmp/old binary (deleted)"),
        ])
    }

    @Test func aTracedProcessGivesNothingBack() {
        #expect(!StartupPages.isTraced(status: Array("Name:\tpodagent\nTracerPid:\t0\nUid:\t0\n".utf8)))
        #expect(StartupPages.isTraced(status: Array("Name:\tpodagent\nTracerPid:\t4242\n".utf8)))
        #expect(StartupPages.isTraced(status: Array("Name:\tpodagent\n".utf8)))
        #expect(StartupPages.isTraced(status: nil))
    }

    /// Part of this test binary's file mapped again, private, every page read, one page written (so the
    /// process has its own copy of it, as of a relocated page or a breakpoint), then made executable and
    /// read-only, like code: every page but the written one is given back, the written one keeps its
    /// change, and the pages given back read as the file again.
    @Test(.enabled(if: pagemapReadable)) func givesBackCodePagesAndKeepsChangedOnes() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = 32
        let path = try VolumeFS.readlink("/proc/self/exe")
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var file = [UInt8](repeating: 0, count: pages * pageSize)
        try #require(file.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) } == pages * pageSize)
        let length = pages * pageSize
        let base = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0))
        try #require(base != MAP_FAILED)
        defer { munmap(base, length) }
        let memory = base.assumingMemoryBound(to: UInt8.self)
        var sum = 0
        for page in 0..<pages { sum += Int(memory[page * pageSize]) }  // every page read: present, the file's
        _ = sum
        let changed = 5 * pageSize + 7
        memory[changed] = ~file[changed]
        try #require(mprotect(base, length, PROT_READ | PROT_EXEC) == 0)
        let start = UInt(bitPattern: base)
        try #require(residentPages(start, pages, pageSize).count == pages)

        let released = StartupPages.release()

        #expect(released.bytes > 0)
        #expect(residentPages(start, pages, pageSize) == [5], "only the changed page stays")
        #expect(memory[changed] == ~file[changed], "the change is kept")
        var same = true
        for offset in 0..<length where offset != changed { same = same && memory[offset] == file[offset] }
        #expect(same, "the pages given back read as the file")
    }

    /// A file mapped read-only without a writable mapping beside it (as a library `dlopen` is still
    /// setting up in another thread is), and a writable mapping, are not touched at all, even their
    /// pages that are the file's.
    @Test(.enabled(if: pagemapReadable)) func filesWithoutDataAndWritableMappingsAreLeftAlone() throws {
        let dir = TemporaryDirectory("startup-pages"); defer { dir.remove() }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var mapped: [UnsafeMutableRawPointer] = []
        defer { for base in mapped { munmap(base, 8 * pageSize) } }
        for (name, protection) in [("read-only.bin", PROT_READ), ("writable.bin", PROT_READ | PROT_WRITE)] {
            let path = dir.write(name, String(repeating: "x", count: 8 * pageSize))
            let fd = open(path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let base = try #require(mmap(nil, 8 * pageSize, protection, MAP_PRIVATE, fd, 0))
            try #require(base != MAP_FAILED)
            mapped.append(base)
            let memory = base.assumingMemoryBound(to: UInt8.self)
            var sum = 0
            for page in 0..<8 { sum += Int(memory[page * pageSize]) }
            #expect(sum == 8 * Int(UInt8(ascii: "x")))
        }

        _ = StartupPages.release()

        for base in mapped { #expect(residentPages(UInt(bitPattern: base), 8, pageSize).count == 8) }
    }

    /// Which of `count` pages from `start` are present, from this process's pagemap.
    func residentPages(_ start: UInt, _ count: Int, _ pageSize: Int) -> [Int] {
        let fd = open("/proc/self/pagemap", O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var entries = [UInt64](repeating: 0, count: count)
        let read = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start / UInt(pageSize)) * 8) }
        guard read == count * 8 else { return [] }
        return (0..<count).filter { entries[$0] & (1 << 63) != 0 }
    }
}
