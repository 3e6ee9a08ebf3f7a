import Foundation
import Glibc
import Testing
@testable import PodAgentKit

/// `podagent watch` and `podagent run` as a user runs them: the real binary, real inotify, volumes
/// updated in the kubelet's exact sequence by the project's own writer, real child processes.
@Suite("hot reload, end to end (real binary)", .serialized)
struct HotReloadEndToEndTests {
    /// A kubelet-managed volume with one key, `app.conf`.
    struct Volume {
        /// What --dir names: the volume's root, or the directory `below` inside it (`conf.d -> ..data/conf.d`).
        let path: String
        let writer: AtomicWriter
        let file: String
        init(_ root: String, _ content: String = "v0", below: String? = nil) throws {
            try FileSystem.makeDirectories(root)
            path = below.map { root + "/" + $0 } ?? root
            file = below.map { $0 + "/app.conf" } ?? "app.conf"
            writer = AtomicWriter(targetDirectory: root)
            try set(content)
        }
        func set(_ content: String) throws {
            try writer.write([file: FileProjection(text: content)])
        }
    }

    /// Starts `podagent watch` with an exec action that appends the volume's current content to `record`.
    func startWatch(_ dir: TemporaryDirectory, volumes: [String], extra: [String] = []) async throws -> (E2EAgent, String, Int) {
        let record = dir.file("reloads.txt")
        let cat = volumes.map { "cat '\($0)/app.conf'" }.joined(separator: "; ")
        var arguments = ["watch"] + volumes.flatMap { ["--dir", $0] }
        arguments += ["--shell", "--exec", "{ \(cat); echo; } | tr '\\n' ' ' >> '\(record)'; echo >> '\(record)'",
                      "--listen", "127.0.0.1:0", "--log-format", "json"] + extra
        let agent = try E2EAgent(arguments, log: dir.file("podagent.log"))
        let port = try #require(await listeningPort(agent), "no listening line: \(agent.log)")
        await expectReady(agent, port: port)
        return (agent, record, port)
    }

    /// Waits for `/readyz` to answer 200: the watches are placed.
    func expectReady(_ agent: E2EAgent, port: Int) async {
        let ready = await eventually {
            (try? await CommandRunner.run(["curl", "-sf", "http://127.0.0.1:\(port)/readyz"], timeout: .seconds(3)))?.status.isSuccess == true
        }
        #expect(ready, "podagent never became ready: \(agent.log)")
    }

    @Test func oneReloadPerKubeletUpdateWithTheNewContent() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let (agent, record, _) = try await startWatch(dir, volumes: [volume.path], extra: ["--debounce", "0"])
        for i in 1...5 {
            try volume.set("v\(i)")
            #expect(await eventually { lines(record).count == i }, "reload \(i) missing: \(agent.log)")
        }
        try await Task.sleep(for: .milliseconds(400))
        #expect(lines(record) == ["v1 ", "v2 ", "v3 ", "v4 ", "v5 "])
        // A new generation with the same bytes is not a change.
        try volume.writer.write(["app.conf": FileProjection(text: "v5")])
        try await Task.sleep(for: .milliseconds(400))
        #expect(lines(record).count == 5)
        #expect(await agent.stop() == .exited(0))
    }

    /// Once up, podagent gives back the pages of code and read-only data only start-up used, and again
    /// after the first reload and the first answer on each status path (see `StartupPages`), once each;
    /// what it needs again comes back: reloads and answers go on as before.
    @Test(.enabled(if: pagemapReadable)) func oneTimePagesAreGivenBackOnceEachAndWorkGoesOn() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let (agent, record, port) = try await startWatch(dir, volumes: [volume.path], extra: ["--debounce", "0", "--log-level", "debug"])
        func givenBack() -> [String: Int] {
            var result: [String: Int] = [:]
            for line in agent.log.split(separator: "\n") where line.contains("one-time pages given back") {
                guard let after = line.firstMatch(of: /"after":"([^"]+)"/), let bytes = line.firstMatch(of: /"bytes":"([0-9]+)"/)
                else { continue }
                result[String(after.1), default: 0] += Int(bytes.1) ?? 0
            }
            return result
        }
        func times(_ kind: String) -> Int {
            agent.log.split(separator: "\n").filter { $0.contains("one-time pages given back") && $0.contains("\"after\":\"\(kind)\"") }.count
        }
        // startWatch asked /readyz until it answered 200.
        #expect(await eventually { givenBack()["start-up"] != nil && givenBack()["/readyz"] != nil }, "\(agent.log)")
        #expect((givenBack()["start-up"] ?? 0) > 0, "nothing given back at start-up: \(agent.log)")
        for i in 1...3 {
            try volume.set("v\(i)")
            #expect(await eventually { lines(record).count == i }, "reload \(i) missing: \(agent.log)")
        }
        #expect(lines(record) == ["v1 ", "v2 ", "v3 "])
        #expect(await eventually { givenBack()["reload"] != nil }, "nothing given back after the first reload: \(agent.log)")
        for _ in 1...3 {
            #expect(await scrape(port).contains("podagent_reloads_total"))
        }
        #expect(await eventually { givenBack()["/metrics"] != nil }, "\(agent.log)")
        for kind in ["start-up", "reload", "/readyz", "/metrics"] { #expect(times(kind) == 1, "\(kind): \(agent.log)") }
        #expect(times("/healthz") == 0)
        #expect(await agent.stop() == .exited(0))
    }

    /// glibc's arenas for threads other than the main one: a mapping that starts on a 64 MiB boundary
    /// (HEAP_MAX_SIZE), read-write, followed by its inaccessible reserve up to the next boundary.
    static func mallocArenas(pid: Int32) -> [String] {
        let maps = MapsLine.of(pid)
        let heapMax: UInt = 64 << 20
        return zip(maps, maps.dropFirst()).compactMap { heap, reserve in
            guard heap.path.isEmpty, reserve.path.isEmpty, heap.perms == "rw-p", reserve.perms == "---p",
                  heap.range.lowerBound % heapMax == 0, reserve.range.lowerBound == heap.range.upperBound,
                  reserve.range.upperBound == heap.range.lowerBound + heapMax else { return nil }
            return "\(String(heap.range.lowerBound, radix: 16))-\(String(heap.range.upperBound, radix: 16))"
        }
    }

    @Test func allThreadsAllocateFromOneHeap() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let (agent, record, port) = try await startWatch(dir, volumes: [volume.path], extra: ["--debounce", "0"])
        // The event loop, the inotify reader and the threads that wait for the --exec children have run.
        for i in 1...3 {
            try volume.set("v\(i)")
            #expect(await eventually { lines(record).count == i }, "reload \(i) missing: \(agent.log)")
        }
        #expect(await scrape(port).contains("podagent_reloads_total"))
        let maps = MapsLine.of(agent.process.pid)
        #expect(maps.contains { $0.path == "[heap]" }, "not podagent's maps: \(maps)")
        #expect(Self.mallocArenas(pid: agent.process.pid) == [], "\(maps)")
        #expect(await agent.stop() == .exited(0))
    }

    @Test func finalStateIsAlwaysReloadedAfterABurst() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let (agent, record, port) = try await startWatch(dir, volumes: [volume.path], extra: ["--debounce", "0"])
        for i in 1...100 { try volume.set("burst-\(i)") }
        #expect(await eventually { lines(record).last == "burst-100 " }, "final state not reloaded: \(lines(record).suffix(3)) \(agent.log.suffix(2000))")
        let count = lines(record).count
        #expect(count >= 1 && count <= 100)
        let metrics = await scrape(port)
        #expect((metricValue(metrics, "podagent_reloads_total{result=\"success\"}") ?? 0) >= 1)
        _ = await agent.stop()
    }

    @Test func twoVolumesUpdatedInOneSyncGiveOneReload() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let a = try Volume(dir.file("a")), b = try Volume(dir.file("b"))
        let (agent, record, _) = try await startWatch(dir, volumes: [a.path, b.path], extra: ["--debounce", "200ms"])
        try a.set("a1")
        try b.set("b1")
        #expect(await eventually { lines(record).count == 1 }, "\(agent.log)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(lines(record) == ["a1b1 "])
        _ = await agent.stop()
    }

    @Test func failingCheckBlocksTheReloadAndTheNextGoodChangeGoesThrough() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"), "good-0")
        let (agent, record, port) = try await startWatch(
            dir, volumes: [volume.path], extra: ["--debounce", "0", "--check", "grep -q good '\(volume.path)/app.conf'"])
        try volume.set("bad")
        #expect(await eventually { metricValue(await scrape(port), "podagent_reloads_total{result=\"check_failed\"}") == 1 }, "\(agent.log)")
        #expect(lines(record).isEmpty, "nothing may be reloaded after a failed check")
        try volume.set("good-1")
        #expect(await eventually { lines(record) == ["good-1 "] }, "\(agent.log)")
        _ = await agent.stop()
    }

    @Test(arguments: [false, true])
    func aGenerationCommittedDuringTheCheckIsCheckedBeforeAnythingIsReloaded(insideTheVolume: Bool) async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        // Also for a --dir inside the volume, whose own path has no `..data` to compare.
        let volume = try Volume(dir.file("config"), "good-0", below: insideTheVolume ? "conf.d" : nil)
        let started = dir.file("check-started")
        // The check reads the content, says so, then takes its time; what it judges is what it read.
        let check = "c=$(cat '\(volume.path)/app.conf'); touch '\(started)'; sleep 0.6; "
            + "case \"$c\" in good*) exit 0;; *) exit 1;; esac"
        // A debounce longer than the check: the commit made during the check reaches the pipeline only
        // after this run's check has ended, so only the run itself can notice it.
        let (agent, record, port) = try await startWatch(
            dir, volumes: [volume.path], extra: ["--debounce", "1s", "--check", check])
        try volume.set("good-1")
        #expect(await eventually { access(started, F_OK) == 0 }, "the check never ran: \(agent.log)")
        try volume.set("bad")
        #expect(await eventually { (metricValue(await scrape(port), "podagent_reloads_total{result=\"check_failed\"}") ?? 0) >= 1 },
                "\(agent.log)")
        // The debounced trigger for "bad" itself comes next, and fails its check too.
        #expect(await eventually { (metricValue(await scrape(port), "podagent_reloads_total{result=\"check_failed\"}") ?? 0) >= 2 },
                "\(agent.log)")
        #expect(lines(record).isEmpty, "reloaded content the check had not seen: \(lines(record)) \(agent.log)")
        #expect(agent.log.contains("a new generation was committed during the check"))
        #expect((metricValue(await scrape(port), "podagent_reloads_total{result=\"success\"}") ?? 0) == 0)
        try volume.set("good-2")
        #expect(await eventually { lines(record) == ["good-2 "] }, "\(agent.log)")
        _ = await agent.stop()
    }

    @Test func aCheckThatNeverSeesTheSameGenerationTwiceBlocksTheReload() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"), "good-0")
        let busy = dir.file("kubelet-busy")
        // While `busy` exists, every check ends with the kubelet committing again: a new generation with
        // the same bytes (no change of its own to report), as the kubelet does on a resync.
        let v = volume.path
        let check = "grep -q good '\(v)/app.conf' || exit 1; [ -e '\(busy)' ] || exit 0; "
            + "g=$(mktemp -d '\(v)/..gen.XXXXXX') && cp '\(v)/..data/app.conf' \"$g/\" && "
            + "ln -s \"$(basename \"$g\")\" '\(v)/..data_tmp' && mv -T '\(v)/..data_tmp' '\(v)/..data'"
        let (agent, record, port) = try await startWatch(dir, volumes: [v], extra: ["--debounce", "0", "--check", check])
        #expect(FileManager.default.createFile(atPath: busy, contents: nil))
        try volume.set("good-1")
        #expect(await eventually { metricValue(await scrape(port), "podagent_reloads_total{result=\"check_failed\"}") == 1 },
                "\(agent.log)")
        #expect(agent.log.contains("committed a new generation during each of 3 checks"))
        #expect(lines(record).isEmpty, "reloaded although no check saw one generation whole: \(lines(record))")
        // The kubelet settles: the next change goes through.
        try FileManager.default.removeItem(atPath: busy)
        try volume.set("good-2")
        #expect(await eventually { lines(record) == ["good-2 "] }, "\(agent.log)")
        _ = await agent.stop()
    }

    @Test func aRetryAfterTheKubeletCommittedAgainChecksTheNewContentFirst() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"), "good-0")
        let failedOnce = dir.file("failed-once")
        let record = dir.file("reloads.txt")
        // The action fails its first attempt (the app was not ready, say); the retry comes 1 s later.
        let action = "[ -e '\(failedOnce)' ] || { touch '\(failedOnce)'; exit 1; }; cat '\(volume.path)/app.conf' >> '\(record)'"
        let agent = try E2EAgent(
            ["watch", "--dir", volume.path, "--shell", "--check", "grep -q good '\(volume.path)/app.conf'",
             "--exec", action, "--retry-backoff", "1s", "--debounce", "3s",
             "--listen", "127.0.0.1:0", "--log-format", "json"],
            log: dir.file("podagent.log"))
        let port = try #require(await listeningPort(agent), "no listening line: \(agent.log)")
        await expectReady(agent, port: port)
        try volume.set("good-1")
        // The check passed on good-1 and the action failed: the run waits to retry. The kubelet commits a
        // broken config now; the watcher reports it only after its 3 s debounce, long after the retry.
        #expect(await eventually(timeout: .seconds(15)) { access(failedOnce, F_OK) == 0 }, "\(agent.log)")
        try volume.set("bad")
        #expect(await eventually { (metricValue(await scrape(port), "podagent_reloads_total{result=\"check_failed\"}") ?? 0) >= 1 },
                "\(agent.log)")
        #expect(lines(record).isEmpty, "the retry reloaded content no check had passed: \(lines(record)) \(agent.log)")
        #expect(agent.log.contains("the content changed since it was checked"))
        try volume.set("good-2")
        #expect(await eventually(timeout: .seconds(15)) { lines(record) == ["good-2"] }, "\(agent.log)")
        _ = await agent.stop()
    }

    /// `podagent watch` as nobody, the volume root's and readable by all, as a pod's volumes are; its exec
    /// action appends the volume's `app.conf` to `record`, one line per reload.
    func startWatchAsNobody(_ dir: TemporaryDirectory) async throws -> (E2EAgent, Volume, String) {
        #expect(chmod(dir.path, 0o755) == 0)
        let volume = try Volume(dir.file("config"), "v1")
        let record = dir.file("reloads.txt")
        #expect(FileManager.default.createFile(atPath: record, contents: nil, attributes: [.posixPermissions: 0o666]))
        let agent = try E2EAgent(
            ["watch", "--dir", volume.path, "--debounce", "0", "--shell",
             "--exec", "cat '\(volume.path)/app.conf' >> '\(record)'; echo >> '\(record)'", "--log-format", "json"],
            log: dir.file("podagent.log"), prefix: ProcFixture.asNobody)
        #expect(await eventually { agent.log.contains("\"watching\"") }, "\(agent.log)")
        return (agent, volume, record)
    }

    @Test(.enabled("needs root, to run podagent as another user") { getuid() == 0 })
    func aDirectoryThatCannotBeWatchedForAWhileIsWatchedAgainOnceItCanBe() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let (agent, volume, record) = try await startWatchAsNobody(dir)
        // The directory goes and comes back unreadable to podagent's user: inotify refuses the watch.
        try FileManager.default.removeItem(atPath: volume.path)
        #expect(mkdir(volume.path, 0o700) == 0)
        #expect(await eventually { agent.log.contains("cannot watch directory; trying again later") }, "\(agent.log)")
        // Then it is filled and made readable; no event says so (there is no watch): only a retry finds it.
        try Volume(volume.path, "v2").set("v2")
        #expect(chmod(volume.path, 0o755) == 0)
        #expect(await eventually { lines(record) == ["v2"] }, "\(agent.log)")
        _ = await agent.stop()
    }

    @Test(.enabled("needs root, to run podagent as another user") { getuid() == 0 })
    func aReadThatFailsIsTriedAgainAndTheChangeIsNotLost() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let (agent, volume, record) = try await startWatchAsNobody(dir)
        // A generation podagent's user may not read (a secret with defaultMode 0600 and no fsGroup).
        try volume.writer.write(["app.conf": FileProjection(data: Array("v2".utf8), mode: 0o600)])
        #expect(await eventually { agent.log.contains("cannot read watched directory; trying again later") }, "\(agent.log)")
        #expect(lines(record).isEmpty)
        // Made readable in place, as a fix of the pod's securityContext would: no new commit, no event.
        let generation = try #require(try? FileManager.default.destinationOfSymbolicLink(atPath: volume.path + "/..data"))
        #expect(chmod(volume.path + "/" + generation + "/app.conf", 0o644) == 0)
        #expect(await eventually { lines(record) == ["v2"] }, "\(agent.log)")
        _ = await agent.stop()
    }

    @Test func waitsForADirectoryThatAppearsLater() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let late = dir.file("late")
        let (agent, record, _) = try await startWatch(dir, volumes: [late], extra: ["--debounce", "0", "--wait"])
        _ = try Volume(late, "arrived")
        #expect(await eventually { lines(record) == ["arrived "] }, "\(agent.log)")
        _ = await agent.stop()
    }

    @Test func missingDirectoryWithoutWaitFailsClearly() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let agent = try E2EAgent(["watch", "--dir", dir.file("nope"), "--exec", "true"], log: dir.file("log"))
        #expect(await agent.process.wait().status == .exited(1))
        #expect(agent.log.contains("does not exist"), "\(agent.log)")
        #expect(agent.log.contains("--wait"), "\(agent.log)")
    }

    @Test(arguments: ["--timeout", "--check-timeout"])
    func aZeroTimeoutIsRefusedAtStart(_ flag: String) async throws {
        // Zero would time every attempt out at once — and a signal that went out all the same would be
        // sent again by each retry.
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let agent = try E2EAgent(["watch", "--dir", dir.path, "--exec", "true", flag, "0s"], log: dir.file("log"))
        #expect(await agent.process.wait().status == .exited(64))
        #expect(agent.log.contains("\(flag) must be longer than 0"), "\(agent.log)")
    }

    @Test func runPropagatesTheAppsExitStatus() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let exited = try E2EAgent(["run", "--dir", volume.path, "--", "sh", "-c", "exit 3"], log: dir.file("a.log"))
        #expect(await exited.process.wait().status == .exited(3))
        let killed = try E2EAgent(["run", "--dir", volume.path, "--", "sh", "-c", "kill -TERM $$"], log: dir.file("b.log"))
        #expect(await killed.process.wait().status == .exited(143))
        let missing = try E2EAgent(["run", "--dir", volume.path, "--", "no-such-command-podagent"], log: dir.file("c.log"))
        #expect(await missing.process.wait().status == .exited(127))
    }

    /// Runs the rest with no /bin/sh: a private mount namespace with an empty tmpfs over the directory
    /// /bin/sh lives in, as in a distroless image.
    static let withoutAShell = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                                "mount -t tmpfs none \"$(readlink -f /bin)\" && exec \"$@\"", "sh"]

    @Test(.enabled("needs root and `unshare --mount`, to hide /bin/sh") {
        (try? await CommandRunner.run(Self.withoutAShell + [podagentBinary, "--version"], timeout: .seconds(10)))?.status == .exited(0)
    })
    func runOfAScriptWithoutAnInterpreterLineInAnImageWithoutAShellSaysWhatIsMissing() async throws {
        let hidden = try await CommandRunner.run(Self.withoutAShell + ["/bin/sh", "-c", "true"], timeout: .seconds(10))
        try #require(hidden.status != .exited(0), "/bin/sh is still there in the namespace")
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let script = dir.file("app")
        try FileSystem.writeFileAtomically(script, Array("echo started\n".utf8), mode: 0o755)
        let agent = try E2EAgent(["run", "--dir", volume.path, "--", script], log: dir.file("run.log"), prefix: Self.withoutAShell)
        #expect(await agent.process.wait().status == .exited(127))
        #expect(agent.log.contains("/bin/sh (the script has no #! line)"), "\(agent.log)")
        #expect(!agent.log.contains("started"))
    }

    @Test(.enabled("needs root and `unshare --mount`, for a real bind mount") {
        (try? await CommandRunner.run(Self.withoutAShell + [podagentBinary, "--version"], timeout: .seconds(10)))?.status == .exited(0)
    })
    func aSubPathMountInTheWatchedDirectoryIsReportedAtStart() async throws {
        // The kubelet's bind of `subPath: nginx.conf`, made for real in a private mount namespace: its
        // source lies under pods/<uid>/volume-subpaths/<volume>/<container>/<index>.
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let source = dir.file("node/var/lib/kubelet/pods/6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20/volume-subpaths/nginx-conf/nginx/0")
        try FileSystem.makeDirectories(dir.file("node/var/lib/kubelet/pods/6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20/volume-subpaths/nginx-conf/nginx"))
        try FileSystem.writeFileAtomically(source, Array("events {}\n".utf8), mode: 0o644)
        let watched = dir.file("etc-nginx")
        try FileSystem.makeDirectories(watched)
        try FileSystem.writeFileAtomically(watched + "/nginx.conf", [], mode: 0o644)
        let bind = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                    "mount --bind \"$0\" \"$1\" && shift && exec \"$@\"", source, watched + "/nginx.conf"]
        let agent = try E2EAgent(["watch", "--dir", watched, "--exec", "true", "--log-format", "json"],
                                 log: dir.file("watch.log"), prefix: bind)
        #expect(await eventually { agent.log.contains("which the kubelet never updates") }, "\(agent.log)")
        let line = agent.log.split(separator: "\n").first { $0.contains("which the kubelet never updates") } ?? ""
        #expect(line.contains("\"pod_volume\":\"nginx-conf\""), "\(line)")
        #expect(line.contains("nginx.conf\""), "\(line)")
        #expect(await agent.stop() == .exited(0), "\(agent.log)")
        // The same directory without the mount: nothing to say.
        let plain = try E2EAgent(["watch", "--dir", watched, "--exec", "true", "--log-format", "json"], log: dir.file("plain.log"))
        #expect(await eventually { plain.log.contains("\"watching\"") }, "\(plain.log)")
        #expect(!plain.log.contains("subPath"), "\(plain.log)")
        #expect(await plain.stop() == .exited(0))
    }

    @Test func aDirInsideAKubeletVolumeFollowsEveryUpdateWithoutAWarning() async throws {
        // A configMap item with `path: sub/app.conf`: `sub -> ..data/sub`, so every update replaces the
        // directory --dir names. Its volume's root is watched instead: every commit reloaded, no warning.
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let root = dir.file("config")
        try FileSystem.makeDirectories(root)
        let writer = AtomicWriter(targetDirectory: root)
        try writer.write(["sub/app.conf": FileProjection(text: "v0")])
        let (agent, record, _) = try await startWatch(dir, volumes: [root + "/sub"], extra: ["--debounce", "0"])
        for version in 1...3 {
            try writer.write(["sub/app.conf": FileProjection(text: "v\(version)")])
            #expect(await eventually { lines(record).last == "v\(version) " }, "update \(version): \(agent.log)")
        }
        #expect(agent.log.contains("directory lies inside a kubelet volume"), "\(agent.log)")
        #expect(!agent.log.contains("watched directory was replaced"), "\(agent.log)")
        #expect(!agent.log.contains("watched directory is gone"), "\(agent.log)")
        #expect(await agent.stop() == .exited(0), "\(agent.log)")
    }

    @Test func onLabelComparesKeysInALabelsFileGivenByLabelsFile() async throws {
        // A downwardAPI item with `path: podlabels`: --labels-file names it, and --on-label then compares
        // it key by key like a file called `labels`.
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let path = dir.file("podinfo")
        try FileSystem.makeDirectories(path)
        let writer = AtomicWriter(targetDirectory: path)
        func labels(_ app: String, _ tier: String) throws {
            try writer.write(["podlabels": FileProjection(data: DownwardAPIMap.format(["app": app, "tier": tier])),
                              "app.conf": FileProjection(text: "c")])
        }
        try labels("a", "x")
        let (agent, record, _) = try await startWatch(
            dir, volumes: [path], extra: ["--debounce", "0", "--log-level", "debug", "--on-label", "app",
                                          "--labels-file", path + "/podlabels"])
        try labels("a", "y")  // only tier: nothing to reload
        #expect(await eventually { agent.log.components(separatedBy: "generation committed").count == 2 }, "\(agent.log)")
        try labels("b", "y")
        #expect(await eventually { lines(record).count == 1 }, "\(agent.log)")
        let changeSets = agent.log.split(separator: "\n").filter { $0.contains("\"msg\":\"change set\"") }
        #expect(changeSets.count == 1, "\(agent.log)")
        #expect(changeSets.first?.contains("label keys app") == true, "\(changeSets)")
        #expect(await agent.stop() == .exited(0))
    }

    @Test func argumentsOfTheAppAndOfCommandsNeverReachTheLog() async throws {
        // In a pod spec, `args: ["--requirepass", "$(REDIS_PASSWORD)"]` reaches podagent with the Secret's
        // value in it; so may a --check's or --exec's words. Only the program's name is logged.
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let app = "trap 'exit 0' TERM; while :; do sleep 0.05; done"
        let run = try E2EAgent(["run", "--dir", volume.path, "--debounce", "0", "--log-format", "json",
                                "--check", "sh -c 'echo bad key on line 3; exit 1' check-s3cr3t",
                                "--", "sh", "-c", app, "app-s3cr3t"], log: dir.file("run.log"))
        #expect(await eventually { run.log.contains("app started") })
        try volume.set("v1")
        // A checker that reports on stdout (yamllint, promtool) has its complaint logged all the same.
        #expect(await eventually { run.log.contains("(stdout) bad key on line 3") }, "\(run.log)")
        #expect(await run.stop() == .exited(0))

        let watch = try E2EAgent(["watch", "--dir", volume.path, "--debounce", "0", "--log-format", "json", "--retries", "1",
                                  "--timeout", "300ms", "--exec", "sh -c 'exit 2' exec-s3cr3t",
                                  "--exec", "sh -c 'echo waiting >&2; sleep 5' slow-s3cr3t"],
                                 log: dir.file("watch.log"))
        #expect(await eventually { watch.log.contains("\"watching\"") })
        try volume.set("v2")
        #expect(await eventually { watch.log.contains("exited with code 2") }, "\(watch.log)")
        try volume.set("v3")  // the first exec fails again; "slow" is never reached — run it alone next
        #expect(await watch.stop() == .exited(0))

        let slow = try E2EAgent(["watch", "--dir", volume.path, "--debounce", "0", "--log-format", "json", "--retries", "1",
                                 "--timeout", "300ms", "--exec", "sh -c 'echo waiting >&2; sleep 5' slow-s3cr3t"],
                                log: dir.file("slow.log"))
        #expect(await eventually { slow.log.contains("\"watching\"") })
        try volume.set("v4")
        // A timeout's line carries what the command had written by then.
        #expect(await eventually { slow.log.contains("timed out") && slow.log.contains("waiting") }, "\(slow.log)")
        #expect(await slow.stop() == .exited(0))

        for log in [run.log, watch.log, slow.log] {
            #expect(!log.contains("s3cr3t"), "\(log)")
        }
    }

    @Test func runReloadsTheAppWithHUPAndForwardsSIGTERM() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let record = dir.file("app.txt")
        let app = "trap 'cat \(volume.path)/app.conf >> \(record); echo >> \(record)' HUP; trap 'echo term >> \(record); exit 0' TERM; echo started >> \(record); while :; do sleep 0.05; done"
        let agent = try E2EAgent(["run", "--dir", volume.path, "--debounce", "0", "--", "sh", "-c", app], log: dir.file("run.log"))
        #expect(await eventually { lines(record) == ["started"] }, "\(agent.log)")
        try volume.set("reloaded-1")
        #expect(await eventually { lines(record) == ["started", "reloaded-1"] }, "\(agent.log)")
        #expect(await agent.stop(SIGTERM) == .exited(0))
        #expect(lines(record).last == "term")
    }
}

extension HotReloadEndToEndTests {
    @Test func runRestartsTheAppWithRestartOnChange() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let record = dir.file("app.txt")
        let app = "echo \"start $(cat \(volume.path)/app.conf)\" >> \(record); trap 'exit 0' TERM; while :; do sleep 0.05; done"
        let agent = try E2EAgent(["run", "--dir", volume.path, "--debounce", "0", "--restart-on-change", "--", "sh", "-c", app],
                                 log: dir.file("run.log"))
        #expect(await eventually { lines(record) == ["start v0"] }, "\(agent.log)")
        try volume.set("v1")
        #expect(await eventually { lines(record) == ["start v0", "start v1"] }, "\(agent.log)")
        #expect(await eventually { agent.log.contains("reload done") }, "\(agent.log)")
        // The README's promise: a reload's "change set" line comes before any other line about it.
        let messages = agent.log.split(separator: "\n").compactMap { line in
            ["change set", "restarting app", "app restarted", "reload done"].first { line.contains("info podagent: \($0)") || line.contains("\"msg\":\"\($0)\"") }
        }
        #expect(messages == ["change set", "app restarted", "reload done"], "\(agent.log)")
        #expect(await agent.stop(SIGTERM) == .exited(0))
    }

    @Test func runSendsTheConfiguredReloadSignal() async throws {
        let dir = TemporaryDirectory("e2e"); defer { dir.remove() }
        let volume = try Volume(dir.file("config"))
        let record = dir.file("app.txt")
        let app = "trap 'echo usr1 >> \(record)' USR1; trap 'echo hup >> \(record)' HUP; trap 'exit 0' TERM; echo started >> \(record); while :; do sleep 0.05; done"
        let agent = try E2EAgent(["run", "--dir", volume.path, "--debounce", "0", "--reload-signal", "USR1", "--", "sh", "-c", app],
                                 log: dir.file("run.log"))
        #expect(await eventually { lines(record) == ["started"] }, "\(agent.log)")
        try volume.set("v1")
        #expect(await eventually { lines(record) == ["started", "usr1"] }, "\(agent.log)")
        #expect(await agent.stop(SIGTERM) == .exited(0))
    }
}

/// The Kubernetes docs' fortune-config scenario with real nginx: gzip on, then off, then a broken
/// config that the check refuses while nginx keeps serving.
@Suite("nginx hot reload, end to end", .serialized)
struct NginxEndToEndTests {
    struct Site {
        let dir: TemporaryDirectory
        let port = freePort()
        var root: String { dir.file("pod") }
        var confDir: String { root + "/etc/nginx/conf.d" }
        var mainConf: String { dir.file("nginx.conf") }
        var url: String { "http://127.0.0.1:\(port)/" }

        init() throws {
            dir = TemporaryDirectory("nginx")
            // nginx workers run as an unprivileged user: the tree they serve must be readable.
            chmod(dir.path, 0o755)
            dir.write("html/index.html", String(repeating: "fortune favours the bold. ", count: 200))
            chmod(dir.file("html"), 0o755)
            chmod(dir.file("html/index.html"), 0o644)
            try FileSystem.makeDirectories(dir.file("tmp"))
            dir.write("nginx.conf", """
                worker_processes 2;
                pid \(dir.file("nginx.pid"));
                error_log \(dir.file("error.log"));
                events { worker_connections 64; }
                http {
                  access_log off;
                  client_body_temp_path \(dir.file("tmp"));
                  proxy_temp_path \(dir.file("tmp"));
                  fastcgi_temp_path \(dir.file("tmp"));
                  uwsgi_temp_path \(dir.file("tmp"));
                  scgi_temp_path \(dir.file("tmp"));
                  include \(confDir)/*.conf;
                }
                """)
            dir.write("pod.yaml", """
                apiVersion: v1
                kind: Pod
                metadata: {name: fortune-configmap-volume}
                spec:
                  automountServiceAccountToken: false
                  containers:
                  - name: web-server
                    image: nginx:alpine
                    volumeMounts: [{name: config, mountPath: /etc/nginx/conf.d, readOnly: true}]
                  volumes:
                  - name: config
                    configMap: {name: fortune-config}
                """)
        }

        /// `simulate` the fortune-config ConfigMap with the given gzip directive.
        func publish(gzip: String) throws {
            let configMap = dir.write("configmap.yaml", """
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: fortune-config}
                data:
                  my-nginx-config.conf: |
                    server {
                      listen 127.0.0.1:\(port);
                      root \(dir.file("html"));
                      gzip \(gzip);
                      gzip_min_length 10;
                      gzip_types text/plain;
                    }
                """)
            var options = SimulationOptions(podFile: dir.file("pod.yaml"), root: root)
            options.objectFiles = [configMap]
            _ = try PodSimulator.run(options)
        }

        var check: String { "nginx -t -q -c \(mainConf)" }
    }

    @Test func entrypointWrapperReloadsNginxWithoutARestartAndRefusesABrokenConfig() async throws {
        let site = try Site(); defer { site.dir.remove() }
        try site.publish(gzip: "on")
        let agent = try E2EAgent(["run", "--dir", site.confDir, "--check", site.check, "--listen", "127.0.0.1:0",
                                  "--", "nginx", "-c", site.mainConf, "-g", "daemon off;"], log: site.dir.file("podagent.log"))
        let metricsPort = try #require(await listeningPort(agent), "no listening line: \(agent.log)")
        #expect(await eventually { let r = await fetchEncoding(site.url); return r?.status == 200 && r?.encoding == "gzip" }, "nginx not serving gzip: \(agent.log)")
        let masterPID = agent.process.pid
        try site.publish(gzip: "off")
        #expect(await eventually { let r = await fetchEncoding(site.url); return r?.status == 200 && r?.encoding == nil },
                "gzip still on after the update: \(agent.log) nginx: \(readText(site.dir.file("error.log")) ?? "")")
        // A broken config: the check refuses it and nginx keeps serving the last good one.
        try site.publish(gzip: "sometimes")
        #expect(await eventually { metricValue(await scrape(metricsPort), "podagent_reloads_total{result=\"check_failed\"}") == 1 }, "\(agent.log)")
        let response = await fetchEncoding(site.url)
        #expect(response?.status == 200 && response?.encoding == nil)
        #expect(agent.process.pid == masterPID && agent.process.outcome == nil, "reloaded, not restarted")
        #expect(await agent.stop() == .exited(0), "\(agent.log)")
        #expect(await fetchEncoding(site.url) == nil, "nginx stopped with podagent")
    }

    @Test func sidecarSignalsTheNginxMasterFoundByName() async throws {
        let site = try Site(); defer { site.dir.remove() }
        try site.publish(gzip: "on")
        let nginx = try ProcessSpawner.spawn(ProcessLaunch(["nginx", "-c", site.mainConf, "-g", "daemon off;"]))
        defer { _ = nginx.send(SIGQUIT) }
        #expect(await eventually { let r = await fetchEncoding(site.url); return r?.status == 200 && r?.encoding == "gzip" })
        let agent = try E2EAgent(["watch", "--dir", site.confDir, "--check", site.check, "--signal", "HUP", "--process", "nginx"],
                                 log: site.dir.file("podagent.log"))
        #expect(await eventually { agent.log.contains("watching") }, "\(agent.log)")
        try site.publish(gzip: "off")
        #expect(await eventually { let r = await fetchEncoding(site.url); return r?.status == 200 && r?.encoding == nil },
                "gzip still on: \(agent.log) nginx: \(readText(site.dir.file("error.log")) ?? "")")
        #expect(nginx.outcome == nil, "the master was reloaded, not killed")
        #expect(await agent.stop() == .exited(0))
        _ = nginx.send(SIGQUIT)
        _ = await nginx.wait()
    }
}
