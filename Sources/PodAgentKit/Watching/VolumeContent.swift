// What a watched directory contains, identified by content.
//
// A kubelet volume is read through `..data` with AtomicVolume.read, which guarantees one complete,
// committed generation; a directory the kubelet does not manage is walked as it is. Either way only
// bytes count: a new generation with the same bytes, a chmod/chown storm from fsGroup, or a writer
// that rewrites a file unchanged all hash the same and so change nothing.

import Glibc

/// The content of one watched directory: the SHA-256 of every file, by path.
public struct VolumeContent: Sendable, Hashable {
    /// The watched directory, as configured.
    public var directory: String
    /// Whether the directory existed when it was read (a missing one has no files).
    public var exists: Bool
    /// The generation directory `..data` named (`..2026_11_23_07_45_27.57250255`); nil when the
    /// kubelet's atomic writer does not manage the directory.
    public var generation: String?
    /// Path relative to the volume root (`nested/key`) → lowercase hex SHA-256 of the file's bytes.
    public var files: [String: String]
    /// Files named `labels` or `annotations` that parse as downwardAPI map files: path → key → SHA-256
    /// of the value. Digests, not values: comparing them is enough, and nothing of the content stays
    /// in memory.
    var downwardMaps: [String: [String: String]]
    /// A directory without `..data` with more than ``maxFiles`` files: the rest were not read, so a change
    /// among them is not seen (and which ones were left out can differ from one read to the next).
    var truncated = false

    public init(directory: String, exists: Bool, generation: String?, files: [String: String]) {
        self.directory = directory
        self.exists = exists
        self.generation = generation
        self.files = files
        self.downwardMaps = [:]
    }

    /// The content of a directory that is not there (yet).
    static func missing(_ directory: String) -> VolumeContent {
        VolumeContent(directory: directory, exists: false, generation: nil, files: [:])
    }

    /// Names of downwardAPI whole-map files whose keys are diffed.
    static let labelsFileName = "labels"
    static let annotationsFileName = "annotations"

    /// Map files larger than this are hashed only; Kubernetes caps all annotations at 256 KiB.
    static let maxMapFileSize = 1 << 20
    /// Bounds of the walk of a directory the kubelet does not manage.
    static let maxDepth = 8
    static let maxFiles = 10_000
}

/// Why a directory's content could not be read this time.
enum ContentReadError: Error, Equatable {
    /// The directory is gone; its watch reports DELETE_SELF/IGNORED and the watcher waits for it.
    case missing
    /// `..data` kept changing during the read: the kubelet is writing; read again shortly.
    case busy
    /// Anything else (permissions, I/O), described for the log.
    case failed(String)
}

extension VolumeContent {
    /// Reads `directory`: through `..data` when the kubelet's atomic writer manages it, else by
    /// walking it.
    /// `filter`: its map names say which files are compared key by key; in a plain directory, files its
    /// globs leave out are not read at all (they cannot change what counts, and may be large: a log in a
    /// shared emptyDir). A kubelet volume is read whole.
    /// `nesting`: the directory lies inside that kubelet volume; it is read as the part below it of one
    /// committed generation of the volume (`.missing` when the generation has no such directory).
    static func read(_ directory: String, nesting: KubeletNesting? = nil, filter: ChangeFilter = ChangeFilter())
        throws(ContentReadError) -> VolumeContent
    {
        let mapNames = filter.mapNames
        let snapshot: VolumeSnapshot?
        do throws(AtomicVolumeError) {
            snapshot = try AtomicVolume.read(nesting?.root ?? directory, includeData: true, listVisiblePaths: false)
        } catch {
            switch error {
            case .directoryMissing: throw .missing
            case .concurrentUpdates: throw .busy
            default: throw .failed(error.description)
            }
        }
        // (A nesting whose root is no longer a kubelet volume: the directory as it is; the watcher then
        // watches it as a plain one.)
        guard let snapshot else { return try readUnmanaged(directory, filter: filter) }
        var content = VolumeContent(directory: directory, exists: true, generation: snapshot.generation.raw, files: [:])
        let prefix = nesting.map { $0.subpath + "/" } ?? ""
        for file in snapshot.files {
            guard file.path.utf8.starts(with: prefix.utf8) else { continue }
            let path = prefix.isEmpty ? file.path : String(decoding: file.path.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
            content.files[path] = Self.hex(SHA256.hash(data: file.data))
            content.recordMap(path, file.data, mapNames: mapNames)
        }
        // The kubelet makes no empty directories: nothing below the subpath means it is not there.
        if nesting != nil && content.files.isEmpty { throw .missing }
        return content
    }

    /// A directory without `..data`: regular files (symlinks to files followed), subdirectories
    /// recursively. Names starting with `..` are skipped: they are the kubelet's, and before the first
    /// `..data` exists they belong to a generation that is not committed yet.
    private static func readUnmanaged(_ directory: String, filter: ChangeFilter) throws(ContentReadError) -> VolumeContent {
        let mapNames = filter.mapNames
        var content = VolumeContent(directory: directory, exists: true, generation: nil, files: [:])
        var pending: [(relative: String, depth: Int)] = [("", 0)]
        while let next = pending.popLast() {
            let (relative, depth) = next
            let path = relative.isEmpty ? directory : VolumeFS.join(directory, relative)
            let names: [String]
            do throws(VolumeSyscallError) {
                names = try VolumeFS.entries(of: path)
            } catch {
                if error.errno == ENOENT || error.errno == ENOTDIR {
                    if relative.isEmpty { throw .missing }
                    continue  // a subdirectory removed mid-walk: its parent's event brings a new read
                }
                throw .failed("cannot list \(path): \(VolumeFS.message(error.errno))")
            }
            for name in names where !name.hasPrefix("..") {
                guard content.files.count < maxFiles else {
                    content.truncated = true
                    return content
                }
                let child = relative.isEmpty ? name : relative + "/" + name
                let full = VolumeFS.join(directory, child)
                var info = stat()
                guard lstat(full, &info) == 0 else { continue }
                var kind = info.st_mode & S_IFMT
                if kind == S_IFLNK {
                    // Follow links to files (a hostPath or hand-made layout). Not links to directories, which
                    // could loop — except a kubelet volume's own `sub -> ..data/sub` (an item path with a
                    // directory in it), which stays inside that volume's generation.
                    guard stat(full, &info) == 0 else { continue }
                    kind = info.st_mode & S_IFMT
                    if kind == S_IFDIR {
                        guard let target = try? VolumeFS.readlink(full), target.hasPrefix(AtomicVolume.dataLinkName + "/") else { continue }
                    } else if kind != S_IFREG {
                        continue
                    }
                }
                if kind == S_IFDIR {
                    if depth + 1 < maxDepth { pending.append((child, depth + 1)) }
                } else if kind == S_IFREG {
                    if !filter.admitsPath(child) { continue }
                    do throws(VolumeSyscallError) {
                        try content.hashFile(child, at: full, size: Int(info.st_size), mapNames: mapNames)
                    } catch {
                        if error.errno == ENOENT { continue }  // removed mid-walk; its DELETE follows
                        throw .failed("cannot read \(full): \(VolumeFS.message(error.errno))")
                    }
                }
            }
        }
        return content
    }

    /// The subdirectories of a directory without `..data` that ``read(_:)`` walks into (relative paths,
    /// parents before children): what a plain directory's watch must cover besides its root. At most
    /// `limit`; `truncated` says when there were more.
    static func subdirectories(of directory: String, limit: Int) -> (paths: [String], truncated: Bool) {
        var found: [String] = []
        var pending: [(relative: String, depth: Int)] = [("", 0)]
        var index = 0
        while index < pending.count {
            let (relative, depth) = pending[index]
            index += 1
            guard depth + 1 < maxDepth else { continue }
            let path = relative.isEmpty ? directory : VolumeFS.join(directory, relative)
            guard let names = try? VolumeFS.entries(of: path) else { continue }
            for name in names where !name.hasPrefix("..") {
                let child = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                // lstat: links to directories are not walked into (they could loop), so not watched.
                guard lstat(VolumeFS.join(directory, child), &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
                guard found.count < limit else { return (found, true) }
                found.append(child)
                pending.append((child, depth + 1))
            }
        }
        return (found, false)
    }

    private mutating func hashFile(_ relative: String, at path: String, size: Int, mapNames: DownwardMapNames) throws(VolumeSyscallError) {
        if mapNames.kind(of: relative) != nil && size <= Self.maxMapFileSize {
            let data = try VolumeFS.readFile(path)
            files[relative] = Self.hex(SHA256.hash(data: data))
            recordMap(relative, data, mapNames: mapNames)
            return
        }
        // Streamed: a plain directory may hold large files.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VolumeSyscallError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw VolumeSyscallError(operation: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        files[relative] = Self.hex(hasher.finalize())
    }

    /// Keeps the key → value-digest map of a labels/annotations file that parses as one.
    private mutating func recordMap(_ path: String, _ data: [UInt8], mapNames: DownwardMapNames) {
        guard mapNames.kind(of: path) != nil, data.count <= Self.maxMapFileSize,
            let entries = try? DownwardAPIMap.parseEntries(data)
        else { return }
        var map: [String: String] = [:]
        for entry in entries { map[entry.key] = Self.hex(SHA256.hash(data: entry.value)) }  // last line wins
        downwardMaps[path] = map
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
