// Specification of ChildSupervisor, the core of `podagent run`: the app as a child, signals passed
// on, reload and restart, exit codes, and zombie reaping as PID 1.
//
// Signals sent to a whole process cannot be aimed at one test inside the shared test runner, so the
// forwarding tests re-execute this test binary as a small `podagent run` (ProcReexecEntryPoints):
// the test sends real signals to that process, as the kubelet would to the container's PID 1.

import Glibc
import Logging
import Testing

@testable import PodAgentKit

/// A shell app that records the signals it gets: one line per trap in `log`, "ready" once the
/// traps are in place. The loop sleeps in short steps because a shell runs traps between commands.
func procRecordingApp(log: String, onTERM: String = "exit 42", extra: String = "") -> String {
    """
    trap 'echo USR1 >> \(log)' USR1
    trap 'echo USR2 >> \(log)' USR2
    trap 'echo WINCH >> \(log)' WINCH
    trap 'echo HUP >> \(log)' HUP
    trap 'echo INT >> \(log)' INT
    trap 'echo TERM >> \(log); \(onTERM)' TERM
    \(extra)
    echo ready >> \(log)
    while :; do sleep 0.05; done
    """
}

let procTestLogger = Logger(label: "podagent.test.supervisor") { _ in SwiftLogNoOpLogHandler() }

@Suite("ChildSupervisor", .timeLimit(.minutes(1)))
struct ChildSupervisorTests {
    @Test func exitCodeOfTheAppIsTheExitCode() async throws {
        let app = ChildSupervisor(argv: ["/bin/sh", "-c", "exit 3"], logger: procTestLogger)
        try app.start()
        let status = await app.wait()
        #expect(status == .exited(3))
        #expect(status.shellCode == 3)
        #expect(app.pid == nil)
    }

    @Test func appKilledBySignalGives128PlusN() async throws {
        let app = ChildSupervisor(argv: ["/bin/sh", "-c", "kill -9 $$"], logger: procTestLogger)
        try app.start()
        #expect(await app.wait().shellCode == 137)
    }

    @Test func appThatCannotBeFoundThrowsAndEnds127() async throws {
        let app = ChildSupervisor(argv: ["podagent-no-such-app"], logger: procTestLogger)
        #expect(throws: CommandError.self) { try app.start() }
        #expect(await app.wait() == .exited(127))
    }

    @Test func reloadSendsTheReloadSignalToTheApp() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        let app = ChildSupervisor(argv: ["/bin/sh", "-c", procRecordingApp(log: log)], logger: procTestLogger)
        try app.start()
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready"] })
        try app.reload()
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "HUP"] })
        #expect(await app.stop() == .exited(42))
        #expect(ProcFixture.lines(log) == ["ready", "HUP", "TERM"])
    }

    @Test func reloadSignalIsConfigurable() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        let app = ChildSupervisor(
            .init(argv: ["/bin/sh", "-c", procRecordingApp(log: log)], reloadSignal: SIGUSR2), logger: procTestLogger)
        try app.start()
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready"] })
        try app.reload()
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "USR2"] })
        _ = await app.stop()
    }

    @Test func reloadWithoutARunningAppFails() async throws {
        let app = ChildSupervisor(argv: ["/bin/true"], logger: procTestLogger)
        #expect(throws: SignalDeliveryError.self) { try app.reload() }  // not started
        try app.start()
        _ = await app.wait()
        #expect(throws: SignalDeliveryError.self) { try app.reload() }  // exited
    }

    @Test func restartStopsTheAppAndStartsItAgainWithoutEndingTheRun() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        let app = ChildSupervisor(
            argv: ["/bin/sh", "-c", procRecordingApp(log: log, onTERM: "exit 0", extra: "echo pid $$ >> \(log)")],
            logger: procTestLogger)
        try app.start()
        let first = try #require(app.pid)
        #expect(await ProcFixture.eventually { ProcFixture.lines(log).last == "ready" })

        try await app.restart()
        let second = try #require(app.pid)
        #expect(second != first)
        #expect(!ProcFixture.isAlive(first))
        #expect(await ProcFixture.eventually { ProcFixture.lines(log).count == 5 })
        #expect(ProcFixture.lines(log) == ["pid \(first)", "ready", "TERM", "pid \(second)", "ready"])
        #expect(app.exitStatus == nil)  // the run goes on

        #expect(await app.stop() == .exited(0))
    }

    @Test func restartKillsAnAppThatIgnoresTheStopSignalAfterTheGracePeriod() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let ready = directory + "/ready"
        let app = ChildSupervisor(
            .init(argv: ["/bin/sh", "-c", "trap '' TERM; echo $$ >> \(ready); while :; do sleep 0.05; done"], stopGrace: .milliseconds(300)),
            logger: procTestLogger)
        try app.start()
        #expect(await ProcFixture.eventually { ProcFixture.lines(ready).count == 1 })
        try await app.restart()
        #expect(await ProcFixture.eventually { ProcFixture.lines(ready).count == 2 })
        #expect(await app.stop() == .signaled(SIGKILL))
    }

    @Test func stopEscalatesToSIGKILLWhenTheAppIgnoresSIGTERM() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let ready = directory + "/ready"
        let app = ChildSupervisor(
            .init(argv: ["/bin/sh", "-c", "trap '' TERM; touch \(ready); while :; do sleep 0.05; done"], stopGrace: .milliseconds(300)),
            logger: procTestLogger)
        try app.start()
        #expect(await ProcFixture.eventually { ProcFixture.read(ready) != nil })
        #expect(await app.stop() == .signaled(SIGKILL))
    }

    @Test func noRestartAfterStop() async throws {
        let app = ChildSupervisor(argv: ["sleep", "60"], logger: procTestLogger)
        try app.start()
        #expect(await app.stop() == .signaled(SIGTERM))
        try await app.restart()
        #expect(app.pid == nil)
        #expect(await app.wait() == .signaled(SIGTERM))
    }

    @Test func stopBeforeStartEndsTheRunAndNothingIsStarted() async throws {
        let app = ChildSupervisor(argv: ["sleep", "60"], logger: procTestLogger)
        #expect(await app.stop() == .signaled(SIGTERM))
        try app.start()
        #expect(app.pid == nil)
        #expect(await app.wait() == .signaled(SIGTERM))
    }

    // MARK: As a process: signals from outside

    @Test func forwardsSignalsToTheAppAndExitsWithItsStatus() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        let run = try ProcMiniRun(script: procRecordingApp(log: log))
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready"] })

        var expected = ["ready"]
        for (signal, name) in [(SIGUSR1, "USR1"), (SIGWINCH, "WINCH"), (SIGUSR2, "USR2"), (SIGHUP, "HUP"), (SIGINT, "INT")] {
            kill(run.process.pid, signal)
            expected.append(name)
            #expect(await ProcFixture.eventually { ProcFixture.lines(log) == expected }, "after \(name)")
        }
        kill(run.process.pid, SIGTERM)
        let outcome = await run.process.wait()
        #expect(ProcFixture.lines(log) == expected + ["TERM"])
        #expect(outcome.status == .exited(42))  // the app's own exit code, not podagent's
    }

    @Test func sigintAndSigquitArePassedOnOnlyAndAnAppThatCatchesThemKeepsRunning() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        // A JVM prints its threads on SIGQUIT and goes on; a REPL returns to its prompt on SIGINT.
        let run = try ProcMiniRun(script: procRecordingApp(log: log, extra: "trap 'echo QUIT >> \(log)' QUIT"),
                                  grace: .milliseconds(300))
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready"] })
        kill(run.process.pid, SIGQUIT)
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "QUIT"] })
        kill(run.process.pid, SIGINT)
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "QUIT", "INT"] })
        // Well past the grace period: had either signal counted as "stop", the app would have been
        // SIGKILLed and podagent would have ended with it.
        try await Task.sleep(for: .seconds(1))
        kill(run.process.pid, SIGUSR1)
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "QUIT", "INT", "USR1"] })
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.wait().status == .exited(42))
    }

    @Test(.enabled("needs script(1) from util-linux to give the run a terminal") {
        (try? await CommandRunner.run(["script", "-qec", "true", "/dev/null"], timeout: .seconds(10)))?.status == .exited(0)
    })
    func ctrlCOnATerminalReachesTheAppOnce() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        let stop = directory + "/stop"
        // The app counts SIGINTs without dying of them and ends when told to.
        let app = "trap 'echo INT >> \(log)' INT; echo ready >> \(log); while [ ! -e \(stop) ]; do sleep 0.05; done; exit 0"
        // script(1) runs the mini `podagent run` on a new terminal, in its foreground process group;
        // once the app is ready, Ctrl-C (\003) is typed on that terminal.
        let typist = "while ! grep -q ready \(log) 2>/dev/null; do sleep 0.05; done; printf '\\003'; "
            + "while [ ! -e \(stop) ]; do sleep 0.05; done"
        // script(1) hands its command to `$SHELL -c`; dash does not exec a lone command, and a shell
        // left in between dies of the Ctrl-C itself (script then reports 130). `exec` makes the mini
        // run script's own child whatever the shell; SHELL is pinned so the test is the same everywhere.
        let command = "(\(typist)) | script -qec \(ShellWords.join(["exec " + ShellWords.join(ProcFixture.reexecArgv())])) /dev/null"
        let terminal = try ProcessSpawner.spawn(ProcessLaunch(
            ["/bin/sh", "-c", command],
            environment: ProcFixture.environment(adding: [
                "PODAGENT_PROC_ROLE": "run", "PODAGENT_PROC_SCRIPT": app, "PODAGENT_PROC_GRACE_MS": "300",
                "PODAGENT_PROC_REPORT": "", "SHELL": "/bin/sh",
            ]),
            stdout: .capture(limit: 65536), stderr: .capture(limit: 65536)))
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "INT"] }, "\(ProcFixture.lines(log))")
        // Time for a forwarded second copy to arrive, and for the (former) SIGKILL after the grace period.
        try await Task.sleep(for: .seconds(1))
        #expect(ProcFixture.lines(log) == ["ready", "INT"], "the app got Ctrl-C more than once")
        ProcFixture.write(stop, "")
        let outcome = await terminal.wait()
        #expect(outcome.status == .exited(0), "\(outcome)")
    }

    @Test func exitsWith128PlusNWhenASignalKillsTheApp() async throws {
        let run = try ProcMiniRun(script: "kill -9 $$")
        #expect(await run.process.wait().status == .exited(137))
    }

    @Test func sigtermToAnAppThatIgnoresItEndsWithSIGKILLAfterTheGracePeriod() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let log = directory + "/log"
        let run = try ProcMiniRun(script: "trap 'echo TERM >> \(log)' TERM; echo ready >> \(log); while :; do sleep 0.05; done", grace: .milliseconds(500))
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready"] })
        kill(run.process.pid, SIGTERM)
        #expect(await run.process.wait().status == .exited(137))
        #expect(ProcFixture.lines(log) == ["ready", "TERM"])
    }

    // MARK: As PID 1

    @Test(.enabled("needs `unshare --pid --fork --mount-proc` (root or CAP_SYS_ADMIN)") {
        (try? await CommandRunner.run(["unshare", "--pid", "--fork", "--mount-proc", "/bin/true"], timeout: .seconds(10)))?.status == .exited(0)
    })
    func asPID1ReapsOrphansAndPassesTheAppStatusOn() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let report = directory + "/report"
        // Two grandchildren outlive the app and are re-parented to PID 1 when it exits; as zombies
        // they would stay in the table for good if PID 1 did not reap them.
        let script = "(sleep 0.3; exit 0) & (sleep 0.3 &); sleep 0.1; exit 7"
        let run = try ProcMiniRun(script: script, mode: "pid1", report: report,
                                    prefix: ["unshare", "--pid", "--fork", "--mount-proc"])
        let outcome = await run.process.wait()
        #expect(outcome.status == .exited(7))
        let facts = Dictionary(uniqueKeysWithValues: ProcFixture.lines(report).compactMap { line -> (String, String)? in
            let parts = line.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        })
        #expect(facts["pid"] == "1")
        #expect(facts["status"] == "exited with code 7")
        #expect(facts["zombies"] == "0")
        #expect(facts["others"] == "0")
        #expect(Int(facts["orphansReaped"] ?? "") ?? 0 >= 2)
    }
}

/// This test binary re-executed as a minimal `podagent run -- /bin/sh -c SCRIPT`.
struct ProcMiniRun {
    let process: ChildProcess

    init(script: String, grace: Duration = .seconds(5), mode: String = "run", report: String = "", prefix: [String] = []) throws {
        let (seconds, attoseconds) = grace.components
        let graceMilliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        process = try ProcessSpawner.spawn(ProcessLaunch(
            ProcFixture.reexecArgv(prefix: prefix),
            environment: ProcFixture.environment(adding: [
                "PODAGENT_PROC_ROLE": mode, "PODAGENT_PROC_SCRIPT": script,
                "PODAGENT_PROC_GRACE_MS": "\(graceMilliseconds)", "PODAGENT_PROC_REPORT": report,
            ]),
            stdout: .capture(limit: 65536), stderr: .capture(limit: 65536)))
    }
}

/// Entry points for the re-executed test binary, selected by `PODAGENT_PROC_ROLE`; skipped in a
/// normal test run. Each ends the process with `exit`, like `podagent run` does.
@Suite struct ProcReexecEntryPoints {
    @Test(.enabled(if: ProcFixture.reexecSetting("ROLE") == "run"))
    func actAsRun() async {
        exit(await Self.supervise().shellCode)
    }

    @Test(.enabled(if: ProcFixture.reexecSetting("ROLE") == "pid1"))
    func actAsPID1() async {
        let status = await Self.supervise()
        // Wait until every re-parented orphan has exited and been reaped (or 10 s have passed),
        // then report what is left in this PID namespace besides ourselves.
        let finder = ProcessFinder()
        _ = await ProcFixture.eventually { ((try? finder.processes()) ?? []).allSatisfy { $0.pid == getpid() } }
        let others = ((try? finder.processes()) ?? []).filter { $0.pid != getpid() }
        let report = [
            "pid=\(getpid())", "status=\(status)", "zombies=\(others.filter { $0.state == "Z" }.count)",
            "others=\(others.count)", "orphansReaped=\(ProcessSpawner.orphansReaped)",
        ]
        ProcFixture.write(ProcFixture.reexecSetting("REPORT") ?? "/dev/null", report.joined(separator: "\n") + "\n")
        exit(status.shellCode)
    }

    private static func supervise() async -> ProcessExitStatus {
        let grace = Int64(ProcFixture.reexecSetting("GRACE_MS") ?? "") ?? 5000
        let app = ChildSupervisor(
            .init(argv: ["/bin/sh", "-c", ProcFixture.reexecSetting("SCRIPT") ?? "exit 99"], stopGrace: .milliseconds(grace)),
            logger: Logger(label: "podagent.test.run") { StreamLogHandler.standardError(label: $0) })
        do throws(CommandError) { return try await app.run() } catch { return .exited(error.exitCode) }
    }
}
