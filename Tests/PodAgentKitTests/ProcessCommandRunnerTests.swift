// Specification of CommandRunner (the `--check` / `--exec` runner) and ShellWords (how their flag
// values become argument vectors).

import Glibc
import Testing

@testable import PodAgentKit

@Suite("CommandRunner", .timeLimit(.minutes(1)))
struct ProcessCommandRunnerTests {
    @Test func exitStatusIsAResultNotAnError() async throws {
        let result = try await CommandRunner.run(["/bin/sh", "-c", "exit 3"], timeout: .seconds(30))
        #expect(result.status == .exited(3))
        #expect(result.argv == ["/bin/sh", "-c", "exit 3"])
    }

    @Test func killedBySignalMapsTo137() async throws {
        let result = try await CommandRunner.run(["/bin/sh", "-c", "kill -9 $$"], timeout: .seconds(30))
        #expect(result.status == .signaled(9))
        #expect(result.status.shellCode == 137)
    }

    @Test func stderrAndStdoutAreCapturedAsText() async throws {
        let result = try await CommandRunner.run(
            ["/bin/sh", "-c", "echo 'nginx: [emerg] unknown directive \"gzipp\"' >&2; echo fine; exit 1"],
            timeout: .seconds(30))
        #expect(result.status == .exited(1))
        #expect(result.stderrText == #"nginx: [emerg] unknown directive "gzipp""#)
        #expect(result.stdoutText == "fine")
    }

    @Test func outputBeyondTheLimitIsDroppedWithoutBlockingTheCommand() async throws {
        // 1 MiB is far more than a pipe buffer: the command only finishes if podagent keeps reading.
        let result = try await CommandRunner.run(
            ["/bin/sh", "-c", "head -c 1048576 /dev/zero; echo done >&2"], timeout: .seconds(30), outputLimit: 1000)
        #expect(result.status == .exited(0))
        #expect(result.stdout.count == 1000)
        #expect(result.stdoutTruncated)
        #expect(result.stderrText == "done")
        #expect(!result.stderrTruncated)
    }

    @Test func timeoutStopsTheCommandWithSIGTERM() async throws {
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run(["sleep", "100"], timeout: .milliseconds(200), grace: .seconds(20))
        }
        #expect(error?.kind == .timedOut(after: .milliseconds(200)))
        #expect(error?.result?.status == .signaled(SIGTERM))
        // The program only: arguments may hold a secret.
        #expect(error?.description == "sleep timed out after 200ms and was stopped (killed by SIGTERM)")
    }

    @Test func aCommandThatIgnoresSIGTERMIsKilledAfterTheGracePeriod() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let ready = directory + "/ready"
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run(
                ["/bin/sh", "-c", "trap '' TERM; touch \(ready); while :; do sleep 0.05; done"],
                timeout: .seconds(2), grace: .milliseconds(300))
        }
        #expect(ProcFixture.read(ready) != nil)  // the trap was in place before the timeout
        #expect(error?.result?.status == .signaled(SIGKILL))
    }

    @Test func timeoutStopsTheWholeProcessGroup() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let pidFile = directory + "/background.pid"
        await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run(
                ["/bin/sh", "-c", "sleep 100 & echo $! > \(pidFile); wait"], timeout: .seconds(2))
        }
        let background = try #require(Int32(ProcFixture.lines(pidFile).first ?? ""))
        // Gone, or a zombie waiting for whoever adopted it: not running on.
        #expect(await ProcFixture.eventually { !ProcFixture.isAlive(background) })
    }

    @Test func cancellingTheCallerStopsTheCommand() async throws {
        let task = Task { try await CommandRunner.run(["sleep", "100"], timeout: .seconds(100), grace: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.result
        #expect(throws: CommandError.self) { try result.get() }
        if case .failure(let error as CommandError) = result {
            #expect(error.kind == .cancelled)
            #expect(error.result?.status == .signaled(SIGTERM))
        }
    }

    @Test func aCancelledCommandThatIgnoresSIGTERMIsKilledWithoutWaitingOutTheGracePeriod() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let ready = directory + "/ready"
        let started = ContinuousClock.now
        let task = Task {
            try await CommandRunner.run(
                ["/bin/sh", "-c", "trap '' TERM; touch \(ready); while :; do sleep 0.05; done"],
                timeout: .seconds(100), grace: .seconds(20))
        }
        #expect(await ProcFixture.eventually { ProcFixture.read(ready) != nil })
        task.cancel()
        let result = await task.result
        if case .failure(let error as CommandError) = result {
            #expect(error.kind == .cancelled)
            #expect(error.result?.status == .signaled(SIGKILL))
        } else {
            Issue.record("not cancelled: \(result)")
        }
        // Not a performance check: 20 s would mean the shutdown waited out the timeout's grace period.
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func backgroundGrandchildHoldingThePipeDoesNotDelayTheResult() async throws {
        let result = try await CommandRunner.run(
            ["/bin/sh", "-c", "sleep 30 & echo $!"], timeout: .seconds(20))
        #expect(result.status == .exited(0))
        #expect(result.duration < .seconds(20))  // not a performance check: 30 s would mean it waited for EOF
        let background = try #require(Int32(result.stdoutText))
        #expect(ProcFixture.isAlive(background))  // still holding the pipe when the result came
        kill(background, SIGKILL)
    }

    @Test func commandNotFoundNamesTheCommandAndPATH() async throws {
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run(["podagent-no-such-command", "-x"], timeout: .seconds(5))
        }
        #expect(error?.kind == .notFound)
        #expect(error?.exitCode == 127)
        let path = String(cString: getenv("PATH"))
        #expect(error?.description == "command not found: podagent-no-such-command is not in PATH (\(path)) — install it or give its absolute path")
    }

    @Test func missingAbsolutePathSaysItDoesNotExist() async throws {
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run(["/nonexistent/podagent-check"], timeout: .seconds(5))
        }
        #expect(error?.description == "command not found: /nonexistent/podagent-check does not exist")
    }

    @Test func fileWithoutExecutePermissionIsPermissionDenied() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let script = directory + "/check.sh"
        ProcFixture.write(script, "#!/bin/sh\nexit 0\n", mode: 0o644)  // even root needs an x bit
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run([script], timeout: .seconds(5))
        }
        #expect(error?.kind == .permissionDenied)
        #expect(error?.exitCode == 126)
        #expect(error?.description.hasPrefix("permission denied running \(script):") == true)
    }

    @Test func scriptWithoutInterpreterLineRunsWithShLikeExecvp() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let script = directory + "/reload"
        ProcFixture.write(script, "echo \"no interpreter line: $0 $1\"\n", mode: 0o755)
        let result = try await CommandRunner.run([script, "arg"], timeout: .seconds(5))
        #expect(result.status == .exited(0))
        #expect(result.stdoutText == "no interpreter line: \(script) arg")
    }

    @Test func aBinaryTheKernelCannotRunIsAnExecFormatError() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let binary = directory + "/app"
        // An ELF header the kernel rejects, as it does a binary built for another architecture.
        ProcFixture.write(binary, "\u{7F}ELF\u{2}\u{1}\u{1}\u{0}not really a binary\n", mode: 0o755)
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run([binary], timeout: .seconds(5))
        }
        #expect(error?.kind == .notExecutable)
        #expect(error?.exitCode == 126)
        #expect(error?.description.contains("exec format error") == true)
    }

    @Test func scriptWhoseInterpreterIsMissingSaysSoInsteadOfNotFound() async throws {
        let directory = ProcFixture.temporaryDirectory()
        defer { ProcFixture.remove(directory) }
        let script = directory + "/reload"
        ProcFixture.write(script, "#!/nonexistent/podagent-sh -e\necho hi\n", mode: 0o755)
        let error = await #expect(throws: CommandError.self) {
            _ = try await CommandRunner.run([script], timeout: .seconds(5))
        }
        #expect(error?.kind == .interpreterMissing("/nonexistent/podagent-sh"))
        #expect(error?.exitCode == 127)
        #expect(error?.description
            == "cannot execute \(script): the interpreter it needs, /nonexistent/podagent-sh, does not exist — install it or fix the #! line")
    }

    @Test func environmentIsPassed() async throws {
        let result = try await CommandRunner.run(
            ["/bin/sh", "-c", "echo \"$POD_NAME\""], timeout: .seconds(5),
            environment: ["POD_NAME": "web-0", "PATH": "/usr/bin:/bin"])
        #expect(result.stdoutText == "web-0")
    }

    @Test func durationIsMeasured() async throws {
        let result = try await CommandRunner.run(["sleep", "0.2"], timeout: .seconds(5))
        #expect(result.duration >= .milliseconds(200))
    }

    @Test(arguments: [
        (Duration.milliseconds(250), "250ms"), (.seconds(2), "2s"), (.milliseconds(1500), "1.5s"), (.seconds(120), "2m"),
    ])
    func durationsAreWrittenInFlagStyle(_ duration: Duration, _ text: String) {
        #expect(formatCommandDuration(duration) == text)
    }
}

@Suite("ShellWords")
struct ProcessShellWordsTests {
    @Test(arguments: [
        ("nginx -s reload", ["nginx", "-s", "reload"]),
        ("  nginx\t-s   reload  ", ["nginx", "-s", "reload"]),
        ("nginx -g 'daemon off;'", ["nginx", "-g", "daemon off;"]),
        (#"echo "a b" c"#, ["echo", "a b", "c"]),
        (#"echo "say \"hi\"" 'it''s'"#, ["echo", #"say "hi""#, "its"]),
        (#"echo 'single \ stays' "double \n stays""#, ["echo", #"single \ stays"#, #"double \n stays"#]),
        (#"echo "back\\slash" "\$HOME""#, ["echo", #"back\slash"#, "$HOME"]),
        (#"echo a\ b \'q\' \|"#, ["echo", "a b", "'q'", "|"]),
        ("echo '' \"\" x", ["echo", "", "", "x"]),
        ("a'b'\"c\"d", ["abcd"]),
        ("kill -HUP 1\\\n2", ["kill", "-HUP", "12"]),
        ("curl http://127.0.0.1:9000/-/reload?force=1 -X POST", ["curl", "http://127.0.0.1:9000/-/reload?force=1", "-X", "POST"]),
        ("ls *.conf ~", ["ls", "*.conf", "~"]),
        ("curl http://h/#frag a#b", ["curl", "http://h/#frag", "a#b"]),  // # inside a word is no comment
        ("héllo 'wörld'", ["héllo", "wörld"]),
        ("", []),
        ("   ", []),
    ])
    func splitsLikeAShell(_ text: String, _ words: [String]) throws {
        #expect(try ShellWords.split(text) == words)
    }

    @Test(arguments: [
        ("echo 'oops", ShellWordsError.Reason.unterminatedSingleQuote, 6),
        (#"echo "oops"#, .unterminatedDoubleQuote, 6),
        (#"echo 'it\'s'"#, .unterminatedSingleQuote, 12),
        ("echo oops\\", .trailingBackslash, 10),
        ("nginx -t | grep ok", .needsShell("|"), 10),
        ("a && b", .needsShell("&"), 3),
        ("a; b", .needsShell(";"), 2),
        ("echo $HOME", .needsShell("$"), 6),
        (#"echo "$HOME""#, .needsShell("$"), 7),
        ("echo `date`", .needsShell("`"), 6),
        ("cat < in", .needsShell("<"), 5),
        ("echo > out", .needsShell(">"), 6),
        ("(cd x)", .needsShell("("), 1),
        ("nginx -s reload # reload nginx", .needsShell("#"), 17),
    ])
    func rejectsWhatNeedsAShell(_ text: String, _ reason: ShellWordsError.Reason, _ column: Int) {
        #expect(throws: ShellWordsError(reason: reason, text: text, column: column)) {
            try ShellWords.split(text)
        }
    }

    @Test func unbalancedQuoteMessageShowsWhere() {
        let error = #expect(throws: ShellWordsError.self) { try ShellWords.split("nginx -g 'daemon off;") }
        #expect(error?.description == "unbalanced quotes in `nginx -g 'daemon off;`: the ' at column 10 is never closed")
    }

    @Test func shellSyntaxMessagePointsToShellFlag() {
        let error = #expect(throws: ShellWordsError.self) { try ShellWords.split("nginx -t | grep ok") }
        #expect(error?.description == "`nginx -t | grep ok` uses shell syntax (| at column 10), but the command runs without a shell — quote it, or add --shell to run it with /bin/sh -c")
    }

    @Test func shellModeHandsTheTextToBinSh() throws {
        #expect(try ShellWords.argv(for: "nginx -t 2>&1 | grep -q ok", shell: true) == ["/bin/sh", "-c", "nginx -t 2>&1 | grep -q ok"])
        #expect(try ShellWords.argv(for: "nginx -s reload", shell: false) == ["nginx", "-s", "reload"])
    }

    @Test func emptyCommandIsRejectedInBothModes() {
        #expect(throws: ShellWordsError(reason: .empty, text: " ", column: 1)) { try ShellWords.argv(for: " ", shell: false) }
        #expect(throws: ShellWordsError(reason: .empty, text: "", column: 1)) { try ShellWords.argv(for: "", shell: true) }
    }

    @Test(arguments: ["plain", "with space", "it's", "", "a\"b", "$HOME", "tab\there", "ünï"])
    func quoteRoundTrips(_ word: String) throws {
        #expect(try ShellWords.split(ShellWords.quote(word)) == [word])
    }

    @Test func joinQuotesOnlyWhatNeedsIt() {
        #expect(ShellWords.join(["nginx", "-g", "daemon off;"]) == "nginx -g 'daemon off;'")
    }

    @Test func splitArgvRunsAsIs() async throws {
        // Quoted arguments arrive as one argument each, without a shell in between.
        let argv = try ShellWords.split(#"/bin/sh -c 'printf "%s|" "$@"' sh 'a b' "c;d""#)
        let result = try await CommandRunner.run(argv, timeout: .seconds(5))
        #expect(result.stdoutText == "a b|c;d|")
    }
}
