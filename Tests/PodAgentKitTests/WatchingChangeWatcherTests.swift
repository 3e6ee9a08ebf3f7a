// ChangeWatcher's guarantees, each driven by real directories updated with the project's
// kubelet-exact AtomicWriter and watched with real inotify.
//
// "Nothing was emitted" is checked without sleeping: after the action that must emit nothing, a
// sentinel change follows; sets are delivered in order, so the next set must be the sentinel's alone.

import Foundation
import Glibc
import Logging
import MetricsTestKit
import Testing

@testable import PodAgentKit

/// The change sets a test's consumer received, in order, with the instant each one arrived.
final class WatchCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [(set: ChangeSet, at: ContinuousClock.Instant, direct: Bool)] = []

    /// `direct`: handed over by `deliverImmediately(to:)` rather than taken from the stream.
    func append(_ set: ChangeSet, direct: Bool = false) { lock.withLock { received.append((set, .now, direct)) } }
    var sets: [ChangeSet] { lock.withLock { received.map(\.set) } }
    var arrivals: [ContinuousClock.Instant] { lock.withLock { received.map(\.at) } }
    var direct: [Bool] { lock.withLock { received.map(\.direct) } }

    /// Polls until `condition` holds (at most `timeout`, only to avoid hanging) and returns the sets.
    @discardableResult
    func wait(timeout: Duration = .seconds(20), until condition: ([ChangeSet]) -> Bool) async -> [ChangeSet] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !condition(sets) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return sets
    }

    func wait(forCount count: Int) async -> [ChangeSet] { await wait { $0.count >= count } }
}

/// A started watcher, its consumer task and what the consumer received.
struct WatchHarness {
    let watcher: ChangeWatcher
    let collector = WatchCollector()
    let metrics: TestMetrics
    let consumer: Task<Void, Never>

    static let quietLogger = Logger(label: "podagent.watch.test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Starts watching (watches placed, baseline read) and consumes the change sets, pausing
    /// `consumerDelay` after each one like a slow reload.
    /// `direct`: also take sets through `deliverImmediately(to:)`, as the hot-reload loop does.
    init(_ configuration: WatchConfiguration, consumerDelay: Duration = .zero, direct: Bool = false) async throws {
        metrics = TestMetrics()
        watcher = try ChangeWatcher(configuration, logger: Self.quietLogger, metricsFactory: metrics)
        if direct {
            let collector = self.collector
            watcher.deliverImmediately { collector.append($0, direct: true) }
        }
        try await watcher.start()
        let stream = watcher.changes()
        let collector = self.collector
        consumer = Task {
            for await set in stream {
                collector.append(set)
                if consumerDelay > .zero { try? await Task.sleep(for: consumerDelay) }
            }
        }
    }

    func stop() async {
        await watcher.stop()
        await consumer.value
    }

    func generations(_ directory: String) -> Int64 {
        metrics.counterTotal(label: "podagent_volume_generations_total", dimensions: [("volume", directory)])
    }

    var errors: Int64 { metrics.counterTotal(label: "podagent_watch_errors_total") }
}

/// Volume directories in a sandbox, updated the way the kubelet does.
struct WatchVolumes {
    let sandbox: WatchSandbox

    init() throws { sandbox = try WatchSandbox() }

    /// A volume directory written by the atomic writer with `files`.
    func volume(_ name: String, _ files: [String: String]) throws -> String {
        let path = sandbox.path(name)
        guard mkdir(path, 0o755) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        try write(path, files)
        return path
    }

    /// One kubelet-exact update (AtomicWriter): the payload replaces the volume's content.
    @discardableResult
    func write(_ volume: String, _ files: [String: String]) throws -> AtomicWriteOutcome {
        try AtomicWriter(targetDirectory: volume).write(files.mapValues { FileProjection(text: $0) })
    }

    /// The kubelet's swap of `..data` to a new generation directory holding exactly the current
    /// files (same steps as AtomicWriter: new `..<stamp>` dir, `..data_tmp` symlink, rename, remove
    /// the old one). AtomicWriter itself skips identical payloads, as the kubelet usually does.
    func recommitIdentical(_ volume: String) throws -> String {
        let old = try FileManager.default.destinationOfSymbolicLink(atPath: volume + "/..data")
        let new = "..2030_01_02_03_04_05.\(UInt32.random(in: 1 ... .max))"
        try FileManager.default.copyItem(atPath: volume + "/" + old, toPath: volume + "/" + new)
        guard symlink(new, volume + "/..data_tmp") == 0, rename(volume + "/..data_tmp", volume + "/..data") == 0 else {
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        try FileManager.default.removeItem(atPath: volume + "/" + old)
        return new
    }

    func remove() { sandbox.remove() }
}

/// Polls `condition` until it holds (at most `timeout`, only to avoid hanging).
func watchEventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline, !condition() {
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

/// Downward API map file bytes as the kubelet writes them.
func watchMapFile(_ map: [String: String]) -> String {
    String(decoding: DownwardAPIMap.format(map), as: UTF8.self)
}

extension WatchInotifySuites {
    @Suite("ChangeWatcher: from MOVED_TO ..data to ChangeSet")
    struct ChangeWatcherTests {
        static func configuration(_ directories: [String], debounce: Duration = .zero) -> WatchConfiguration {
            var configuration = WatchConfiguration(directories: directories)
            configuration.debounce = debounce
            configuration.quietPeriod = .milliseconds(200)
            return configuration
        }

        @Test("nothing is emitted before the commit: a slow writer filling the new generation for 300 ms gets nothing until the rename")
        func nothingBeforeCommit() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["app.conf": "v1"])
            let harness = try await WatchHarness(Self.configuration([config]))
            let slowPartEnded = try await Self.slowWrite(config, ["app.conf": "v2"])
            let sets = await harness.collector.wait(forCount: 1)
            try #require(sets.count == 1)
            #expect(sets[0].firstCommitSeen > slowPartEnded && harness.collector.arrivals[0] > slowPartEnded)
            #expect(sets[0].volumes == [VolumeChange(
                directory: config, generation: sets[0].contents[0].generation,
                added: ["slow0", "slow1", "slow2"], modified: ["app.conf"])],
                    "one set, read after the commit: it already has every slow file")
            #expect(sets[0].contents[0] == (try? VolumeContent.read(config)))
            await harness.stop()
        }

        @Test("nothing is emitted before the first commit into an empty watched directory (no ..data yet)")
        func nothingBeforeFirstCommit() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let harness = try await WatchHarness(Self.configuration([sandbox.path]))
            let slowPartEnded = try await Self.slowWrite(sandbox.path, ["app.conf": "v1"])
            let sets = await harness.collector.wait(forCount: 1)
            try #require(sets.count == 1)
            #expect(sets[0].firstCommitSeen > slowPartEnded)
            #expect(sets[0].volumes.first?.added == ["app.conf", "slow0", "slow1", "slow2"])
            #expect(sets[0].volumes.first?.generation != nil)
            await harness.stop()
        }

        /// An AtomicWriter update whose writer keeps adding files to the new generation directory for
        /// 300 ms before committing it; returns when that slow part ended (just before the rename).
        static func slowWrite(_ volume: String, _ files: [String: String]) async throws -> ContinuousClock.Instant {
            try await watchOffPool {
                var slowPartEnded = ContinuousClock.now
                try AtomicWriter(targetDirectory: volume).write(files.mapValues { FileProjection(text: $0) }) { generation in
                    for index in 0..<3 {
                        usleep(100_000)
                        try Data("slow \(index)".utf8).write(to: URL(fileURLWithPath: "\(volume)/\(generation)/slow\(index)"))
                    }
                    slowPartEnded = .now  // next: `..data_tmp`, then the rename
                }
                return slowPartEnded
            }
        }

        @Test("the final state is always emitted: 100 back-to-back kubelet updates",
              arguments: [Duration.zero, .milliseconds(50)])
        func finalStateAfterBurst(debounce: Duration) async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["a": "0", "b": "0"])
            let harness = try await WatchHarness(Self.configuration([config], debounce: debounce))
            try await watchOffPool {
                for index in 1...100 {
                    try volumes.write(config, ["a": "a\(index)", "b": "b\(index / 10)"])
                }
            }
            let final = try VolumeContent.read(config)
            let sets = await harness.collector.wait { $0.last?.contents.first == final }
            #expect(sets.last?.contents.first == final, "the last set must show the final generation's content")
            #expect(sets.map(\.sequence) == Array(1...max(1, sets.count)), "sequence numbers 1, 2, 3… without gaps")
            #expect(sets.allSatisfy { !$0.volumes.isEmpty && $0.volumes.allSatisfy { $0.modified.contains("a") } })
            #expect(Set(sets.flatMap { $0.volumes.flatMap(\.modified) }) == ["a", "b"], "b's changes are not lost either")
            #expect(harness.generations(config) >= 1)
            await harness.stop()
        }

        @Test("a slow consumer gets one set with every change made while it was busy (diff from the last set it received)")
        func slowConsumerFolds() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["a": "1", "b": "1", "c": "1"])
            let harness = try await WatchHarness(Self.configuration([config]), consumerDelay: .seconds(1))
            try volumes.write(config, ["a": "2", "b": "1", "c": "1"])
            try #require(await harness.collector.wait(forCount: 1).count == 1)
            // The consumer is now busy for a second.
            try volumes.write(config, ["a": "2", "b": "2", "c": "1"])
            try volumes.write(config, ["a": "2", "b": "2", "c": "1", "d": "1"])
            try volumes.write(config, ["a": "2", "b": "2", "d": "1"])
            try volumes.write(config, ["a": "2", "b": "3", "d": "1"])
            let sets = await harness.collector.wait(forCount: 2)
            try #require(sets.count == 2)
            #expect(sets[0].volumes.first?.modified == ["a"])
            #expect(sets[1].volumes.first.map { ($0.added, $0.removed, $0.modified) } ?? ([], [], []) == (["d"], ["c"], ["b"]))
            #expect(sets[1].contents.first == (try? VolumeContent.read(config)))
            #expect(sets[1].firstCommitSeen < harness.collector.arrivals[1])
            await harness.stop()
        }

        @Test("volumes updated in one kubelet sync come as one set (debounce 200 ms)")
        func oneSyncOneSet() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["nginx.conf": "gzip on"])
            let podinfo = try volumes.volume("podinfo", ["labels": watchMapFile(["app": "web"])])
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            let harness = try await WatchHarness(Self.configuration([config, podinfo, sentinel], debounce: .milliseconds(200)))
            try volumes.write(config, ["nginx.conf": "gzip off"])
            try volumes.write(podinfo, ["labels": watchMapFile(["app": "web", "tier": "front"])])
            try #require(await harness.collector.wait(forCount: 1).count == 1)
            try volumes.write(sentinel, ["s": "1"])
            let sets = await harness.collector.wait(forCount: 2)
            try #require(sets.count == 2)
            #expect(sets[0].volumes.map(\.directory) == [config, podinfo])
            #expect(sets[0].volumes.last?.labelKeys == ["tier"])
            #expect(sets[1].volumes.map(\.directory) == [sentinel], "no second set for the first two volumes")
            await harness.stop()
        }

        @Test("a new generation with identical content emits nothing")
        func identicalGeneration() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["app.conf": "same", "nested/x": "same"])
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            let harness = try await WatchHarness(Self.configuration([config, sentinel]))
            let generation = try volumes.recommitIdentical(config)
            try volumes.write(sentinel, ["s": "1"])
            let sets = await harness.collector.wait(forCount: 1)
            #expect(sets.map { $0.volumes.map(\.directory) } == [[sentinel]])
            #expect(harness.generations(config) == 1, "the commit was seen, and judged by content")
            #expect(harness.watcher.currentSnapshot().first?.generation == generation)
            await harness.stop()
        }

        @Test("a change that passes no filter emits nothing, and does not come back with a later change")
        func excludedChange() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["app.conf": "1", "cache/x.tmp": "1"])
            var configuration = Self.configuration([config])
            configuration.exclude = ["*.tmp"]
            let harness = try await WatchHarness(configuration)
            try volumes.write(config, ["app.conf": "1", "cache/x.tmp": "2"])
            try volumes.write(config, ["app.conf": "2", "cache/x.tmp": "2"])
            let sets = await harness.collector.wait(forCount: 1)
            #expect(sets.map { $0.volumes.map(\.modified) } == [[["app.conf"]]])
            await harness.stop()
        }

        @Test("--on-label: a labels change counts only for the listed keys; other files are unaffected")
        func labelKeyFilter() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let podinfo = try volumes.volume("podinfo", [
                "labels": watchMapFile(["app": "web", "tier": "front"]),
                "annotations": watchMapFile(["note": "a"]),
            ])
            var configuration = Self.configuration([podinfo])
            configuration.onLabels = ["app"]
            let harness = try await WatchHarness(configuration)
            var labels = ["app": "web", "tier": "back"]
            var annotations = ["note": "a"]
            func update() throws {
                try volumes.write(podinfo, ["labels": watchMapFile(labels), "annotations": watchMapFile(annotations)])
            }
            try update()  // only tier: filtered out
            annotations["note"] = "b"
            try update()  // annotations are not filtered by --on-label
            try #require(await harness.collector.wait(forCount: 1).count == 1)
            labels["app"] = "api"
            try update()
            let sets = await harness.collector.wait(forCount: 2)
            try #require(sets.count == 2)
            #expect(sets[0].volumes.first.map { ($0.modified, $0.annotationKeys, $0.labelKeys) } ?? ([], [], [])
                    == (["annotations"], ["note"], []))
            #expect(sets[1].volumes.first.map { ($0.modified, $0.labelKeys) } ?? ([], []) == (["labels"], ["app"]),
                    "tier's earlier change was absorbed, not carried into this set")
            await harness.stop()
        }

        @Test("a directory the kubelet does not manage is read after a quiet period; an ATTRIB storm emits nothing")
        func plainDirectory() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let harness = try await WatchHarness(Self.configuration([sandbox.path]))
            try sandbox.write("settings.conf", "x=1")
            let first = await harness.collector.wait(forCount: 1)
            #expect(first.first?.volumes == [VolumeChange(directory: sandbox.path, added: ["settings.conf"])])
            #expect(await watchEventually { !harness.watcher.hasPendingDeadline }, "idle again: no timer left armed")
            for round in 0..<50 {
                #expect(chmod(sandbox.path("settings.conf"), round % 2 == 0 ? 0o600 : 0o644) == 0)
            }
            try sandbox.write("sentinel", "s")
            let sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes == [VolumeChange(directory: sandbox.path, added: ["sentinel"])])
            await harness.stop()
        }

        @Test("a directory tree made in one go inside a plain directory is watched all the way down (no quiet period)")
        func plainDirectoryDeepTreesMadeAtOnce() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            var configuration = Self.configuration([sandbox.path])
            configuration.quietPeriod = .zero
            let harness = try await WatchHarness(configuration)
            for round in 0..<30 {
                // The watch of each new level is placed while the levels below it are being made.
                let leaf = "r\(round)/a/b/c/d/e/f"
                try FileManager.default.createDirectory(atPath: sandbox.path(leaf), withIntermediateDirectories: true)
                try await Task.sleep(for: .milliseconds(30))
                try sandbox.write(leaf + "/x", "\(round)")
                let seen = await harness.collector.wait(timeout: .seconds(5)) { sets in
                    sets.contains { $0.volumes.contains { $0.added.contains(leaf + "/x") } }
                }
                try #require(seen.contains { $0.volumes.contains { $0.added.contains(leaf + "/x") } }, "round \(round): the write was missed")
            }
            await harness.stop()
        }

        @Test("a kubelet volume inside a plain directory: its commits are seen")
        func kubeletVolumeNestedInAPlainDirectory() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            try FileManager.default.createDirectory(atPath: sandbox.path("cm"), withIntermediateDirectories: true)
            let writer = AtomicWriter(targetDirectory: sandbox.path("cm"))
            try writer.write(["key": FileProjection(text: "v1"), "sub/x.conf": FileProjection(text: "x1")])
            let harness = try await WatchHarness(Self.configuration([sandbox.path]))
            try writer.write(["key": FileProjection(text: "v2"), "sub/x.conf": FileProjection(text: "x1")])
            var sets = await harness.collector.wait(forCount: 1)
            #expect(sets.first?.volumes == [VolumeChange(directory: sandbox.path, modified: ["cm/key"])])
            // An item path with a directory: `sub -> ..data/sub`, followed into the generation.
            try writer.write(["key": FileProjection(text: "v2"), "sub/x.conf": FileProjection(text: "x2")])
            sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes == [VolumeChange(directory: sandbox.path, modified: ["cm/sub/x.conf"])])
            await harness.stop()
        }

        @Test("a directory inside a kubelet volume (conf.d -> ..data/conf.d) is read at the volume's commit, not after a quiet period")
        func directoryInsideAKubeletVolume() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["conf.d/a.conf": "1", "conf.d/inner/b.conf": "1", "top.conf": "1"])
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            let confD = config + "/conf.d"
            let inner = config + "/conf.d/inner"
            var configuration = Self.configuration([confD, inner, sentinel])
            // Read as a plain directory, every update would wait out this quiet period (longer than the waits).
            configuration.quietPeriod = .seconds(60)
            let harness = try await WatchHarness(configuration)
            #expect(harness.watcher.currentSnapshot()[0].files.keys.sorted() == ["a.conf", "inner/b.conf"])
            try volumes.write(config, ["conf.d/a.conf": "2", "conf.d/inner/b.conf": "1", "top.conf": "1"])
            var sets = await harness.collector.wait(forCount: 1)
            #expect(sets.first?.volumes.map(\.directory) == [confD])
            #expect(sets.first?.volumes.first?.modified == ["a.conf"])
            #expect(sets.first?.volumes.first?.generation == (try? FileManager.default.destinationOfSymbolicLink(atPath: config + "/..data")))
            try volumes.write(config, ["conf.d/a.conf": "2", "conf.d/inner/b.conf": "2", "top.conf": "1"])
            sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes.map(\.directory) == [confD, inner])
            #expect(sets.count == 2 && sets[1].volumes.map(\.modified) == [["inner/b.conf"], ["b.conf"]])
            // A change outside both directories changes nothing in them.
            try volumes.write(config, ["conf.d/a.conf": "2", "conf.d/inner/b.conf": "2", "top.conf": "2"])
            try volumes.write(sentinel, ["s": "1"])
            sets = await harness.collector.wait(forCount: 3)
            #expect(sets.count == 3 && sets[2].volumes.map(\.directory) == [sentinel])
            #expect(harness.generations(confD) == 3 && harness.generations(inner) == 3, "every commit of the volume was seen")
            await harness.stop()
        }

        @Test("a directory inside a kubelet volume that an update takes away is waited for, and compared when an update brings it back")
        func directoryInsideAKubeletVolumeComesAndGoes() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["conf.d/a.conf": "1", "top.conf": "1"])
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            let confD = config + "/conf.d"
            var configuration = Self.configuration([confD, sentinel])
            configuration.quietPeriod = .seconds(60)
            let harness = try await WatchHarness(configuration)
            try volumes.write(config, ["top.conf": "2"])  // conf.d gone: nothing to reload from
            try volumes.write(sentinel, ["s": "1"])
            var sets = await harness.collector.wait(forCount: 1)
            #expect(sets.map { $0.volumes.map(\.directory) } == [[sentinel]])
            try volumes.write(config, ["conf.d/a.conf": "3", "top.conf": "2"])
            sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes.map(\.directory) == [confD])
            #expect(sets.count == 2 && sets[1].volumes.first?.modified == ["a.conf"])
            // And it is the volume's commits that are watched again.
            try volumes.write(config, ["conf.d/a.conf": "4", "top.conf": "2"])
            sets = await harness.collector.wait(forCount: 3)
            #expect(sets.count == 3 && sets[2].volumes.first?.modified == ["a.conf"])
            await harness.stop()
        }

        @Test("a directory inside a volume whose ..data went away during a queue overflow is watched again when ..data returns")
        func directoryInsideAVolumeWhoseDataLinkReturns() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["conf.d/a.conf": "1"])
            let busy = volumes.sandbox.path("busy")
            #expect(mkdir(busy, 0o755) == 0)
            let confD = config + "/conf.d"
            let harness = try await WatchHarness(Self.configuration([confD, busy]))
            let generation = try FileManager.default.destinationOfSymbolicLink(atPath: config + "/..data")
            // `..data` removed while events are being lost: the rescan finds `conf.d -> ..data/conf.d`
            // dangling and waits for `conf.d` to appear. The link never goes away, so no CREATE will come.
            try await WatchFlood.overflow(busy) { _ = unlink(config + "/..data") }
            #expect(await watchEventually { harness.errors == 1 && !harness.watcher.hasPendingDeadline })
            // Back as the kubelet's atomic writer puts it: the dangling link is valid again.
            #expect(symlink(generation, config + "/..data_tmp") == 0 && rename(config + "/..data_tmp", config + "/..data") == 0)
            try volumes.write(config, ["conf.d/a.conf": "2"])
            let sets = await harness.collector.wait { $0.contains { $0.volumes.map(\.directory) == [confD] } }
            #expect(sets.contains { $0.volumes == [VolumeChange(directory: confD, generation: $0.volumes.first?.generation, modified: ["a.conf"])] },
                    "\(sets.map(\.summary))")
            await harness.stop()
        }

        @Test("a directory reached through a symlink that is re-pointed (git-sync's --link, a Capistrano `current`) is read at the swap, not after a quiet period")
        func repointedSymlinkIsReadAtTheSwap() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let sandbox = volumes.sandbox
            try sandbox.write("worktrees/a/conf/app.conf", "a")
            try sandbox.write("worktrees/b/conf/app.conf", "b")
            try sandbox.write("worktrees/b/conf/new.conf", "n")
            try sandbox.write("worktrees/c/conf/app.conf", "c")
            #expect(symlink("worktrees/a", sandbox.path("repo")) == 0)
            let current = sandbox.path("current")
            #expect(symlink("releases/1", current) == 0)
            try sandbox.write("releases/1/app.conf", "1")
            try sandbox.write("releases/2/app.conf", "2")
            let conf = sandbox.path("repo/conf")  // the link is a component above the directory, as with git-sync
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            var configuration = Self.configuration([conf, current, sentinel])
            configuration.quietPeriod = .seconds(60)  // a read after the quiet period would come far too late
            let harness = try await WatchHarness(configuration)
            // git-sync: a new link renamed over the old one once the worktree is complete.
            #expect(symlink("worktrees/b", sandbox.path("repo.tmp")) == 0)
            #expect(rename(sandbox.path("repo.tmp"), sandbox.path("repo")) == 0)
            var sets = await harness.collector.wait(forCount: 1)
            #expect(sets.first?.volumes == [VolumeChange(directory: conf, added: ["new.conf"], modified: ["app.conf"])])
            // Another swap of the same link, then one of the other directory's link: one set each.
            #expect(symlink("worktrees/c", sandbox.path("repo.tmp")) == 0)
            #expect(rename(sandbox.path("repo.tmp"), sandbox.path("repo")) == 0)
            sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes == [VolumeChange(directory: conf, removed: ["new.conf"], modified: ["app.conf"])])
            #expect(symlink("releases/2", sandbox.path("current.tmp")) == 0)
            #expect(rename(sandbox.path("current.tmp"), current) == 0)
            sets = await harness.collector.wait(forCount: 3)
            #expect(sets.count == 3 && sets[2].volumes == [VolumeChange(directory: current, modified: ["app.conf"])])
            // A link re-made to the target it already had is no change.
            #expect(symlink("releases/2", sandbox.path("current.tmp")) == 0)
            #expect(rename(sandbox.path("current.tmp"), current) == 0)
            try volumes.write(sentinel, ["s": "1"])
            sets = await harness.collector.wait(forCount: 4)
            #expect(sets.count == 4 && sets[3].volumes.map(\.directory) == [sentinel], "\(sets.map(\.summary))")
            await harness.stop()
        }

        @Test("after a symlink swap the old target no longer counts and the new one's writes do; a link deleted and made again is waited for")
        func repointedSymlinkLeavesTheOldTargetBehind() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let sandbox = volumes.sandbox
            try sandbox.write("releases/1/app.conf", "1")
            try sandbox.write("releases/2/app.conf", "2")
            try sandbox.write("releases/3/app.conf", "3")
            let current = sandbox.path("current")
            #expect(symlink("releases/1", current) == 0)
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            var configuration = Self.configuration([current, sentinel])
            configuration.quietPeriod = .milliseconds(20)
            let harness = try await WatchHarness(configuration)
            #expect(symlink("releases/2", sandbox.path("current.tmp")) == 0)
            #expect(rename(sandbox.path("current.tmp"), current) == 0)
            var sets = await harness.collector.wait(forCount: 1)
            #expect(sets.first?.volumes == [VolumeChange(directory: current, modified: ["app.conf"])])
            // The old release is written to and then removed: neither is a change of `current` any more.
            try sandbox.write("releases/1/app.conf", "old")
            try await Task.sleep(for: .milliseconds(300))
            try volumes.write(sentinel, ["s": "1"])
            sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes.map(\.directory) == [sentinel], "\(sets.map(\.summary))")
            // The new target's own writes count.
            try sandbox.write("releases/2/app.conf", "2b")
            sets = await harness.collector.wait(forCount: 3)
            #expect(sets.count == 3 && sets[2].volumes == [VolumeChange(directory: current, modified: ["app.conf"])])
            // Deleted, then made again elsewhere (`rm current; ln -s …`): waited for, and compared when back.
            #expect(unlink(current) == 0)
            try await Task.sleep(for: .milliseconds(100))
            #expect(symlink("releases/3", current) == 0)
            sets = await harness.collector.wait(forCount: 4)
            #expect(sets.count == 4 && sets[3].volumes == [VolumeChange(directory: current, modified: ["app.conf"])],
                    "\(sets.map(\.summary))")
            await harness.stop()
        }

        @Test("two directories through one link (repo/conf, repo/templates): one swap is one set, with --debounce 0 and handed over as hot reload takes it")
        func oneSwapSeenByTwoDirectoriesIsOneSet() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let sandbox = volumes.sandbox
            for worktree in ["a", "b"] {
                try sandbox.write("worktrees/\(worktree)/conf/app.conf", worktree)
                try sandbox.write("worktrees/\(worktree)/templates/page.tpl", worktree)
            }
            #expect(symlink("worktrees/a", sandbox.path("repo")) == 0)
            let conf = sandbox.path("repo/conf")
            let templates = sandbox.path("repo/templates")
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            var configuration = Self.configuration([conf, templates, sentinel])
            configuration.quietPeriod = .seconds(60)
            let harness = try await WatchHarness(configuration, direct: true)
            #expect(symlink("worktrees/b", sandbox.path("repo.tmp")) == 0)
            #expect(rename(sandbox.path("repo.tmp"), sandbox.path("repo")) == 0)
            try volumes.write(sentinel, ["s": "1"])
            let sets = await harness.collector.wait { $0.contains { $0.volumes.map(\.directory).contains(sentinel) } }
            #expect(sets.map { $0.volumes.map(\.directory) } == [[conf, templates], [sentinel]], "\(sets.map(\.summary))")
            await harness.stop()
        }

        @Test("--wait for a directory the link's current target lacks: the swap to a target that has it brings it, read at once")
        func waitedForDirectoryComesWithARepointedLink() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let sandbox = volumes.sandbox
            try sandbox.write("worktrees/a/README", "a")  // no conf/ in this worktree
            try sandbox.write("worktrees/b/conf/app.conf", "b")
            #expect(symlink("worktrees/a", sandbox.path("repo")) == 0)
            let conf = sandbox.path("repo/conf")
            var configuration = Self.configuration([conf])
            configuration.waitForMissing = true
            configuration.quietPeriod = .seconds(60)  // the swap is the commit: no quiet period
            let harness = try await WatchHarness(configuration)
            #expect(symlink("worktrees/b", sandbox.path("repo.tmp")) == 0)
            #expect(rename(sandbox.path("repo.tmp"), sandbox.path("repo")) == 0)
            let sets = await harness.collector.wait(forCount: 1)
            #expect(sets.first?.volumes == [VolumeChange(directory: conf, added: ["app.conf"])], "\(sets.map(\.summary))")
            await harness.stop()
        }

        @Test("a file never closed under its name (truncate(2)) holds back one read at most, not every later one")
        func plainDirectoryForgetsAnOpenWriteAfterTheCap() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            try sandbox.write("y.conf", "yyyy")
            try sandbox.write("x.conf", "x0")
            var configuration = Self.configuration([sandbox.path])
            configuration.quietPeriod = .milliseconds(20)  // the wait for open files ends after 2 s
            let harness = try await WatchHarness(configuration)
            #expect(truncate(sandbox.path("y.conf"), 2) == 0)  // MODIFY, and no CLOSE_WRITE ever
            _ = await harness.collector.wait(forCount: 1)
            let written = ContinuousClock.now
            try sandbox.write("x.conf", "x1")
            let sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes == [VolumeChange(directory: sandbox.path, modified: ["x.conf"])])
            // Not a performance bound: held back again, it would arrive 2 s (100 quiet periods) late.
            #expect(harness.collector.arrivals.last.map { $0 - written < .seconds(1) } == true)
            await harness.stop()
        }

        @Test("a plain directory is not read while a file in it is still open for writing, even past the quiet period")
        func plainDirectoryWaitsForAWriterToClose() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            try sandbox.write("app.conf", "old")
            let harness = try await WatchHarness(Self.configuration([sandbox.path]))
            let fd = open(sandbox.path("app.conf"), O_WRONLY | O_TRUNC)
            try #require(fd >= 0)
            #expect(write(fd, "server {\n", 9) == 9)
            try await Task.sleep(for: .milliseconds(700))  // the writer pauses for more than three quiet periods
            #expect(write(fd, "}\n", 2) == 2)
            close(fd)
            let sets = await harness.collector.wait(forCount: 1)
            #expect(sets.first?.contents.first == (try? VolumeContent.read(sandbox.path)), "read half written")
            try sandbox.write("sentinel", "s")
            let all = await harness.collector.wait(forCount: 2)
            #expect(all.count == 2 && all[1].volumes == [VolumeChange(directory: sandbox.path, added: ["sentinel"])])
            await harness.stop()
        }

        @Test("writes inside a plain directory's subdirectories are seen: one there at start, one made later, one replaced")
        func plainDirectorySubdirectories() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            try sandbox.write("top.conf", "a")
            try sandbox.write("conf.d/inner.conf", "x")
            let harness = try await WatchHarness(Self.configuration([sandbox.path]))
            let idle = { await watchEventually { !harness.watcher.hasPendingDeadline } }

            try sandbox.write("conf.d/inner.conf", "y")  // no event at the top at all
            var sets = await harness.collector.wait(forCount: 1)
            #expect(sets.last?.volumes == [VolumeChange(directory: sandbox.path, modified: ["conf.d/inner.conf"])])

            // A directory made after start: empty, it changes no content; a file written into it after
            // the quiet period is seen through the watch placed before the read.
            #expect(mkdir(sandbox.path("conf.d/deeper"), 0o755) == 0)
            #expect(await idle())
            try sandbox.write("conf.d/deeper/f.conf", "z")
            sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes == [VolumeChange(directory: sandbox.path, added: ["conf.d/deeper/f.conf"])])

            // Replaced under the same name: the new directory is watched, not the deleted one.
            try FileManager.default.removeItem(atPath: sandbox.path("conf.d"))
            sets = await harness.collector.wait(forCount: 3)
            #expect(sets.count == 3 && sets[2].volumes.first?.removed == ["conf.d/deeper/f.conf", "conf.d/inner.conf"])
            #expect(mkdir(sandbox.path("conf.d"), 0o755) == 0)
            #expect(await idle())
            try sandbox.write("conf.d/new.conf", "n")
            sets = await harness.collector.wait(forCount: 4)
            #expect(sets.count == 4 && sets[3].volumes == [VolumeChange(directory: sandbox.path, added: ["conf.d/new.conf"])])
            await harness.stop()
        }

        /// The mask of this process's kernel inotify watch on `path`'s inode, from /proc/self/fdinfo.
        static func kernelWatchMask(_ path: String) -> InotifyMask? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            let inode = String(UInt64(info.st_ino), radix: 16)
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            for fd in fds where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd)) == "anon_inode:inotify" {
                guard let text = try? String(contentsOfFile: "/proc/self/fdinfo/" + fd, encoding: .utf8) else { continue }
                for line in text.split(separator: "\n") where line.hasPrefix("inotify ") {
                    let fields = Dictionary(line.split(separator: " ").compactMap { field -> (String, String)? in
                        let parts = field.split(separator: ":", maxSplits: 1)
                        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
                    }, uniquingKeysWith: { first, _ in first })
                    if fields["ino"] == inode, let mask = fields["mask"].flatMap({ UInt32($0, radix: 16) }) {
                        return InotifyMask(rawValue: mask)
                    }
                }
            }
            return nil
        }

        @Test("a kubelet volume's watch leaves out what the kubelet does before its commit; a directory's watch follows its kind both ways")
        func watchMaskFollowsTheDirectorysKind() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let kubelet = try volumes.volume("kubelet", ["app.conf": "v1"])
            let plain = volumes.sandbox.path("plain")
            #expect(mkdir(plain, 0o755) == 0)
            let harness = try await WatchHarness(Self.configuration([kubelet, plain]))
            let early: InotifyMask = [.create, .attrib]
            let kubeletMask = try #require(Self.kernelWatchMask(kubelet))
            #expect(kubeletMask.contains(.movedTo) && kubeletMask.isDisjoint(with: early), "\(kubeletMask)")
            let plainMask = try #require(Self.kernelWatchMask(plain))
            #expect(plainMask.isSuperset(of: [.create, .closeWrite, .movedTo]), "\(plainMask)")

            // The plain directory becomes a kubelet volume: its watch narrows, and still sees commits.
            try volumes.write(plain, ["b.conf": "1"])
            #expect(await harness.collector.wait(forCount: 1).count == 1)
            #expect(await watchEventually { Self.kernelWatchMask(plain).map { $0.isDisjoint(with: early) } == true })
            try volumes.write(plain, ["b.conf": "2"])
            let second = await harness.collector.wait(forCount: 2)
            #expect(second.count == 2 && second.last?.volumes.map(\.modified) == [["b.conf"]])

            // The kubelet volume stops being one (`..data` removed) and a plain writer takes over: its
            // watch widens, and a plain write is a change.
            #expect(unlink(kubelet + "/..data") == 0)
            #expect(await watchEventually { Self.kernelWatchMask(kubelet).map { $0.contains(.create) } == true })
            try volumes.sandbox.write("kubelet/settings.conf", "x=1")
            let sets = await harness.collector.wait { sets in
                sets.contains { $0.volumes.contains { $0.directory == kubelet && $0.added.contains("settings.conf") } }
            }
            #expect(sets.contains { $0.volumes.contains { $0.directory == kubelet && $0.added.contains("settings.conf") } },
                    "\(sets.map(\.summary))")
            #expect(harness.errors == 0)
            await harness.stop()
        }

        @Test("--wait: a directory that does not exist yet is waited for, and its appearance is a change")
        func waitsForMissingDirectory() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let late = volumes.sandbox.path("mnt/late/config")
            var configuration = Self.configuration([late])
            configuration.waitForMissing = true
            let harness = try await WatchHarness(configuration)
            #expect(harness.watcher.currentSnapshot() == [.missing(late)])
            try FileManager.default.createDirectory(atPath: late, withIntermediateDirectories: true)
            try volumes.write(late, ["app.conf": "hello"])
            let sets = await harness.collector.wait { $0.contains { $0.volumes.first?.added == ["app.conf"] } }
            #expect(sets.last?.volumes.first?.added == ["app.conf"])
            #expect(sets.last?.volumes.first?.generation != nil)
            await harness.stop()
        }

        @Test("a missing directory without --wait is an error that says what to do")
        func missingDirectoryFails() throws {
            let error = #expect(throws: WatchError.self) {
                _ = try ChangeWatcher(WatchConfiguration(directories: ["/nonexistent/podagent/config"]), logger: WatchHarness.quietLogger)
            }
            #expect(error?.description.contains("`/nonexistent/podagent/config` does not exist") == true)
            #expect(error?.description.contains("--wait") == true)
        }

        @Test("a --dir through a symlink that leads nowhere is an error naming the link; one through a good link that lacks the directory is not blamed on it")
        func danglingLinkIsNamed() throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            try sandbox.write("worktrees/a/README", "a")
            #expect(symlink("worktrees/gone", sandbox.path("repo")) == 0)
            #expect(symlink("worktrees/a", sandbox.path("good")) == 0)
            let dangling = #expect(throws: WatchError.self) {
                _ = try ChangeWatcher(WatchConfiguration(directories: [sandbox.path("repo/conf")]), logger: WatchHarness.quietLogger)
            }
            #expect(dangling?.description.contains("the symlink `\(FileSystem.canonical(sandbox.path))/repo` leads to `worktrees/gone`") == true,
                    "\(String(describing: dangling))")
            #expect(dangling?.description.contains("--wait") == true)
            let lacking = #expect(throws: WatchError.self) {
                _ = try ChangeWatcher(WatchConfiguration(directories: [sandbox.path("good/conf")]), logger: WatchHarness.quietLogger)
            }
            #expect(lacking?.description.contains("is the volume mounted at this path?") == true, "\(String(describing: lacking))")
        }

        @Test("a watched directory deleted and re-created: nothing while it is gone, then its content is compared")
        func deletedAndReturning() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["k": "v1"])
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            let harness = try await WatchHarness(Self.configuration([config, sentinel]))
            try FileManager.default.removeItem(atPath: config)
            #expect(mkdir(config, 0o755) == 0)
            try volumes.write(config, ["k": "v1"])  // back with the same content: no change
            try volumes.write(sentinel, ["s": "1"])
            let first = await harness.collector.wait(forCount: 1)
            #expect(first.map { $0.volumes.map(\.directory) } == [[sentinel]])
            try volumes.write(config, ["k": "v2"])  // watched again
            let sets = await harness.collector.wait(forCount: 2)
            #expect(sets.count == 2 && sets[1].volumes.map(\.modified) == [["k"]])
            await harness.stop()
        }

        @Test("after an inotify queue overflow every directory is rescanned: commits whose events were lost are still emitted, as one set")
        func overflowRescans() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["app.conf": "v1"])
            let other = try volumes.volume("other", ["k": "1"])
            let sentinel = try volumes.volume("sentinel", ["s": "0"])
            let busy = volumes.sandbox.path("busy")
            #expect(mkdir(busy, 0o755) == 0)
            // `direct`, as hot reload takes sets: each one handed over is a reload.
            let harness = try await WatchHarness(Self.configuration([config, other, sentinel, busy]), direct: true)
            try await WatchFlood.overflow(busy) {
                try volumes.write(config, ["app.conf": "v2"])
                try volumes.write(other, ["k": "2"])
            }
            try #require(await harness.collector.wait(forCount: 1).count >= 1)
            try volumes.write(sentinel, ["s": "1"])
            let sets = await harness.collector.wait { $0.last?.volumes.first?.directory == sentinel }
            // Found changed by the same rescan, so read and emitted together (with --debounce 0 too).
            #expect(sets.map { $0.volumes.map(\.modified) } == [[["app.conf"], ["k"]], [["s"]]])
            #expect(harness.errors == 1, "the overflow is counted in podagent_watch_errors_total")
            await harness.stop()
        }

        /// `direct`: with a sink (`deliverImmediately`), as hot reload consumes: the first set goes to the
        /// sink, the one the interval holds back comes through the stream, and after the interval the
        /// next one goes to the sink again.
        @Test("--min-interval: at most one set per interval; changes during it are folded into one", arguments: [false, true])
        func minInterval(direct: Bool) async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["a": "1", "b": "1"])
            var configuration = Self.configuration([config])
            configuration.minInterval = .milliseconds(600)
            let harness = try await WatchHarness(configuration, direct: direct)
            try volumes.write(config, ["a": "2", "b": "1"])
            try #require(await harness.collector.wait(forCount: 1).count == 1)
            try volumes.write(config, ["a": "3", "b": "1"])
            try volumes.write(config, ["a": "3", "b": "2"])
            let sets = await harness.collector.wait(forCount: 2)
            try #require(sets.count == 2)
            #expect(sets.map(\.sequence) == [1, 2])
            #expect(sets[1].volumes.first?.modified == ["a", "b"])
            let arrivals = harness.collector.arrivals
            #expect(arrivals[1] - arrivals[0] >= .milliseconds(550), "the second set waited for the interval")
            if direct {
                #expect(harness.collector.direct == [true, false])
                try await Task.sleep(for: .milliseconds(700))
                try volumes.write(config, ["a": "4", "b": "2"])
                try #require(await harness.collector.wait(forCount: 3).count == 3)
                #expect(harness.collector.direct == [true, false, true])
            }
            await harness.stop()
        }

        @Test("deliverImmediately: each set that may go out at once is handed over as it is read, in order, none through the stream")
        func directDelivery() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["a": "1"])
            let harness = try await WatchHarness(Self.configuration([config]), direct: true)
            for version in 2...4 {
                try volumes.write(config, ["a": "\(version)"])
                try #require(await harness.collector.wait(forCount: version - 1).count == version - 1)
            }
            #expect(harness.collector.sets.map(\.sequence) == [1, 2, 3])
            #expect(harness.collector.direct == [true, true, true])
            await harness.stop()
        }

        @Test("run() watches until its task is cancelled, then ends the change stream")
        func runUntilCancelled() async throws {
            let volumes = try WatchVolumes()
            defer { volumes.remove() }
            let config = try volumes.volume("config", ["a": "1"])
            let watcher = try ChangeWatcher(Self.configuration([config]), logger: WatchHarness.quietLogger)
            let running = Task { try await watcher.run() }
            try await watcher.start()
            let stream = watcher.changes()
            running.cancel()
            try await running.value
            var iterator = stream.makeAsyncIterator()
            #expect(await iterator.next() == nil)
        }
    }
}
