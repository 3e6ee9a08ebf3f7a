import Glibc
import Testing
@testable import PodAgentKit

/// Whether this process can read its own pagemap (not under gVisor or a kernel without it): without it
/// `release()` gives back nothing, by design.
let pagemapReadable = access("/proc/self/pagemap", R_OK) == 0

/// `StartupPages` in this very process, on its real loaded objects: which segments it walks, which pages
/// it gives back and which it must keep, and that what it gave back reads the same afterwards.
/// Serialized: `release()` acts on the whole process, the other tests' mappings too.
@Suite("start-up pages", .serialized)
struct StartupPagesTests {
    /// The segments walked are mappings of files, never writable, and take in the code of the test
    /// binary and of libc.
    @Test func segmentsAreReadOnlyFileMappingsOfLoadedObjects() throws {
        let segments = StartupPages.readOnlySegments()
        let maps = MapsLine.of()
        try #require(!maps.isEmpty)
        for segment in segments {
            let covering = maps.filter { $0.range.overlaps(segment) }
            #expect(!covering.isEmpty, "\(segment) is not mapped")
            for line in covering {
                #expect(line.perms.hasPrefix("r-") && line.perms.hasSuffix("p") && line.path.hasPrefix("/"),
                        "\(segment) overlaps \(line.perms) \(line.path)")
            }
        }
        let executable = try VolumeFS.readlink("/proc/self/exe")
        for code in maps.filter({ $0.perms == "r-xp" && ($0.path == executable || $0.path.hasSuffix("/libc.so.6")) }) {
            #expect(segments.contains { $0.contains(code.range.lowerBound) && $0.upperBound >= code.range.upperBound },
                    "\(code.path)'s code is not among the segments")
        }
    }

    @Test func tracerPidIsRead() {
        #expect(!StartupPages.isTraced(status: Array("Name:\tpodagent\nTracerPid:\t0\nUid:\t0\n".utf8)))
        #expect(StartupPages.isTraced(status: Array("Name:\tpodagent\nTracerPid:\t4242\n".utf8)))
        #expect(StartupPages.isTraced(status: Array("Name:\tpodagent\n".utf8)))
        #expect(StartupPages.isTraced(status: nil))
    }

    /// The test binary's first read-only segment (its ELF header and what follows), its pages read and
    /// the first one changed (as a debugger's breakpoint changes a page: the process gets its own copy):
    /// most pages are given back, the changed one keeps its change, and the rest read as before.
    @Test(.enabled(if: pagemapReadable && !StartupPages.isTraced())) func givesBackSegmentPagesAndKeepsChangedOnes() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let executable = try VolumeFS.readlink("/proc/self/exe")
        let maps = MapsLine.of()
        let headerLine = try #require(maps.first { $0.path == executable && $0.offset == 0 })
        let header = headerLine.range.lowerBound
        let protection = PROT_READ | (headerLine.perms.contains("x") ? PROT_EXEC : 0)
        let segment = try #require(StartupPages.readOnlySegments().first { $0.contains(header) })
        // Its first 64 pages at most (the test binary's is megabytes; reading it all takes seconds here).
        let pages = min(Int(segment.upperBound - segment.lowerBound) / pageSize, 64)
        try #require(pages >= 8)
        let memory = try #require(UnsafeMutablePointer<UInt8>(bitPattern: segment.lowerBound))
        let before = (0..<pages * pageSize).map { memory[$0] }
        // e_ident[15]: padding of the ELF identification, read by nobody.
        try #require(mprotect(memory, pageSize, protection | PROT_WRITE) == 0)
        memory[15] = ~before[15]
        try #require(mprotect(memory, pageSize, protection) == 0)
        defer {
            _ = mprotect(memory, pageSize, protection | PROT_WRITE)
            memory[15] = before[15]
            _ = mprotect(memory, pageSize, protection)
        }
        try #require(residentPages(segment.lowerBound, pages, pageSize).count == pages)

        let released = StartupPages.release()

        // What was given back, not what is resident now: other suites run meanwhile and may fault pages in.
        let first = segment.lowerBound
        let page = UInt(pageSize)
        let givenBack = { (address: UInt) in released.ranges.contains { $0.contains(address) } }
        #expect(!givenBack(first), "the changed page is not given back")
        #expect((1..<pages).allSatisfy { givenBack(first + UInt($0) * page) }, "the other pages are")
        #expect(residentPages(first, 1, pageSize) == [0], "the changed page stays")
        #expect(memory[15] == ~before[15], "the change is kept")
        var same = true
        for offset in 0..<pages * pageSize where offset != 15 { same = same && memory[offset] == before[offset] }
        #expect(same, "the pages given back read as before")
    }

    /// A file mapped by podagent itself (not a loaded object), read-only or writable, is not touched,
    /// even its pages that are the file's.
    @Test(.enabled(if: pagemapReadable && !StartupPages.isTraced())) func otherFileMappingsAreLeftAlone() throws {
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
            try #require(residentPages(UInt(bitPattern: base), 8, pageSize).count == 8)
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
