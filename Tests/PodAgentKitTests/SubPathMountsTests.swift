// Watched directories the kubelet never updates: subPath mounts, told from mountinfo.

import Testing

@testable import PodAgentKit

@Suite("subPath mounts under a watched directory")
struct SubPathMountsTests {
    static let uid = "6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20"
    /// A pod with a whole configMap volume at /etc/config, nginx.conf from a configMap by subPath, a
    /// subPath directory at /srv/conf.d, and a secret key by subPath on tmpfs (only the generation is left).
    static let mountinfo = """
        1337 1219 0:318 / / rw,relatime - overlay overlay rw
        1350 1337 259:1 /var/lib/kubelet/pods/\(uid)/volumes/kubernetes.io~configmap/config /etc/config ro,relatime - ext4 /dev/nvme0n1p1 rw
        1351 1337 259:1 /var/lib/kubelet/pods/\(uid)/volume-subpaths/nginx-conf/nginx/0 /etc/nginx/nginx.conf ro,relatime - ext4 /dev/nvme0n1p1 rw
        1352 1337 259:1 /var/lib/kubelet/pods/\(uid)/volumes/kubernetes.io~configmap/site/..2026_11_23_07_45_27.57250255/conf.d /srv/conf.d ro,relatime - ext4 /dev/nvme0n1p1 rw
        1353 1337 0:99 /..2026_11_23_07_45_27.57250255/tls.key /etc/tls/tls.key ro,relatime - tmpfs tmpfs rw

        """

    func findings(_ directories: [String]) throws -> [SubPathMounts.Finding] {
        SubPathMounts.findings(for: directories, in: try MountTable(parsing: Array(Self.mountinfo.utf8)))
    }

    @Test func aFileMountedBySubPathInTheDirectoryIsFound() throws {
        #expect(try findings(["/etc/nginx"]) == [
            SubPathMounts.Finding(directory: "/etc/nginx", mountPoint: "/etc/nginx/nginx.conf", volume: "nginx-conf"),
        ])
    }

    @Test func aWholeVolumeIsNot() throws {
        #expect(try findings(["/etc/config"]).isEmpty)
        #expect(try findings(["/etc/config/sub"]).isEmpty)
    }

    @Test func theDirectoryItselfOrOneAboveItMountedBySubPathIsFound() throws {
        #expect(try findings(["/srv/conf.d"]).map(\.mountPoint) == ["/srv/conf.d"])
        #expect(try findings(["/srv/conf.d/extra"]).map(\.mountPoint) == ["/srv/conf.d"])
        #expect(try findings(["/srv/conf.d"]).first?.volume == "site")
    }

    @Test func aSubPathOnTmpfsIsFoundByItsGenerationAlone() throws {
        #expect(try findings(["/etc/tls"]) == [
            SubPathMounts.Finding(directory: "/etc/tls", mountPoint: "/etc/tls/tls.key", volume: nil),
        ])
    }

    @Test func aNameThatOnlyStartsLikeTheDirectoryIsNotInIt() throws {
        #expect(try findings(["/etc/ngin", "/srv/conf"]).isEmpty)
    }
}
