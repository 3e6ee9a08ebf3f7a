// Specification of ProcessSpawner and ChildProcess: real children, real pipes, real signals.

import Glibc
import Testing

@testable import PodAgentKit

/// Shared fixtures for the process and signal tests, on Glibc directly so they check the code
/// under test rather than share it.
enum ProcFixture {
    /// A fresh directory under /tmp.
    static func temporaryDirectory(_ label: String = "proc") -> String {
        var template = Array("/tmp/podagent-\(label).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        return String(cString: made!)
    }

    /// `rm -rf`, synchronously, so it can run in a `defer`.
    static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            unlink(path)
            return
        }
        var names: [String] = []
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
        }
        for name in names { remove(path + "/" + name) }
        rmdir(path)
    }

    static func write(_ path: String, _ text: String, mode: mode_t = 0o644) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        precondition(fd >= 0, "cannot create \(path)")
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        close(fd)
    }

    static func read(_ path: String) -> String? {
        (try? FileSystem.readFile(path)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Lines of a file, empty when it does not exist.
    static func lines(_ path: String) -> [String] {
        (read(path) ?? "").split(separator: "\n").map(String.init)
    }

    /// Polls `condition` until it holds or `timeout` passes — a guard against hangs, not a measurement.
    static func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// The process state letter from /proc/PID/stat, nil when the pid does not exist.
    static func state(of pid: Int32) -> Character? {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)]
    }

    /// Running, sleeping, stopped — anything but gone or a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let state = state(of: pid) else { return false }
        return state != "Z" && state != "X"
    }

    /// This test binary, for re-executing it as a second process (see ProcReexecEntryPoints).
    static let executable: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        precondition(count > 0)
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// podagent's environment plus `extra`.
    static func environment(adding extra: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        var entry: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        while let pointer = entry?.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry = entry! + 1
        }
        return result.merging(extra) { _, new in new }
    }

    /// Argv that re-runs this test binary with only `ProcReexecEntryPoints`, which act when
    /// `PODAGENT_PROC_ROLE` is set in their environment (see ChildSupervisorTests.swift).
    static func reexecArgv(prefix: [String] = []) -> [String] {
        prefix + [executable, "--testing-library", "swift-testing", "--filter", "ProcReexecEntryPoints"]
    }

    /// Runs what follows as uid/gid 65534 (nobody).
    static let asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

    /// The value of `PODAGENT_PROC_<name>` in this process's environment.
    static func reexecSetting(_ name: String) -> String? {
        getenv("PODAGENT_PROC_" + name).map { String(cString: $0) }
    }
}

@Suite("ProcessSpawner")
struct ProcessSpawnerTests {
    @Test func exitCodeIsReported() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/sh", "-c", "exit 3"]))
        let outcome = await child.wait()
        #expect(outcome.status == .exited(3))
        #expect(outcome.status.shellCode == 3)
    }

    @Test func deathBySignalIsReportedAsSignalAndMapsTo128PlusN() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/sh", "-c", "kill -9 $$"]))
        let outcome = await child.wait()
        #expect(outcome.status == .signaled(SIGKILL))
        #expect(outcome.status.shellCode == 137)
        #expect(outcome.status.description == "killed by SIGKILL")
    }

    @Test func ownChildrenAreReapedNotLeftAsZombies() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/true"]))
        _ = await child.wait()
        #expect(ProcFixture.state(of: child.pid) == nil)
    }

    @Test func capturesStdoutAndStderrSeparately() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(
            ["/bin/sh", "-c", "echo out; echo err >&2"],
            stdout: .capture(limit: 1024), stderr: .capture(limit: 1024)))
        let outcome = await child.wait()
        #expect(outcome.stdout == Array("out\n".utf8))
        #expect(outcome.stderr == Array("err\n".utf8))
    }

    @Test func manyWaitersAllGetTheOutcome() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/sh", "-c", "sleep 0.1; exit 5"]))
        async let first = child.wait()
        async let second = child.wait()
        let statuses = await [first.status, second.status]
        #expect(statuses == [.exited(5), .exited(5)])
        #expect(await child.wait().status == .exited(5))  // after the fact, too
    }

    @Test func childGetsAnEmptySignalMaskAndNoIgnoredSignalsEvenFromABlockingThread() async throws {
        // Block SIGTERM and SIGUSR1 in the spawning thread, as Swift Testing's and sigwait users'
        // threads do; the child must not inherit that.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        sigaddset(&blocked, SIGUSR1)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let spawned = Result { () throws(CommandError) -> ChildProcess in
            try ProcessSpawner.spawn(ProcessLaunch(["/bin/cat", "/proc/self/status"], stdout: .capture(limit: 65536)))
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        let outcome = try await spawned.get().wait()
        let lines = String(decoding: outcome.stdout, as: UTF8.self).split(separator: "\n")
        func mask(_ field: String) -> UInt64? {
            lines.first { $0.hasPrefix(field + ":\t") }.flatMap { UInt64($0.dropFirst(field.count + 2), radix: 16) }
        }
        #expect(mask("SigBlk") == 0)
        // Signals 1–31 at their defaults. glibc's posix_spawn itself leaves its two internal
        // signals (32, 33: SIGCANCEL, SIGSETXID) ignored in every child; they are not ours to reset.
        #expect(mask("SigIgn").map { $0 & 0x7fff_ffff } == 0)
    }

    @Test func childInheritsNoDescriptorsBeyondTheStandardThree() async throws {
        // A descriptor opened without O_CLOEXEC, like libinotifytools' inotify descriptor.
        let stray = open("/dev/null", O_RDONLY)
        #expect(stray > 2)
        defer { close(stray) }
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/sleep", "30"], stdout: .capture(limit: 16)))
        var descriptors: [String] = []
        let listed = await ProcFixture.eventually {
            // Until exec has happened the listing is the spawner's, not sleep's.
            guard ProcFixture.read("/proc/\(child.pid)/comm") == "sleep\n" else { return false }
            descriptors = listing("/proc/\(child.pid)/fd")
            return true
        }
        #expect(listed)
        #expect(descriptors == ["0", "1", "2"])
        child.send(SIGKILL)
        _ = await child.wait()
    }

    @Test func stdinIsDevNullByDefault() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/cat"], stdout: .capture(limit: 16)))
        let outcome = await child.wait()  // cat would block forever on an inherited terminal or pipe
        #expect(outcome.status == .exited(0))
        #expect(outcome.stdout.isEmpty)
    }

    @Test func environmentReplacesOursWhenGiven() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(
            ["/usr/bin/env"], environment: ["ONLY": "this one"], stdout: .capture(limit: 1024)))
        let outcome = await child.wait()
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "ONLY=this one\n")
    }

    @Test func newProcessGroupMakesTheChildItsLeader() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(
            ["/bin/sh", "-c", "ps -o pgid= -p $$"], stdout: .capture(limit: 64), newProcessGroup: true))
        let outcome = await child.wait()
        let group = Int32(String(decoding: outcome.stdout, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).first ?? "")
        #expect(group == child.pid)
    }

    @Test func sendingToAReapedChildSendsNothing() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/true"]))
        _ = await child.wait()
        #expect(child.send(SIGTERM) == false)
    }

    @Test func unknownCommandFailsWithNotFound() throws {
        #expect {
            _ = try ProcessSpawner.spawn(ProcessLaunch(["podagent-no-such-command"]))
        } throws: { error in
            (error as? CommandError)?.kind == .notFound
        }
    }

    private func listing(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
