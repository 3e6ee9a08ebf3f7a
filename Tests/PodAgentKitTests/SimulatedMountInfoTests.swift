import Glibc
import Testing
@testable import PodAgentKit

/// `podagent simulate` records the container's mounts in `ROOT/proc/self/mountinfo`.
@Suite(.serialized) struct SimulatedMountInfoTests {
    let example = repositoryRoot + "/examples/simulated-pod"

    func options(_ root: String, objects: [String] = ["app-config-v1.yaml"]) -> SimulationOptions {
        var o = SimulationOptions(podFile: example + "/pod.yaml", root: root)
        o.objectFiles = objects.map { example + "/" + $0 }
        o.now = (1_795_000_000, 123_000_000)
        return o
    }

    func table(_ root: String) throws -> MountTable {
        try MountTable.read(root + "/proc/self/mountinfo")
    }

    func identity(_ path: String) -> (inode: UInt, seconds: Int, nanoseconds: Int)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt(st.st_ino), st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
    }

    @Test func theFileParsesAndStartsLikeARealContainers() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let mounts = try table(dir.path).mounts
        #expect(Array(mounts.prefix(7).map(\.mountPoint)) == ["/", "/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"])
        #expect(mounts[0].filesystemType == "overlay")
        #expect(mounts[6].filesystemType == "cgroup2")
        #expect(mounts.contains { $0.mountPoint == "/etc/hosts" && $0.root.hasSuffix("/etc-hosts") })
    }

    @Test func configMapIsABindOfTheKubeletPathOnTheNodesDisk() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        let report = try PodSimulator.run(options(dir.path))
        let uid = try #require(try table(dir.path).visibleMount(at: "/etc/hosts")?.root.split(separator: "/").dropLast().last)
        let app = try #require(try table(dir.path).visibleMount(at: "/etc/app"))
        #expect(app.root == "/var/lib/kubelet/pods/\(uid)/volumes/kubernetes.io~configmap/config")
        #expect(app.filesystemType == "ext4" && app.source == "/dev/sda1")
        #expect(report.podName == "kubernetes-downwardapi-volume-example")
    }

    @Test func secretDownwardAndProjectedVolumesAreTmpfs() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let mounts = try table(dir.path)
        for point in ["/etc/credentials", "/etc/podinfo", "/var/run/secrets/kubernetes.io/serviceaccount"] {
            let mount = try #require(mounts.visibleMount(at: point))
            #expect(mount.filesystemType == "tmpfs" && mount.source == "tmpfs" && mount.root == "/", "\(point)")
        }
        // Sized like the kubelet sizes memory-backed volumes: the pod's 4Mi memory limit.
        #expect(mounts.visibleMount(at: "/etc/podinfo")?.superOptions == ["rw", "size=4096k", "inode64"])
    }

    @Test func apiDataVolumesAreReadOnlyLikeTheKubeletMountsThem() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let mounts = try table(dir.path)
        for point in ["/etc/app", "/etc/credentials", "/etc/podinfo"] {
            #expect(mounts.visibleMount(at: point)?.isReadOnly == true, "\(point)")
        }
    }

    @Test func mountIDsAndParentsFormATree() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let mounts = try table(dir.path).mounts
        #expect(Set(mounts.map(\.mountID)).count == mounts.count)
        let byPoint = Dictionary(mounts.map { ($0.mountPoint, $0.mountID) }, uniquingKeysWith: { a, _ in a })
        #expect(mounts.first { $0.mountPoint == "/dev/shm" }?.parentID == byPoint["/dev"])
        #expect(mounts.first { $0.mountPoint == "/proc/bus" }?.parentID == byPoint["/proc"])
        #expect(mounts.first { $0.mountPoint == "/etc/app" }?.parentID == byPoint["/"])
    }

    @Test func subPathMountHasAVolumeSubpathsRoot() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        let pod = dir.write("p.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: p, uid: 0c9d7a5e-1111-4222-8333-944455556666}
            spec:
              automountServiceAccountToken: false
              containers:
              - name: app
                volumeMounts:
                - {name: cfg, mountPath: /etc/cfg}
                - {name: cfg, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}
              volumes: [{name: cfg, configMap: {name: cm}}]
            """)
        var o = SimulationOptions(podFile: pod, root: dir.file("root"))
        o.objectFiles = [dir.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {nginx.conf: one}\n")]
        _ = try PodSimulator.run(o)
        let nginx = try #require(try table(dir.file("root")).visibleMount(at: "/etc/nginx/nginx.conf"))
        #expect(nginx.root == "/var/lib/kubelet/pods/0c9d7a5e-1111-4222-8333-944455556666/volume-subpaths/cfg/app/1")
        #expect(nginx.filesystemType == "ext4")
    }

    @Test func aRerunWithUnchangedInputsLeavesTheFileAlone() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let path = dir.file("proc/self/mountinfo")
        let before = try #require(identity(path))
        var later = options(dir.path)
        later.now = (1_795_000_600, 0)
        _ = try PodSimulator.run(later)
        let after = try #require(identity(path))
        #expect(after.inode == before.inode && after.seconds == before.seconds && after.nanoseconds == before.nanoseconds)
    }

    @Test func aDifferentPodRewritesTheFile() throws {
        let dir = TemporaryDirectory("simmount"); defer { dir.remove() }
        _ = try PodSimulator.run(options(dir.path))
        let before = readText(dir.file("proc/self/mountinfo"))
        var renamed = options(dir.path)
        renamed.overrides = [("metadata.uid", "11111111-2222-4333-8444-555555555555")]
        _ = try PodSimulator.run(renamed)
        let after = try #require(readText(dir.file("proc/self/mountinfo")))
        #expect(after != before)
        #expect(after.contains("/var/lib/kubelet/pods/11111111-2222-4333-8444-555555555555/volumes/kubernetes.io~configmap/config /etc/app "))
    }

    @Test func theContentIsTheSameForTheSameInputs() throws {
        let first = TemporaryDirectory("simmount"); defer { first.remove() }
        let second = TemporaryDirectory("simmount"); defer { second.remove() }
        _ = try PodSimulator.run(options(first.path))
        _ = try PodSimulator.run(options(second.path))
        #expect(readText(first.file("proc/self/mountinfo")) == readText(second.file("proc/self/mountinfo")))
    }
}
