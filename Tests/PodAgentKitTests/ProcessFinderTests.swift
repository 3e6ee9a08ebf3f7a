// Specification of ProcessFinder: which process `--signal SIG --process NAME` / `--pid-file F` means.

import Glibc
import Testing

@testable import PodAgentKit

/// A fake `/proc` with the files ProcessFinder reads, in the kernel's formats.
struct ProcFakeTree {
    let root = ProcFixture.temporaryDirectory("fakeproc")

    /// Adds `/proc/PID/{stat,cmdline,status}`. `argv` empty = no command line (zombie, kernel thread).
    func add(pid: Int32, comm: String, parent: Int32 = 1, state: Character = "S", start: UInt64,
             argv: [String] = [], flags: UInt64 = 0x0040_0100, uid: UInt32 = 0) {
        let directory = root + "/\(pid)"
        mkdir(directory, 0o755)
        // Fields 3…52 of proc(5); only state, ppid, flags and starttime matter here.
        let stat = "\(pid) (\(comm)) \(state) \(parent) \(pid) \(pid) 0 -1 \(flags) 120 0 0 0 3 1 0 0 20 0 1 0 \(start) 2461696 214 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        ProcFixture.write(directory + "/stat", stat)
        ProcFixture.write(directory + "/cmdline", argv.map { $0 + "\u{0}" }.joined())
        ProcFixture.write(directory + "/status", "Name:\t\(comm)\nUmask:\t0022\nState:\t\(state)\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\nGid:\t0\t0\t0\t0\n")
    }

    func finder(selfPID: Int32) -> ProcessFinder { ProcessFinder(procRoot: root, selfPID: selfPID) }
}

@Suite("ProcessFinder")
struct ProcessFinderTests {
    // MARK: /proc/PID/stat

    @Test func statParsingTakesTheNameUpToTheLastParenthesis() throws {
        let record = try #require(ProcessRecord(
            pid: 4242,
            stat: "4242 (my (odd) name) S 7 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 1 18446744073709551615\n"))
        #expect(record.name == "my (odd) name")
        #expect(record.state == "S")
        #expect(record.parentPID == 7)
        #expect(record.startTime == 987654)
        #expect(!record.isKernelThread)
    }

    @Test func statOfANameWithSpacesAndAClosingParenthesisParses() throws {
        let record = try #require(ProcessRecord(pid: 9, stat: "9 (a) b) c) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n"))
        #expect(record.name == "a) b) c")
        #expect(record.state == "R")
        #expect(record.startTime == 55)
    }

    @Test(arguments: ["", "123", "1 (x) S 1 2", "1 x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"])
    func malformedStatIsRejected(_ text: String) {
        #expect(ProcessRecord(pid: 1, stat: text) == nil)
    }

    @Test func ownProcessIsReadFromTheRealProc() throws {
        let record = try #require(ProcessFinder().record(pid: getpid()))
        #expect(record.parentPID == getppid())
        #expect(record.uid == getuid())
        #expect(record.argv0 != nil)
    }

    // MARK: Choosing by name (fake tree)

    @Test func oldestMatchWinsRegardlessOfPidOrder() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 10, comm: "podagent", start: 50)
        tree.add(pid: 400, comm: "nginx", start: 100, argv: ["nginx: master process /usr/sbin/nginx -g daemon off;"])
        tree.add(pid: 30, comm: "nginx", parent: 400, start: 900, argv: ["nginx: worker process"])  // pid wrapped around
        tree.add(pid: 401, comm: "nginx", parent: 400, start: 101, argv: ["nginx: worker process"])
        #expect(try tree.finder(selfPID: 10).oldest(named: "nginx").pid == 400)
    }

    @Test func equalStartTimesFallBackToTheLowerPid() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 12, comm: "app", start: 7)
        tree.add(pid: 11, comm: "app", start: 7)
        #expect(try tree.finder(selfPID: 1).oldest(named: "app").pid == 11)
    }

    @Test func aWorkerStartedInTheSameTickWithALowerPidLosesToItsMaster() throws {
        // After PID wraparound: the master near pid_max, its workers from the bottom, all in one tick.
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 4_194_303, comm: "nginx", start: 7, argv: ["nginx: master process nginx -g daemon off;"])
        tree.add(pid: 301, comm: "nginx", parent: 4_194_303, start: 7, argv: ["nginx: worker process"])
        tree.add(pid: 302, comm: "nginx", parent: 4_194_303, start: 7, argv: ["nginx: worker process"])
        #expect(try tree.finder(selfPID: 1).oldest(named: "nginx").pid == 4_194_303)
    }

    @Test func aPathMatchesTheExecutableWhenArgv0WasRewrittenOrIsBare() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 40, comm: "nginx", start: 5, argv: ["nginx: master process /usr/sbin/nginx"])
        tree.add(pid: 41, comm: "nginx", parent: 40, start: 6, argv: ["nginx: worker process"])
        tree.add(pid: 50, comm: "sleep", start: 7, argv: ["sleep", "300"])
        for (pid, exe) in [(40, "/usr/sbin/nginx"), (41, "/usr/sbin/nginx"), (50, "/usr/bin/sleep")] {
            #expect(symlink(exe, tree.root + "/\(pid)/exe") == 0)
        }
        let finder = tree.finder(selfPID: 1)
        #expect(try finder.oldest(named: "/usr/sbin/nginx").pid == 40)
        #expect(try finder.oldest(named: "/usr/bin/sleep").pid == 50)
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "/usr/bin/nginx") }
    }

    @Test func theTruncatedCommPrefixDoesNotOverruleAnArgv0ThatSaysOtherwise() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 60, comm: "my-very-long-pr", start: 1, argv: ["/opt/bin/my-very-long-process-name", "--serve"])
        tree.add(pid: 70, comm: "my-long-daemon-", start: 2, argv: ["my-long-daemon-name: master process"])  // a rewritten title
        tree.add(pid: 80, comm: "my-long-other-d", start: 3, argv: ["/opt/dir with space/my-long-other-daemon"])
        let finder = tree.finder(selfPID: 1)
        #expect(try finder.oldest(named: "my-very-long-process-name").pid == 60)
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "my-very-long-process-XYZ") }
        #expect(try finder.oldest(named: "my-long-daemon-name").pid == 70)
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "my-long-daemon-other") }
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "my-long-other-dummy") }  // a space in the path
    }

    @Test func podagentItselfZombiesAndKernelThreadsNeverMatch() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 5, comm: "app", start: 1)                                  // podagent, renamed
        tree.add(pid: 6, comm: "app", state: "Z", start: 2)                      // zombie
        tree.add(pid: 7, comm: "app", start: 3, flags: 0x0020_8040)              // kernel thread
        tree.add(pid: 8, comm: "app", start: 4, argv: ["/usr/bin/app"])
        #expect(try tree.finder(selfPID: 5).oldest(named: "app").pid == 8)
    }

    @Test func nameMatchesCommArgv0BasenameOrTruncatedComm() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 20, comm: "java", start: 1, argv: ["/opt/app/bin/keycloak-server", "-Xmx1g"])
        tree.add(pid: 21, comm: "podagent-test-t", start: 2)                     // comm is cut at 15 bytes
        tree.add(pid: 22, comm: "python3", start: 3, argv: ["/usr/bin/python3", "/srv/app.py"])
        let finder = tree.finder(selfPID: 99)
        #expect(try finder.oldest(named: "keycloak-server").pid == 20)
        #expect(try finder.oldest(named: "java").pid == 20)
        #expect(try finder.oldest(named: "podagent-test-target").pid == 21)
        #expect(try finder.oldest(named: "/usr/bin/python3").pid == 22)
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "app.py") }  // argv[1] is not a name
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "podagent-test-x") }  // prefix only for comm-length names
        #expect(throws: ProcessLookupError.self) { try finder.oldest(named: "/bin/python3") }
    }

    @Test func onlyOurOwnFamilyAndPauseVisibleMeansTheNamespaceIsNotShared() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 1, comm: "pause", parent: 0, start: 1)
        tree.add(pid: 7, comm: "sh", parent: 1, start: 2)             // our parent (a wrapper shell)
        tree.add(pid: 8, comm: "podagent", parent: 7, start: 3)       // us
        tree.add(pid: 9, comm: "nginx", parent: 8, state: "Z", start: 4)  // a zombie child of ours, not a candidate
        tree.add(pid: 12, comm: "sh", parent: 8, start: 5)            // our --check command
        let error = #expect(throws: ProcessLookupError.self) { try tree.finder(selfPID: 8).oldest(named: "nginx") }
        #expect(error?.kind == .noMatch(name: "nginx", othersVisible: 0))
        #expect(error?.description == "no process named nginx is visible — the PID namespace may not be shared: set `shareProcessNamespace: true` in the pod spec")
    }

    @Test func otherProcessesVisibleGivesThePlainNoMatchMessage() throws {
        let tree = ProcFakeTree()
        defer { ProcFixture.remove(tree.root) }
        tree.add(pid: 1, comm: "pause", parent: 0, start: 1)
        tree.add(pid: 8, comm: "podagent", parent: 0, start: 3)
        tree.add(pid: 20, comm: "httpd", parent: 0, start: 4, argv: ["httpd", "-DFOREGROUND"])
        tree.add(pid: 21, comm: "httpd", parent: 20, start: 5, argv: ["httpd", "-DFOREGROUND"])
        let error = #expect(throws: ProcessLookupError.self) { try tree.finder(selfPID: 8).oldest(named: "nginx") }
        #expect(error?.description == "no process named nginx among the 2 other visible processes (a name matches /proc/PID/comm or the basename of argv[0]; a path, argv[0] or /proc/PID/exe)")
    }

    @Test func unreadableProcRootIsReported() {
        let error = #expect(throws: ProcessLookupError.self) {
            try ProcessFinder(procRoot: "/nonexistent/proc").oldest(named: "x")
        }
        #expect(error?.kind == .procUnreadable(path: "/nonexistent/proc", errno: ENOENT))
    }

    // MARK: Real processes

    @Test(.timeLimit(.minutes(1)))
    func oldestOfTwoRealProcessesIsChosenAndReResolvedAfterItExits() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let program = directory + "/podagent-test-target"
        let copy = try await CommandRunner.run(["cp", "/bin/sleep", program], timeout: .seconds(10))
        #expect(copy.status == .exited(0))

        let first = try ProcessSpawner.spawn(ProcessLaunch([program, "60"]))
        defer { first.send(SIGKILL) }
        // The second must start at a later clock tick than the first for "oldest" to mean anything.
        let finder = ProcessFinder()
        var second = try ProcessSpawner.spawn(ProcessLaunch([program, "60"]))
        while finder.record(pid: second.pid)?.startTime == finder.record(pid: first.pid)?.startTime {
            second.send(SIGKILL)
            _ = await second.wait()
            try await Task.sleep(for: .milliseconds(20))
            second = try ProcessSpawner.spawn(ProcessLaunch([program, "60"]))
        }
        defer { second.send(SIGKILL) }
        #expect(await ProcFixture.eventually { finder.record(pid: second.pid)?.argv0 == program })

        #expect(try finder.oldest(named: "podagent-test-target").pid == first.pid)
        #expect(try finder.oldest(named: program).pid == first.pid)

        first.send(SIGKILL)
        _ = await first.wait()
        #expect(try finder.oldest(named: "podagent-test-target").pid == second.pid)
    }

    // MARK: Pid files

    @Test func pidFileWithSurroundingWhitespaceNamesARunningProcess() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let child = try ProcessSpawner.spawn(ProcessLaunch(["sleep", "60"]))
        defer { child.send(SIGKILL) }
        ProcFixture.write(directory + "/app.pid", "  \(child.pid)\n")
        #expect(try ProcessFinder().pid(fromFile: directory + "/app.pid") == child.pid)
    }

    @Test(arguments: ["", "abc\n", "12 13\n", "-5\n", "0\n", "99999999999\n"])
    func pidFileWithoutOnePositivePidIsInvalid(_ content: String) throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        ProcFixture.write(directory + "/app.pid", content)
        let error = #expect(throws: ProcessLookupError.self) { try ProcessFinder().pid(fromFile: directory + "/app.pid") }
        #expect(error?.kind == .pidFileInvalid(path: directory + "/app.pid", content: content))
    }

    @Test func missingPidFileSaysSo() {
        let error = #expect(throws: ProcessLookupError.self) { try ProcessFinder().pid(fromFile: "/nonexistent/app.pid") }
        #expect(error?.description == "pid file /nonexistent/app.pid does not exist — has the process started, and is the file on a volume shared with podagent?")
    }

    @Test func pidFileOfAnExitedProcessIsStale() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/true"]))
        _ = await child.wait()
        ProcFixture.write(directory + "/app.pid", "\(child.pid)\n")
        let error = #expect(throws: ProcessLookupError.self) { try ProcessFinder().pid(fromFile: directory + "/app.pid") }
        #expect(error?.kind == .pidFileStale(path: directory + "/app.pid", pid: child.pid))
    }

    @Test func pidFileNamingPodagentItselfIsRefused() throws {
        // An app in a container of its own PID namespace writes "1", and podagent is PID 1 in its own:
        // signalling that PID would reach podagent, not the app.
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        ProcFixture.write(directory + "/app.pid", "\(getpid())\n")
        let error = #expect(throws: ProcessLookupError.self) { try ProcessFinder().pid(fromFile: directory + "/app.pid") }
        #expect(error?.kind == .pidFileNamesPodagent(path: directory + "/app.pid", pid: getpid()))
        #expect(error?.description.contains("shareProcessNamespace") == true)
    }
}
