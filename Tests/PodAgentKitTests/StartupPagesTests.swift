import Glibc
import Testing
@testable import PodAgentKit

/// `StartupPages.release()` in this very process, on a real file mapping: which pages it gives back, which
/// it must keep, and that what it gave back reads the same afterwards.
@Suite("start-up pages")
struct StartupPagesTests {
    @Test func onlyPrivateReadOnlyFileMappingsAreCandidates() {
        let maps = """
            55a5d4c99000-55a5d768f000 r--p 00000000 fe:00 1234     /usr/local/bin/podagent
            55a5d768f000-55a5d8d64000 r-xp 029f6000 fe:00 1234     /usr/local/bin/podagent
            55a5d8e50000-55a5d8ee6000 rw-p 04344000 fe:00 1234     /usr/local/bin/podagent
            7fb28e029000-7fb28e04f000 r--s 00000000 fe:00 99       /dev/shm/shared
            7fb28e04f000-7fb28e1a5000 r-xp 00026000 fe:00 77       /usr/lib/x86_64-linux-gnu/libc.so.6
            7fb28e1fe000-7fb28e20b000 r--p 00000000 00:00 0
            7ffdd15a5000-7ffdd15a7000 r-xp 00000000 00:00 0        [vdso]
            7fb28e300000-7fb28e301000 r--p 00000000 fe:00 88       /tmp/old binary (deleted)
            garbage line
            """
        let found = StartupPages.fileMappings(Array(maps.utf8))
        #expect(found == [
            .init(start: 0x55a5d4c99000, end: 0x55a5d768f000, path: "/usr/local/bin/podagent"),
            .init(start: 0x55a5d768f000, end: 0x55a5d8d64000, path: "/usr/local/bin/podagent"),
            .init(start: 0x7fb28e04f000, end: 0x7fb28e1a5000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            .init(start: 0x7fb28e300000, end: 0x7fb28e301000, path: "/tmp/old binary (deleted)"),
        ])
    }

    /// A file mapped private, read, one page written (so it is the process's own copy, as a relocated
    /// page is), then made read-only (as RELRO is): every page but the written one is given back, the
    /// written one keeps its change, and the pages given back read as the file again.
    @Test func givesBackFilePagesAndKeepsChangedOnes() throws {
        let dir = TemporaryDirectory("startup-pages"); defer { dir.remove() }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = 32
        var bytes = [UInt8](repeating: 0, count: pages * pageSize)
        for page in 0..<pages { for i in stride(from: 0, to: pageSize, by: 512) { bytes[page * pageSize + i] = UInt8(page + 1) } }
        let path = dir.write("data.bin", "")
        try FileSystem.writeFileAtomically(path, bytes)
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let length = pages * pageSize
        let base = try #require(mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0))
        try #require(base != MAP_FAILED)
        defer { munmap(base, length) }
        let memory = base.assumingMemoryBound(to: UInt8.self)
        var sum = 0
        for page in 0..<pages { sum += Int(memory[page * pageSize]) }  // every page read: present, the file's
        #expect(sum == pages * (pages + 1) / 2)
        memory[5 * pageSize] = 0xEE  // page 5 is now this process's copy
        try #require(mprotect(base, length, PROT_READ) == 0)
        let start = UInt(bitPattern: base)
        #expect(residentPages(start, pages, pageSize).count == pages)

        let released = StartupPages.release()

        #expect(released.bytes >= (pages - 1) * pageSize)
        #expect(residentPages(start, pages, pageSize) == [5], "only the changed page stays")
        #expect(memory[5 * pageSize] == 0xEE, "the change is kept")
        for page in 0..<pages where page != 5 {
            #expect(memory[page * pageSize] == UInt8(page + 1), "page \(page) reads as the file")
            #expect(memory[page * pageSize + 512] == UInt8(page + 1))
        }
    }

    /// A read-only private mapping the process wrote before making it read-only keeps everything it
    /// wrote, while a writable mapping is not touched at all, even its pages that are the file's.
    @Test func writableMappingsAreLeftAlone() throws {
        let dir = TemporaryDirectory("startup-pages"); defer { dir.remove() }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let path = dir.write("data.bin", String(repeating: "x", count: 8 * pageSize))
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let base = try #require(mmap(nil, 8 * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0))
        try #require(base != MAP_FAILED)
        defer { munmap(base, 8 * pageSize) }
        let memory = base.assumingMemoryBound(to: UInt8.self)
        var sum = 0
        for page in 0..<8 { sum += Int(memory[page * pageSize]) }
        #expect(sum == 8 * Int(UInt8(ascii: "x")))

        _ = StartupPages.release()

        #expect(residentPages(UInt(bitPattern: base), 8, pageSize).count == 8)
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
