// How the watcher follows one configured directory, and what an event on it means.
//
// The kubelet's update sequence on a volume root (KUBELET.md §1, real-inotify recording in
// KubeletEventSequenceTests):
//
//     CREATE|ISDIR ..<new>   ATTRIB|ISDIR ..<new>   CREATE ..data_tmp
//     MOVED_FROM ..data_tmp  MOVED_TO ..data        ← the commit: the new generation is visible
//     CREATE <added key>…    DELETE <removed key>…  DELETE|ISDIR ..<old>
//
// Only `MOVED_TO ..data` means "new data is visible". Everything named `..*` before it belongs to a
// generation that is not committed yet (a slow writer may still be filling `..<new>`), and the rest
// is bookkeeping around content that the commit already made visible. So a kubelet volume's watch does
// not ask for the first line's events at all (`managedMask`); a plain directory's asks for every write.

import Glibc

/// One configured directory: how it is watched and whether its content needs reading.
struct VolumeWatch {
    enum Role {
        /// The directory itself, non-recursively.
        case watching(InotifyWatch)
        /// The nearest existing ancestor, for CREATE/MOVED_TO of the next path component, until the
        /// directory exists (`--wait`, or after it was deleted).
        case waiting(InotifyWatch)
        /// Watching failed (logged and counted); tried again on the next rescan.
        case unwatchable
    }

    let directory: String
    var role: Role
    /// Set when the directory lies inside a kubelet volume rather than at its root (`/etc/nginx/conf.d`,
    /// the volume's `conf.d -> ..data/conf.d`): every update replaces it, so the volume's root is watched
    /// for the commit instead, and the content is the part of each generation below it.
    var nesting: KubeletNesting?
    /// The directory's inode when the watch was placed, to notice a replacement after a queue overflow.
    var identity: FileIdentity?
    /// `..data` was seen: only its rename counts, the rest is the kubelet's own bookkeeping.
    var managedByKubelet = false
    /// Whether the directory's watch asks for ``managedMask`` (else ``directoryMask``).
    var watchedAsManaged = false
    /// A commit (or a settled write) happened since the content was last read.
    var dirty = false
    /// Directories without `..data`: when the quiet period after the last write ends.
    var quietDeadline: ContinuousClock.Instant?
    /// Directories without `..data`: the last write seen, which stands for the commit instant.
    var lastWrite: ContinuousClock.Instant?
    /// Directories without `..data`: the first write of the current burst.
    var burstStart: ContinuousClock.Instant?
    /// Directories without `..data`: files (paths below the root) written to and not closed yet. A read
    /// waits for them, so that a writer pausing half way (longer than the quiet period) is not read half done.
    var openWrites: Set<String> = []
    /// Directories without `..data`: a watch on each subdirectory the content walk reads (relative path
    /// by watch), so that a write inside `conf.d/` is seen like one at the top.
    var subdirectories: [InotifyWatch: Subdirectory] = [:]
    /// Whether the last placement of subdirectory watches stopped at ``maxSubdirectoryWatches``.
    var subdirectoriesTruncated = false
    /// A watch on each directory holding a symlink the path goes through (the name of that link by
    /// watch): git-sync's `--link`, a Capistrano `current`. Re-pointing such a link changes what the
    /// path names without a single event on the directory watched.
    var links: [InotifyWatch: String] = [:]
    /// A link's watch was refused (the node's watch limit, permissions): placed again on recovery.
    var linksIncomplete = false

    /// A watched subdirectory of a plain directory: its path below the root, and the inode watched (a
    /// directory replaced under the same name needs a new watch).
    struct Subdirectory {
        var relative: String
        var identity: FileIdentity?
    }

    /// Subdirectory watches per plain directory, at most (each is one of the node's per-UID inotify watches).
    static let maxSubdirectoryWatches = 1024

    init(directory: String) {
        self.directory = directory
        self.role = .unwatchable
    }

    /// The directory the watch is on: the volume's root for a nested directory, else the directory.
    var watchedPath: String { nesting?.root ?? directory }

    var isWatching: Bool {
        if case .watching = role { return true }
        return false
    }

    /// What the watch of a directory the kubelet does not manage asks for. No OPEN/ACCESS/CLOSE_NOWRITE:
    /// reading the volume (the app, or this watcher hashing it) must not wake anybody.
    static let directoryMask: InotifyMask = [
        .create, .delete, .movedFrom, .movedTo, .closeWrite, .modify, .attrib, .deleteSelf, .moveSelf, .onlyDirectory,
    ]
    /// What the watch of a subdirectory of a plain directory asks for: as the root's, but its own end
    /// (DELETE_SELF) is just a write — the parent's DELETE says the same.
    static let subdirectoryMask: InotifyMask = [
        .create, .delete, .movedFrom, .movedTo, .closeWrite, .modify, .attrib, .deleteSelf, .moveSelf, .onlyDirectory,
    ]
    /// What the watch of a kubelet volume asks for: the commit, what undoes one (`..data` deleted or moved
    /// away), and the directory's own end. Not CREATE and ATTRIB, which `VolumeSignal` ignores in a kubelet
    /// volume: the kubelet makes them *before* its commit (`..<new>`, its chmod, `..data_tmp`), and they
    /// woke the inotify thread while the kubelet was still writing, for nothing (bench: ~10 % less CPU per
    /// reload; the effect on latency was within this VM's noise).
    static let managedMask: InotifyMask = [.delete, .movedFrom, .movedTo, .deleteSelf, .moveSelf, .onlyDirectory]

    /// The mask for a directory: ``managedMask`` when `..data` is there.
    static func mask(forManaged managed: Bool) -> InotifyMask { managed ? managedMask : directoryMask }
    /// What the watch of an ancestor asks for while waiting.
    static let ancestorMask: InotifyMask = [.create, .movedTo, .deleteSelf, .moveSelf, .onlyDirectory]
    /// What the watch of a directory holding a symlink on the path asks for: the link replaced (a new
    /// link renamed over it, as git-sync does, or deleted and made again, as `ln -sfn` may) or removed.
    static let linkMask: InotifyMask = [.create, .movedTo, .delete, .movedFrom, .onlyDirectory]

    /// The symlinks resolving `path` (absolute) goes through, in the order they are followed, each as the
    /// directory holding it (itself resolved) and its name, each once. Stops where the path stops existing,
    /// and after following 40 links (the kernel's ELOOP bound: a loop).
    static func symlinks(on path: String) -> [(directory: String, name: String)] {
        var found: [(directory: String, name: String)] = []
        var pending = Array(path.split(separator: "/").map(String.init).reversed())
        var resolved: [String] = []
        var followed = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let directory = "/" + resolved.joined(separator: "/")
            let candidate = (resolved.isEmpty ? "" : directory) + "/" + component
            var info = stat()
            guard lstat(candidate, &info) == 0 else { break }
            guard info.st_mode & S_IFMT == S_IFLNK else {
                resolved.append(component)
                continue
            }
            followed += 1
            guard followed <= 40, let target = try? VolumeFS.readlink(candidate) else { break }
            if !found.contains(where: { $0 == (directory, component) }) { found.append((directory, component)) }
            if target.hasPrefix("/") { resolved = [] }
            pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
        }
        return found
    }

    /// The deepest existing directory above `path` (`/` at worst).
    static func nearestExistingAncestor(of path: String) -> String {
        var candidate = path
        while true {
            guard let slash = candidate.lastIndex(of: "/"), candidate != "/" else { return "/" }
            candidate = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
            if isDirectory(candidate) { return candidate }
        }
    }

    /// The component of `path` right below `ancestor`: the name whose creation matters.
    static func nextComponent(below ancestor: String, toward path: String) -> String {
        let prefix = ancestor.hasSuffix("/") ? ancestor : ancestor + "/"
        guard path.hasPrefix(prefix) else { return "" }
        return path.dropFirst(prefix.count).split(separator: "/").first.map(String.init) ?? ""
    }

    /// Where `path` lies inside a kubelet volume, when it lies below one's root: the nearest ancestor
    /// holding `..data`, reached through that volume's own link into its generation — `conf.d ->
    /// ..data/conf.d`, which the kubelet makes for an item path with a directory in it — or through
    /// `..data` itself. Nil for anything else (a directory of its own, a volume's root).
    static func kubeletNesting(of path: String) -> KubeletNesting? {
        let components = path.split(separator: "/").map(String.init)
        guard components.count >= 2 else { return nil }
        for depth in stride(from: components.count - 1, through: 1, by: -1) {
            let root = "/" + components[..<depth].joined(separator: "/")
            var info = stat()
            guard lstat(root + "/" + AtomicVolume.dataLinkName, &info) == 0 else { continue }
            guard info.st_mode & S_IFMT == S_IFLNK else { return nil }
            let below = components[depth...]
            // `..` would climb back out of the generation; a path spelled that way is watched as it is.
            guard !below.contains(".."), !below.contains(".") else { return nil }
            let first: String
            if below.first == AtomicVolume.dataLinkName {
                first = ""
            } else {
                let prefix = AtomicVolume.dataLinkName + "/"
                guard let target = try? VolumeFS.readlink(root + "/" + below.first!), target.hasPrefix(prefix) else { return nil }
                first = String(target.dropFirst(prefix.count))
            }
            let subpath = ([first] + below.dropFirst()).filter { !$0.isEmpty }.joined(separator: "/")
            return subpath.isEmpty ? nil : KubeletNesting(root: root, subpath: subpath)
        }
        return nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

/// A directory inside a kubelet volume: the volume's root, and the directory's path inside each generation.
struct KubeletNesting: Equatable, Sendable {
    var root: String
    var subpath: String
}

/// Device and inode of a directory (followed through symlinks).
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64

    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// What one event on a watched directory means for its content.
enum VolumeSignal: Equatable {
    /// `MOVED_TO ..data`: the kubelet committed a generation.
    case committed
    /// A plain writer touched the directory: read it once writes have been quiet for a while.
    case written
    /// The directory itself was deleted, moved away or unmounted.
    case lost
    /// Nothing that changes visible content.
    case irrelevant

    init(_ event: InotifyEvent, managedByKubelet: Bool) {
        let mask = event.mask
        if !mask.isDisjoint(with: [.deleteSelf, .moveSelf, .ignored, .unmount]) {
            self = .lost
        } else if event.name == AtomicVolume.dataLinkName && mask.contains(.movedTo) {
            self = .committed
        } else if event.name == AtomicVolume.dataLinkName && !mask.isDisjoint(with: [.delete, .movedFrom]) {
            // `..data` itself removed (volume teardown, or a hand-made layout): the directory is no
            // longer a kubelet volume; read what is left once things settle.
            self = .written
        } else if event.name.hasPrefix("..") || managedByKubelet {
            // `..<stamp>`, `..data_tmp`: a generation being written, not visible yet. In a kubelet
            // volume the remaining events (top-level symlinks) follow a commit already seen. (The
            // inotify thread already drops the `..` names for watched roots: keep
            // `Registry.isGenerationEntry` in step with this rule.)
            self = .irrelevant
        } else if !mask.isDisjoint(with: [.create, .delete, .movedFrom, .movedTo, .closeWrite, .modify, .attrib]) {
            // ATTRIB too (chmod/chown storms): the content hash decides whether anything changed.
            self = .written
        } else {
            self = .irrelevant
        }
    }
}
