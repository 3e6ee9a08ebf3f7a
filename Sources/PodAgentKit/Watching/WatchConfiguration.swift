// What `podagent watch` / `podagent run` watch and how changes are coalesced and filtered.

import Glibc

/// Options of a `ChangeWatcher`: the directories, filters and coalescing windows.
///
/// ```swift
/// var configuration = WatchConfiguration(directories: ["/etc/config", "/etc/podinfo"])
/// configuration.onLabels = ["app.kubernetes.io/version"]   // labels file: only this key matters
/// configuration.exclude = ["*.swp"]
/// configuration.debounce = .milliseconds(100)
/// ```
public struct WatchConfiguration: Sendable {
    /// Volume roots, each watched non-recursively (the kubelet swaps `..data` at the root).
    public var directories: [String]
    /// Wait for a directory that does not exist yet instead of failing (`--wait`); its appearance
    /// is a change.
    public var waitForMissing: Bool
    /// fnmatch(3) globs on the path relative to the volume root; empty means every file.
    public var include: [String]
    /// fnmatch(3) globs; a file matching one is ignored even if it matches an include.
    public var exclude: [String]
    /// When set, a change of a downwardAPI `labels` file counts only if one of these keys changed.
    public var onLabels: [String]
    /// When set, a change of a downwardAPI `annotations` file counts only if one of these keys changed.
    public var onAnnotations: [String]
    /// The file names (last path component) read as downwardAPI `labels` / `annotations` maps, compared key
    /// by key: `labels` and `annotations`, plus the names of `--labels-file` / `--annotations-file`.
    public var mapNames: DownwardMapNames
    /// One window across all directories: after a commit, wait until no further commit came for this
    /// long, then read and emit. Volumes the kubelet updates in one pod sync commit within
    /// milliseconds of each other, so a short window turns them into one change set. Zero emits after
    /// each commit. Default 100 ms; continuous commits postpone a read by at most ten windows.
    public var debounce: Duration
    /// At most one change set per interval; changes during it are folded into the next one. Default 0.
    public var minInterval: Duration
    /// For directories the kubelet does not manage (no `..data`, so no commit point): read them once
    /// no write was seen for this long. Default 100 ms (at most ten periods for a writer that never pauses).
    public var quietPeriod: Duration

    public init(directories: [String]) {
        self.directories = directories
        self.waitForMissing = false
        self.include = []
        self.exclude = []
        self.onLabels = []
        self.onAnnotations = []
        self.mapNames = .standard
        self.debounce = .milliseconds(100)
        self.minInterval = .zero
        self.quietPeriod = .milliseconds(100)
    }

    var filter: ChangeFilter {
        ChangeFilter(include: include, exclude: exclude, onLabels: onLabels, onAnnotations: onAnnotations, mapNames: mapNames)
    }

    /// Checks the options and returns the directories as absolute paths without trailing slashes,
    /// duplicates removed (order kept).
    func validatedDirectories() throws(WatchError) -> [String] {
        guard !directories.isEmpty else { throw WatchError(.noDirectories) }
        for (name, value) in [("debounce", debounce), ("min-interval", minInterval), ("quiet-period", quietPeriod)]
        where value < .zero {
            throw WatchError(.negativeDuration(option: name))
        }
        var seen: Set<String> = []
        var result: [String] = []
        for directory in directories {
            guard !directory.isEmpty else { throw WatchError(.noDirectories) }
            let path = Self.absolute(directory)
            guard seen.insert(path).inserted else { continue }
            var info = stat()
            if stat(path, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw WatchError(.notADirectory(path: directory)) }
            } else if !waitForMissing {
                throw WatchError(.directoryMissing(path: directory))
            }
            result.append(path)
        }
        return result
    }

    /// `path` made absolute against the working directory, `.` elements and repeated or trailing
    /// slashes dropped. Symlinks are kept: the watch follows them when it is placed.
    static func absolute(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            if let cwd = getcwd(nil, 0) {
                full = String(cString: cwd) + "/" + path
                free(cwd)
            }
        }
        let elements = full.split(separator: "/").filter { $0 != "." }
        return "/" + elements.joined(separator: "/")
    }
}

/// Why watching cannot start; says what to do about it.
public struct WatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        case noDirectories
        case directoryMissing(path: String)
        case notADirectory(path: String)
        case negativeDuration(option: String)
        /// inotify refused (watch or instance limits, permissions).
        case inotify(operation: String, path: String, errno: Int32)
        /// The initial content could not be read.
        case unreadable(path: String, message: String)
    }

    public var reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    init(_ error: InotifyError) {
        reason = .inotify(operation: error.operation, path: error.path, errno: error.errno)
    }

    public var description: String {
        switch reason {
        case .noDirectories:
            return "no directory to watch — pass --dir DIR (repeatable)"
        case .directoryMissing(let path):
            // A link on the way that leads nowhere (dangling, or a loop): name it, not just the path.
            if let last = VolumeWatch.symlinks(on: path).last.map({ VolumeFS.join($0.directory, $0.name) }),
               FileIdentity(last) == nil {
                let target = (try? VolumeFS.readlink(last)) ?? "?"
                return "`\(path)` does not exist: the symlink `\(last)` leads to `\(target)`, which does not resolve"
                    + " (use --wait to wait for it)"
            }
            return "`\(path)` does not exist — is the volume mounted at this path? (use --wait to wait for it)"
        case .notADirectory(let path):
            return "`\(path)` is not a directory — watch the directory that holds the file: the kubelet replaces"
                + " files by swapping ..data, so a watch on the file itself dies with every update"
        case .negativeDuration(let option):
            return "--\(option) must not be negative"
        case .inotify(let operation, let path, let errno):
            return "cannot watch: " + InotifyError(operation: operation, path: path, errno: errno).description
        case .unreadable(let path, let message):
            return "cannot read `\(path)`: \(message)"
        }
    }
}

/// Which files of a watched directory are downwardAPI label or annotation maps, by name.
public struct DownwardMapNames: Sendable, Equatable {
    public enum Kind: Sendable { case labels, annotations }

    public var labels: Set<String>
    public var annotations: Set<String>

    /// `labels` and `annotations`, the names the Kubernetes docs use.
    public static let standard = DownwardMapNames(labels: [VolumeContent.labelsFileName], annotations: [VolumeContent.annotationsFileName])

    public init(labels: Set<String>, annotations: Set<String>) {
        self.labels = labels
        self.annotations = annotations
    }

    /// What the file at `path` (relative to its volume) is, judged by its last component.
    func kind(of path: String) -> Kind? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if labels.contains(name) { return .labels }
        if annotations.contains(name) { return .annotations }
        return nil
    }
}
