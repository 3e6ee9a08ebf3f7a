#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the pod model reads what the pod sees, every pod path resolved inside `root`.
///
/// `root` is `/` in a real pod; tests and `podagent simulate` point it at a sandbox that holds
/// the same tree (`DIR/etc/podinfo`, `DIR/sys/fs/cgroup`, `DIR/proc/self/cgroup`, …), which is
/// what `--root DIR` means on `env`, `inspect` and `render`.
///
/// ```swift
/// var paths = PodPaths(root: "/tmp/pod")
/// paths.downwardDirectory = "/etc/meta"
/// paths.labelsPath        // "/tmp/pod/etc/meta/labels"
/// ```
///
/// Absolute paths are pod paths and are resolved inside `root`; a relative path (e.g. a
/// `--labels-file ./labels` typed by a person) names a file of the machine running podagent
/// and is used as given.
public struct PodPaths: Sendable, Equatable {
    public var root: String
    /// The downwardAPI volume's mount path: its `labels` and `annotations` files, and the
    /// resource files recognised by name.
    public var downwardDirectory: String
    /// The labels file when it is not `<downwardDirectory>/labels` (`--labels-file`).
    public var labelsFile: String?
    /// The annotations file when it is not `<downwardDirectory>/annotations` (`--annotations-file`).
    public var annotationsFile: String?
    /// The service-account mount; its `namespace` file is the namespace fallback.
    public var serviceAccountDirectory: String
    /// The cgroup filesystem: v2's unified hierarchy, or v1's directory of controller mounts.
    public var cgroupMount: String
    /// This process's cgroup membership (`hierarchy:controllers:path` lines).
    public var procSelfCgroup: String

    public static let defaultDownwardDirectory = "/etc/podinfo"
    public static let defaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"
    public static let defaultCgroupMount = "/sys/fs/cgroup"
    public static let defaultProcSelfCgroup = "/proc/self/cgroup"

    public init(
        root: String = "/",
        downwardDirectory: String = PodPaths.defaultDownwardDirectory,
        labelsFile: String? = nil,
        annotationsFile: String? = nil,
        serviceAccountDirectory: String = PodPaths.defaultServiceAccountDirectory,
        cgroupMount: String = PodPaths.defaultCgroupMount,
        procSelfCgroup: String = PodPaths.defaultProcSelfCgroup
    ) {
        self.root = root
        self.downwardDirectory = downwardDirectory
        self.labelsFile = labelsFile
        self.annotationsFile = annotationsFile
        self.serviceAccountDirectory = serviceAccountDirectory
        self.cgroupMount = cgroupMount
        self.procSelfCgroup = procSelfCgroup
    }

    /// `path` as podagent opens it: inside `root` when absolute, unchanged when relative.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? FileSystem.join(root, path) : path
    }

    public var downwardPath: String { resolve(downwardDirectory) }
    public var labelsPath: String { resolve(labelsFile ?? FileSystem.join(downwardDirectory, "labels")) }
    public var annotationsPath: String { resolve(annotationsFile ?? FileSystem.join(downwardDirectory, "annotations")) }
    public var serviceAccountNamespacePath: String { resolve(FileSystem.join(serviceAccountDirectory, "namespace")) }
    public var cgroupMountPath: String { resolve(cgroupMount) }
    public var procSelfCgroupPath: String { resolve(procSelfCgroup) }
}

// MARK: - Reading pod files

/// The file's bytes, or nil when it (or a directory above it) does not exist: absent pod data
/// is a fact to report, not a failure. Anything else (permissions, a directory) is an error.
func readPodFileIfPresent(_ path: String) throws(PodViewError) -> [UInt8]? {
    do {
        return try FileSystem.readFile(path)
    } catch {
        if error.errno == ENOENT || error.errno == ENOTDIR { return nil }
        throw .unreadableFile(path: path, error: error)
    }
}

/// Names of the regular files (symlinks followed) directly inside `directory`, sorted byte-wise;
/// empty when it does not exist. Names starting with `.` are skipped: in a kubelet volume they
/// are the atomic writer's `..data` and `..<timestamp>` entries, never keys.
func regularFileNames(in directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name.hasPrefix(".") { continue }
        var st = stat()
        guard stat(directory + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        names.append(name)
    }
    return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
}
