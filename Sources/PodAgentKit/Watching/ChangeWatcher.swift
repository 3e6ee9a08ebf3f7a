// From "the kubelet swapped ..data" to "a ChangeSet is handed to the reload pipeline".
//
//   inotify thread ──InotifyEvent──► WatchLoop.receive
//       VolumeSignal: MOVED_TO ..data = committed │ plain write = quiet period │ directory gone = wait
//   commit ──► debounce window (one for all directories; extended by every commit)
//   window closed ──► evaluate: read each committed directory by content (SHA-256 through ..data)
//   ──► ChangeOutbox.publish: diff against what the consumer last received, apply the filters
//   ──► consumer pulls the ChangeSet (coalesced while it was busy; at most one per minInterval),
//       or a sink registered with deliverImmediately(to:) gets it on the spot (hot reload does)
//
// One task runs the loop and owns all its state. It sleeps on its input stream; a timer task exists
// only while a deadline is pending, so an idle watcher never wakes up.

import CoreMetrics
import Glibc
import Logging
import Synchronization

/// Watches volume directories and emits a `ChangeSet` for each settled, content-changing update.
///
/// ```swift
/// var configuration = WatchConfiguration(directories: ["/etc/config"])
/// configuration.debounce = .milliseconds(100)
/// let watcher = try ChangeWatcher(configuration, logger: logger)
/// try await watcher.start()                 // watches placed, baseline read
/// for await change in watcher.changes() {   // pulled: nothing piles up while you work
///     print(change.summary)
/// }
/// ```
///
/// Guarantees: nothing is emitted before the kubelet commits (`MOVED_TO ..data`); a new generation
/// with identical bytes emits nothing; the last state is always emitted; directories updated within
/// one debounce window come as one set; a change that passes no filter is never emitted and never
/// comes back later.
public final class ChangeWatcher: Sendable {
    public let configuration: WatchConfiguration
    /// The watched directories: absolute, in configuration order, duplicates removed.
    public let directories: [String]

    private let logger: Logger
    private let metrics: WatchMetrics
    private let outbox: ChangeOutbox
    private let input = WatchInbox()
    /// Whether the loop was started (once).
    private let launched = Mutex(false)

    /// Validates the configuration; fails for a missing directory unless `waitForMissing` is set.
    /// Watching starts with `start()`, `changes()` or `run()`.
    ///
    /// - Parameter metricsFactory: where `podagent_volume_generations_total{volume}` and
    ///   `podagent_watch_errors_total` go; nil uses the bootstrapped `MetricsSystem`.
    public init(_ configuration: WatchConfiguration, logger: Logger, metricsFactory: (any MetricsFactory)? = nil)
        throws(WatchError)
    {
        self.configuration = configuration
        directories = try configuration.validatedDirectories()
        self.logger = logger
        metrics = WatchMetrics(directories: directories, factory: metricsFactory)
        outbox = ChangeOutbox(filter: configuration.filter, minInterval: configuration.minInterval, logger: logger)
    }

    deinit {
        input.yield(.stop)
    }

    /// Places the watches and reads the baseline content; returns once changes are being watched
    /// (a change after this returns is reported). Safe to call more than once.
    public func start() async throws(WatchError) {
        launch()
        try await outbox.waitUntilReady()
    }

    /// The change sets, for one consumer. Starts watching if `start()` was not called (then a start
    /// failure just ends the stream; call `start()` first to get the error). Each set is computed when
    /// the consumer asks for it, so a slow consumer gets one set covering everything since the last.
    public func changes() -> AsyncStream<ChangeSet> {
        changes(logging: true)
    }

    /// `changes()`, where each set's "change set" line is written when the consumer calls
    /// ``logDelivery(_:)`` rather than as it is handed over: the hot-reload loop writes it once the
    /// reload is under way, so that the log write does not delay the reload.
    public func changes(logging: Bool) -> AsyncStream<ChangeSet> {
        launch()
        let outbox = self.outbox
        return AsyncStream(unfolding: { await outbox.next(logging: logging) })
    }

    /// Hands each change set that may go out at once to `sink`, synchronously, on the watch loop, as
    /// soon as it is read — no task is woken to take it, which keeps a task switch and a wait off every
    /// reload's path. Sets that `minInterval` holds back still come from ``changes(logging:)`` once
    /// the interval is over, so a consumer that uses this keeps taking from there too.
    /// Call it before ``start()``. The sink must return promptly (queue the work, do not do it): the
    /// watch loop waits for it. No "change set" line is written for sets handed to it.
    public func deliverImmediately(to sink: @escaping @Sendable (ChangeSet) -> Void) {
        outbox.deliver(to: sink)
    }

    /// Writes the "change set" line of `set`, for consumers of `changes(logging: false)`.
    public func logDelivery(_ set: ChangeSet) {
        outbox.log(set)
    }

    /// Watches until the calling task is cancelled (the shape of a ServiceLifecycle `Service.run()`),
    /// then removes the watches and ends the change stream.
    public func run() async throws(WatchError) {
        try await start()
        let input = self.input
        let outbox = self.outbox
        await withTaskCancellationHandler {
            await outbox.waitUntilStopped()
        } onCancel: {
            input.yield(.stop)
        }
    }

    /// Removes the watches and ends the change stream.
    public func stop() async {
        if claimLoop() {
            outbox.finish()
            return
        }
        input.yield(.stop)
        await outbox.waitUntilStopped()
    }

    /// The content of every watched directory as last read (the baseline until a change is read).
    public func currentSnapshot() -> [VolumeContent] {
        outbox.latest
    }

    /// Whether the watch loop has a deadline pending (debounce, quiet period, retry). False whenever
    /// nothing is pending: an idle watcher has no timer that could wake it.
    var hasPendingDeadline: Bool { outbox.isTimerArmed }

    /// True for the first caller only: it starts the loop (`launch`), or makes sure it never starts (`stop`).
    private func claimLoop() -> Bool {
        launched.withLock { launched in
            defer { launched = true }
            return !launched
        }
    }

    private func launch() {
        guard claimLoop() else { return }
        let loop = WatchLoop(
            configuration: configuration, directories: directories, logger: logger, metrics: metrics,
            outbox: outbox, input: input)
        Task {
            var loop = loop
            await loop.run()
        }
    }
}

/// What wakes the watch loop.
enum WatchInput: Sendable {
    case inotify(InotifyEvent)
    /// A deadline (debounce, quiet period, retry) may have passed.
    case timer
    case stop
}

/// The watch loop's state; owned by the one task that runs it.
struct WatchLoop {
    let configuration: WatchConfiguration
    let logger: Logger
    let metrics: WatchMetrics
    let outbox: ChangeOutbox
    let input: WatchInbox
    let subscription: InotifySubscription
    /// The configuration's filters: a write to a file they leave out cannot change what counts.
    let filter: ChangeFilter
    var volumes: [VolumeWatch]
    /// The content last read, per directory (configuration order).
    var contents: [VolumeContent]
    /// The first commit not yet published.
    var firstCommitSeen: ContinuousClock.Instant?
    var debounceDeadline: ContinuousClock.Instant?
    /// `--debounce 0`: something was committed while handling the current input. It is read once that
    /// handling is done, so that whatever one input commits (a rescan, quiet periods ending together) is
    /// read and emitted as one set. An event one kernel event makes for several watches (a volume root
    /// watched for two --dir, a link several --dir go through) counts as one input: its deliveries but
    /// the last say `moreFollow`.
    var readPending = false
    var retryDeadline: ContinuousClock.Instant?
    /// When to try again what failed for a reason that may pass: a watch the kernel refused (ENOSPC from
    /// the node-wide watch limit, EACCES) or a read that failed (EMFILE, EIO). Without it such a directory
    /// would be left behind until the next queue overflow or commit.
    var recoveryDeadline: ContinuousClock.Instant?
    var recoveryDelay = WatchLoop.firstRecoveryDelay
    /// While the first watches are placed: a failure then ends the watcher rather than being retried.
    var establishing = false
    var timer: (deadline: ContinuousClock.Instant, task: Task<Void, Never>)?

    /// A read that found `..data` changing under it is retried this soon (the kubelet is mid-update).
    static let busyRetry = Duration.milliseconds(20)
    /// Recovery attempts back off from this to `maxRecoveryDelay` while they keep failing.
    static let firstRecoveryDelay = Duration.seconds(1)
    static let maxRecoveryDelay = Duration.seconds(30)
    /// How many debounce windows (quiet periods) continuous activity may postpone a read.
    static let maxDelayFactor = 10
    /// How many quiet periods a file still open for writing may postpone the read of a plain directory.
    static let maxOpenWriteFactor = 100

    init(configuration: WatchConfiguration, directories: [String], logger: Logger, metrics: WatchMetrics,
         outbox: ChangeOutbox, input: WatchInbox) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.outbox = outbox
        self.input = input
        subscription = InotifyThread.shared.subscribe { input.yield(.inotify($0)) }
        filter = configuration.filter
        volumes = directories.map(VolumeWatch.init(directory:))
        contents = directories.map(VolumeContent.missing)
    }

    mutating func run() async {
        do throws(WatchError) {
            try await establish()
        } catch {
            logger.error("cannot start watching", metadata: ["error": "\(error)"])
            outbox.fail(error)
            await subscription.cancel()
            return
        }
        outbox.ready(baseline: contents)
        loop: while true {
            let next = await input.next()
            let now = ContinuousClock.now
            switch next {
            case .inotify(let event):
                await receive(event, at: event.seen)
                if event.moreFollow { continue }  // the rest of this kernel event is already queued
            case .timer: await fireDeadlines(at: now)
            case .stop: break loop
            }
            if readPending { evaluate(at: now) }
            await matchWatchesToKinds(at: now)
            if readPending { evaluate(at: now) }
            armTimer()
        }
        timer?.task.cancel()
        outbox.noteTimer(armed: false)
        await subscription.cancel()
        outbox.finish()
    }

    // MARK: - the path of a change

    mutating func receive(_ event: InotifyEvent, at now: ContinuousClock.Instant) async {
        guard let watch = event.watch else {
            return await rescanEverything(at: now, reason: "inotify event queue overflowed; events were lost")
        }
        for index in volumes.indices {
            switch volumes[index].role {
            case .watching(let watched) where watched == watch:
                await directoryEvent(event, volume: index, at: now)
            case .waiting(let ancestor) where ancestor == watch:
                await ancestorEvent(event, volume: index, at: now)
            default:
                if volumes[index].subdirectories[watch] != nil { subdirectoryEvent(event, watch: watch, volume: index, at: now) }
            }
            if let name = volumes[index].links[watch] { await linkEvent(event, name: name, volume: index, at: now) }
        }
    }

    /// An event in a directory holding a symlink the path goes through. When the link now leads elsewhere,
    /// the new target is watched and read at once: swapping the link is its writer's commit, as renaming
    /// `..data` is the kubelet's (git-sync renames the new link over the old one once the worktree is complete).
    /// Several `--dir` through the same link each get the event and read together (`moreFollow`).
    mutating func linkEvent(_ event: InotifyEvent, name: String, volume index: Int, at now: ContinuousClock.Instant) async {
        // Also when the directory holding the link went away (or off its mount): its watch is dead.
        let linkGone = !event.mask.isDisjoint(with: [.deleteSelf, .moveSelf, .ignored, .unmount])
        guard linkGone || event.name == name else { return }
        await followLinks(index, at: now)
    }

    /// A link on the path may lead elsewhere now: follow it. The links are watched anew in any case (one
    /// earlier on the path may have changed which directories hold the later ones).
    mutating func followLinks(_ index: Int, at now: ContinuousClock.Instant) async {
        let directory = volumes[index].directory
        switch volumes[index].role {
        case .watching:
            // The links first, then the comparison: a swap in between is then an event of the new watches.
            await placeLinkWatches(index)
            guard FileIdentity(volumes[index].watchedPath) != volumes[index].identity else { return }
        case .waiting:
            // The directory did not exist where the link led; it may where it leads now (a git-sync
            // worktree that has it). The ancestor watch saw nothing: the new tree is somewhere else.
            break
        case .unwatchable:
            return  // the recovery timer tries again
        }
        await release(index)
        _ = await wait(for: index, at: now, initial: true)
        guard case .watching = volumes[index].role else { return }  // dangling: waited for like a deleted directory
        logger.info("a symlink on the watched path was re-pointed; watching its new target", metadata: [
            "volume": .string(directory), "target": .string(FileSystem.canonical(directory)),
        ])
        volumes[index].managedByKubelet = VolumeWatch.exists(volumes[index].watchedPath + "/" + AtomicVolume.dataLinkName)
        commit(index, seenAt: now, now: now)
    }

    /// Watches each directory holding a symlink the watched path goes through, after dropping the
    /// watches of an earlier placement. A link inside a kubelet volume is its own business: the commit
    /// is watched. A watch the kernel refuses is tried again with the recovery timer.
    mutating func placeLinkWatches(_ index: Int) async {
        await dropLinkWatches(index)
        let refusedBefore = volumes[index].linksIncomplete
        volumes[index].linksIncomplete = false
        for link in VolumeWatch.symlinks(on: volumes[index].watchedPath) {
            do throws(InotifyError) {
                // Skipping the kubelet's `..<stamp>` entries: a dangling `conf.d -> ..data/conf.d` waited for
                // puts a link watch on a kubelet volume's root.
                let watch = try await subscription.watch(link.directory, mask: VolumeWatch.linkMask, skippingGenerationEntries: true)
                volumes[index].links[watch] = link.name
            } catch {
                if !refusedBefore && !volumes[index].linksIncomplete {  // said once, not at every retry
                    metrics.errors.increment()
                    logger.warning("cannot watch a symlink on the watched path; trying again later", metadata: [
                        "volume": .string(volumes[index].directory), "link": .string(VolumeFS.join(link.directory, link.name)),
                        "error": "\(error)",
                    ])
                }
                volumes[index].linksIncomplete = true
                scheduleRecovery(at: .now)
            }
        }
    }

    mutating func dropLinkWatches(_ index: Int) async {
        for watch in volumes[index].links.keys { await subscription.unwatch(watch) }
        volumes[index].links = [:]
    }

    /// An event inside a plain directory, below its root: a write like one at the top. A subdirectory
    /// created, moved in or replaced gets its watch when the quiet period ends, before the read.
    mutating func subdirectoryEvent(_ event: InotifyEvent, watch: InotifyWatch, volume index: Int, at now: ContinuousClock.Instant) {
        if event.mask.contains(.ignored) {
            volumes[index].subdirectories[watch] = nil  // the kernel dropped it: deleted, or moved off the mount
            wrote(index, at: now)
        } else if !event.name.hasPrefix("..") || event.name == AtomicVolume.dataLinkName,  // a kubelet volume nested in the tree
                  !event.mask.isDisjoint(with: [.create, .delete, .movedFrom, .movedTo, .closeWrite, .modify, .attrib, .deleteSelf, .moveSelf]) {
            let below = volumes[index].subdirectories[watch]?.relative ?? ""
            plainWrite(event, relative: event.name.isEmpty ? below : below + "/" + event.name, volume: index, at: now)
        }
    }

    /// A write in a plain directory, to the file at `relative` below its root (or to a directory):
    /// starts or extends the quiet period, and keeps track of files open for writing. A file the
    /// filters leave out changes nothing that counts, so its writes (a log appended to all the time)
    /// neither postpone nor cause a read.
    mutating func plainWrite(_ event: InotifyEvent, relative: String, volume index: Int, at now: ContinuousClock.Instant) {
        if !event.name.isEmpty && !event.mask.contains(.isDirectory) && event.name != AtomicVolume.dataLinkName {
            guard filter.admitsPath(relative) else { return }
            if event.mask.contains(.modify) {
                volumes[index].openWrites.insert(relative)
            } else if !event.mask.isDisjoint(with: [.closeWrite, .delete, .movedFrom]) {
                volumes[index].openWrites.remove(relative)
            }
        }
        wrote(index, at: now)
    }

    /// Matches the subdirectory watches of a plain directory to its tree as it is now; a kubelet volume,
    /// or a directory not being watched, has none. Runs before each read of a plain directory, with
    /// the watches in place first: a write after this is an event, a write before it is in the read.
    mutating func syncSubdirectories(_ index: Int) async {
        var refused: [String: String] = [:]
        var truncated = false
        // A directory made inside a newly found one between the listing and the new watch announced
        // itself to nobody: after placing watches, list again, until a pass finds nothing new (each pass
        // reaches at least one level deeper, and the walk stops at `maxDepth`).
        for _ in 0...VolumeContent.maxDepth {
            let wanted: [String]
            if case .watching = volumes[index].role, !volumes[index].watchedAsManaged {
                (wanted, truncated) = VolumeContent.subdirectories(
                    of: volumes[index].directory, limit: VolumeWatch.maxSubdirectoryWatches)
            } else {
                wanted = []
            }
            let wantedSet = Set(wanted)
            var watched: Set<String> = []
            for (watch, subdirectory) in volumes[index].subdirectories {
                let relative = subdirectory.relative
                if wantedSet.contains(relative),
                   FileIdentity(VolumeFS.join(volumes[index].directory, relative)) == subdirectory.identity {
                    watched.insert(relative)
                } else {
                    volumes[index].subdirectories[watch] = nil
                    // Its CLOSE_WRITEs would come under another path now (renamed) or never (deleted).
                    volumes[index].openWrites = volumes[index].openWrites.filter { !$0.hasPrefix(relative + "/") }
                    await subscription.unwatch(watch)
                }
            }
            var placed = false
            for relative in wanted where !watched.contains(relative) && refused[relative] == nil {
                let path = VolumeFS.join(volumes[index].directory, relative)
                do throws(InotifyError) {
                    let identity = FileIdentity(path)  // before the watch: a later replacement then differs
                    let watch = try await subscription.watch(path, mask: VolumeWatch.subdirectoryMask)
                    volumes[index].subdirectories[watch] = VolumeWatch.Subdirectory(relative: relative, identity: identity)
                    placed = true
                } catch let error where error.errno == ENOENT || error.errno == ENOTDIR {
                    continue  // gone again: its parent's event brings another pass
                } catch {
                    refused[relative] = "\(error)"
                }
            }
            if !placed { break }
        }
        if let first = refused.min(by: { $0.key < $1.key }) {
            metrics.errors.increment()
            logger.warning("cannot watch subdirectories; writes inside them are seen only along with other writes", metadata: [
                "volume": .string(volumes[index].directory), "count": "\(refused.count)", "first": .string("\(first.key): \(first.value)"),
            ])
        }
        if truncated && !volumes[index].subdirectoriesTruncated {
            logger.warning("too many subdirectories to watch; writes deeper in are seen only along with other writes", metadata: [
                "volume": .string(volumes[index].directory), "watched": "\(VolumeWatch.maxSubdirectoryWatches)",
            ])
        }
        volumes[index].subdirectoriesTruncated = truncated
    }

    mutating func directoryEvent(_ event: InotifyEvent, volume index: Int, at now: ContinuousClock.Instant) async {
        switch VolumeSignal(event, managedByKubelet: volumes[index].managedByKubelet) {
        case .committed:
            logger.debug("generation committed", metadata: [
                "volume": .string(volumes[index].directory),
                "generation": .string((try? VolumeFS.readlink(volumes[index].watchedPath + "/" + AtomicVolume.dataLinkName)) ?? "?"),
            ])
            volumes[index].managedByKubelet = true
            commit(index, seenAt: now, now: now)
            metrics.generations[index].increment()
        case .written:
            plainWrite(event, relative: event.name, volume: index, at: now)
        case .lost:
            await lose(index, at: now)
        case .irrelevant:
            break
        }
    }

    /// A directory's content changed (committed, or settled): read it when the debounce window closes
    /// (with `--debounce 0`, as soon as the input that told is handled).
    /// Each commit extends the window, up to `maxDelayFactor` windows after the first one, so a volume
    /// that never stops changing cannot hold back every other one.
    mutating func commit(_ index: Int, seenAt: ContinuousClock.Instant, now: ContinuousClock.Instant) {
        volumes[index].dirty = true
        let first = min(firstCommitSeen ?? seenAt, seenAt)
        firstCommitSeen = first
        if configuration.debounce == .zero {
            readPending = true
        } else {
            debounceDeadline = min(now + configuration.debounce, first + configuration.debounce * Self.maxDelayFactor)
        }
    }

    /// A plain writer touched a directory the kubelet does not manage: read it once writes pause for
    /// the quiet period (at most `maxDelayFactor` periods after the first write, for endless writers).
    mutating func wrote(_ index: Int, at now: ContinuousClock.Instant) {
        let burstStart = volumes[index].quietDeadline == nil ? now : (volumes[index].burstStart ?? now)
        volumes[index].burstStart = burstStart
        volumes[index].lastWrite = now
        volumes[index].quietDeadline = min(
            now + configuration.quietPeriod, burstStart + configuration.quietPeriod * Self.maxDelayFactor)
    }

    mutating func fireDeadlines(at now: ContinuousClock.Instant) async {
        for index in volumes.indices {
            guard let deadline = volumes[index].quietDeadline, deadline <= now else { continue }
            if !volumes[index].openWrites.isEmpty, let start = volumes[index].burstStart,
               now < start + configuration.quietPeriod * Self.maxOpenWriteFactor {
                // A file is still open for writing (MODIFY, no CLOSE_WRITE yet): its writer paused half way.
                volumes[index].quietDeadline = now + configuration.quietPeriod
                continue
            }
            volumes[index].quietDeadline = nil
            // Read now. A file still listed as open is either open for good (a log: its next write lists
            // it again) or was never closed under that name (truncate(2), a rename): forget it, so that it
            // cannot hold back every later read.
            volumes[index].openWrites = []
            await syncSubdirectories(index)
            commit(index, seenAt: volumes[index].lastWrite ?? now, now: now)
        }
        if let deadline = debounceDeadline, deadline <= now {
            debounceDeadline = nil
            evaluate(at: now)
        }
        if let deadline = retryDeadline, deadline <= now {
            retryDeadline = nil
            evaluate(at: now)
        }
        if let deadline = recoveryDeadline, deadline <= now {
            recoveryDeadline = nil
            for index in volumes.indices {
                switch volumes[index].role {
                case .unwatchable:
                    _ = await wait(for: index, at: now, initial: false)  // when it succeeds, the content is compared
                case .watching:
                    if volumes[index].linksIncomplete { await followLinks(index, at: now) }
                case .waiting:
                    if volumes[index].linksIncomplete { await placeLinkWatches(index) }
                }
            }
            if volumes.contains(where: \.dirty) { evaluate(at: now) }
            // Whatever failed again has scheduled the next attempt, further out.
            if recoveryDeadline == nil { recoveryDelay = Self.firstRecoveryDelay }
        }
    }

    /// Arms the next recovery attempt, unless one is armed.
    mutating func scheduleRecovery(at now: ContinuousClock.Instant) {
        guard recoveryDeadline == nil else { return }
        recoveryDeadline = now + recoveryDelay
        recoveryDelay = min(recoveryDelay * 2, Self.maxRecoveryDelay)
    }

    /// Reads every directory committed since the last read and offers the result to the outbox, which
    /// diffs it against what the consumer last received.
    mutating func evaluate(at now: ContinuousClock.Instant) {
        readPending = false
        var busy = false
        var failed = false
        for index in volumes.indices where volumes[index].dirty {
            let directory = volumes[index].directory
            do throws(ContentReadError) {
                let wasTruncated = contents[index].truncated
                contents[index] = try VolumeContent.read(directory, nesting: volumes[index].nesting, filter: filter)
                if contents[index].truncated && !wasTruncated { warnTruncated(directory) }
                volumes[index].dirty = false
                volumes[index].managedByKubelet = contents[index].generation != nil
            } catch .busy {
                busy = true
            } catch .missing {
                // Deleted in the meantime: its DELETE_SELF sends it back to waiting, and its content
                // is compared again when it returns. A directory inside a kubelet volume that the new
                // generation does not have: its volume's commits are still watched, and the one that
                // brings it back is compared.
                volumes[index].dirty = false
                if let nesting = volumes[index].nesting {
                    let message: Logger.Message = VolumeWatch.exists(nesting.root + "/" + AtomicVolume.dataLinkName)
                        ? "watched directory is not in the kubelet volume's new generation; waiting for an update that brings it back"
                        : "the kubelet volume holding the watched directory has no ..data any more; waiting for it to return"
                    logger.warning(message, metadata: ["volume": .string(directory), "kubelet_volume": .string(nesting.root)])
                }
            } catch {
                // Still dirty: read again later, so the change is not lost with this read.
                failed = true
                metrics.errors.increment()
                logger.error("cannot read watched directory; trying again later",
                             metadata: ["volume": .string(directory), "error": "\(error)"])
            }
        }
        if busy { retryDeadline = now + Self.busyRetry }
        if failed { scheduleRecovery(at: now) }
        guard let first = firstCommitSeen else { return }
        outbox.publish(contents, firstCommitSeen: first)
        if !busy && !failed { firstCommitSeen = nil }
    }

    /// Said once each time a plain directory grows past the walk's bound.
    func warnTruncated(_ directory: String) {
        logger.warning("directory has too many files; only the first ones are compared", metadata: [
            "volume": .string(directory), "compared": "\(VolumeContent.maxFiles)",
            "hint": "narrow it with --include/--exclude (left-out files are not read) or watch a subdirectory",
        ])
    }

    // MARK: - timers

    /// Keeps exactly one sleeping task for the earliest pending deadline, and none when nothing is pending.
    mutating func armTimer() {
        let next = ([debounceDeadline, retryDeadline, recoveryDeadline] + volumes.map(\.quietDeadline)).compactMap { $0 }.min()
        guard next != timer?.deadline else { return }
        timer?.task.cancel()
        timer = nil
        defer { outbox.noteTimer(armed: timer != nil) }
        guard let next else { return }
        let input = self.input
        timer = (next, Task {
            do { try await CancellableSleep.sleep(until: next) } catch { return }
            input.yield(.timer)
        })
    }

    // MARK: - directories that come and go

    /// Watches every directory (or the ancestor of a missing one) and reads the baseline.
    mutating func establish() async throws(WatchError) {
        establishing = true
        defer { establishing = false }
        let now = ContinuousClock.now
        for index in volumes.indices {
            if let failure = await wait(for: index, at: now, initial: true) { throw WatchError(failure) }
        }
        for index in volumes.indices {
            guard case .watching = volumes[index].role else { continue }
            contents[index] = try await readBaseline(volumes[index].directory, nesting: volumes[index].nesting)
            if contents[index].truncated { warnTruncated(volumes[index].directory) }
            volumes[index].managedByKubelet = contents[index].generation != nil
        }
    }

    private func readBaseline(_ directory: String, nesting: KubeletNesting?) async throws(WatchError) -> VolumeContent {
        for _ in 0..<100 {
            do throws(ContentReadError) {
                return try VolumeContent.read(directory, nesting: nesting, filter: filter)
            } catch {
                switch error {
                case .busy: try? await CancellableSleep.sleep(for: Self.busyRetry)
                case .missing: return .missing(directory)  // deleted right after the watch was placed: its events follow
                case .failed(let message): throw WatchError(.unreadable(path: directory, message: message))
                }
            }
        }
        throw WatchError(.unreadable(path: directory, message: "..data changed during every read for 2 s"))
    }

    /// Watches the directory if it exists, else the nearest existing ancestor. Returns the failure
    /// instead of throwing so that later calls can log it and carry on.
    mutating func wait(for index: Int, at now: ContinuousClock.Instant, initial: Bool) async -> InotifyError? {
        let directory = volumes[index].directory
        await dropLinkWatches(index)
        defer { if !volumes[index].isWatching { volumes[index].nesting = nil } }  // it describes a watch in place
        // Each turn means the tree changed between a check and the watch; a bound keeps a directory
        // that is created and deleted in a tight loop from holding the watcher.
        for _ in 0..<100 {
            if VolumeWatch.isDirectory(directory) {
                // Inside a kubelet volume, the directory is replaced by every update: its volume's root
                // is watched for the commit instead.
                let isVolume = VolumeWatch.exists(directory + "/" + AtomicVolume.dataLinkName)
                let nesting = isVolume ? nil : VolumeWatch.kubeletNesting(of: directory)
                let managed = isVolume || nesting != nil
                let watched = nesting?.root ?? directory
                // The links first and the identity before the watch: a link re-pointed meanwhile is then
                // an event whose target differs from the identity, never a watch left on the old target.
                volumes[index].nesting = nesting
                await placeLinkWatches(index)
                let identity = FileIdentity(watched)
                do throws(InotifyError) {
                    let watch = try await subscription.watch(
                        watched, mask: VolumeWatch.mask(forManaged: managed), skippingGenerationEntries: true)
                    volumes[index].role = .watching(watch)
                    volumes[index].watchedAsManaged = managed
                    volumes[index].identity = identity
                    if let nesting {
                        logger.info("directory lies inside a kubelet volume; watching the volume's commits", metadata: [
                            "volume": .string(directory), "kubelet_volume": .string(nesting.root),
                        ])
                    }
                    await syncSubdirectories(index)
                    if !initial { appeared(index, at: now) }
                    return nil
                } catch let error where error.errno == ENOENT || error.errno == ENOTDIR {
                    continue
                } catch {
                    return unwatchable(index, error)
                }
            }
            let ancestor = VolumeWatch.nearestExistingAncestor(of: directory)
            // The links on the way too: one re-pointed can make the directory exist without an event in
            // the ancestor (`repo -> .worktrees/<hash>`, `conf` only in the next worktree).
            volumes[index].nesting = nil
            await placeLinkWatches(index)
            do throws(InotifyError) {
                let watch = try await subscription.watch(ancestor, mask: VolumeWatch.ancestorMask)
                // Checked again with the watch in place: a directory created before it would
                // otherwise never announce itself.
                if VolumeWatch.nearestExistingAncestor(of: directory) == ancestor && !VolumeWatch.isDirectory(directory) {
                    volumes[index].role = .waiting(watch)
                    logger.info("waiting for directory to appear", metadata: [
                        "volume": .string(directory), "watching": .string(ancestor),
                    ])
                    return nil
                }
                await subscription.unwatch(watch)
            } catch let error where error.errno == ENOENT || error.errno == ENOTDIR {
                continue
            } catch {
                return unwatchable(index, error)
            }
        }
        return unwatchable(index, InotifyError(operation: "watch", path: directory, errno: EAGAIN))
    }

    /// A directory that became a kubelet volume (its first commit) or stopped being one (`..data` gone)
    /// gets the watch for its new kind, once the read that told is done. Events between the old watch and
    /// the new one are not seen, so the content is compared once more right after.
    mutating func matchWatchesToKinds(at now: ContinuousClock.Instant) async {
        for index in volumes.indices {
            guard volumes[index].isWatching, !volumes[index].dirty,
                volumes[index].quietDeadline == nil,
                volumes[index].managedByKubelet != volumes[index].watchedAsManaged
            else { continue }
            logger.debug("watch mask follows the directory's kind", metadata: [
                "volume": .string(volumes[index].directory), "kubelet_volume": "\(volumes[index].managedByKubelet)",
            ])
            await release(index)
            _ = await wait(for: index, at: now, initial: true)
            if case .watching = volumes[index].role { changedOutOfSight(index, at: now) }
        }
    }

    private mutating func unwatchable(_ index: Int, _ error: InotifyError) -> InotifyError {
        volumes[index].role = .unwatchable
        metrics.errors.increment()
        // At start-up the failure ends the watcher (`establish` throws it); later it is retried.
        logger.error(establishing ? "cannot watch directory" : "cannot watch directory; trying again later",
                     metadata: ["volume": .string(volumes[index].directory), "error": "\(error)"])
        if !establishing { scheduleRecovery(at: .now) }
        return error
    }

    mutating func ancestorEvent(_ event: InotifyEvent, volume index: Int, at now: ContinuousClock.Instant) async {
        guard case .waiting(let ancestor) = volumes[index].role else { return }
        let next = VolumeWatch.nextComponent(below: ancestor.path, toward: volumes[index].directory)
        let ancestorGone = !event.mask.isDisjoint(with: [.deleteSelf, .moveSelf, .ignored, .unmount])
        // A kubelet commit in the ancestor can also bring the directory: a `conf.d -> ..data/conf.d` left
        // dangling while `..data` was gone is valid again, with no event of its own.
        guard ancestorGone || event.name == next || event.name == AtomicVolume.dataLinkName else { return }
        await subscription.unwatch(ancestor)
        _ = await wait(for: index, at: now, initial: false)
    }

    /// The directory was deleted, moved away or unmounted: wait for it to come back. Its content is
    /// not read now — nothing to reload from — but compared when it returns.
    mutating func lose(_ index: Int, at now: ContinuousClock.Instant) async {
        let directory = volumes[index].directory
        let watched = volumes[index].watchedPath
        if VolumeWatch.isDirectory(watched), FileIdentity(watched) != volumes[index].identity {
            // Another directory is already there under the name: a swap, not a loss.
            logger.info("watched directory was replaced; watching the new one", metadata: ["volume": .string(directory)])
        } else {
            logger.warning("watched directory is gone; waiting for it to return", metadata: ["volume": .string(directory)])
        }
        await release(index)
        _ = await wait(for: index, at: now, initial: false)
    }

    /// Drops the directory's watch (or its ancestor's, while waiting) and what went with it: its
    /// subdirectory watches, a pending quiet period, open writes, an unread commit. It is watched again
    /// by `wait(for:)`, which compares the content then.
    mutating func release(_ index: Int) async {
        switch volumes[index].role {
        case .watching(let watch), .waiting(let watch): await subscription.unwatch(watch)
        case .unwatchable: break
        }
        volumes[index].role = .unwatchable
        volumes[index].nesting = nil
        volumes[index].quietDeadline = nil
        volumes[index].openWrites = []
        volumes[index].dirty = false
        await syncSubdirectories(index)
    }

    /// The directory exists again (or for the first time): its content is a change if it differs.
    mutating func appeared(_ index: Int, at now: ContinuousClock.Instant) {
        logger.info("watched directory appeared", metadata: ["volume": .string(volumes[index].directory)])
        changedOutOfSight(index, at: now)
    }

    /// Content may have changed without the events to prove it: read it like after a commit — at once
    /// for a kubelet volume, after the quiet period for a plain directory.
    mutating func changedOutOfSight(_ index: Int, at now: ContinuousClock.Instant) {
        if VolumeWatch.exists(volumes[index].watchedPath + "/" + AtomicVolume.dataLinkName) {
            volumes[index].managedByKubelet = true
            commit(index, seenAt: now, now: now)
        } else {
            volumes[index].managedByKubelet = false
            wrote(index, at: now)
        }
    }

    /// IN_Q_OVERFLOW: any event may be lost, including a directory's deletion. Re-check every watch
    /// and read everything again; the content diff tells what really changed.
    mutating func rescanEverything(at now: ContinuousClock.Instant, reason: String) async {
        metrics.errors.increment()
        logger.warning("rescanning every watched directory", metadata: ["reason": .string(reason)])
        for index in volumes.indices {
            volumes[index].openWrites = []  // a CLOSE_WRITE may be among the lost events
            switch volumes[index].role {
            case .watching:
                await placeLinkWatches(index)  // the IGNORED of one may be among the lost events; before the comparison
                if FileIdentity(volumes[index].watchedPath) == volumes[index].identity {
                    changedOutOfSight(index, at: now)
                } else {
                    await lose(index, at: now)
                }
            case .waiting(let ancestor):
                await subscription.unwatch(ancestor)
                _ = await wait(for: index, at: now, initial: false)
            case .unwatchable:
                _ = await wait(for: index, at: now, initial: false)
            }
        }
    }
}

/// The watcher's metrics (DESIGN.md names), through the swift-metrics API.
struct WatchMetrics: Sendable {
    /// `podagent_volume_generations_total{volume}`: `MOVED_TO ..data` seen, per watched directory.
    let generations: [Counter]
    /// `podagent_watch_errors_total`: queue overflows, failed watches and failed reads.
    let errors: Counter

    init(directories: [String], factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        generations = directories.map {
            Counter(label: "podagent_volume_generations_total", dimensions: [("volume", $0)], factory: factory)
        }
        errors = Counter(label: "podagent_watch_errors_total", dimensions: [], factory: factory)
    }
}
