// The /proc/self/mountinfo of a simulated container, shaped like one from a containerd node
// (the mounts, their order and their options are those of a real pod; device numbers and mount IDs are
// fixed so a rerun writes the same bytes).
//
// What each volume looks like follows the kubelet (pkg/volume/*, pkg/kubelet/kubelet_pods.go):
// 1. configMap volumes are directories on the node's disk: a bind mount whose root is the kubelet path
//    `/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~configmap/<name>`.
// 2. secret, downwardAPI and projected volumes are tmpfs the kubelet mounts *at* that path; the
//    runtime's bind of it shows root `/` and source `tmpfs`, sized like the kubelet sizes memory-backed
//    volumes (the pod's memory limit, else the node's allocatable memory).
// 3. The kubelet mounts all four kinds read-only whatever the volumeMount says (`mustMountRO`, since
//    Kubernetes 1.10), so their mounts carry `ro`.
// 4. subPath mounts have the root the kubelet's bind gives them: `…/volume-subpaths/<volume>/<container>/<index>`.
// 5. Mounts are ordered by path depth, as containerd's CRI plugin sorts them, then come the runtime's
//    masks of /proc and /sys.

/// Builds and writes `ROOT/proc/self/mountinfo` for `podagent simulate`.
enum SimulatedMountInfo {
    /// One volumeMount that `simulate` materialised.
    struct VolumeMountRecord {
        var mountPath: String
        var volumeName: String
        var source: VolumeSource
        var subPath: String
        /// The mount's index in the container's `volumeMounts` (the kubelet's volume-subpaths index).
        var index: Int
        var readOnly: Bool
    }

    static let podsDirectory = "/var/lib/kubelet/pods"
    static let nodeDisk = (major: UInt32(8), minor: UInt32(1), source: "/dev/sda1")
    static let mountInfoPath = "/proc/self/mountinfo"

    /// The kubelet's plugin directory for a volume kind.
    static func pluginDirectory(_ source: VolumeSource) -> String {
        switch source {
        case .configMap: return "kubernetes.io~configmap"
        case .secret: return "kubernetes.io~secret"
        case .downwardAPI: return "kubernetes.io~downward-api"
        case .projected: return "kubernetes.io~projected"
        case .other(let kind):
            // emptyDir → empty-dir, hostPath → host-path: the plugin names are the kinds in kebab case.
            var name = ""
            for character in kind {
                if character.isUppercase { name += "-" + character.lowercased() } else { name.append(character) }
            }
            return "kubernetes.io~" + name
        }
    }

    static func isMemoryBacked(_ source: VolumeSource) -> Bool {
        switch source {
        case .secret, .downwardAPI, .projected: return true
        case .configMap, .other: return false
        }
    }

    /// The container's mount table: the runtime's mounts, the kubelet's files, and `volumes`.
    static func table(podUID: String, containerName: String, volumes: [VolumeMountRecord], memoryBackedSizeKiB: Int64) -> MountTable {
        let disk = nodeDisk
        let podDirectory = "\(podsDirectory)/\(podUID)"
        let sandbox = "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/" + hexDigits("sandbox/\(podUID)", count: 64)
        let snapshots = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots"
        let devSize = "size=65536k"

        // (mount point, device, root, options, fs type, source, super options)
        typealias Mount = (point: String, major: UInt32, minor: UInt32, root: String, options: String, type: String, source: String, superOptions: String)
        var rest: [Mount] = [
            ("/etc/hosts", disk.major, disk.minor, "\(podDirectory)/etc-hosts", "rw,relatime", "ext4", disk.source, "rw"),
            ("/dev/termination-log", disk.major, disk.minor,
             "\(podDirectory)/containers/\(containerName)/\(hexDigits("container/\(podUID)/\(containerName)", count: 8))",
             "rw,relatime", "ext4", disk.source, "rw"),
            ("/etc/hostname", disk.major, disk.minor, "\(sandbox)/hostname", "rw,relatime", "ext4", disk.source, "rw"),
            ("/etc/resolv.conf", disk.major, disk.minor, "\(sandbox)/resolv.conf", "rw,relatime", "ext4", disk.source, "rw"),
            ("/dev/shm", 0, 316, "/", "rw,nosuid,nodev,noexec,relatime", "tmpfs", "shm", "rw,\(devSize),inode64"),
        ]
        var tmpfsMinor: UInt32 = 330
        for volume in volumes {
            let point = normalised(volume.mountPath)
            // (3) API-data volumes are always read-only; other kinds only when asked.
            let readOnly = volume.readOnly || isAtomicWriterVolume(volume.source)
            let options = (readOnly ? "ro" : "rw") + ",relatime"
            let volumePath = "\(podDirectory)/volumes/\(pluginDirectory(volume.source))/\(volume.volumeName)"
            let root: String
            if !volume.subPath.isEmpty {
                root = "\(podDirectory)/volume-subpaths/\(volume.volumeName)/\(containerName)/\(volume.index)"  // (4)
            } else {
                root = isMemoryBacked(volume.source) ? "/" : volumePath  // (2) / (1)
            }
            if isMemoryBacked(volume.source) {
                rest.append((point, 0, tmpfsMinor, root, options, "tmpfs", "tmpfs", "rw,size=\(memoryBackedSizeKiB)k,inode64"))
                tmpfsMinor += 1
            } else {
                rest.append((point, disk.major, disk.minor, root, options, "ext4", disk.source, "rw"))
            }
        }
        // (5) Stable: equal depths keep the kubelet's order.
        rest = rest.enumerated().sorted { a, b in
            let (da, db) = (depth(a.element.point), depth(b.element.point))
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)

        var mounts: [Mount] = [
            ("/", 0, 320,
             "/", "rw,relatime", "overlay", "overlay",
             "rw,lowerdir=\(snapshots)/41/fs:\(snapshots)/40/fs,upperdir=\(snapshots)/42/fs,workdir=\(snapshots)/42/work"),
            ("/proc", 0, 321, "/", "rw,nosuid,nodev,noexec,relatime", "proc", "proc", "rw"),
            ("/dev", 0, 322, "/", "rw,nosuid", "tmpfs", "tmpfs", "rw,\(devSize),mode=755,inode64"),
            ("/dev/pts", 0, 323, "/", "rw,nosuid,noexec,relatime", "devpts", "devpts", "rw,gid=5,mode=620,ptmxmode=666"),
            ("/dev/mqueue", 0, 317, "/", "rw,nosuid,nodev,noexec,relatime", "mqueue", "mqueue", "rw"),
            ("/sys", 0, 324, "/", "ro,nosuid,nodev,noexec,relatime", "sysfs", "sysfs", "ro"),
            ("/sys/fs/cgroup", 0, 30, "/", "ro,nosuid,nodev,noexec,relatime", "cgroup2", "cgroup", "rw,nsdelegate,memory_recursiveprot"),
        ]
        mounts += rest
        // The runtime's masked and read-only paths (containerd's defaults).
        for path in ["bus", "fs", "irq", "sys", "sysrq-trigger"] {
            mounts.append(("/proc/" + path, 0, 321, "/" + path, "ro,nosuid,nodev,noexec,relatime", "proc", "proc", "rw"))
        }
        mounts.append(("/proc/acpi", 0, 325, "/", "ro,relatime", "tmpfs", "tmpfs", "ro,inode64"))
        for path in ["kcore", "keys", "timer_list"] {
            mounts.append(("/proc/" + path, 0, 322, "/null", "rw,nosuid", "tmpfs", "tmpfs", "rw,\(devSize),mode=755,inode64"))
        }
        mounts.append(("/proc/scsi", 0, 326, "/", "ro,relatime", "tmpfs", "tmpfs", "ro,inode64"))
        mounts.append(("/sys/firmware", 0, 327, "/", "ro,relatime", "tmpfs", "tmpfs", "ro,inode64"))

        // IDs count up from a fixed base; the root's parent lies outside the container, as in a real one.
        let firstID = 1337
        var entries: [MountEntry] = []
        for (offset, mount) in mounts.enumerated() {
            // The parent is the deepest mount already on the path (the last of equal depth).
            let parent = entries.filter { covers($0.mountPoint, mount.point) }
                .max { depth($0.mountPoint) <= depth($1.mountPoint) }?.mountID ?? 1219
            entries.append(MountEntry(
                mountID: firstID + offset, parentID: parent, major: mount.major, minor: mount.minor, root: mount.root,
                mountPoint: mount.point, mountOptions: mount.options.split(separator: ",").map(String.init),
                optionalFields: offset == 0 ? ["master:485"] : [], filesystemType: mount.type, source: mount.source,
                superOptions: mount.superOptions.split(separator: ",").map(String.init)))
        }
        return MountTable(mounts: entries)
    }

    /// Writes `ROOT/proc/self/mountinfo` only when its bytes change, so a rerun with unchanged inputs
    /// touches nothing. Returns whether it wrote.
    @discardableResult
    static func write(_ table: MountTable, root: String) throws(SystemError) -> Bool {
        let path = FileSystem.join(root, mountInfoPath)
        let bytes = Array(table.text.utf8)
        if (try? FileSystem.readFile(path)) == bytes { return false }
        try FileSystem.makeDirectories(parentDirectory(path))
        try FileSystem.writeFileAtomically(path, bytes, mode: 0o444)
        return true
    }

    static func isAtomicWriterVolume(_ source: VolumeSource) -> Bool {
        if case .other = source { return false }
        return true
    }

    private static func normalised(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }

    private static func depth(_ path: String) -> Int {
        path.split(separator: "/").count
    }

    /// Whether the mount at `parent` contains the path `child` (the kernel's parent of a new mount).
    private static func covers(_ parent: String, _ child: String) -> Bool {
        parent == "/" ? child != "/" : child.hasPrefix(parent + "/")
    }

    /// `count` lowercase hex digits derived from `key`.
    private static func hexDigits(_ key: String, count: Int) -> String {
        var out = ""
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        while out.count < count {
            seed = DeterministicName.fnv1a64(key.utf8, seed: seed)
            let chunk = String(seed, radix: 16)
            out += String(repeating: "0", count: 16 - chunk.count) + chunk
        }
        return String(out.prefix(count))
    }
}
