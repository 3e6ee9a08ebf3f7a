// Specification of PodView: the whole data tree (the `podagent env --format json` contract in
// DESIGN.md), the derived CPU count, and the warnings that come with imprecise values.
import Glibc
import Testing

@testable import PodAgentKit

/// A pod's filesystem in a temporary directory, used as `--root`: the downwardAPI volume is
/// written by the project's kubelet-faithful `AtomicWriter` (so `labels` is a symlink into
/// `..data`, as in a pod), cgroup and /proc files as plain files.
struct PodSandbox {
    let directory = TemporaryDirectory("podview")

    var paths: PodPaths { PodPaths(root: directory.path) }

    /// Writes the downwardAPI volume at /etc/podinfo with the given files (one generation).
    func downwardVolume(_ files: [String: [UInt8]], at podPath: String = "/etc/podinfo") throws {
        let volume = FileSystem.join(directory.path, podPath)
        try FileSystem.makeDirectories(volume)
        try AtomicWriter(targetDirectory: volume).write(files.mapValues { FileProjection(data: $0) })
    }

    /// Writes a plain file at a pod path (`/sys/fs/cgroup/cpu.max`).
    func file(_ podPath: String, _ text: String) {
        directory.write(String(podPath.dropFirst()), text)
    }

    func load(_ environment: [String: String] = [:], declarations: [String] = []) throws -> PodView {
        try PodView.load(
            environment: environment.mapValues { Array($0.utf8) }, paths: paths,
            declarations: try declarations.map { try ResourceDeclaration(parsing: $0) })
    }

    /// The error `load` throws, or nil.
    func loadError(_ environment: [String: String] = [:], declarations: [String] = []) throws -> PodViewError? {
        do {
            _ = try load(environment, declarations: declarations)
            return nil
        } catch let error as PodViewError {
            return error
        }
    }

    func remove() { directory.remove() }
}

func podBytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("PodView: the pod's data tree")
struct PodViewTests {
    @Test("a full pod gives the contract's tree, member for member")
    func fullTree() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume([
            "labels": DownwardAPIMap.format(["app": "web", "tier": "front"]),
            "annotations": DownwardAPIMap.format(["log-level": "debug"]),
            "cpu_limit_millicores": podBytes("1500"),
        ])
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu memory")
        pod.file("/sys/fs/cgroup/cpu.max", "150000 100000\n")
        pod.file("/sys/fs/cgroup/memory.max", "268435456\n")
        let view = try pod.load([
            "POD_NAME": "web-0", "POD_NAMESPACE": "shop", "POD_UID": "0b1c", "POD_IP": "10.1.2.3",
            "POD_IPS": "10.1.2.3,fd00::3", "NODE_NAME": "node-a", "HOST_IP": "192.168.0.7", "SERVICE_ACCOUNT": "web",
            "CONTAINER_MEMORY_REQUEST_BYTES": "67108864",
        ])
        let expected: PodValue = .object([
            .init(
                "pod",
                .object([
                    .init("name", .text("web-0")), .init("namespace", .text("shop")), .init("uid", .text("0b1c")),
                    .init("ip", .text("10.1.2.3")), .init("ips", .list([.text("10.1.2.3"), .text("fd00::3")])),
                    .init("node", .text("node-a")), .init("hostIP", .text("192.168.0.7")), .init("serviceAccount", .text("web")),
                ])),
            .init("labels", .object([.init("app", .text("web")), .init("tier", .text("front"))])),
            .init("annotations", .object([.init("log-level", .text("debug"))])),
            .init(
                "resources",
                .object([
                    .init(
                        "requests",
                        .object([.init("cpuMillicores", .null), .init("memoryBytes", .integer(64 << 20)), .init("ephemeralStorageBytes", .null)])),
                    .init(
                        "limits",
                        .object([.init("cpuMillicores", .integer(1500)), .init("memoryBytes", .null), .init("ephemeralStorageBytes", .null)])),
                ])),
            .init("cgroup", .object([.init("version", .integer(2)), .init("cpuMillicores", .integer(1500)), .init("memoryBytes", .integer(268_435_456))])),
            .init("cpus", .integer(2)),
        ])
        #expect(view.value == expected)
        #expect(view.warnings.isEmpty)
    }

    @Test("an empty root gives the same shape with every value null")
    func emptyRootIsAllNull() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let value = try pod.load().value
        let nullResources: PodValue = .object([.init("cpuMillicores", .null), .init("memoryBytes", .null), .init("ephemeralStorageBytes", .null)])
        let expected: PodValue = .object([
            .init(
                "pod",
                .object(["name", "namespace", "uid", "ip", "ips", "node", "hostIP", "serviceAccount"].map { .init($0, .null) })),
            .init("labels", .null),
            .init("annotations", .null),
            .init("resources", .object([.init("requests", nullResources), .init("limits", nullResources)])),
            .init("cgroup", .object([.init("version", .null), .init("cpuMillicores", .null), .init("memoryBytes", .null)])),
            .init("cpus", .null),
        ])
        #expect(value == expected)
    }

    @Test("label values keep their exact bytes in the tree, invalid UTF-8 included")
    func labelBytesInTree() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        try pod.downwardVolume(["labels": podBytes(#"raw="\xff\xfeok""#)])
        let view = try pod.load()
        #expect(view.value["labels"]?["raw"] == .string([0xFF, 0xFE, 0x6F, 0x6B]))
    }

    @Test("absolute paths resolve inside the root, relative ones are used as given")
    func pathResolution() {
        var paths = PodPaths(root: "/tmp/pod/")
        paths.annotationsFile = "meta/annotations"
        #expect(paths.labelsPath == "/tmp/pod/etc/podinfo/labels")
        #expect(paths.annotationsPath == "meta/annotations")
        #expect(paths.serviceAccountNamespacePath == "/tmp/pod/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        #expect(paths.cgroupMountPath == "/tmp/pod/sys/fs/cgroup")
        #expect(paths.procSelfCgroupPath == "/tmp/pod/proc/self/cgroup")
        #expect(PodPaths().labelsPath == "/etc/podinfo/labels")
    }

    // MARK: Derived CPU count

    @Test("cpus is the cgroup quota rounded up to whole cores")
    func cpusFromQuota() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "250000 100000")
        #expect(try pod.load().cpus == 3)
    }

    @Test("cpus is at least 1 for a quota below one core")
    func cpusAtLeastOne() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "10000 100000")
        #expect(try pod.load().cpus == 1)
    }

    @Test("the cgroup quota wins over the downward limits.cpu")
    func quotaWinsOverDownward() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "200000 100000")
        let view = try pod.load(["CPU_LIMIT_MILLICORES": "64000"])
        #expect(view.effectiveCPULimit == PodView.EffectiveCPULimit(millicores: 2000, source: .cgroupQuota))
        #expect(view.cpus == 2)
    }

    @Test("without a cgroup quota, cpus comes from limits.cpu with a node-allocatable warning")
    func cpusFromDownwardLimit() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "max 100000")
        let view = try pod.load(["CPU_LIMIT_MILLICORES": "2500"])
        #expect(view.effectiveCPULimit == PodView.EffectiveCPULimit(millicores: 2500, source: .downwardLimit))
        #expect(view.cpus == 3)
        #expect(view.warnings.contains { $0.contains("node's allocatable") })
    }

    @Test("an unlimited cgroup and no downward limit give no CPU count, not the node's")
    func noCPUCount() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/sys/fs/cgroup/cgroup.controllers", "cpu")
        pod.file("/sys/fs/cgroup/cpu.max", "max 100000")
        let view = try pod.load()
        #expect(view.cpus == nil)
        #expect(view.value["cpus"] == .null)
    }

    @Test("cpu 250m with divisor 1: the kubelet writes 1, read as 1000 millicores, an upper bound, 1 CPU")
    func ceilCaseThroughView() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let selector = try ResourceFieldSelector(parsing: "limits.cpu")
        let written = resourceFieldValue(try Quantity(parsing: "250m"), divisor: try Divisor(nil, for: selector))
        #expect(written == "1")
        let view = try pod.load(["GOMAXPROCS": written], declarations: ["GOMAXPROCS=limits.cpu"])
        let limit = try #require(view.resources.limits.cpuMillicores)
        #expect(limit.value == 1000)
        #expect(limit.isUpperBound)
        #expect(view.value["resources"]?["limits"]?["cpuMillicores"] == .integer(1000))
        #expect(view.cpus == 1)
        #expect(view.warnings.contains { $0.hasPrefix("limits.cpu is an upper bound: divisor 1 rounds up") })
    }

    // MARK: The process environment

    @Test("processEnvironment returns this process's variables as bytes")
    func processEnvironment() throws {
        // Reads a variable that is already set: setenv here could race other tests' getenv.
        let path = try #require(getenv("PATH"))
        #expect(PodView.processEnvironment()["PATH"] == Array(String(cString: path).utf8))
    }
}
