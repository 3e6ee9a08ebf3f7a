// Watched directories the kubelet will never update.
//
// A volume mounted with `subPath` is bound into the container once, when the container starts, and is
// never touched again: the kubelet's updates go to the volume's own directory, which the container
// does not see (kubernetes/kubernetes#50345). A watch on such a mount waits for changes that cannot
// come, and nothing says so — the most common "my ConfigMap change is not picked up" question. This
// finds them in /proc/self/mountinfo so that `watch` and `run` can say it at start.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum SubPathMounts {
    struct Finding: Sendable, Equatable {
        /// The watched directory, as configured.
        var directory: String
        /// The subPath mount: the directory itself, a file or directory in it, or a directory above it.
        var mountPoint: String
        /// The pod volume it comes from, when the mount's source names it.
        var volume: String?
    }

    /// The subPath mounts that are, lie in, or contain one of `directories`, in `table`'s visible mounts.
    static func findings(for directories: [String], in table: MountTable) -> [Finding] {
        var found: [Finding] = []
        for directory in directories {
            let resolved = FileSystem.canonical(directory)  // as mountinfo lists mount points
            for mount in table.visibleMounts {
                let point = mount.mountPoint
                guard isSameOrBelow(point, resolved) || isSameOrBelow(resolved, point) else { continue }
                let (root, deleted) = VolumeInspection.strippingDeleted(mount.root)
                let source = KubeletMountSource.parse(root: root)
                guard VolumeInspection.subPath(root: root, deleted: deleted, source: source) != nil else { continue }
                found.append(Finding(directory: directory, mountPoint: point, volume: source?.volumeName))
            }
        }
        return found
    }

    static func isSameOrBelow(_ path: String, _ base: String) -> Bool {
        path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }
}
