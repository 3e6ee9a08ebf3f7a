// The "volumes" section of `podagent inspect`: which mounts are Kubernetes volumes, how the kubelet
// wrote them, and which will never update.
//
// Inside a container the only record of volumes is /proc/self/mountinfo. What it shows depends on the
// medium (kubernetes/kubernetes pkg/volume/{configmap,secret,downwardapi,projected,emptydir}):
// - configMap (and disk emptyDir) volumes are plain directories on the node's disk, bind-mounted by the
//   runtime: the mount's *root* is the kubelet's path,
//   `/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~configmap/<name>`, so kind and name are known.
// - secret, downwardAPI and projected volumes (and memory emptyDirs) are tmpfs mounted by the kubelet
//   *at* that path; the runtime's bind of a mount's top shows root `/` and source `tmpfs`, so the
//   kubelet path is gone and the kind can only be read from the content (`..data`, `labels`,
//   `token` + `ca.crt` + `namespace`).
// - subPath mounts bind one file or directory *below* the volume: the root names it, inside a
//   `..<timestamp>` generation (`…/kubernetes.io~configmap/cfg/..2026_…/nginx.conf`, or `/..2026_…/key`
//   on tmpfs) or under `/var/lib/kubelet/pods/<uid>/volume-subpaths/<volume>/<container>/<index>`.
//   The kernel appends `//deleted` once the kubelet has removed that generation.
//
// Content digests are only computed where the kubelet path itself says configMap or downwardAPI:
// a kind guessed from content could be a secret, and a secret's digest is secret material.


#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What kind of volume a mount is, as far as the pod can tell.
public enum VolumeKind: String, Sendable, Equatable {
    case configMap, secret, downwardAPI, projected, emptyDir
    /// hostPath, persistentVolumeClaim, CSI, NFS…: anything the kubelet does not write itself.
    case other
}

/// What a volume's files are stored on.
public enum VolumeMedium: String, Sendable, Equatable {
    /// Memory (`tmpfs`, `ramfs`): where the kubelet puts secret, downwardAPI and projected volumes.
    case tmpfs
    /// A network filesystem (NFS, CIFS, Ceph, FUSE…).
    case network
    /// A local block device: the node's disk for configMap volumes.
    case disk

    static func of(filesystemType type: String) -> VolumeMedium {
        switch type {
        case "tmpfs", "ramfs": return .tmpfs
        case "nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "9p", "lustre": return .network
        default: return type.hasPrefix("fuse") ? .network : .disk
        }
    }
}

/// How the kind of a volume was found.
public enum VolumeKindEvidence: String, Sendable, Equatable {
    /// From the kubelet's plugin directory in the mount's root (`kubernetes.io~configmap`): certain.
    case kubeletPath
    /// From the files (`..data` layout, `labels`, service-account files) and the medium: a best guess.
    case content
    /// Neither: only the mount itself is known.
    case mount
}

/// Where a bind mount's source lies in the kubelet's tree on the node, read from its mountinfo root.
public struct KubeletMountSource: Sendable, Equatable {
    /// Which part of the kubelet's pod directory the root lies in.
    public enum Location: Sendable, Equatable {
        /// `…/pods/<uid>/volumes/<plugin dir>/<name>[/within…]`; `plugin` unescaped (`kubernetes.io/configmap`).
        case volume(plugin: String, name: String, within: [String])
        /// `…/pods/<uid>/volume-subpaths/<volume>/<container>/<index>`: the kubelet's bind of a subPath.
        case subPath(volume: String, container: String, index: Int)
    }

    public var podUID: String
    public var location: Location

    /// The pod volume's name, which both kinds of location carry.
    public var volumeName: String {
        switch location {
        case .volume(_, let name, _), .subPath(let name, _, _): name
        }
    }

    /// Finds the kubelet layout anywhere in `root`, so a kubelet directory that is not
    /// `/var/lib/kubelet` (kind, k3s, MicroK8s) or lies on its own filesystem (root `/pods/<uid>/…`,
    /// or even `/<uid>/…`) is recognised too.
    public static func parse(root: String) -> KubeletMountSource? {
        let parts = root.split(separator: "/").map(String.init)
        for index in parts.indices.dropFirst() {
            let uid = parts[index - 1]
            guard index >= 2 && parts[index - 2] == "pods" || looksLikePodUID(uid) else { continue }
            switch parts[index] {
            case "volumes" where index + 2 < parts.count && parts[index + 1].contains("~"):
                return KubeletMountSource(
                    podUID: uid,
                    location: .volume(plugin: parts[index + 1].replacingTilde(), name: parts[index + 2],
                                      within: Array(parts[(index + 3)...])))
            case "volume-subpaths" where index + 3 < parts.count:
                guard let mountIndex = Int(parts[index + 3]) else { continue }
                return KubeletMountSource(
                    podUID: uid, location: .subPath(volume: parts[index + 1], container: parts[index + 2], index: mountIndex))
            default:
                continue
            }
        }
        return nil
    }

    /// API-server pods have UUIDs; static pods a 32-digit hex hash of their manifest.
    static func looksLikePodUID(_ text: String) -> Bool {
        let hex = text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == UInt8(ascii: "-") }
        return hex && (text.utf8.count == 36 || text.utf8.count == 32)
    }
}

extension String {
    /// The kubelet escapes a plugin's qualified name for its directory: `kubernetes.io/secret` → `kubernetes.io~secret`.
    fileprivate func replacingTilde() -> String {
        String(decoding: utf8.map { $0 == UInt8(ascii: "~") ? UInt8(ascii: "/") : $0 }, as: UTF8.self)
    }
}

/// One Kubernetes volume (or subPath mount) of this container, as `podagent inspect` reports it.
public struct InspectedVolume: Sendable, Equatable {
    /// The pod path (`/etc/podinfo`); files are read at this path inside `--root`.
    public var mountPoint: String
    public var kind: VolumeKind
    public var kindEvidence: VolumeKindEvidence
    /// The kubelet's volume plugin (`kubernetes.io/configmap`, `kubernetes.io/csi`) when the mount names it.
    public var plugin: String?
    /// The volume's name in the pod spec, when the mount names it.
    public var name: String?
    public var podUID: String?
    public var medium: VolumeMedium
    public var filesystemType: String
    public var readOnly: Bool
    /// The service-account token volume (`token`, `ca.crt`, `namespace`).
    public var serviceAccount: Bool
    /// True when no digest is given for any file, because the volume is, or might be, secret.
    public var contentWithheld: Bool
    /// Set for a subPath mount: a file or directory bound once, never updated by the kubelet.
    public var subPath: SubPath?
    /// The generation `..data` names, for volumes written by the kubelet's atomic writer.
    public var generation: Generation?
    /// Files of the current generation (through `..data`), or the one file of a subPath mount;
    /// nil when not listed (a volume the kubelet does not write, such as emptyDir or a PVC).
    public var files: [File]?
    /// What is wrong with this volume, each a sentence saying what to do.
    public var warnings: [String]
    /// The mountinfo line it was found from.
    public var mount: MountEntry

    /// A subPath mount's source.
    public struct SubPath: Sendable, Equatable {
        /// The mount's root without the kernel's `//deleted` suffix.
        public var source: String
        /// The kernel marks the source deleted: the kubelet has replaced that generation since.
        public var sourceDeleted: Bool
        /// From a `volume-subpaths/<volume>/<container>/<index>` root.
        public var container: String?
        public var index: Int?
    }

    /// The current generation of an atomic-writer volume.
    public struct Generation: Sendable, Equatable {
        /// `..2026_11_23_07_45_27.57250255`
        public var name: String
        /// The kubelet's wall-clock stamp in the name, when it is a plausible UTC date.
        public var stampEpochSeconds: Int64?
        /// The generation directory's mtime: the node's clock when its last file was written.
        public var modifiedEpochSeconds: Int64?
        /// `now` minus the stamp (or, for names that do not parse, the mtime).
        public var ageSeconds: Int64?
    }

    /// One file: path relative to the volume, size, permission bits, and SHA-256 only when allowed.
    public struct File: Sendable, Equatable {
        public var path: String
        public var size: Int
        public var mode: UInt32
        /// Lowercase hex SHA-256; nil for secret or possibly-secret content.
        public var sha256: String?
    }
}

/// Builds the "volumes" section of `podagent inspect` from `/proc/self/mountinfo` and the volumes'
/// `..data` layout.
///
/// ```swift
/// let paths = PodPaths(root: "/tmp/pod")   // a `podagent simulate` sandbox
/// let section = try VolumeInspection.inspect(paths: paths, now: WallClock.now().seconds)
/// ```
public enum VolumeInspection {
    public static let mountInfoPath = "/proc/self/mountinfo"

    /// Key `volumes`, title `Volumes`. A missing mountinfo file gives a section with a warning (a
    /// sandbox without `/proc`); a malformed one throws ``MountInfoError``.
    public static func inspect(paths: PodPaths, now: Int64) throws -> InspectSection {
        let path = paths.resolve(mountInfoPath)
        let table: MountTable
        do throws(MountInfoError) {
            table = try MountTable.read(path)
        } catch {
            guard case .unreadable(_, let code) = error, code == ENOENT || code == ENOTDIR else { throw error }
            return InspectSection(
                key: "volumes", title: "Volumes", rows: [.init("(no mountinfo)", path)],
                warnings: ["\(path) does not exist, so volumes cannot be discovered: is /proc mounted (with --root, run `podagent simulate` to create it)?"],
                value: .null)
        }
        return section(volumes(in: table, paths: paths, now: now))
    }

    /// Every volume of this container, sorted by mount point.
    public static func volumes(paths: PodPaths, now: Int64) throws(MountInfoError) -> [InspectedVolume] {
        volumes(in: try MountTable.read(paths.resolve(mountInfoPath)), paths: paths, now: now)
    }

    /// Every volume among `table`'s visible mounts, sorted by mount point.
    public static func volumes(in table: MountTable, paths: PodPaths, now: Int64) -> [InspectedVolume] {
        table.visibleMounts.filter { isVolume($0, paths: paths) }
            .map { inspect($0, paths: paths, now: now) }
            .sorted { $0.mountPoint.utf8.lexicographicallyPrecedes($1.mountPoint.utf8) }
    }

    // MARK: - Which mounts are volumes

    /// Kernel and runtime filesystems of every container; never a pod volume.
    static let systemFilesystems: Set<String> = [
        "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "securityfs", "debugfs", "tracefs", "bpf",
        "pstore", "configfs", "fusectl", "binfmt_misc", "autofs", "nsfs", "selinuxfs", "efivarfs", "rpc_pipefs",
    ]
    /// Files the kubelet and the runtime bind into every container (from `pods/<uid>/etc-hosts`,
    /// `pods/<uid>/containers/<name>/<id>`, the sandbox directory).
    static let runtimeFiles: Set<String> = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev/termination-log"]
    static let systemTrees = ["/proc", "/sys", "/dev"]

    static func isVolume(_ mount: MountEntry, paths: PodPaths) -> Bool {
        if KubeletMountSource.parse(root: strippingDeleted(mount.root).path) != nil { return true }
        let point = mount.mountPoint
        if point == "/" || systemFilesystems.contains(mount.filesystemType) || runtimeFiles.contains(point) { return false }
        if systemTrees.contains(where: { point == $0 || point.hasPrefix($0 + "/") }) {
            // The runtime's /dev/shm is tmpfs from source "shm" (containerd, CRI-O, Docker); a
            // memory emptyDir mounted there (for Postgres, Chrome…) has source "tmpfs".
            if point == "/dev/shm" && mount.filesystemType == "tmpfs" && mount.source != "shm" { return true }
            return FileSystem.exists(FileSystem.join(paths.resolve(point), AtomicVolume.dataLinkName))
        }
        return true
    }

    /// The kernel appends `//deleted` to the root of a mount whose source was unlinked.
    static func strippingDeleted(_ root: String) -> (path: String, deleted: Bool) {
        root.hasSuffix("//deleted") ? (String(root.dropLast("//deleted".count)), true) : (root, false)
    }

    // MARK: - One volume

    static func inspect(_ mount: MountEntry, paths: PodPaths, now: Int64) -> InspectedVolume {
        let (root, deleted) = strippingDeleted(mount.root)
        let source = KubeletMountSource.parse(root: root)
        let hostPath = paths.resolve(mount.mountPoint)
        var volume = InspectedVolume(
            mountPoint: mount.mountPoint, kind: .other, kindEvidence: .mount, plugin: nil, name: nil,
            podUID: source?.podUID, medium: .of(filesystemType: mount.filesystemType),
            filesystemType: mount.filesystemType, readOnly: mount.isReadOnly, serviceAccount: false,
            contentWithheld: true, subPath: nil, generation: nil, files: nil, warnings: [], mount: mount)

        volume.name = source?.volumeName
        if case .volume(let plugin, _, _) = source?.location {
            volume.plugin = plugin
            volume.kindEvidence = .kubeletPath
            volume.kind = kind(ofPlugin: plugin)
        }
        volume.subPath = subPath(root: root, deleted: deleted, source: source)

        if volume.subPath != nil {
            readSubPath(&volume, hostPath: hostPath)
        } else {
            readVolume(&volume, hostPath: hostPath, now: now)
        }
        if volume.kind == .secret && volume.kindEvidence == .kubeletPath && volume.medium != .tmpfs {
            volume.warnings.append(
                "\(volume.mountPoint) is a secret volume on \(mount.filesystemType), not tmpfs: its content is stored on the node's disk, which a Linux kubelet does not do — check how the node's kubelet mounts volumes")
        }
        return volume
    }

    /// The source of a subPath mount, told from its mountinfo line alone; nil for anything else (a whole
    /// volume, or a mount that is not the kubelet's). A subPath is the kubelet's `volume-subpaths` bind, a
    /// root below a volume's own directory, or a root inside a `..<timestamp>` generation — even on tmpfs,
    /// where nothing else of the kubelet path is left (`/..2026_…/key`).
    /// `root`: the mount's root without `//deleted`; `source`: what `KubeletMountSource.parse` made of it.
    static func subPath(root: String, deleted: Bool, source: KubeletMountSource?) -> InspectedVolume.SubPath? {
        var belowVolume: [String] = []
        switch source?.location {
        case .volume(let plugin, _, let within):
            // A CSI volume's data lies in its `mount` subdirectory; anything deeper is a subPath.
            belowVolume = plugin == "kubernetes.io/csi" && within.first == "mount" ? Array(within.dropFirst()) : within
        case .subPath(_, let container, let index):
            return .init(source: root, sourceDeleted: deleted, container: container, index: index)
        case nil:
            break
        }
        let insideGeneration = root.split(separator: "/").dropLast().contains { GenerationStamp(raw: String($0)).components != nil }
        guard !belowVolume.isEmpty || insideGeneration else { return nil }
        return .init(source: root, sourceDeleted: deleted, container: nil, index: nil)
    }

    static func kind(ofPlugin plugin: String) -> VolumeKind {
        switch plugin {
        case "kubernetes.io/configmap": return .configMap
        case "kubernetes.io/secret": return .secret
        case "kubernetes.io/downward-api": return .downwardAPI
        case "kubernetes.io/projected": return .projected
        case "kubernetes.io/empty-dir": return .emptyDir
        default: return .other
        }
    }

    /// Only a kind the kubelet path proves non-secret gets digests: a kind guessed from content might
    /// be a secret, and so might a projected volume (it can project secrets).
    static func mayDigest(_ volume: InspectedVolume) -> Bool {
        volume.kindEvidence == .kubeletPath && (volume.kind == .configMap || volume.kind == .downwardAPI)
    }

    private static func readSubPath(_ volume: inout InspectedVolume, hostPath: String) {
        let subPath = volume.subPath!
        volume.warnings.append(
            "\(volume.mountPoint) is a subPath mount: the kubelet never updates it; mount the whole volume (or a directory) instead")
        if subPath.sourceDeleted {
            volume.warnings.append(
                "\(volume.mountPoint) shows a file the kubelet has since replaced (the kernel marks its source deleted): the container sees stale content until it restarts")
        }
        volume.contentWithheld = !mayDigest(volume)
        var info = stat()
        guard stat(hostPath, &info) == 0 else {
            volume.warnings.append("\(volume.mountPoint) is listed in mountinfo but cannot be read: \(String(cString: strerror(errno)))")
            return
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return }  // a directory subPath: not walked
        var digest: String?
        if !volume.contentWithheld && !SecretNames.looksSecret(lastComponent(volume.mountPoint)),
            let data = try? FileSystem.readFile(hostPath)
        {
            digest = sha256Hex(data)
        }
        volume.files = [.init(path: lastComponent(volume.mountPoint), size: Int(info.st_size),
                              mode: UInt32(info.st_mode) & 0o7777, sha256: digest)]
    }

    private static func readVolume(_ volume: inout InspectedVolume, hostPath: String, now: Int64) {
        let atomicKind = [.configMap, .secret, .downwardAPI, .projected].contains(volume.kind) && volume.kindEvidence == .kubeletPath
        let digests = mayDigest(volume)
        var info = stat()
        guard stat(hostPath, &info) == 0 else {
            volume.warnings.append(
                "\(volume.mountPoint) is listed in mountinfo but cannot be read: \(String(cString: strerror(errno))) — with --root, is this the sandbox the mountinfo was written for?")
            return
        }
        if info.st_mode & S_IFMT == S_IFREG {
            // A single-file mount outside any volume layout (a hostPath file, say): size and mode only.
            volume.files = [.init(path: lastComponent(volume.mountPoint), size: Int(info.st_size),
                                  mode: UInt32(info.st_mode) & 0o7777, sha256: nil)]
            return
        }
        let snapshot: VolumeSnapshot?
        do throws(AtomicVolumeError) {
            // Data is read only when it will be hashed: a secret's bytes never enter this process.
            snapshot = try AtomicVolume.read(hostPath, includeData: digests)
        } catch {
            switch error {
            case .generationMissing(_, let target):
                volume.generation = .init(name: target, stampEpochSeconds: nil, modifiedEpochSeconds: nil, ageSeconds: nil)
                volume.warnings.append(
                    "\(volume.mountPoint)/..data points to \(target), which does not exist: the volume is broken or half-written — check the pod's events (kubectl describe pod) for FailedMount; the kubelet rewrites it on its next sync")
            case .dataNotSymlink:
                volume.warnings.append(
                    "\(volume.mountPoint)/..data is not a symlink: something other than the kubelet wrote this volume")
            case .concurrentUpdates:
                volume.warnings.append(
                    "\(volume.mountPoint) changed during every read (the kubelet is rewriting it): run inspect again")
            default:
                volume.warnings.append("\(volume.mountPoint): \(error.description)")
            }
            return
        }
        guard let snapshot else {
            if atomicKind {
                volume.warnings.append(
                    "\(volume.mountPoint) is a \(volume.kind.rawValue) volume without ..data: the kubelet has not written it, or something replaced its files — check the pod's events (kubectl describe pod)")
            } else if volume.kindEvidence != .kubeletPath {
                // Not the atomic writer's: a memory emptyDir on tmpfs, else hostPath, PVC and the like.
                volume.kind = volume.medium == .tmpfs ? .emptyDir : .other
                volume.kindEvidence = volume.medium == .tmpfs ? .content : .mount
            }
            return
        }

        let names = Set(snapshot.files.map(\.path))
        volume.serviceAccount = ["token", "ca.crt", "namespace"].allSatisfy(names.contains)
            && (volume.kindEvidence != .kubeletPath || volume.kind == .projected)
        if volume.kindEvidence != .kubeletPath {
            volume.kindEvidence = .content
            if volume.serviceAccount {
                volume.kind = .projected
            } else if names.contains("labels") || names.contains("annotations") {
                volume.kind = .downwardAPI
            } else {
                // secret, downwardAPI and projected volumes are tmpfs, configMap volumes are on disk;
                // a tmpfs volume without downward files is taken as the secret it most likely is.
                volume.kind = volume.medium == .tmpfs ? .secret : .configMap
            }
        }
        volume.contentWithheld = !digests
        volume.files = snapshot.files.map { file in
            let hash = digests && !SecretNames.looksSecret(lastComponent(file.path))
                ? sha256Hex(file.data) : nil
            return .init(path: file.path, size: file.size, mode: file.mode, sha256: hash)
        }
        let stamp = snapshot.generation.approximateEpochSeconds
        var generationInfo = stat()
        let modified = lstat(FileSystem.join(hostPath, snapshot.generation.raw), &generationInfo) == 0
            ? Int64(generationInfo.st_mtim.tv_sec) : nil
        volume.generation = .init(name: snapshot.generation.raw, stampEpochSeconds: stamp, modifiedEpochSeconds: modified,
                                  ageSeconds: (stamp ?? modified).map { now - $0 })
    }

    /// Lowercase hex SHA-256, as `sha256sum` prints it.
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        VolumeContent.hex(SHA256.hash(data: bytes))
    }

    private static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    // MARK: - The section

    /// Rows (a volume, then its files indented), warnings, and the JSON/YAML value (a list, one
    /// object per volume; see ``value(_:)``).
    public static func section(_ volumes: [InspectedVolume]) -> InspectSection {
        var rows: [InspectSection.Row] = []
        for volume in volumes {
            rows.append(.init(volume.mountPoint, summary(volume)))
            for file in volume.files ?? [] {
                var text = "\(file.size) B  " + octal(file.mode)
                if let digest = file.sha256 { text += "  sha256:" + digest.prefix(12) }
                rows.append(.init(file.path, text, indent: 1))
            }
        }
        if volumes.isEmpty { rows.append(.init("(none)", "no volume mounts found in mountinfo")) }
        return InspectSection(key: "volumes", title: "Volumes", rows: rows,
                              warnings: volumes.flatMap(\.warnings), value: .list(volumes.map(value)))
    }

    static func summary(_ volume: InspectedVolume) -> String {
        var kind = volume.kind == .other ? volume.plugin ?? (volume.name == nil ? "mount" : "volume") : volume.kind.rawValue
        if let name = volume.name { kind += " \"\(name)\"" }
        var notes: [String] = []
        if volume.serviceAccount { notes.append("service account") }
        if volume.kindEvidence == .content { notes.append("from content") }
        if !notes.isEmpty { kind += " (" + notes.joined(separator: ", ") + ")" }
        var parts = [kind]
        if volume.subPath != nil { parts.append("subPath, never updated") }
        parts.append(volume.medium == .tmpfs ? "tmpfs" : "\(volume.medium.rawValue) (\(volume.filesystemType))")
        parts.append(volume.readOnly ? "ro" : "rw")
        if let generation = volume.generation {
            parts.append(generation.name + (generation.ageSeconds.map { ", written " + ageText($0) } ?? ""))
        }
        if let files = volume.files, volume.subPath == nil {
            parts.append(files.count == 1 ? "1 file" : "\(files.count) files")
        }
        if volume.contentWithheld && volume.files?.isEmpty == false { parts.append("digests withheld") }
        return parts.joined(separator: " · ")
    }

    /// `-o json` / `-o yaml` shape of one volume (documented in the README):
    /// `{"mountPoint", "kind", "kindFrom", "plugin", "name", "podUID", "medium", "filesystem", "readOnly",
    ///   "serviceAccount", "contentWithheld", "subPath": null | {"source", "sourceDeleted", "container",
    ///   "index"}, "generation": null | {"name", "stampEpochSeconds", "modifiedEpochSeconds", "ageSeconds"},
    ///   "files": null | [{"path", "size", "mode": "0644", "sha256"?}], "warnings": […]}`
    /// `sha256` is absent whenever content is withheld; unknown values are `null`.
    public static func value(_ volume: InspectedVolume) -> PodValue {
        func text(_ s: String?) -> PodValue { s.map(PodValue.text) ?? .null }
        func integer(_ i: Int64?) -> PodValue { i.map(PodValue.integer) ?? .null }
        let subPath: PodValue = volume.subPath.map { s in
            .object([.init("source", .text(s.source)), .init("sourceDeleted", .bool(s.sourceDeleted)),
                     .init("container", text(s.container)), .init("index", integer(s.index.map(Int64.init)))])
        } ?? .null
        let generation: PodValue = volume.generation.map { g in
            .object([.init("name", .text(g.name)), .init("stampEpochSeconds", integer(g.stampEpochSeconds)),
                     .init("modifiedEpochSeconds", integer(g.modifiedEpochSeconds)), .init("ageSeconds", integer(g.ageSeconds))])
        } ?? .null
        let files: PodValue = volume.files.map { files in
            .list(files.map { file in
                var members: [PodValue.Member] = [.init("path", .text(file.path)), .init("size", .integer(Int64(file.size))),
                                                  .init("mode", .text(octal(file.mode)))]
                if let digest = file.sha256 { members.append(.init("sha256", .text(digest))) }
                return .object(members)
            })
        } ?? .null
        return .object([
            .init("mountPoint", .text(volume.mountPoint)), .init("kind", .text(volume.kind.rawValue)),
            .init("kindFrom", .text(volume.kindEvidence.rawValue)), .init("plugin", text(volume.plugin)),
            .init("name", text(volume.name)), .init("podUID", text(volume.podUID)),
            .init("medium", .text(volume.medium.rawValue)), .init("filesystem", .text(volume.filesystemType)),
            .init("readOnly", .bool(volume.readOnly)), .init("serviceAccount", .bool(volume.serviceAccount)),
            .init("contentWithheld", .bool(volume.contentWithheld)), .init("subPath", subPath),
            .init("generation", generation), .init("files", files),
            .init("warnings", .list(volume.warnings.map(PodValue.text))),
        ])
    }

    /// `0644`: permission bits as `chmod` and `defaultMode` in YAML write them.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// `45s ago`, `3m12s ago`, `2h5m ago`, `4d3h ago`; a stamp ahead of `now` is a clock difference.
    static func ageText(_ seconds: Int64) -> String {
        if seconds < 0 { return "\(-seconds)s in the future (clock skew?)" }
        let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60)
        if d > 0 { return "\(d)d\(h)h ago" }
        if h > 0 { return "\(h)h\(m)m ago" }
        if m > 0 { return "\(m)m\(s)s ago" }
        return "\(s)s ago"
    }
}
