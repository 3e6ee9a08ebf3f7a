// What a watcher of a volume root sees, recorded with REAL inotify while AtomicWriter (the kubelet's
// algorithm, see AtomicWriter.swift) updates the volume. This is the contract of KUBELET.md §1 that
// podagent's watcher is built on: `MOVED_TO ..data` marks a committed generation.
//
// The recorder uses libinotifytools through podagent's own InotifyThread, the one owner of the
// library's process-global state, so it can run in the same process as the watcher's tests. It is
// nested in `WatchInotifySuites`, which runs every real-inotify suite one test at a time (a queue
// overflow provoked by one test reaches every subscriber).

import CInotifyTools
import Foundation
import Glibc
import Testing

@testable import PodAgentKit

/// One inotify event on the watched directory, copied out of the watcher's buffer.
struct RecordedEvent: Equatable, Sendable, CustomStringConvertible {
    var mask: UInt32
    var cookie: UInt32
    var name: String

    static let flagNames: [(UInt32, String)] = [
        (UInt32(IN_ACCESS), "ACCESS"), (UInt32(IN_MODIFY), "MODIFY"), (UInt32(IN_ATTRIB), "ATTRIB"),
        (UInt32(IN_CLOSE_WRITE), "CLOSE_WRITE"), (UInt32(IN_CLOSE_NOWRITE), "CLOSE_NOWRITE"), (UInt32(IN_OPEN), "OPEN"),
        (UInt32(IN_MOVED_FROM), "MOVED_FROM"), (UInt32(IN_MOVED_TO), "MOVED_TO"), (UInt32(IN_CREATE), "CREATE"),
        (UInt32(IN_DELETE), "DELETE"), (UInt32(IN_DELETE_SELF), "DELETE_SELF"), (UInt32(IN_MOVE_SELF), "MOVE_SELF"),
        (UInt32(IN_UNMOUNT), "UNMOUNT"), (UInt32(IN_Q_OVERFLOW), "Q_OVERFLOW"), (UInt32(IN_IGNORED), "IGNORED"),
        (UInt32(IN_ISDIR), "ISDIR"),
    ]

    /// Events that change what the directory contains or what its entries are. Everything else
    /// (OPEN, ACCESS, CLOSE_NOWRITE) only says somebody read a directory.
    static let structuralMask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_MODIFY)
        | UInt32(IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_UNMOUNT)

    var isStructural: Bool { mask & Self.structuralMask != 0 }

    /// `CREATE|ISDIR ..2026_…` — the notation of KUBELET.md.
    var description: String {
        let flags = Self.flagNames.filter { mask & $0.0 != 0 }.map(\.1).joined(separator: "|")
        return name.isEmpty ? flags : flags + " " + name
    }
}

/// Records the events of a non-recursive watch on a directory while `action` runs.
///
/// Markers make the recording exact without sleeping: a second watch, in the same subscription, on a
/// private marker directory gets a `start` directory once the watches are set up and an `end`
/// directory after `action`. The kernel queues events of both watches in order and the subscription
/// delivers them in that order, so the volume's events between the two markers are exactly those
/// caused by `action`.
enum InotifyToolsRecorder {
    /// State shared with the inotify thread, which calls `receive`.
    private final class Session: @unchecked Sendable {
        let lock = NSLock()
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        var markerWatch: Int?
        var recording = false
        var events: [RecordedEvent] = []

        func receive(_ event: InotifyEvent) {
            lock.withLock {
                if let watch = event.watch, watch.id == markerWatch {
                    if event.name == "start" && !recording {
                        recording = true
                        started.signal()
                    } else if event.name == "end" && recording {
                        recording = false
                        finished.signal()
                    }
                } else if recording {
                    events.append(RecordedEvent(mask: event.mask.rawValue, cookie: event.cookie, name: event.name))
                }
            }
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// The inotify thread's answer to one `watch`; the semaphore orders the write before the read.
    private final class Reply: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<InotifyWatch, InotifyError>?
    }

    private static func watch(_ subscription: InotifySubscription, _ path: String, _ mask: InotifyMask) throws -> InotifyWatch {
        let reply = Reply()
        subscription.watch(path, mask: mask) { result in
            reply.result = result
            reply.done.signal()
        }
        guard reply.done.wait(timeout: .now() + 30) == .success, let result = reply.result else {
            throw Failure(description: "inotify thread did not answer")
        }
        return try result.get()
    }

    /// Watches `directory` with IN_ALL_EVENTS and returns its events caused by `action`, in order.
    static func record(_ directory: String, during action: () throws -> Void) throws -> [RecordedEvent] {
        var template = Array("/tmp/podagent-markers-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw Failure(description: "mkdtemp for markers failed") }
        let markers = String(cString: created)
        defer { try? FileManager.default.removeItem(atPath: markers) }
        let session = Session()
        let subscription = InotifyThread.shared.subscribe { session.receive($0) }
        defer {
            let closed = DispatchSemaphore(value: 0)
            subscription.cancel { closed.signal() }
            _ = closed.wait(timeout: .now() + 30)
        }
        _ = try watch(subscription, directory, .allEvents)
        let marker = try watch(subscription, markers, .create)
        session.lock.withLock { session.markerWatch = marker.id }
        guard mkdir(markers + "/start", 0o700) == 0 else { throw Failure(description: "mkdir start marker") }
        guard session.started.wait(timeout: .now() + 30) == .success else { throw Failure(description: "start marker never arrived") }
        var failure: (any Error)?
        do { try action() } catch { failure = error }
        guard mkdir(markers + "/end", 0o700) == 0 else { throw Failure(description: "mkdir end marker") }
        guard session.finished.wait(timeout: .now() + 30) == .success else { throw Failure(description: "end marker never arrived") }
        if let failure { throw failure }
        return session.lock.withLock { session.events }
    }
}

extension WatchInotifySuites {
    @Suite("Kubelet event sequence on the volume root (real inotify)")
    struct KubeletEventSequenceTests {
        static let before: [String: FileProjection] = [
            "changed": FileProjection(text: "v1"), "same": FileProjection(text: "s"), "removed": FileProjection(text: "r"),
            "nested/same": FileProjection(text: "n"),
        ]
        static let after: [String: FileProjection] = [
            "changed": FileProjection(text: "v2"), "same": FileProjection(text: "s"), "added": FileProjection(text: "a"),
            "nested/same": FileProjection(text: "n"),
        ]

        /// KUBELET.md §1 for an update that adds `added`, removes `removed` and changes `changed`.
        static func expectedUpdate(old: String, new: String) -> [String] {
            ["CREATE|ISDIR \(new)", "ATTRIB|ISDIR \(new)", "CREATE ..data_tmp", "MOVED_FROM ..data_tmp", "MOVED_TO ..data",
             "CREATE added", "DELETE removed", "DELETE|ISDIR \(old)"]
        }

        /// Runs the update of `before` into `after` and returns (old generation, new generation, events).
        private func recordUpdate(_ root: String) throws -> (String, String, [RecordedEvent]) {
            let writer = AtomicWriter(targetDirectory: root)
            guard case .committed(let old) = try writer.write(Self.before) else { throw InotifyToolsRecorder.Failure(description: "no commit") }
            var outcome = AtomicWriteOutcome.unchanged
            let events = try InotifyToolsRecorder.record(root) { outcome = try writer.write(Self.after) }
            guard case .committed(let new) = outcome else { throw InotifyToolsRecorder.Failure(description: "no commit") }
            return (old, new, events)
        }

        @Test("an update produces exactly KUBELET.md's sequence of structural events")
        func updateSequence() throws {
            try AtomicFixture.withVolume { root throws in
                let (old, new, events) = try recordUpdate(root)
                #expect(events.filter(\.isStructural).map(\.description) == Self.expectedUpdate(old: old, new: new),
                        "full recording: \(events)")
            }
        }

        @Test("MOVED_FROM ..data_tmp and MOVED_TO ..data share one non-zero cookie and are adjacent")
        func renameCookie() throws {
            try AtomicFixture.withVolume { root throws in
                let (_, _, events) = try recordUpdate(root)
                let from = try #require(events.firstIndex { $0.mask & UInt32(IN_MOVED_FROM) != 0 })
                #expect(events[from].name == "..data_tmp")
                #expect(from + 1 < events.count && events[from + 1].mask & UInt32(IN_MOVED_TO) != 0 && events[from + 1].name == "..data")
                #expect(events[from].cookie != 0 && from + 1 < events.count && events[from + 1].cookie == events[from].cookie)
            }
        }

        @Test("besides the structural events there are only reads of the old generation directory; none name a key")
        func onlyReadsOtherwise() throws {
            try AtomicFixture.withVolume { root throws in
                let (old, _, events) = try recordUpdate(root)
                let readMask = UInt32(IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE | IN_ISDIR)
                let others = events.filter { !$0.isStructural }
                #expect(others.allSatisfy { $0.mask & ~readMask == 0 && $0.mask & UInt32(IN_ISDIR) != 0 && $0.name == old },
                        "\(others)")
                #expect(!events.contains { $0.name == "same" || $0.name == "nested" || $0.name == "changed" },
                        "unchanged keys and changed values behind an existing symlink produce no event: \(events)")
            }
        }

        @Test("the first write: new directory, ..data committed by rename, then one CREATE per top-level key")
        func firstWriteSequence() throws {
            try AtomicFixture.withVolume { root throws in
                var outcome = AtomicWriteOutcome.unchanged
                let events = try InotifyToolsRecorder.record(root) {
                    outcome = try AtomicWriter(targetDirectory: root).write(Self.before)
                }
                guard case .committed(let new) = outcome else { Issue.record("must commit"); return }
                #expect(events.map(\.description) == [
                    "CREATE|ISDIR \(new)", "ATTRIB|ISDIR \(new)", "CREATE ..data_tmp", "MOVED_FROM ..data_tmp",
                    "MOVED_TO ..data", "CREATE changed", "CREATE nested", "CREATE removed", "CREATE same",
                ])
            }
        }

        @Test("a no-op write changes nothing: no structural event (only a read of the current generation)")
        func noOpSequence() throws {
            try AtomicFixture.withVolume { root throws in
                let writer = AtomicWriter(targetDirectory: root)
                guard case .committed(let current) = try writer.write(Self.before) else { Issue.record("must commit"); return }
                var outcome: AtomicWriteOutcome?
                let events = try InotifyToolsRecorder.record(root) { outcome = try writer.write(Self.before) }
                #expect(outcome == .unchanged)
                #expect(events.filter(\.isStructural).isEmpty, "\(events)")
                #expect(events.allSatisfy { $0.name == current && $0.mask & UInt32(IN_ISDIR) != 0 }, "\(events)")
            }
        }

        @Test("a no-op write that re-creates a deleted top-level symlink produces only CREATE <key>")
        func noOpRecreatesSymlinkSequence() throws {
            try AtomicFixture.withVolume { root throws in
                let writer = AtomicWriter(targetDirectory: root)
                try writer.write(Self.before)
                #expect(unlink(root + "/same") == 0)
                let events = try InotifyToolsRecorder.record(root) { try writer.write(Self.before) }
                #expect(events.filter(\.isStructural).map(\.description) == ["CREATE same"])
            }
        }

        // MARK: - Cross-check with Debian's inotifywait

        /// Lines of a pipe, read with a deadline so a misbehaving child cannot hang the test.
        struct LineReader {
            let fd: Int32
            var pending: [UInt8] = []

            mutating func next(before deadline: Date) -> String? {
                while true {
                    if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[..<newline], as: UTF8.self)
                        pending.removeSubrange(...newline)
                        return line
                    }
                    let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                    var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard remaining > 0, poll(&poller, 1, remaining) > 0 else { return nil }
                    var chunk = [UInt8](repeating: 0, count: 4096)
                    let count = read(fd, &chunk, chunk.count)
                    guard count > 0 else { return nil }
                    pending.append(contentsOf: chunk[..<count])
                }
            }
        }

        @Test("inotifywait -m (inotify-tools) sees the same structural sequence",
              .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/inotifywait")))
        func inotifywaitAgrees() throws {
            try AtomicFixture.withVolume { root throws in
                let writer = AtomicWriter(targetDirectory: root)
                guard case .committed(let old) = try writer.write(Self.before) else { Issue.record("must commit"); return }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/inotifywait")
                process.arguments = ["-m", "--format", "%e %f", root]
                let output = Pipe()
                let errors = Pipe()
                process.standardOutput = output
                process.standardError = errors
                try process.run()
                // SIGKILL, not terminate(): a child spawned from a test (dispatch) thread inherits that
                // thread's signal mask, in which SIGTERM is blocked.
                defer {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                }
                var stderrLines = LineReader(fd: errors.fileHandleForReading.fileDescriptor)
                while let line = stderrLines.next(before: Date().addingTimeInterval(10)), !line.contains("Watches established") {}

                guard case .committed(let new) = try writer.write(Self.after) else { Issue.record("must commit"); return }
                // A directory as end marker: mkdir is one CREATE,ISDIR (creating a file with Foundation would
                // be a temporary file renamed into place).
                #expect(mkdir(root + "/.podagent-end", 0o700) == 0)
                var lines: [String] = []
                var stdoutLines = LineReader(fd: output.fileHandleForReading.fileDescriptor)
                let deadline = Date().addingTimeInterval(15)
                while let line = stdoutLines.next(before: deadline), line != "CREATE,ISDIR .podagent-end" { lines.append(line) }
                // "%e" prints flags comma-separated (and adds CLOSE to CLOSE_NOWRITE); keep the structural ones.
                let structural = Set(["CREATE", "DELETE", "MOVED_FROM", "MOVED_TO", "ATTRIB", "MODIFY", "CLOSE_WRITE",
                                      "DELETE_SELF", "MOVE_SELF"])
                let events = lines.compactMap { line -> String? in
                    let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                    let flags = parts[0].split(separator: ",").map(String.init)
                    guard flags.contains(where: structural.contains) else { return nil }
                    return flags.filter { $0 != "CLOSE" }.joined(separator: "|") + (parts.count > 1 ? " " + parts[1] : "")
                }
                #expect(events == Self.expectedUpdate(old: old, new: new), "inotifywait printed: \(lines)")
            }
        }
    }
}
