// The one owner of libinotifytools' process-global state.
//
// libinotifytools keeps its inotify descriptor, its watch tables and the buffer that
// `inotifytools_next_event` returns a pointer into in static variables, and none of it is
// thread-safe. So exactly one OS thread — started on first use, never stopped — ever calls into the
// library. It blocks in `inotifytools_next_event(-1)`, which is select(2) without a timeout: while
// nothing happens on disk it uses no CPU and is never woken.
//
// Other threads reach it through a command queue and a doorbell: a pipe whose write end is watched by
// the same inotify instance (through /proc/self/fd), so writing one byte makes the blocked select
// return with an IN_MODIFY event for the doorbell. Commands therefore run in order with the events: a
// command runs after every event that was queued before it was posted.
//
// Several clients (each ChangeWatcher, the tests' event recorder) share the thread through
// subscriptions. The library session is initialised once and never cleaned up, which also sidesteps
// its habit of returning a previous session's unread events from its static buffer.

import CInotifyTools
import Glibc
import Synchronization

/// The inotify event bits, named as in inotify(7).
struct InotifyMask: OptionSet, Sendable, Hashable, CustomStringConvertible {
    let rawValue: UInt32

    init(rawValue: UInt32) { self.rawValue = rawValue }
    private init(_ flag: some BinaryInteger) { rawValue = UInt32(truncatingIfNeeded: flag) }

    static let access = InotifyMask(IN_ACCESS)
    static let modify = InotifyMask(IN_MODIFY)
    static let attrib = InotifyMask(IN_ATTRIB)
    static let closeWrite = InotifyMask(IN_CLOSE_WRITE)
    static let closeNoWrite = InotifyMask(IN_CLOSE_NOWRITE)
    static let opened = InotifyMask(IN_OPEN)
    static let movedFrom = InotifyMask(IN_MOVED_FROM)
    static let movedTo = InotifyMask(IN_MOVED_TO)
    static let create = InotifyMask(IN_CREATE)
    static let delete = InotifyMask(IN_DELETE)
    static let deleteSelf = InotifyMask(IN_DELETE_SELF)
    static let moveSelf = InotifyMask(IN_MOVE_SELF)
    static let unmount = InotifyMask(IN_UNMOUNT)
    static let queueOverflow = InotifyMask(IN_Q_OVERFLOW)
    static let ignored = InotifyMask(IN_IGNORED)
    static let onlyDirectory = InotifyMask(IN_ONLYDIR)
    static let maskAdd = InotifyMask(IN_MASK_ADD)
    static let isDirectory = InotifyMask(IN_ISDIR)
    static let allEvents = InotifyMask(podagent_in_all_events())

    /// What the kernel reports whatever the watch asked for; always delivered to every subscriber.
    static let unsolicited: InotifyMask = [.ignored, .unmount, .queueOverflow]

    private static let names: [(InotifyMask, String)] = [
        (.access, "ACCESS"), (.modify, "MODIFY"), (.attrib, "ATTRIB"), (.closeWrite, "CLOSE_WRITE"),
        (.closeNoWrite, "CLOSE_NOWRITE"), (.opened, "OPEN"), (.movedFrom, "MOVED_FROM"), (.movedTo, "MOVED_TO"),
        (.create, "CREATE"), (.delete, "DELETE"), (.deleteSelf, "DELETE_SELF"), (.moveSelf, "MOVE_SELF"),
        (.unmount, "UNMOUNT"), (.queueOverflow, "Q_OVERFLOW"), (.ignored, "IGNORED"), (.isDirectory, "ISDIR"),
    ]

    /// `CREATE|ISDIR`, the notation of KUBELET.md.
    var description: String { Self.names.filter { contains($0.0) }.map(\.1).joined(separator: "|") }
}

/// One inotify event, copied out of libinotifytools' static buffer before the next call reuses it.
struct InotifyEvent: Sendable, Equatable, CustomStringConvertible {
    /// The watch it arrived on (one subscriber's `watch` call); nil for a queue overflow, which
    /// concerns every watch.
    var watch: InotifyWatch?
    /// The entry's name inside the watched directory; empty for events about the watched object itself.
    var name: String
    var mask: InotifyMask
    /// Pairs a MOVED_FROM with its MOVED_TO (the kubelet's `..data_tmp` → `..data` rename).
    var cookie: UInt32
    /// When the inotify thread read it: the earliest instant podagent knew (change-to-reload latency).
    var seen: ContinuousClock.Instant
    /// The same kernel event is handed to this subscriber again right after, for another of its watches on
    /// the same inode: what it causes is better acted on once, after the last delivery.
    var moreFollow = false

    var description: String { name.isEmpty ? mask.description : mask.description + " " + name }
}

/// One `watch` of one subscriber: a path and the kernel watch descriptor it resolved to.
///
/// Two subscribers (or one, twice) watching the same inode share a descriptor but hold distinct
/// `InotifyWatch` values; the kernel watch is removed when the last of them is unwatched.
struct InotifyWatch: Sendable, Hashable {
    var id: Int
    var path: String
    var descriptor: Int32
}

/// A failed inotify operation (errno from the kernel through libinotifytools).
struct InotifyError: Error, Sendable, Equatable, CustomStringConvertible {
    var operation: String
    var path: String
    var errno: Int32

    var description: String {
        let hint: String
        switch errno {
        case ENOSPC: hint = " — the inotify watch limit is reached (raise fs.inotify.max_user_watches)"
        case EMFILE: hint = " — the inotify instance limit is reached (raise fs.inotify.max_user_instances)"
        case EACCES: hint = " — this process may not read the directory"
        default: hint = ""
        }
        return "\(operation) \(path): \(String(cString: strerror(errno)))" + hint
    }
}

/// The dedicated thread that owns libinotifytools, shared by the whole process.
final class InotifyThread: Sendable {
    /// The process's only instance: libinotifytools cannot run two sessions side by side.
    static let shared = InotifyThread()

    typealias Handler = @Sendable (InotifyEvent) -> Void
    typealias WatchReply = @Sendable (Result<InotifyWatch, InotifyError>) -> Void

    private enum Command {
        case open(subscription: Int, handler: Handler)
        case watch(subscription: Int, path: String, mask: InotifyMask, skipsGenerationEntries: Bool, reply: WatchReply)
        case unwatch(InotifyWatch, reply: @Sendable () -> Void)
        case close(subscription: Int, reply: @Sendable () -> Void)
        case perform(@Sendable () -> Void)
    }

    private struct Mailbox {
        var commands: [Command] = []
        /// Set when the thread could not start; every later command is answered with it at once.
        var failure: InotifyError?
        var nextSubscription = 1
    }

    private let mailbox = Mutex(Mailbox())
    private let doorbellRead: Int32
    private let doorbellWrite: Int32
    private let threadID = Atomic<Int32>(0)

    private init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 {
            doorbellRead = -1
            doorbellWrite = -1
            mailbox.withLock { $0.failure = InotifyError(operation: "pipe", path: "doorbell", errno: errno) }
            return
        }
        // Neither end may block (a full pipe already means "ring pending") or leak into children.
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        doorbellRead = fds[0]
        doorbellWrite = fds[1]
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let started = pthread_create(&thread, nil, { context in
            let owner = Unmanaged<InotifyThread>.fromOpaque(context!).takeRetainedValue()
            owner.threadMain()
            return nil
        }, context)
        if started != 0 {
            Unmanaged<InotifyThread>.fromOpaque(context).release()
            let failure = InotifyError(operation: "pthread_create", path: "inotify thread", errno: started)
            mailbox.withLock { $0.failure = failure }
            return
        }
        pthread_detach(thread)
    }

    /// The kernel id of the thread (0 until it runs): lets tests check that it sleeps while idle.
    var kernelThreadID: Int32 { threadID.load(ordering: .acquiring) }

    // MARK: - client side (any thread)

    /// A new subscription whose events go to `handler`, called on the inotify thread: it must return
    /// quickly and never call back into the thread synchronously.
    func subscribe(_ handler: @escaping Handler) -> InotifySubscription {
        let id = mailbox.withLock { mailbox in
            defer { mailbox.nextSubscription += 1 }
            return mailbox.nextSubscription
        }
        post(.open(subscription: id, handler: handler))
        return InotifySubscription(id: id, thread: self)
    }

    fileprivate func watch(
        subscription: Int, path: String, mask: InotifyMask, skipsGenerationEntries: Bool, reply: @escaping WatchReply
    ) {
        post(.watch(subscription: subscription, path: path, mask: mask, skipsGenerationEntries: skipsGenerationEntries,
                    reply: reply))
    }

    fileprivate func unwatch(_ watch: InotifyWatch, reply: @escaping @Sendable () -> Void) {
        post(.unwatch(watch, reply: reply))
    }

    fileprivate func close(subscription: Int, reply: @escaping @Sendable () -> Void) {
        post(.close(subscription: subscription, reply: reply))
    }

    /// Runs `body` on the inotify thread, in order with the events. While it runs no event is read,
    /// which is how tests make the kernel queue overflow.
    func perform(_ body: @escaping @Sendable () -> Void) {
        post(.perform(body))
    }

    private func post(_ command: Command) {
        let failure = mailbox.withLock { mailbox -> InotifyError? in
            if let failure = mailbox.failure { return failure }
            mailbox.commands.append(command)
            return nil
        }
        if let failure {
            Self.answer(command, with: failure)
            return
        }
        var byte: UInt8 = 1
        // EAGAIN means the pipe is full of unread rings: the thread is going to drain it anyway.
        _ = Glibc.write(doorbellWrite, &byte, 1)
    }

    private static func answer(_ command: Command, with failure: InotifyError) {
        switch command {
        case .open: break
        case .watch(_, _, _, _, let reply): reply(.failure(failure))
        case .unwatch(_, let reply), .close(_, let reply): reply()
        case .perform(let body): body()
        }
    }

    // MARK: - the thread

    private func threadMain() {
        threadID.store(Self.currentKernelThreadID(), ordering: .releasing)
        // Process-directed signals (SIGTERM for shutdown, SIGCHLD, forwarded signals) belong to the
        // threads that wait for them; this one must neither take them nor be interrupted by them.
        var signals = sigset_t()
        sigfillset(&signals)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var registry = Registry()
        let doorbellPath = "/proc/self/fd/\(doorbellWrite)"
        let instancesBefore = Registry.inotifyInstances()
        guard inotifytools_initialize() != 0 else {
            return fail(InotifyError(operation: "inotify_init", path: "libinotifytools", errno: inotifytools_error()))
        }
        // The library does not say which descriptor it opened: the one that was not there before.
        let opened = Registry.inotifyInstances().subtracting(instancesBefore)
        registry.instance = opened.count == 1 ? opened.first : nil
        guard inotifytools_watch_file(doorbellPath, Int32(bitPattern: InotifyMask.modify.rawValue)) != 0 else {
            return fail(InotifyError(operation: "inotify_add_watch", path: doorbellPath, errno: inotifytools_error()))
        }
        let doorbell = inotifytools_wd_from_filename(doorbellPath)
        runCommands(&registry)
        var name = [CChar](repeating: 0, count: Int(NAME_MAX) + 1)
        while true {
            // -1: block in select(2) with no timeout (0 would be turned into -1 by the library anyway).
            guard let event = inotifytools_next_event(-1) else {
                // Not a timeout (there is none): an error. Back off instead of spinning on it.
                if inotifytools_error() != EINTR { usleep(100_000) }
                continue
            }
            let seen = ContinuousClock.now
            // The event lives in the library's static buffer: copy everything out before anything
            // else calls into the library.
            let descriptor = event.pointee.wd
            let mask = InotifyMask(rawValue: event.pointee.mask)
            let cookie = event.pointee.cookie
            _ = podagent_event_name(event, &name, name.count)
            let entry = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if descriptor == doorbell && !mask.contains(.queueOverflow) {
                drainDoorbell()
                runCommands(&registry)
                continue
            }
            let copied = InotifyEvent(watch: nil, name: entry, mask: mask, cookie: cookie, seen: seen)
            registry.dispatch(copied, descriptor: descriptor)
            if mask.contains(.queueOverflow) {
                // The overflow may have swallowed the doorbell's event too: a command posted while the
                // queue was full would otherwise wait for good, and its sender (the watch loop) with it.
                drainDoorbell()
                runCommands(&registry)
            }
        }
    }

    /// gettid(2) without `_GNU_SOURCE`: `/proc/thread-self` links to `PID/task/TID`.
    private static func currentKernelThreadID() -> Int32 {
        guard let link = try? VolumeFS.readlink("/proc/thread-self"), let tid = link.split(separator: "/").last
        else { return 0 }
        return Int32(tid) ?? 0
    }

    private func fail(_ failure: InotifyError) {
        let pending = mailbox.withLock { mailbox -> [Command] in
            mailbox.failure = failure
            defer { mailbox.commands = [] }
            return mailbox.commands
        }
        for command in pending { Self.answer(command, with: failure) }
    }

    private func drainDoorbell() {
        var buffer = [UInt8](repeating: 0, count: 512)
        while Glibc.read(doorbellRead, &buffer, buffer.count) > 0 {}
    }

    private func runCommands(_ registry: inout Registry) {
        let commands = mailbox.withLock { mailbox -> [Command] in
            defer { mailbox.commands = [] }
            return mailbox.commands
        }
        for command in commands {
            switch command {
            case .open(let subscription, let handler):
                registry.handlers[subscription] = handler
            case .watch(let subscription, let path, let mask, let skips, let reply):
                reply(registry.watch(path, mask: mask, subscription: subscription, skipsGenerationEntries: skips))
            case .unwatch(let watch, let reply):
                registry.unwatch(watch)
                reply()
            case .close(let subscription, let reply):
                registry.close(subscription)
                reply()
            case .perform(let body):
                body()
            }
        }
    }
}

/// The inotify thread's bookkeeping; lives on that thread's stack and is never shared.
private struct Registry {
    struct Registration {
        var subscription: Int
        var path: String
        var descriptor: Int32
        var mask: InotifyMask
        /// See ``InotifySubscription/watch(_:mask:skippingGenerationEntries:)``.
        var skipsGenerationEntries = false
    }

    /// What this thread believes libinotifytools' filename table holds for a key.
    ///
    /// The library maps filenames to descriptors in a tree keyed by the name passed to
    /// `inotifytools_watch_file` (directories with a `/` appended). It never forgets a watch the
    /// kernel dropped (a deleted directory), so a key can name a dead descriptor forever; and a second
    /// name for an already watched inode is stored in the name tree only. Tracking each key lets a
    /// watch pick a name whose lookup is known to give the right descriptor.
    enum KeyState {
        /// The library's entry for this key is the descriptor's primary one: removing the
        /// descriptor through the library also removes this key.
        case live(descriptor: Int32, primary: Bool)
        /// The key names a dead descriptor in the library's tables; never use it again.
        case stale
    }

    struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// libinotifytools' inotify descriptor, when it could be told apart (see `threadMain`).
    var instance: Int32?
    var handlers: [Int: InotifyThread.Handler] = [:]
    var registrations: [Int: Registration] = [:]
    var byDescriptor: [Int32: [Int]] = [:]
    var keys: [String: KeyState] = [:]
    var identities: [Int32: Identity] = [:]
    var nextWatch = 1

    mutating func watch(
        _ path: String, mask: InotifyMask, subscription: Int, skipsGenerationEntries: Bool = false
    ) -> Result<InotifyWatch, InotifyError> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failure(InotifyError(operation: "inotify_add_watch", path: path, errno: errno))
        }
        let identity = Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        // `dir`, `dir/.`, `dir/./.` … all name the same directory; take the first whose library key
        // is unused or already names this very inode.
        var alias = path
        var key = Self.libraryKey(alias)
        while true {
            switch keys[key] {
            case nil: break
            case .live(let descriptor, _) where identities[descriptor] == identity: break
            default:
                alias = (alias.hasSuffix("/") ? alias : alias + "/") + "."
                key = Self.libraryKey(alias)
                guard alias.utf8.count < Int(PATH_MAX) else {
                    return .failure(InotifyError(operation: "inotify_add_watch", path: path, errno: ENAMETOOLONG))
                }
                continue
            }
            break
        }
        // IN_MASK_ADD: another subscriber may watch the same inode for other events; widen, never narrow.
        let flags = mask.union(.maskAdd)
        guard inotifytools_watch_file(alias, Int32(bitPattern: flags.rawValue)) != 0 else {
            return .failure(InotifyError(operation: "inotify_add_watch", path: path, errno: inotifytools_error()))
        }
        let descriptor = inotifytools_wd_from_filename(key)
        guard descriptor > 0 else {
            return .failure(InotifyError(operation: "inotifytools_wd_from_filename", path: key, errno: EINVAL))
        }
        if keys[key] == nil {
            keys[key] = .live(descriptor: descriptor, primary: byDescriptor[descriptor] == nil)
        }
        identities[descriptor] = identity
        let id = nextWatch
        nextWatch += 1
        registrations[id] = Registration(
            subscription: subscription, path: path, descriptor: descriptor, mask: mask,
            skipsGenerationEntries: skipsGenerationEntries)
        byDescriptor[descriptor, default: []].append(id)
        return .success(InotifyWatch(id: id, path: path, descriptor: descriptor))
    }

    /// The name libinotifytools files a watch under: directories (by lstat, as the library checks)
    /// get a trailing `/`.
    static func libraryKey(_ path: String) -> String {
        var info = stat()
        let isDirectory = lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
        return isDirectory && !path.hasSuffix("/") ? path + "/" : path
    }

    /// The process's inotify descriptors: the entries of /proc/self/fd that link to `anon_inode:inotify`.
    static func inotifyInstances() -> Set<Int32> {
        guard let names = try? VolumeFS.entries(of: "/proc/self/fd") else { return [] }
        return Set(names.compactMap { name in
            guard let fd = Int32(name), (try? VolumeFS.readlink("/proc/self/fd/" + name)) == "anon_inode:inotify" else { return nil }
            return fd
        })
    }

    /// The watches the kernel holds on inotify instance `instance`: its /proc/self/fdinfo entry lists one
    /// `inotify wd:N …` line per watch, N in hex. Nil when that cannot be told.
    static func kernelWatches(on instance: Int32?) -> Set<Int32>? {
        guard let instance, let info = try? VolumeFS.readFile("/proc/self/fdinfo/\(instance)") else { return nil }
        var found: Set<Int32> = []
        for line in String(decoding: info, as: UTF8.self).split(separator: "\n") where line.hasPrefix("inotify wd:") {
            let number = line.dropFirst("inotify wd:".count).prefix { $0 != " " }
            if let descriptor = Int32(number, radix: 16) { found.insert(descriptor) }
        }
        return found
    }

    mutating func unwatch(_ watch: InotifyWatch) {
        let instance = self.instance
        unwatch(watch, kernelHas: { Self.kernelWatches(on: instance)?.contains($0) })
    }

    /// `kernelHas`: whether the kernel still holds a descriptor (nil: unknown), asked only when the last
    /// registration of a descriptor goes.
    private mutating func unwatch(_ watch: InotifyWatch, kernelHas: (Int32) -> Bool?) {
        guard let registration = registrations.removeValue(forKey: watch.id) else { return }
        let descriptor = registration.descriptor
        byDescriptor[descriptor]?.removeAll { $0 == watch.id }
        guard byDescriptor[descriptor]?.isEmpty == true else { return }
        byDescriptor[descriptor] = nil
        identities[descriptor] = nil
        // The kernel watch is normally still there (an IN_IGNORED would have removed the registrations),
        // so the library's removal succeeds and drops the descriptor's primary key with it. Not after a
        // queue overflow that swallowed the IN_IGNORED of a deleted directory: then the library's
        // inotify_rm_watch fails and it prints a raw line to stderr, in the middle of JSON logs. So the
        // kernel's own list is asked first; a watch it no longer has is only forgotten here (the library
        // keeps a dead entry, which is harmless: the kernel never hands out a descriptor twice).
        let removed = kernelHas(descriptor) != false && inotifytools_remove_watch_by_wd(descriptor) != 0
        for (key, state) in keys {
            guard case .live(descriptor, let primary) = state else { continue }
            keys[key] = removed && primary ? nil : .stale
        }
    }

    mutating func close(_ subscription: Int) {
        handlers[subscription] = nil
        let owned = registrations.filter { $0.value.subscription == subscription }
        // The kernel's list is read once for all of them, not once per watch.
        let live = owned.isEmpty ? nil : Self.kernelWatches(on: instance)
        for (id, registration) in owned {
            unwatch(InotifyWatch(id: id, path: registration.path, descriptor: registration.descriptor),
                    kernelHas: { live?.contains($0) })
        }
    }

    /// An event about one of the kubelet's own entries of a volume's root other than `..data` itself:
    /// `..<stamp>` (a generation being written or removed) and `..data_tmp` (the link before its rename).
    /// `VolumeSignal` classifies these as irrelevant; keep the two rules in step.
    static func isGenerationEntry(_ event: InotifyEvent) -> Bool {
        event.name.utf8.starts(with: "..".utf8) && event.name != AtomicVolume.dataLinkName
            && event.mask.isDisjoint(with: InotifyMask.unsolicited.union([.deleteSelf, .moveSelf]))
    }

    /// Hands `event` to every subscriber whose watch it concerns, each with its own `watch`.
    mutating func dispatch(_ event: InotifyEvent, descriptor: Int32) {
        if event.mask.contains(.queueOverflow) {
            // Events were lost, for every watch alike: each subscriber has to rescan.
            for handler in handlers.values { handler(event) }
            return
        }
        let generationEntry = Self.isGenerationEntry(event)
        var deliveries: [(subscription: Int, event: InotifyEvent)] = []
        for id in byDescriptor[descriptor] ?? [] {
            guard let registration = registrations[id], handlers[registration.subscription] != nil,
                !event.mask.isDisjoint(with: registration.mask.union(.unsolicited)),
                !(generationEntry && registration.skipsGenerationEntries)
            else { continue }
            var delivered = event
            delivered.watch = InotifyWatch(id: id, path: registration.path, descriptor: descriptor)
            deliveries.append((registration.subscription, delivered))
        }
        for (index, delivery) in deliveries.enumerated() {
            var delivered = delivery.event
            delivered.moreFollow = deliveries[(index + 1)...].contains { $0.subscription == delivery.subscription }
            handlers[delivery.subscription]?(delivered)
        }
        if event.mask.contains(.ignored) {
            // The kernel dropped the watch (deleted directory, unmount, or our own removal). The
            // library keeps its entry, so every key that names this descriptor is now stale.
            for id in byDescriptor[descriptor] ?? [] { registrations[id] = nil }
            byDescriptor[descriptor] = nil
            identities[descriptor] = nil
            for (key, state) in keys {
                if case .live(descriptor, _) = state { keys[key] = .stale }
            }
        }
    }
}

/// One client's view of the inotify thread: its watches and the handler that receives their events.
///
/// Events of a subscription arrive in kernel order, on the inotify thread. Every event that happens
/// after `watch` returned is delivered; one that happened while the call was in flight may be.
final class InotifySubscription: Sendable {
    let id: Int
    private let thread: InotifyThread

    fileprivate init(id: Int, thread: InotifyThread) {
        self.id = id
        self.thread = thread
    }

    /// Watches `path` (followed if a symlink) for `mask`.
    ///
    /// `skippingGenerationEntries`: events about the kubelet's `..<stamp>` directories and `..data_tmp`
    /// link in `path` are dropped on the inotify thread instead of being delivered (`..data` itself, and
    /// events about `path`, always are). A volume watcher ignores them anyway (the commit is the rename
    /// to `..data`), and each one delivered would wake the watch loop around every commit, several
    /// times, just before and while it reads the new generation.
    func watch(
        _ path: String, mask: InotifyMask, skippingGenerationEntries: Bool = false
    ) async throws(InotifyError) -> InotifyWatch {
        let result = await withCheckedContinuation { continuation in
            thread.watch(subscription: id, path: path, mask: mask, skipsGenerationEntries: skippingGenerationEntries) {
                continuation.resume(returning: $0)
            }
        }
        return try result.get()
    }

    /// The same, for callers that cannot await (the reply runs on the inotify thread).
    func watch(_ path: String, mask: InotifyMask, reply: @escaping InotifyThread.WatchReply) {
        thread.watch(subscription: id, path: path, mask: mask, skipsGenerationEntries: false, reply: reply)
    }

    /// Stops one watch; no event of it is delivered after this returns. Unwatching a watch whose
    /// directory is gone (IN_IGNORED seen) is a no-op.
    func unwatch(_ watch: InotifyWatch) async {
        await withCheckedContinuation { continuation in thread.unwatch(watch) { continuation.resume() } }
    }

    /// Stops every watch and the handler; nothing is delivered after this returns.
    func cancel() async {
        await withCheckedContinuation { continuation in thread.close(subscription: id) { continuation.resume() } }
    }

    /// `cancel()` for callers that cannot await.
    func cancel(reply: @escaping @Sendable () -> Void) {
        thread.close(subscription: id, reply: reply)
    }
}
