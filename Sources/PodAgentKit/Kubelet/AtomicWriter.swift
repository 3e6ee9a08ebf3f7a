// A port of the kubelet's atomic volume writer:
// kubernetes/kubernetes pkg/volume/util/atomic_writer.go (`AtomicWriter.Write`) and
// pkg/volume/util/atomic_writer_linux.go (`lchown`).
//
// podagent does not run inside the kubelet, but everything it watches was written by this algorithm,
// so tests and the simulator produce volumes with the same layout, the same modes and — the part a
// watcher depends on — the same sequence of filesystem operations (and so of inotify events) on the
// volume root. Numbered comments below are upstream's step numbers.
//
// Upstream's algorithm (its doc comment on Write):
//
//  1. The payload is validated; if the payload is invalid, the function returns.
//  2. The current timestamped directory is detected by reading the data directory symlink.
//  3. The old version of the volume is walked to determine whether any portion of the payload was
//     deleted and is still present on disk.
//  4. The data in the current timestamped directory is compared to the projected data to determine if
//     an update to data directory is required.
//  5. A new timestamped dir is created if an update is required.
//  6. The payload is written to the new timestamped directory.
//  7. Permissions are set (if setPerms is not nil) on the new timestamped directory and files.
//  8. A symlink to the new timestamped directory ..data_tmp is created that will become the new data
//     directory.
//  9. The new data directory symlink is renamed to the data directory; rename is atomic.
// 10. Symlinks and directory for new user-visible files are created (if needed).
// 11. Old paths are removed from the user-visible portion of the target directory.
// 12. The previous timestamped directory is removed, if it exists.
//
// Deliberate differences, none of which changes what a watcher of a healthy volume sees:
// - Upstream iterates Go maps (random order) when writing files and creating or removing top-level
//   symlinks; this port uses byte-wise sorted order so runs are reproducible.
// - On a failure in steps 5–7 upstream returns and leaves the half-written timestamped directory behind
//   (it is never cleaned up later); this port removes it, as upstream itself does for steps 8–9.
// - If `..data` names something that is not a single entry of the volume (`.`, `..`, `a/b`), upstream
//   would walk and finally `RemoveAll` it; this port refuses to touch such a volume.

import Glibc

/// One file of a volume payload (upstream `FileProjection`).
///
/// `mode` is applied with `chmod` after the write, so it does not depend on the process umask; only
/// the permission bits (`& 0o777`) take effect, as in Go where `os.FileMode(0o4755)` carries no
/// setuid bit. `fsUser`, when set, becomes the file's owner (`lchown(path, fsUser, -1)`).
public struct FileProjection: Sendable, Hashable {
    public var data: [UInt8]
    public var mode: UInt32
    public var fsUser: Int64?

    /// A file with the volume's `defaultMode` unless `mode` is given (the kubelet's default is 0o644).
    public init(data: [UInt8], mode: UInt32 = 0o644, fsUser: Int64? = nil) {
        self.data = data
        self.mode = mode
        self.fsUser = fsUser
    }

    /// A file holding `text` as UTF-8, e.g. a ConfigMap value.
    public init(text: String, mode: UInt32 = 0o644, fsUser: Int64? = nil) {
        self.init(data: Array(text.utf8), mode: mode, fsUser: fsUser)
    }
}

/// What one `AtomicWriter.write` did.
public enum AtomicWriteOutcome: Sendable, Equatable {
    /// Every payload file was byte-identical and nothing had to be removed: no generation was created
    /// (only missing top-level symlinks were re-created).
    case unchanged
    /// A new generation directory was written and `..data` now points to it.
    case committed(generation: String)
}

/// The kubelet's atomic writer for configMap, secret, downwardAPI and projected volumes.
///
/// Real files live in a hidden timestamped directory; `..data` is a symlink to it and every top-level
/// key is a symlink through `..data`. An update writes a complete new directory and swaps `..data` with
/// one `rename(2)`, so readers see either the old or the new generation, never a mix.
///
/// ```swift
/// let writer = AtomicWriter(targetDirectory: "/tmp/vol")
/// try writer.write(["app.conf": FileProjection(text: "level=debug")])
/// // /tmp/vol/app.conf -> ..data/app.conf, ..data -> ..2026_11_23_07_45_27.57250255
/// ```
///
/// Like upstream it offers no concurrency guarantees: calls for one directory must be serialised by
/// the caller. Paths starting with `..` are reserved for the writer.
public struct AtomicWriter: Sendable {
    /// The volume root.
    public let targetDirectory: String
    /// Prefixed to error descriptions, as upstream prefixes its log lines (e.g. the volume name).
    public let logContext: String
    private let clock: @Sendable () -> GenerationStamp.Components

    static let dataDirName = "..data"
    static let newDataDirName = "..data_tmp"
    static let maxFileNameLength = 255
    static let maxPathLength = 4096

    /// - Parameters:
    ///   - targetDirectory: the volume root; it must exist when `write` is called.
    ///   - logContext: names the volume in error messages.
    ///   - clock: the wall clock used for the generation name (UTC, like the kubelet). Tests inject
    ///     one to produce fixed or old-style (`..2982_…`) names.
    public init(
        targetDirectory: String, logContext: String = "",
        clock: @escaping @Sendable () -> GenerationStamp.Components = GenerationStamp.Components.utcNow
    ) {
        self.targetDirectory = targetDirectory
        self.logContext = logContext
        self.clock = clock
    }

    /// Upstream `Write(payload, setPerms)`: projects `payload` (relative path → file) into the volume.
    ///
    /// - Parameter setPerms: called with the new generation's directory *name* (relative to the volume
    ///   root) after the files are written and before they are published; throwing discards the new
    ///   generation and leaves the volume as it was.
    /// - Returns: whether a new generation was committed.
    /// - Throws: `AtomicWriterError`. Its `committedGeneration` is non-nil when the failure happened
    ///   after the commit point (steps 10–12): readers already see the new generation then.
    @discardableResult
    public func write(
        _ payload: [String: FileProjection], setPerms: ((String) throws -> Void)? = nil
    ) throws(AtomicWriterError) -> AtomicWriteOutcome {
        // (1) Validate and clean every path before touching the disk.
        let cleanPayload = try validatePayload(payload)
        // Upstream checks this in NewAtomicWriter; our initializer cannot fail, so check here.
        guard VolumeFS.isDirectory(followingLinks: targetDirectory) else {
            throw error(.targetDirectoryMissing(path: targetDirectory))
        }

        // (2) The current generation is whatever `..data` names; no link means a first write.
        let dataDirPath = VolumeFS.join(targetDirectory, Self.dataDirName)
        var oldTsDir: String?
        do throws(VolumeSyscallError) {
            oldTsDir = try VolumeFS.readlink(dataDirPath)
        } catch let failure where failure.errno == ENOENT {
            oldTsDir = nil
        } catch {
            throw self.error(.system(error))
        }

        var pathsToRemove: Set<String> = []
        var shouldWrite = true
        if let old = oldTsDir {
            guard Self.isGenerationName(old) else { throw error(.unexpectedDataLink(path: dataDirPath, target: old)) }
            let oldTsPath = VolumeFS.join(targetDirectory, old)
            // (3) Paths of the old generation that the new payload no longer has. Walking it opens
            // and lists ..<old>, which a root watch sees as OPEN/ACCESS/CLOSE_NOWRITE|ISDIR, exactly
            // as with the kubelet: even a no-op sync is not silent under IN_ALL_EVENTS.
            pathsToRemove = self.pathsToRemove(cleanPayload, oldTsDir: oldTsPath)
            // (4) Data only — a mode or owner change alone does not trigger an update.
            if try !shouldWritePayload(cleanPayload, oldTsDir: oldTsPath) && pathsToRemove.isEmpty {
                // Still make sure the user-visible symlinks exist (kubernetes issue #121472), and keep
                // the current generation: clearing oldTsDir stops step 12 from removing it.
                shouldWrite = false
                oldTsDir = nil
            }
        }

        var outcome = AtomicWriteOutcome.unchanged
        if shouldWrite {
            // (5) A new, empty generation directory: CREATE|ISDIR then ATTRIB|ISDIR on the root.
            let tsDirName = try newTimestampDir()
            let tsDir = VolumeFS.join(targetDirectory, tsDirName)
            do throws(AtomicWriterError) {
                // (6) Files first, while nobody can see the directory.
                try writePayloadToDir(cleanPayload, directory: tsDir)
                // (7) Caller's ownership hook (the kubelet passes fsGroup handling here).
                if let setPerms {
                    do {
                        try setPerms(tsDirName)
                    } catch {
                        throw self.error(.setPermsFailed(generation: tsDirName, message: String(describing: error)))
                    }
                }
                // (8) `..data_tmp -> <new>`. A stale `..data_tmp` fails here, as it does upstream.
                let newDataDirPath = VolumeFS.join(targetDirectory, Self.newDataDirName)
                guard symlink(tsDirName, newDataDirPath) == 0 else {
                    throw error(.system(operation: "symlink", path: newDataDirPath, errno: Glibc.errno))
                }
                // (9) THE commit point: one rename swaps the whole volume (MOVED_FROM + MOVED_TO).
                guard rename(newDataDirPath, dataDirPath) == 0 else {
                    let code = Glibc.errno
                    unlink(newDataDirPath)
                    throw error(.system(operation: "rename", path: newDataDirPath, errno: code))
                }
            } catch {
                // Upstream removes the new directory when step 8 or 9 fails; do it for 5–7 too so a
                // failed write leaves the volume exactly as it was.
                try? VolumeFS.removeAll(tsDir)
                throw error
            }
            outcome = .committed(generation: tsDirName)
        }
        let committed: String? = if case .committed(let name) = outcome { name } else { nil }

        // (10) Top-level symlinks for keys that have none yet (CREATE <key>).
        do throws(AtomicWriterError) {
            try createUserVisibleFiles(cleanPayload)
        } catch {
            throw error.afterCommit(committed)
        }

        // (11) Top-level symlinks of removed keys (DELETE <key>); nested paths live inside the
        // generation directories and disappear with them.
        do throws(AtomicWriterError) {
            try removeUserVisiblePaths(pathsToRemove)
        } catch {
            throw error.afterCommit(committed)
        }

        // (12) The previous generation, always after the rename (DELETE|ISDIR ..<old>).
        if let old = oldTsDir {
            do throws(VolumeSyscallError) {
                try VolumeFS.removeAll(VolumeFS.join(targetDirectory, old))
            } catch {
                throw self.error(.system(error)).afterCommit(committed)
            }
        }
        return outcome
    }

    // MARK: - (1) validation

    /// Upstream `validatePayload`: validates every path, then keys the payload by `filepath.Clean`.
    func validatePayload(_ payload: [String: FileProjection]) throws(AtomicWriterError) -> [String: FileProjection] {
        var clean: [String: FileProjection] = [:]
        for (path, file) in payload {
            if let problem = Self.validatePath(path) { throw error(.invalidPath(path: path, problem: problem)) }
            clean[Self.cleanPath(path)] = file
        }
        return clean
    }

    /// Upstream `validatePath` for callers that check a payload before writing it (the simulator):
    /// nil when `path` is acceptable, else the error `write` would throw for it.
    public static func pathProblem(_ path: String) -> AtomicWriterError? {
        validatePath(path).map {
            AtomicWriterError(reason: .invalidPath(path: path, problem: $0), logContext: "", committedGeneration: nil)
        }
    }

    /// Upstream `validatePath`; nil when the path is acceptable. Lengths are in bytes, as in Go.
    static func validatePath(_ targetPath: String) -> InvalidPathProblem? {
        if targetPath.isEmpty { return .empty }
        if targetPath.hasPrefix("/") { return .absolute }
        if targetPath.utf8.count > maxPathLength { return .tooLong }
        let items = targetPath.split(separator: "/", omittingEmptySubsequences: false)
        for item in items {
            if item == ".." { return .containsDoubleDot }
            if item.utf8.count > maxFileNameLength { return .fileNameTooLong }
        }
        // Only the first element is reserved: `a/..b` is a legal nested name.
        if let first = items.first, first.hasPrefix(".."), first.utf8.count > 2 { return .reservedPrefix }
        return nil
    }

    /// Go's `filepath.Clean` for slash-separated paths (only `.` and repeated slashes can occur after
    /// validation, but the whole algorithm is kept so the function means what its name says).
    static func cleanPath(_ path: String) -> String {
        let rooted = path.hasPrefix("/")
        var stack: [Substring] = []
        for element in path.split(separator: "/") {
            if element == "." { continue }
            if element == ".." {
                if let last = stack.last, last != ".." {
                    stack.removeLast()
                } else if !rooted {
                    stack.append(element)
                }
                continue
            }
            stack.append(element)
        }
        let joined = stack.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// A `..data` target this writer may walk and later remove: one entry of the volume root.
    static func isGenerationName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    // MARK: - (3) and (4)

    /// Upstream `pathsToRemove`: every path (files and directories) of the old generation minus every
    /// path of the new payload including all its parent directories.
    func pathsToRemove(_ payload: [String: FileProjection], oldTsDir: String) -> Set<String> {
        var paths: Set<String> = []
        walk(oldTsDir, relative: "", into: &paths)  // a dangling `..data` simply yields nothing
        var newPaths: Set<String> = []
        for file in payload.keys {
            var subPath = Substring(file)
            while !subPath.isEmpty {
                newPaths.insert(String(subPath))
                subPath = subPath.lastIndex(of: "/").map { subPath[..<$0] } ?? ""
            }
        }
        return paths.subtracting(newPaths)
    }

    /// `filepath.Walk` without following symlinks. Upstream's visitor ignores the errors Walk hands
    /// it, so an unreadable directory is recorded but not descended into, and nothing fails.
    private func walk(_ root: String, relative: String, into paths: inout Set<String>) {
        let directory = relative.isEmpty ? root : VolumeFS.join(root, relative)
        guard let names = try? VolumeFS.entries(of: directory) else { return }
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            paths.insert(path)
            if VolumeFS.kind(VolumeFS.join(root, path)) == .directory {
                walk(root, relative: path, into: &paths)
            }
        }
    }

    /// Upstream `shouldWritePayload`/`shouldWriteFile`: true as soon as one file is missing or its
    /// bytes differ. Like upstream, a path that changed between file and directory is an error
    /// (reading a directory fails with EISDIR, a file in place of a directory with ENOTDIR).
    func shouldWritePayload(_ payload: [String: FileProjection], oldTsDir: String) throws(AtomicWriterError) -> Bool {
        for (userVisiblePath, file) in payload.sorted(by: { VolumeFS.byteOrder($0.key, $1.key) }) {
            let path = VolumeFS.join(oldTsDir, userVisiblePath)
            do throws(VolumeSyscallError) {
                _ = try VolumeFS.lstatInfo(path)
            } catch let failure where failure.errno == ENOENT {
                return true
            } catch {
                // Upstream ignores other Lstat errors and lets ReadFile report them.
            }
            do throws(VolumeSyscallError) {
                if try VolumeFS.readFile(path) != file.data { return true }
            } catch {
                throw self.error(.system(error))
            }
        }
        return false
    }

    // MARK: - (5) and (6)

    /// Upstream `newTimestampDir`: Go's `os.MkdirTemp(target, "..2006_01_02_15_04_05.")` — the prefix
    /// plus a random uint32 in decimal, created 0700, retried on EEXIST — then chmod 0755 so group and
    /// other can traverse it whatever the umask.
    func newTimestampDir() throws(AtomicWriterError) -> String {
        let prefix = GenerationStamp.directoryPrefix(for: clock())
        for _ in 0..<10_000 {
            let name = prefix + String(UInt32.random(in: .min ... .max))
            let path = VolumeFS.join(targetDirectory, name)
            if mkdir(path, 0o700) == 0 {
                guard chmod(path, 0o755) == 0 else {
                    let code = Glibc.errno
                    rmdir(path)
                    throw error(.system(operation: "chmod", path: path, errno: code))
                }
                return name
            }
            if Glibc.errno != EEXIST { throw error(.system(operation: "mkdir", path: path, errno: Glibc.errno)) }
        }
        throw error(.system(operation: "mkdir", path: VolumeFS.join(targetDirectory, prefix + "*"), errno: EEXIST))
    }

    /// Upstream `writePayloadToDir`: `MkdirAll(parent, 0777)` (so nested directories follow the umask,
    /// 0755 under the usual 022), `os.WriteFile(path, data, mode)`, then `chmod(mode)` because open(2)
    /// applied the umask, then the optional owner change.
    func writePayloadToDir(_ payload: [String: FileProjection], directory: String) throws(AtomicWriterError) {
        for (userVisiblePath, file) in payload.sorted(by: { VolumeFS.byteOrder($0.key, $1.key) }) {
            let mode = mode_t(file.mode & 0o777)
            let fullPath = VolumeFS.join(directory, userVisiblePath)
            if let slash = fullPath.lastIndex(of: "/") {
                try mkdirAll(String(fullPath[..<slash]))
            }
            try writeFile(fullPath, file.data, mode: mode)
            guard chmod(fullPath, mode) == 0 else {
                throw error(.system(operation: "chmod", path: fullPath, errno: Glibc.errno))
            }
            if let uid = file.fsUser {
                // atomic_writer_linux.go: os.Lchown(path, uid, -1) — the group stays as created.
                guard lchown(fullPath, uid_t(truncatingIfNeeded: uid), gid_t.max) == 0 else {
                    throw error(.system(operation: "lchown", path: fullPath, errno: Glibc.errno))
                }
            }
        }
    }

    /// Go's `os.MkdirAll(path, 0777)`.
    private func mkdirAll(_ path: String) throws(AtomicWriterError) {
        if let kind = VolumeFS.kind(path) {
            if kind == .directory { return }
            throw error(.system(operation: "mkdir", path: path, errno: ENOTDIR))
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try mkdirAll(String(path[..<slash]))
        }
        guard mkdir(path, 0o777) == 0 || VolumeFS.kind(path) == .directory else {
            throw error(.system(operation: "mkdir", path: path, errno: Glibc.errno))
        }
    }

    /// Go's `os.WriteFile`: O_WRONLY|O_CREAT|O_TRUNC with `mode` (before umask), write everything.
    private func writeFile(_ path: String, _ data: [UInt8], mode: mode_t) throws(AtomicWriterError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw error(.system(operation: "open", path: path, errno: Glibc.errno)) }
        var written = 0
        while written < data.count {
            let count = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                let code = Glibc.errno
                close(fd)
                throw error(.system(operation: "write", path: path, errno: code))
            }
            written += count
        }
        guard close(fd) == 0 else { throw error(.system(operation: "close", path: path, errno: Glibc.errno)) }
    }

    // MARK: - (10) and (11)

    /// Upstream `createUserVisibleFiles`: for the FIRST component of each path, `key -> ..data/key`
    /// unless something is already there (only "does not exist" triggers creation).
    func createUserVisibleFiles(_ payload: [String: FileProjection]) throws(AtomicWriterError) {
        var linkNames: Set<String> = []
        for path in payload.keys {
            linkNames.insert(path.split(separator: "/", maxSplits: 1).first.map(String.init) ?? path)
        }
        for linkName in linkNames.sorted(by: VolumeFS.byteOrder) {
            let visibleFile = VolumeFS.join(targetDirectory, linkName)
            do throws(VolumeSyscallError) {
                _ = try VolumeFS.readlink(visibleFile)
            } catch let failure where failure.errno == ENOENT {
                let dataDirFile = Self.dataDirName + "/" + linkName
                guard symlink(dataDirFile, visibleFile) == 0 else {
                    throw error(.system(operation: "symlink", path: visibleFile, errno: Glibc.errno))
                }
            } catch {
                // Upstream ignores every other Readlink error (e.g. a regular file in the way).
            }
        }
    }

    /// Upstream `removeUserVisiblePaths`: removes only top-level entries (paths without `/`); keeps
    /// going after a failure and reports the last one.
    func removeUserVisiblePaths(_ paths: Set<String>) throws(AtomicWriterError) {
        var lastError: AtomicWriterError?
        for path in paths.sorted(by: VolumeFS.byteOrder) where !path.contains("/") {
            let fullPath = VolumeFS.join(targetDirectory, path)
            // Go's os.Remove: unlink, and rmdir when it was a directory.
            if unlink(fullPath) == 0 { continue }
            let unlinkErrno = Glibc.errno
            if rmdir(fullPath) == 0 { continue }
            let code = Glibc.errno == ENOTDIR ? unlinkErrno : Glibc.errno
            lastError = error(.system(operation: "remove", path: fullPath, errno: code))
        }
        if let lastError { throw lastError }
    }

    // MARK: - errors

    private func error(_ reason: AtomicWriterError.Reason) -> AtomicWriterError {
        AtomicWriterError(reason: reason, logContext: logContext, committedGeneration: nil)
    }
}

/// Why a payload path was rejected (upstream `validatePath`).
public enum InvalidPathProblem: Sendable, Equatable {
    case empty
    case absolute
    /// Longer than 4096 bytes.
    case tooLong
    /// Has a `..` element, which could escape the volume.
    case containsDoubleDot
    /// One element is longer than 255 bytes.
    case fileNameTooLong
    /// The first element starts with `..`, reserved for `..data` and the generation directories.
    case reservedPrefix
}

/// A failed `AtomicWriter.write`.
public struct AtomicWriterError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// A payload path failed validation; nothing was written.
        case invalidPath(path: String, problem: InvalidPathProblem)
        /// The volume root does not exist or is not a directory.
        case targetDirectoryMissing(path: String)
        /// `..data` points to something that is not a generation directory of this volume.
        case unexpectedDataLink(path: String, target: String)
        /// The `setPerms` hook threw; the new generation was discarded.
        case setPermsFailed(generation: String, message: String)
        /// A system call failed.
        case system(operation: String, path: String, errno: Int32)

        static func system(_ failure: VolumeSyscallError) -> Reason {
            .system(operation: failure.operation, path: failure.path, errno: failure.errno)
        }
    }

    public var reason: Reason
    /// The writer's `logContext` (e.g. the volume name), shown first in the description.
    public var logContext: String
    /// Set when the failure happened after `..data` was swapped (steps 10–12): readers already see
    /// this generation, only the top-level symlinks or the cleanup of the old one are incomplete.
    public var committedGeneration: String?

    func afterCommit(_ generation: String?) -> AtomicWriterError {
        var copy = self
        copy.committedGeneration = generation
        return copy
    }

    public var description: String {
        let prefix = logContext.isEmpty ? "" : logContext + ": "
        let suffix = committedGeneration.map { " (the new generation \($0) is already committed: ..data points to it)" } ?? ""
        return prefix + message + suffix
    }

    private var message: String {
        switch reason {
        case .invalidPath(let path, let problem):
            let why: String
            switch problem {
            case .empty: why = "must not be empty — give every item a path"
            case .absolute: why = "must be a relative path — drop the leading '/'"
            case .tooLong: why = "must be at most \(AtomicWriter.maxPathLength) bytes long — shorten it"
            case .containsDoubleDot: why = "must not contain a '..' element — it could escape the volume"
            case .fileNameTooLong:
                why = "each element must be at most \(AtomicWriter.maxFileNameLength) bytes long — shorten it"
            case .reservedPrefix:
                why = "must not start with '..' — such names are reserved for ..data and the generation directories; rename the key"
            }
            return "invalid payload path \"\(path)\": \(why); nothing was written"
        case .targetDirectoryMissing(let path):
            return "volume directory \(path) does not exist or is not a directory — create it first"
                + " (the kubelet creates it when it sets up the volume)"
        case .unexpectedDataLink(let path, let target):
            return "\(path) points to \"\(target)\", which is not a generation directory of this volume —"
                + " something other than the atomic writer changed it; remove ..data to start over"
        case .setPermsFailed(let generation, let message):
            return "setting permissions on new generation \(generation) failed: \(message) —"
                + " the generation was discarded and ..data still points to the previous one"
        case .system(let operation, let path, let errno):
            return "\(operation) \(path) failed: \(VolumeFS.message(errno))" + Self.hint(operation, path, errno)
        }
    }

    private static func hint(_ operation: String, _ path: String, _ errno: Int32) -> String {
        switch errno {
        case EEXIST where path.hasSuffix("/" + AtomicWriter.newDataDirName):
            return " — a stale ..data_tmp from an interrupted write blocks every update (the kubelet fails"
                + " the same way); remove it"
        case EISDIR, ENOTDIR:
            return " — a payload path changed between file and directory, which the kubelet cannot update"
                + " either; remove the volume's contents and write again"
        case EACCES, EPERM:
            return " — check that this process may write the volume (and chown, when fsUser is set)"
        case ENOSPC, EDQUOT:
            return " — the volume's filesystem is full"
        default:
            return ""
        }
    }
}
