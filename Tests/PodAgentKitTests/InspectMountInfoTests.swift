import Testing
@testable import PodAgentKit

/// `/proc/self/mountinfo` parsing, on lines shaped like those of real kubelet nodes.
@Suite struct InspectMountInfoTests {
    /// From a containerd node (cgroup v2), as `cat /proc/self/mountinfo` prints it inside a pod.
    static let containerdPod = """
        1337 1219 0:318 / / rw,relatime master:485 - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/41/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/42/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/42/work
        1338 1337 0:321 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
        1339 1337 0:322 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
        1343 1342 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot
        1344 1337 259:1 /var/lib/kubelet/pods/6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20/etc-hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p1 rw,discard,errors=remount-ro
        1350 1337 259:1 /var/lib/kubelet/pods/6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20/volumes/kubernetes.io~configmap/app\\040config /etc/app\\040config ro,relatime shared:12 master:3 - ext4 /dev/nvme0n1p1 rw,discard,errors=remount-ro
        1351 1337 0:315 / /var/run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=4096k,inode64
        1352 1337 0:52 / /mnt/tab\\011and\\012newline\\134back rw,relatime - nfs4 10.0.0.5:/exports/team\\040a rw,vers=4.1,addr=10.0.0.5

        """

    @Test func everyFieldOfARealLineIsParsed() throws {
        let table = try MountTable(parsing: Array(Self.containerdPod.utf8))
        #expect(table.mounts.count == 8)
        let hosts = table.mounts[4]
        #expect(hosts.mountID == 1344)
        #expect(hosts.parentID == 1337)
        #expect(hosts.major == 259 && hosts.minor == 1)
        #expect(hosts.root == "/var/lib/kubelet/pods/6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20/etc-hosts")
        #expect(hosts.mountPoint == "/etc/hosts")
        #expect(hosts.mountOptions == ["rw", "relatime"])
        #expect(hosts.optionalFields.isEmpty)
        #expect(hosts.filesystemType == "ext4")
        #expect(hosts.source == "/dev/nvme0n1p1")
        #expect(hosts.superOptions == ["rw", "discard", "errors=remount-ro"])
        #expect(!hosts.isReadOnly)
    }

    @Test func severalOptionalFieldsEndAtTheSeparator() throws {
        let table = try MountTable(parsing: Array(Self.containerdPod.utf8))
        #expect(table.mounts[5].optionalFields == ["shared:12", "master:3"])
        #expect(table.mounts[5].filesystemType == "ext4")
        #expect(table.mounts[5].isReadOnly)
        #expect(table.mounts[0].optionalFields == ["master:485"])
    }

    @Test func octalEscapesAreDecodedInRootMountPointAndSource() throws {
        let table = try MountTable(parsing: Array(Self.containerdPod.utf8))
        #expect(table.mounts[5].root.hasSuffix("/kubernetes.io~configmap/app config"))
        #expect(table.mounts[5].mountPoint == "/etc/app config")
        #expect(table.mounts[7].mountPoint == "/mnt/tab\tand\nnewline\\back")
        #expect(table.mounts[7].source == "10.0.0.5:/exports/team a")
    }

    @Test func linesRoundTripThroughTheKernelsEscaping() throws {
        let table = try MountTable(parsing: Array(Self.containerdPod.utf8))
        #expect(table.text == Self.containerdPod)
    }

    @Test func aBackslashWithoutThreeOctalDigitsIsKept() {
        #expect(MountTable.unescape(Array("/a\\09b\\".utf8)) == "/a\\09b\\")
    }

    @Test func aLineWithoutTheSeparatorNamesItsLineNumber() {
        // /proc/mounts format handed in by mistake on line 2.
        let text = "1338 1337 0:321 / /proc rw,nosuid - proc proc rw\noverlay / overlay rw,relatime 0 0 x y z w\n"
        #expect(throws: MountInfoError.malformedLine(path: "/r/proc/self/mountinfo", line: 2, reason: "mount ID \"overlay\" is not a number")) {
            try MountTable(parsing: Array(text.utf8), path: "/r/proc/self/mountinfo")
        }
    }

    @Test func aMissingSeparatorIsReported() {
        let text = "1338 1337 0:321 / /proc rw,nosuid master:1 proc proc rw\n"
        #expect(throws: MountInfoError.malformedLine(path: "/proc/self/mountinfo", line: 1, reason: "no \"-\" separator before the filesystem type")) {
            try MountTable(parsing: Array(text.utf8))
        }
    }

    @Test func aBadDeviceNumberIsReported() throws {
        let text = "1 0 8-1 / / rw - ext4 /dev/sda1 rw\n"
        do {
            _ = try MountTable(parsing: Array(text.utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("line 1: device \"8-1\" is not MAJOR:MINOR"))
        }
    }

    @Test func aTruncatedLineIsReported() {
        let text = Self.containerdPod + "1400 1337 0:99 / /x rw -\n"
        #expect(throws: MountInfoError.malformedLine(path: "/proc/self/mountinfo", line: 9, reason: "7 fields, at least 10 are needed")) {
            try MountTable(parsing: Array(text.utf8))
        }
    }

    @Test func aLaterMountOnTheSamePointHidesTheEarlierOne() throws {
        let text = """
            20 1 8:1 /var/lib/kubelet/pods/6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20/volumes/kubernetes.io~empty-dir/cache /cache rw - ext4 /dev/sda1 rw
            21 20 0:40 / /cache rw - tmpfs tmpfs rw

            """
        let table = try MountTable(parsing: Array(text.utf8))
        #expect(table.visibleMount(at: "/cache")?.mountID == 21)
        #expect(table.visibleMounts.map(\.mountID) == [21])
    }

    @Test func aMissingFileIsUnreadableWithItsErrno() {
        let dir = TemporaryDirectory("mountinfo"); defer { dir.remove() }
        #expect(throws: MountInfoError.unreadable(path: dir.file("proc/self/mountinfo"), errno: ENOENT)) {
            try MountTable.read(dir.file("proc/self/mountinfo"))
        }
    }
}

import Glibc
