import Glibc
@testable import PodAgentKit

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "test") {
        var template = Array("/tmp/podagent-\(label).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: made!)
    }

    func file(_ relative: String) -> String { path + "/" + relative }

    @discardableResult
    func write(_ relative: String, _ text: String) -> String {
        let p = file(relative)
        try! FileSystem.makeDirectories(parentDirectory(p))
        try! FileSystem.writeFileAtomically(p, Array(text.utf8))
        return p
    }

    /// Removes the tree in this process: no `rm -rf` child, whose wait would hold one of the cooperative
    /// pool's few threads (two on a 2-core CI machine) and starve every other test of the run.
    func remove() {
        try? VolumeFS.removeAll(path)
    }
}

func readText(_ path: String) -> String? {
    (try? FileSystem.readFile(path)).map { String(decoding: $0, as: UTF8.self) }
}

func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buffer, buffer.count - 1)
    guard n >= 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func fileMode(_ path: String) -> UInt32? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return UInt32(st.st_mode) & 0o7777
}

func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// The repository root, found from this file's path.
let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = parentDirectory(path) }
    return path
}()

/// A line of a process's /proc/PID/maps.
struct MapsLine {
    var range: Range<UInt>
    var perms: String
    var offset: UInt
    var path: String
    init?(_ line: Substring) {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let bounds = fields[0].split(separator: "-")
        guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
              let offset = UInt(fields[2], radix: 16) else { return nil }
        range = start..<end
        perms = String(fields[1])
        self.offset = offset
        path = fields.count == 6 ? String(fields[5].drop { $0 == " " }) : ""
    }

    /// The lines of `pid`'s maps (this process's when nil).
    static func of(_ pid: Int32? = nil) -> [MapsLine] {
        (readText("/proc/\(pid.map(String.init) ?? "self")/maps") ?? "").split(separator: "\n").compactMap(MapsLine.init)
    }
}
