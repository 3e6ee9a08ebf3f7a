// Specification of the process view of `podagent inspect`: crafted /proc trees shaped like a container
// with its own PID namespace and like a pod with `shareProcessNamespace: true` (pause as PID 1, one
// cgroup per container), the verdict on sharing, and the rule that command lines are never shown.
import Glibc
import Testing

@testable import PodAgentKit

/// One process of a crafted /proc.
private struct FakeProcess {
    var pid: Int32
    var ppid: Int32
    var comm: String
    var uid: Int = 0
    var cgroup: String? = "0::/"
    var cmdline: String = ""
    var kernelThread = false
}

private func procTree(_ processes: [FakeProcess], selfPID: Int32?) -> TemporaryDirectory {
    let root = TemporaryDirectory("inspect-proc")
    for p in processes {
        let flags = p.kernelThread ? 0x0020_8040 : 0x0040_0100
        root.write("proc/\(p.pid)/stat", "\(p.pid) (\(p.comm)) S \(p.ppid) \(p.pid) \(p.pid) 0 -1 \(flags) 120 0 0 0 1 2 0 0 20 0 1 0 \(1000 + Int(p.pid)) 1000 100 18446744073709551615\n")
        root.write("proc/\(p.pid)/status", "Name:\t\(p.comm)\nPid:\t\(p.pid)\nPPid:\t\(p.ppid)\nUid:\t\(p.uid)\t\(p.uid)\t\(p.uid)\t\(p.uid)\n")
        root.write("proc/\(p.pid)/cmdline", p.cmdline.isEmpty ? p.comm + "\u{0}" : p.cmdline)
        if let cgroup = p.cgroup { root.write("proc/\(p.pid)/cgroup", cgroup + "\n") }
    }
    if let selfPID { symlink("\(selfPID)", root.file("proc/self")) }
    return root
}

private func inspect(_ processes: [FakeProcess], selfPID: Int32?) -> InspectSection {
    let root = procTree(processes, selfPID: selfPID)
    defer { root.remove() }
    return ProcessInspection.inspect(paths: PodPaths(root: root.path))
}

/// A container with its own PID namespace, podagent started by `kubectl exec` (its parent is outside).
private let ownNamespace = [
    FakeProcess(pid: 1, ppid: 0, comm: "nginx", uid: 0),
    FakeProcess(pid: 29, ppid: 1, comm: "nginx", uid: 101),
    FakeProcess(pid: 30, ppid: 1, comm: "nginx", uid: 101),
    FakeProcess(pid: 41, ppid: 0, comm: "podagent", uid: 0),
]

/// `shareProcessNamespace: true`: pause is PID 1, each container in its own cgroup (cgroupns shows
/// the others relative to this one).
private let sharedNamespace = [
    FakeProcess(pid: 1, ppid: 0, comm: "pause", uid: 65535, cgroup: "0::/../3a1f"),
    FakeProcess(pid: 7, ppid: 0, comm: "nginx", uid: 0, cgroup: "0::/../9c2e"),
    FakeProcess(pid: 35, ppid: 7, comm: "nginx", uid: 101, cgroup: "0::/../9c2e"),
    FakeProcess(pid: 36, ppid: 0, comm: "podagent", uid: 1000, cgroup: "0::/"),
]

@Suite("inspect: processes")
struct InspectProcessTests {
    @Test("pause as PID 1 means the PID namespace is shared")
    func pauseIsShared() {
        let section = inspect(sharedNamespace.map { var p = $0; p.cgroup = nil; return p }, selfPID: 36)
        #expect(section.value["sharedPIDNamespace"] == .bool(true))
        #expect(section.value["reason"] == .text("PID 1 is pause, the pod's sandbox process"))
    }

    @Test("processes in more than one cgroup mean the PID namespace is shared")
    func severalCgroupsAreShared() {
        var tree = sharedNamespace
        tree[0].comm = "tini"
        let section = inspect(tree, selfPID: 36)
        #expect(section.value["sharedPIDNamespace"] == .bool(true))
        #expect(section.value["reason"] == .text("processes of 3 cgroups are visible: more than one container's"))
    }

    @Test("a container's own namespace is not shared, even when kubectl exec makes podagent no child of PID 1")
    func ownNamespaceIsNotShared() {
        let section = inspect(ownNamespace, selfPID: 41)
        #expect(section.value["sharedPIDNamespace"] == .bool(false))
    }

    @Test("without cgroup files, one tree under PID 1 plus podagent's own family is not shared")
    func fallbackNotShared() {
        let section = inspect(ownNamespace.map { var p = $0; p.cgroup = nil; return p }, selfPID: 41)
        #expect(section.value["sharedPIDNamespace"] == .bool(false))
    }

    @Test("without cgroup files, another tree beside PID 1's leaves the answer unknown")
    func fallbackUnknown() {
        var tree = ownNamespace.map { var p = $0; p.cgroup = nil; return p }
        tree.append(FakeProcess(pid: 50, ppid: 0, comm: "redis-server", cgroup: nil))
        let section = inspect(tree, selfPID: 41)
        #expect(section.value["sharedPIDNamespace"] == .null)
    }

    @Test("each visible process is listed with pid, ppid, comm and uid, sorted by pid")
    func listed() throws {
        let section = inspect(ownNamespace, selfPID: 41)
        #expect(section.value["count"] == .integer(4))
        guard case .list(let list)? = section.value["list"] else { Issue.record("no list"); return }
        #expect(list.map { $0["pid"] } == [1, 29, 30, 41].map { PodValue.integer($0) })
        #expect(list[1]["ppid"] == .integer(1))
        #expect(list[1]["comm"] == .text("nginx"))
        #expect(list[1]["uid"] == .integer(101))
        #expect(list[3]["self"] == .bool(true))
        #expect(section.value["selfPID"] == .integer(41))
    }

    @Test("kernel threads are left out")
    func kernelThreads() {
        let section = inspect(ownNamespace + [FakeProcess(pid: 2, ppid: 0, comm: "kthreadd", kernelThread: true)], selfPID: 41)
        #expect(section.value["count"] == .integer(4))
    }

    @Test("command lines, which can hold secrets, never appear")
    func noCommandLines() {
        let planted = "eyJhbGciOiJSUzI1NiJ9.planted-token-77aa.c2ln"
        var tree = ownNamespace
        tree[1].cmdline = "curl\u{0}-H\u{0}Authorization: Bearer \(planted)\u{0}"
        let output = everythingShown(inspect(tree, selfPID: 41))
        #expect(!showsAnyPiece(of: planted, in: output))
        #expect(!output.contains("Authorization"))
    }

    @Test("an unreadable /proc is a warning, not a crash")
    func noProc() {
        let root = TemporaryDirectory("inspect-proc-none")
        defer { root.remove() }
        let section = ProcessInspection.inspect(paths: PodPaths(root: root.path))
        #expect(section.warnings.count == 1)
        #expect(section.value["sharedPIDNamespace"] == .null)
    }
}
