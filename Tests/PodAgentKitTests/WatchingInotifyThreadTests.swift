// The process-wide owner of libinotifytools, tested with real inotify on real directories.

import Foundation
import Glibc
import Testing

@testable import PodAgentKit

/// Every suite that uses real inotify runs inside this one, one test at a time: they share the
/// process's single inotify thread, and a queue overflow provoked by one test reaches every subscriber.
@Suite("Real inotify (one test at a time)", .serialized)
struct WatchInotifySuites {}

/// A fresh directory on tmpfs (/dev/shm, like the kubelet's secret and downwardAPI volumes; /tmp if
/// there is none), removed by `remove()`. tmpfs also keeps the 16k-event floods fast.
struct WatchSandbox {
    let path: String

    init(_ label: String = "watch") throws {
        var info = stat()
        let base = stat("/dev/shm", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR ? "/dev/shm" : "/tmp"
        var template = Array("\(base)/podagent-\(label)-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = String(cString: created)
    }

    func path(_ relative: String) -> String { path + "/" + relative }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func write(_ relative: String, _ text: String) throws {
        let full = path(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }
}

/// The events one subscription received, collected on the inotify thread.
final class WatchEventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [InotifyEvent] = []

    func append(_ event: InotifyEvent) { lock.withLock { events.append(event) } }
    var all: [InotifyEvent] { lock.withLock { events } }

    /// Polls until `condition` holds for the events so far (at most `timeout`, to avoid hangs).
    func wait(timeout: Duration = .seconds(10), until condition: ([InotifyEvent]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(all)
    }
}

/// Voluntary context switches of one thread of this process: each is one sleep-and-wake.
func watchVoluntarySwitches(thread: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/task/\(thread)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
        return Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
    }
    return nil
}

extension WatchInotifySuites {
    @Suite("InotifyThread: one owner of libinotifytools for the whole process")
    struct InotifyThreadTests {
        @Test("two subscriptions on one directory each get the events they asked for")
        func independentMasks() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let reads = WatchEventLog()
            let writes = WatchEventLog()
            let readSubscription = InotifyThread.shared.subscribe { reads.append($0) }
            let writeSubscription = InotifyThread.shared.subscribe { writes.append($0) }
            _ = try await readSubscription.watch(sandbox.path, mask: [.opened, .create])
            _ = try await writeSubscription.watch(sandbox.path, mask: [.create])

            try sandbox.write("file", "x")
            _ = try FileManager.default.contentsOfDirectory(atPath: sandbox.path)  // an OPEN of the directory
            #expect(mkdir(sandbox.path("end"), 0o755) == 0)

            #expect(await reads.wait { $0.contains { $0.name == "end" } })
            #expect(await writes.wait { $0.contains { $0.name == "end" } })
            #expect(reads.all.contains { $0.mask.contains(.opened) && $0.name.isEmpty }, "\(reads.all)")
            #expect(!writes.all.contains { $0.mask.contains(.opened) }, "only the reader asked for OPEN: \(writes.all)")
            #expect(writes.all.contains { $0.mask.contains(.create) && $0.name == "file" })
            await readSubscription.cancel()
            await writeSubscription.cancel()
        }

        @Test("one kernel event for two watches of one subscriber comes twice, the first saying more follows; another subscriber's copy is apart")
        func oneEventForSeveralWatchesSaysMoreFollow() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let both = WatchEventLog()
            let other = WatchEventLog()
            let subscription = InotifyThread.shared.subscribe { both.append($0) }
            let otherSubscription = InotifyThread.shared.subscribe { other.append($0) }
            let first = try await subscription.watch(sandbox.path, mask: [.create])
            _ = try await otherSubscription.watch(sandbox.path, mask: [.create])
            let second = try await subscription.watch(sandbox.path, mask: [.create])
            #expect(mkdir(sandbox.path("made"), 0o755) == 0)
            #expect(await both.wait { $0.filter { $0.name == "made" }.count == 2 })
            #expect(await other.wait { $0.contains { $0.name == "made" } })
            let made = both.all.filter { $0.name == "made" }
            #expect(made.map { $0.watch?.id } == [first.id, second.id])
            #expect(made.map(\.moreFollow) == [true, false])
            #expect(other.all.filter { $0.name == "made" }.map(\.moreFollow) == [false])
            await subscription.cancel()
            await otherSubscription.cancel()
        }

        @Test("a watch that skips generation entries gets `..data` and the volume's own files, never `..<stamp>` or `..data_tmp`")
        func skippingGenerationEntries() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let skipping = WatchEventLog()
            let everything = WatchEventLog()
            let skippingSubscription = InotifyThread.shared.subscribe { skipping.append($0) }
            let everythingSubscription = InotifyThread.shared.subscribe { everything.append($0) }
            let mask: InotifyMask = [.create, .delete, .movedFrom, .movedTo, .attrib]
            _ = try await skippingSubscription.watch(sandbox.path, mask: mask, skippingGenerationEntries: true)
            _ = try await everythingSubscription.watch(sandbox.path, mask: mask)

            // Two kubelet updates (the second removes the first generation), then a plain file.
            let writer = AtomicWriter(targetDirectory: sandbox.path)
            try writer.write(["key": FileProjection(text: "1")])
            try writer.write(["key": FileProjection(text: "2")])
            try sandbox.write("plain", "x")

            #expect(await everything.wait { $0.contains { $0.name == "plain" } })
            #expect(await skipping.wait { $0.contains { $0.name == "plain" } })
            let generations = everything.all.filter { $0.name.hasPrefix("..") && $0.name != "..data" }
            #expect(generations.contains { $0.name == "..data_tmp" && $0.mask.contains(.movedFrom) }, "\(everything.all)")
            #expect(generations.contains { $0.mask.contains(.delete) }, "the first generation's removal: \(everything.all)")
            #expect(!skipping.all.contains { $0.name.hasPrefix("..") && $0.name != "..data" }, "\(skipping.all)")
            #expect(skipping.all.filter { $0.name == "..data" && $0.mask.contains(.movedTo) }.count == 2)
            #expect(skipping.all.contains { $0.name == "key" && $0.mask.contains(.create) })
            await skippingSubscription.cancel()
            await everythingSubscription.cancel()
        }

        @Test("unwatching one subscriber's watch leaves the other subscriber's watch of the same inode working")
        func sharedDescriptor() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let first = WatchEventLog()
            let second = WatchEventLog()
            let firstSubscription = InotifyThread.shared.subscribe { first.append($0) }
            let secondSubscription = InotifyThread.shared.subscribe { second.append($0) }
            let firstWatch = try await firstSubscription.watch(sandbox.path, mask: [.create])
            let secondWatch = try await secondSubscription.watch(sandbox.path + "/", mask: [.create])
            #expect(firstWatch.descriptor == secondWatch.descriptor, "one inode, one kernel watch")

            await firstSubscription.unwatch(firstWatch)
            #expect(mkdir(sandbox.path("after"), 0o755) == 0)
            #expect(await second.wait { $0.contains { $0.name == "after" } })
            #expect(!first.all.contains { $0.name == "after" })
            await firstSubscription.cancel()
            await secondSubscription.cancel()
        }

        @Test("a directory deleted and re-created at the same path is watched again, with the new inode's events")
        func rewatchAfterDeletion() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let volume = sandbox.path("volume")
            let log = WatchEventLog()
            let subscription = InotifyThread.shared.subscribe { log.append($0) }
            for round in 0..<3 {
                #expect(mkdir(volume, 0o755) == 0)
                let watch = try await subscription.watch(volume, mask: [.create, .deleteSelf])
                #expect(mkdir(volume + "/round\(round)", 0o755) == 0)
                #expect(await log.wait { $0.contains { $0.watch == watch && $0.name == "round\(round)" } },
                        "round \(round): the library's stale entry for the deleted directory must not hide the new watch")
                try FileManager.default.removeItem(atPath: volume)
                #expect(await log.wait { $0.contains { $0.watch == watch && $0.mask.contains(.ignored) } })
            }
            await subscription.cancel()
        }

        @Test("the thread sleeps in the kernel while nothing happens: no wake-up at all")
        func idleThreadSleeps() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let log = WatchEventLog()
            let subscription = InotifyThread.shared.subscribe { log.append($0) }
            _ = try await subscription.watch(sandbox.path, mask: VolumeWatch.directoryMask)
            let thread = InotifyThread.shared.kernelThreadID
            #expect(thread > 0)
            // The reply to `watch` comes just before the thread blocks again; let it get there.
            try await Task.sleep(for: .milliseconds(100))
            let before = try #require(watchVoluntarySwitches(thread: thread))
            // Longer than any plausible polling period (libinotifytools takes whole seconds).
            try await Task.sleep(for: .milliseconds(1100))
            let after = try #require(watchVoluntarySwitches(thread: thread))
            #expect(after == before, "the inotify thread woke up \(after - before) times while idle")
            // …and it is still alive and reacting.
            #expect(mkdir(sandbox.path("wake"), 0o755) == 0)
            #expect(await log.wait { $0.contains { $0.name == "wake" } })
            await subscription.cancel()
        }

        @Test("when the kernel queue overflows, every subscriber is told (Q_OVERFLOW without a watch)")
        func overflowReachesEverySubscriber() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let flooded = WatchEventLog()
            let bystander = WatchEventLog()
            let floodedSubscription = InotifyThread.shared.subscribe { flooded.append($0) }
            let bystanderSubscription = InotifyThread.shared.subscribe { bystander.append($0) }
            _ = try await floodedSubscription.watch(sandbox.path, mask: [.create, .delete])
            try await WatchFlood.overflow(sandbox.path)
            #expect(await flooded.wait { $0.contains { $0.watch == nil && $0.mask.contains(.queueOverflow) } })
            #expect(await bystander.wait { $0.contains { $0.watch == nil && $0.mask.contains(.queueOverflow) } })
            await floodedSubscription.cancel()
            await bystanderSubscription.cancel()
        }

        @Test("unwatching a directory whose IN_IGNORED was lost in an overflow prints nothing to stderr")
        func unwatchAfterLostIgnoredIsSilent() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let log = WatchEventLog()
            let subscription = InotifyThread.shared.subscribe { log.append($0) }
            _ = try await subscription.watch(sandbox.path, mask: [.create, .delete])
            let sub = sandbox.path("sub")
            #expect(mkdir(sub, 0o755) == 0)
            let subWatch = try await subscription.watch(sub, mask: [.create, .deleteSelf])
            // The directory goes while the queue is full: the kernel drops its watch and the IN_IGNORED.
            try await WatchFlood.overflow(sandbox.path) {
                guard rmdir(sub) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            }
            #expect(await log.wait { $0.contains { $0.watch == nil && $0.mask.contains(.queueOverflow) } })
            #expect(!log.all.contains { $0.watch == subWatch && $0.mask.contains(.ignored) }, "the IN_IGNORED was not lost")
            // libinotifytools writes to the process's stderr from the inotify thread: catch fd 2 meanwhile.
            let captured = sandbox.path("stderr")
            let saved = dup(2)
            let file = open(captured, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            #expect(saved >= 0 && file >= 0)
            dup2(file, 2)
            await subscription.unwatch(subWatch)
            dup2(saved, 2)
            close(file)
            close(saved)
            let printed = (try? String(contentsOfFile: captured, encoding: .utf8)) ?? ""
            #expect(!printed.contains("Failed to remove watch"), "raw library output on stderr: \(printed)")
            // The directory made again is watched again, under a fresh descriptor.
            #expect(mkdir(sub, 0o755) == 0)
            let again = try await subscription.watch(sub, mask: [.create])
            #expect(mkdir(sub + "/inside", 0o755) == 0)
            #expect(await log.wait { $0.contains { $0.watch == again && $0.name == "inside" } })
            await subscription.cancel()
        }

        @Test("a command posted while the kernel queue is full still runs, though the overflow swallowed its doorbell event")
        func commandPostedDuringOverflowRuns() async throws {
            let sandbox = try WatchSandbox()
            defer { sandbox.remove() }
            let subscription = InotifyThread.shared.subscribe { _ in }
            _ = try await subscription.watch(sandbox.path, mask: [.create, .delete])
            let other = sandbox.path("other")
            #expect(mkdir(other, 0o755) == 0)
            let replied = WatchEventLog()
            try await WatchFlood.overflow(sandbox.path) {
                // The queue is full: this command rings the doorbell, and the kernel drops that event.
                subscription.watch(other, mask: [.create]) { _ in
                    replied.append(InotifyEvent(watch: nil, name: "replied", mask: [], cookie: 0, seen: .now))
                }
            }
            #expect(await replied.wait(timeout: .seconds(5)) { !$0.isEmpty }, "the watch command never ran")
            await subscription.cancel()
        }
    }
}

/// Overflows the inotify queue: holds the inotify thread while more events than the kernel queues
/// (`fs.inotify.max_queued_events`) happen in `directory`, which must be watched for CREATE/DELETE,
/// then runs `afterwards` — whose events are lost in the overflow — and lets the thread go.
enum WatchFlood {
    static func overflow(_ directory: String, afterwards: @escaping @Sendable () throws -> Void = {}) async throws {
        let limit = Int((try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 16384
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        InotifyThread.shared.perform {
            held.signal()
            release.wait()
        }
        defer { release.signal() }
        try await watchOffPool {
            held.wait()
            // Two events per round (CREATE, DELETE), distinct names so the kernel cannot merge them.
            for index in 0...(limit / 2 + 16) {
                let path = directory + "/f\(index)"
                guard mkdir(path, 0o755) == 0, rmdir(path) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            }
            try afterwards()
        }
    }
}

/// Runs blocking work (file writes, sleeps) on a plain thread, away from Swift's small cooperative pool.
func watchOffPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
