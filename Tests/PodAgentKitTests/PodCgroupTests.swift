// Specification of the cgroup view: v2 and v1 interface files, unlimited values, which cgroup
// directory is the container's, and the smallest limit on the way up.
import Testing

@testable import PodAgentKit

@Suite("PodView: cgroup limits")
struct PodCgroupTests {
    private let kubepods = "/kubepods.slice/kubepods-burstable.slice/cri-containerd-0a1b.scope"

    // MARK: v2

    @Test("v2 quota and memory.max are read as millicores and bytes")
    func v2Limited() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids")
        pod.file("/sys/fs/cgroup/cpu.max", "50000 100000\n")
        pod.file("/sys/fs/cgroup/memory.max", "134217728\n")
        let cgroup = try #require(try CgroupLimits.load(paths: pod.paths))
        #expect(cgroup.version == .v2)
        #expect(cgroup.cpuMillicores == .limited(500))
        #expect(cgroup.memoryBytes == .limited(134_217_728))
    }

    @Test("v2 'max' is unlimited, and null in the tree")
    func v2Unlimited() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu memory")
        pod.file("/sys/fs/cgroup/cpu.max", "max 100000\n")
        pod.file("/sys/fs/cgroup/memory.max", "max\n")
        let view = try pod.load()
        #expect(view.cgroup == CgroupLimits(
            version: .v2, cpuMillicores: .unlimited, memoryBytes: .unlimited,
            cpuDirectory: pod.paths.cgroupMountPath, memoryDirectory: pod.paths.cgroupMountPath))
        #expect(view.value["cgroup"] == .object([.init("version", .integer(2)), .init("cpuMillicores", .null), .init("memoryBytes", .null)]))
    }

    @Test("v2 uses the nested path from /proc/self/cgroup when it exists under the mount")
    func v2NestedPath() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/proc/self/cgroup", "0::\(kubepods)\n")
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu memory")
        pod.file("/sys/fs/cgroup\(kubepods)/cpu.max", "200000 100000\n")
        pod.file("/sys/fs/cgroup\(kubepods)/memory.max", "67108864\n")
        let cgroup = try #require(try CgroupLimits.load(paths: pod.paths))
        #expect(cgroup.cpuMillicores == .limited(2000))
        #expect(cgroup.memoryBytes == .limited(67_108_864))
        #expect(cgroup.cpuDirectory == pod.paths.cgroupMountPath + kubepods)
    }

    @Test("a stricter parent cgroup wins over the container's own limit")
    func v2ParentTighter() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/proc/self/cgroup", "0::\(kubepods)\n")
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu memory")
        pod.file("/sys/fs/cgroup\(kubepods)/cpu.max", "max 100000\n")
        pod.file("/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/cpu.max", "100000 100000\n")
        #expect(try CgroupLimits.load(paths: pod.paths)?.cpuMillicores == .limited(1000))
    }

    @Test("v2 falls back to the mount root when the path is not under the mount (cgroup namespace)")
    func v2FallbackToRoot() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/proc/self/cgroup", "0::\(kubepods)\n")
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu memory")
        pod.file("/sys/fs/cgroup/cpu.max", "75000 100000\n")
        let cgroup = try #require(try CgroupLimits.load(paths: pod.paths))
        #expect(cgroup.cpuMillicores == .limited(750))
        #expect(cgroup.cpuDirectory == pod.paths.cgroupMountPath)
    }

    @Test("a quota that is not a whole number of millicores is rounded up")
    func quotaRoundsUp() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "33333 100000\n")
        #expect(try CgroupLimits.load(paths: pod.paths)?.cpuMillicores == .limited(334))
    }

    @Test("a malformed cpu.max is an error with its path and content")
    func v2Malformed() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "half\n")
        let error = try #require(try pod.loadError())
        #expect(error == .malformedCgroupFile(
            path: FileSystem.join(pod.paths.cgroupMountPath, "cpu.max"), content: #""half""#,
            expected: "\"max PERIOD\" or \"QUOTA PERIOD\" in microseconds"))
    }

    // MARK: v1

    @Test("v1 quota over period from the cpu,cpuacct mount, and memory.limit_in_bytes")
    func v1Limited() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "150000\n")
        pod.file("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
        pod.file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n")
        let view = try pod.load()
        let cgroup = try #require(view.cgroup)
        #expect(cgroup.version == .v1)
        #expect(cgroup.cpuMillicores == .limited(1500))
        #expect(cgroup.memoryBytes == .limited(536_870_912))
        #expect(view.value["cgroup"]?["version"] == .integer(1))
    }

    @Test("v1 quota -1 and the kernel's page-aligned maximum are unlimited")
    func v1Unlimited() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
        pod.file("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
        pod.file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
        let cgroup = try #require(try CgroupLimits.load(paths: pod.paths))
        #expect(cgroup.cpuMillicores == .unlimited)
        #expect(cgroup.memoryBytes == .unlimited)
    }

    @Test("v1 uses each controller's nested path from /proc/self/cgroup")
    func v1NestedPath() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let container = "/kubepods/burstable/pod1234/0a1b"
        pod.file("/proc/self/cgroup", "12:memory:\(container)\n4:cpu,cpuacct:\(container)\n1:name=systemd:/\n")
        pod.file("/sys/fs/cgroup/cpu,cpuacct\(container)/cpu.cfs_quota_us", "50000\n")
        pod.file("/sys/fs/cgroup/cpu,cpuacct\(container)/cpu.cfs_period_us", "100000\n")
        pod.file("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
        pod.file("/sys/fs/cgroup/memory\(container)/memory.limit_in_bytes", "1048576\n")
        pod.file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
        let cgroup = try #require(try CgroupLimits.load(paths: pod.paths))
        #expect(cgroup.cpuMillicores == .limited(500))
        #expect(cgroup.memoryBytes == .limited(1_048_576))
        #expect(cgroup.memoryDirectory == pod.paths.cgroupMountPath + "/memory" + container)
    }

    @Test("no cgroup filesystem under the root: the cgroup view is unknown")
    func noCgroup() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        #expect(try CgroupLimits.load(paths: pod.paths) == nil)
    }
}
