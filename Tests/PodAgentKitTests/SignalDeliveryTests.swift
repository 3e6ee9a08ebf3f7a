// Specification of SignalName (flag parsing), SignalDelivery (kill with advice) and SignalTrap
// (catching signals sent to podagent).

import Glibc
import Testing

@testable import PodAgentKit

@Suite("SignalName")
struct SignalNameTests {
    @Test(arguments: [
        ("HUP", SIGHUP), ("SIGHUP", SIGHUP), ("hup", SIGHUP), ("SigHup", SIGHUP), ("1", SIGHUP), (" TERM ", SIGTERM),
        ("USR1", SIGUSR1), ("sigusr2", SIGUSR2), ("WINCH", SIGWINCH), ("QUIT", SIGQUIT), ("9", SIGKILL),
        ("IOT", SIGABRT), ("CLD", SIGCHLD), ("34", 34), ("64", 64),
    ])
    func parsesNamesAnyCaseWithOrWithoutSIGAndNumbers(_ text: String, _ number: Int32) throws {
        #expect(try SignalName.parse(text) == number)
    }

    @Test(arguments: ["", "SIG", "HUPP", "0", "65", "-1", "1.5", "SIGRTMIN"])
    func rejectsUnknownSignals(_ text: String) {
        #expect(throws: SignalNameError(text: text)) { try SignalName.parse(text) }
    }

    @Test func rejectionListsTheValidNames() {
        let error = #expect(throws: SignalNameError.self) { try SignalName.parse("RELOAD") }
        #expect(error?.description.hasPrefix("unknown signal `RELOAD`: use a name (HUP, SIGHUP, hup) or a number 1–64; names: HUP INT QUIT ILL TRAP ABRT") == true)
        #expect(error?.description.contains("USR1 SEGV USR2") == true)
    }

    @Test func namesRoundTrip() throws {
        for (name, number) in SignalName.known {
            #expect(SignalName.name(of: number) == "SIG" + name)
            #expect(try SignalName.parse(SignalName.name(of: number)) == number)
        }
        #expect(SignalName.name(of: 40) == "signal 40")
    }
}

@Suite("SignalDelivery", .timeLimit(.minutes(1)))
struct SignalDeliveryTests {
    @Test func signalReachesAProcessFoundByName() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let shell = directory + "/podagent-test-shell"
        _ = try await CommandRunner.run(["cp", "/bin/sh", shell], timeout: .seconds(10))
        let log = directory + "/log"
        let child = try ProcessSpawner.spawn(ProcessLaunch([shell, "-c", """
            trap 'echo USR1 >> \(log)' USR1
            echo ready >> \(log)
            while :; do sleep 0.05; done
            """]))
        defer { child.send(SIGKILL) }
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready"] })

        let target = try ProcessFinder().oldest(named: "podagent-test-shell")
        #expect(target.pid == child.pid)
        try SignalDelivery.send(SIGUSR1, to: target.pid)
        #expect(await ProcFixture.eventually { ProcFixture.lines(log) == ["ready", "USR1"] })
    }

    @Test func goneProcessIsReportedAsGone() async throws {
        let child = try ProcessSpawner.spawn(ProcessLaunch(["/bin/true"]))
        _ = await child.wait()
        let error = #expect(throws: SignalDeliveryError.self) { try SignalDelivery.send(SIGHUP, to: child.pid) }
        #expect(error?.kind == .noSuchProcess)
        #expect(error?.description == "PID \(child.pid) is gone: it exited before SIGHUP could be sent")
    }

    @Test(arguments: [Int32(0), -1, -12345])
    func groupAndBroadcastPidsAreRefused(_ pid: Int32) {
        // kill(0)/kill(-1) would hit the test runner's own group or every process.
        let error = #expect(throws: SignalDeliveryError.self) { try SignalDelivery.send(SIGURG, to: pid) }
        #expect(error?.kind == .invalidTarget)
    }

    @Test(.enabled("needs root, setpriv, and this test binary executable by uid 65534") {
        guard geteuid() == 0 else { return false }
        let probe = try? await CommandRunner.run(
            ProcFixture.asNobody + ["/bin/sh", "-c", "test -r \"$0\" && test -x \"$0\"", ProcFixture.executable], timeout: .seconds(10))
        return probe?.status == .exited(0)
    })
    func signalToAnotherUsersProcessIsNotPermittedAndSaysWhy() async throws {
        // Root may signal anything, so the sender runs as nobody: this test binary, re-executed
        // under setpriv, calls SignalDelivery.send for a sleep that root started.
        let target = try ProcessSpawner.spawn(ProcessLaunch(["sleep", "60"]))
        defer { target.send(SIGKILL) }
        let sender = try await CommandRunner.run(
            ProcFixture.reexecArgv(prefix: ProcFixture.asNobody),
            timeout: .seconds(30),
            environment: ProcFixture.environment(adding: ["PODAGENT_PROC_ROLE": "signal", "PODAGENT_PROC_TARGET": "\(target.pid)"]))
        let report = sender.stdoutText.split(separator: "\n").first { $0.hasPrefix("PROC-RESULT: ") }.map { String($0.dropFirst(13)) }
        #expect(report == "not permitted to signal PID \(target.pid) (uid 0) with SIGTERM: podagent runs as uid 65534 — run podagent with the same UID as the target (securityContext.runAsUser) or grant CAP_KILL",
                "the sender said: \(sender.stdoutText) \(sender.stderrText)")
        #expect(ProcFixture.isAlive(target.pid))
    }
}

extension ProcReexecEntryPoints {
    /// Sends SIGTERM to `PODAGENT_PROC_TARGET` and prints what happened.
    @Test(.enabled(if: ProcFixture.reexecSetting("ROLE") == "signal"))
    func actAsSignalSender() {
        let pid = Int32(ProcFixture.reexecSetting("TARGET") ?? "") ?? 0
        do {
            try SignalDelivery.send(SIGTERM, to: pid)
            print("PROC-RESULT: delivered")
        } catch {
            print("PROC-RESULT: \(error)")
        }
    }
}

/// Counts calls of a C signal handler installed before SignalTrap's, for the chaining test.
nonisolated(unsafe) private var procPreviousHandlerCalls: Int32 = 0

@Suite("SignalTrap", .serialized, .timeLimit(.minutes(1)))
struct SignalTrapTests {
    // SIGURG is used because its default action is to be ignored: a stray one cannot kill the runner.

    @Test func arrivalsDeliversSignalsSentToThisProcess() async throws {
        var iterator = SignalTrap.arrivals(of: [SIGURG]).makeAsyncIterator()
        kill(getpid(), SIGURG)
        #expect(await iterator.next() == SIGURG)
        kill(getpid(), SIGURG)
        #expect(await iterator.next() == SIGURG)
    }

    @Test func aPreviouslyInstalledHandlerStillRunsAndIsRestoredAfterwards() async throws {
        var previous = sigaction()
        previous.__sigaction_handler.sa_handler = { _ in procPreviousHandlerCalls += 1 }
        sigemptyset(&previous.sa_mask)
        var original = sigaction()
        sigaction(SIGURG, &previous, &original)
        defer { sigaction(SIGURG, &original, nil) }
        procPreviousHandlerCalls = 0

        let task = Task { () -> Int32? in
            var iterator = SignalTrap.arrivals(of: [SIGURG]).makeAsyncIterator()
            kill(getpid(), SIGURG)
            return await iterator.next()
        }
        #expect(await task.value == SIGURG)
        #expect(procPreviousHandlerCalls == 1)

        // The stream is gone: the handler from before is back in place.
        #expect(await ProcFixture.eventually {
            var current = sigaction()
            sigaction(SIGURG, nil, &current)
            return current.sa_flags & Int32(SA_SIGINFO) == 0
        })
        kill(getpid(), SIGURG)
        #expect(await ProcFixture.eventually { procPreviousHandlerCalls == 2 })
    }

    @Test func twoStreamsForOneSignalBothReceiveIt() async throws {
        var first = SignalTrap.arrivals(of: [SIGURG, SIGWINCH]).makeAsyncIterator()
        var second = SignalTrap.arrivals(of: [SIGURG]).makeAsyncIterator()
        kill(getpid(), SIGURG)
        #expect(await first.next() == SIGURG)
        #expect(await second.next() == SIGURG)
    }
}
