#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Catches Unix signals sent to podagent and hands them out as an `AsyncStream`.
///
/// ```swift
/// for await signal in SignalTrap.arrivals(of: [SIGTERM, SIGUSR1]) {
///     logger.info("got \(SignalName.name(of: signal))")
/// }
/// ```
///
/// How: a `sigaction` handler writes the signal number into a self-pipe read by the process event
/// thread (the same thread that reaps children), which yields it to every stream subscribed to it.
/// A handler (rather than `sigwait`/`signalfd`) is used because those need the signal blocked in
/// *every* thread, which a library cannot guarantee for threads it did not create; a handler runs on
/// whichever thread the kernel picks. The event thread unblocks trapped signals for itself, so even
/// when all other threads block them (Swift Testing's do) there is a thread to deliver to. Children
/// are unaffected: the spawner gives them an empty mask and default dispositions.
///
/// A handler that was installed before ours (for example libdispatch's, behind a `DispatchSource`)
/// still runs: ours chains to it. When the last stream for a signal ends, the previous disposition
/// is restored. Do not let another component (such as swift-service-lifecycle's
/// `gracefulShutdownSignals`) claim the same signals afterwards: it would replace this handler.
public enum SignalTrap {
    /// Starts catching `signals` (installed before this returns, so nothing sent afterwards is lost)
    /// and returns a stream of their numbers, one element per delivery the kernel did not merge.
    /// SIGKILL and SIGSTOP cannot be caught.
    public static func arrivals(of signals: [Int32]) -> AsyncStream<Int32> {
        stream(of: signals) { $0.signal }
    }

    /// Like ``arrivals(of:)``, with who sent each signal: a process (`kill`), or the kernel — which
    /// for SIGINT, SIGQUIT and SIGWINCH means a terminal, signalling its whole foreground process group
    /// (Ctrl-C, Ctrl-\, a resize).
    public static func deliveries(of signals: [Int32]) -> AsyncStream<SignalArrival> {
        stream(of: signals) { $0 }
    }

    private static func stream<Element: Sendable>(
        of signals: [Int32], _ element: @escaping @Sendable (SignalArrival) -> Element
    ) -> AsyncStream<Element> {
        precondition(!signals.contains(SIGKILL) && !signals.contains(SIGSTOP), "SIGKILL and SIGSTOP cannot be caught")
        let (stream, continuation) = AsyncStream<Element>.makeStream()
        let events = ProcessEventThread.shared
        let token = events.observe(signals) { arrival in continuation.yield(element(arrival)) }
        continuation.onTermination = { _ in events.unobserve(token) }
        return stream
    }
}

/// One signal delivered to podagent.
public struct SignalArrival: Sendable, Equatable {
    public var signal: Int32
    /// `si_code == SI_KERNEL`: the kernel sent it, not a process. A terminal's SIGINT (Ctrl-C), SIGQUIT
    /// (Ctrl-\) and SIGWINCH go to every process of its foreground process group this way.
    public var sentByKernel: Bool

    public init(signal: Int32, sentByKernel: Bool) {
        self.signal = signal
        self.sentByKernel = sentByKernel
    }

    /// The high bit of the byte the handler writes: signal numbers end at 64.
    static let kernelFlag: UInt8 = 0x80
}

// MARK: - The handler and what it may touch

// Everything the handler reads lives in fixed storage written before the handler is installed, so
// the handler never touches a Swift collection, a lock or the allocator (async-signal safety).

/// The self-pipe's write end (non-blocking: when the pipe is full, wake-ups are already pending).
nonisolated(unsafe) private var trapWakeDescriptor: Int32 = -1

/// The disposition each signal had before ours, indexed by signal number, for chaining and restoring.
nonisolated(unsafe) private let savedActions: UnsafeMutablePointer<sigaction> = {
    let storage = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
    storage.initialize(repeating: sigaction(), count: 65)
    return storage
}()

private func trapHandler(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    let savedErrno = errno
    // The previous owner's handler first, so that whatever it does has happened by the time our
    // subscribers hear of the signal.
    let previous = savedActions[Int(signal)]
    if previous.sa_flags & Int32(SA_SIGINFO) != 0 {
        previous.__sigaction_handler.sa_sigaction?(signal, info, context)
    } else if let handler = previous.__sigaction_handler.sa_handler {
        // SIG_IGN is the "function" at address 1; SIG_DFL is nil.
        if unsafeBitCast(handler, to: Int.self) != 1 { handler(signal) }
    }
    var byte = UInt8(truncatingIfNeeded: signal)
    // Literals only: a static property could need lazy initialisation, which is not signal-safe.
    if let info, info.pointee.si_code == 0x80 /* SI_KERNEL */ { byte |= 0x80 /* SignalArrival.kernelFlag */ }
    _ = write(trapWakeDescriptor, &byte, 1)
    errno = savedErrno
}

/// Installation and removal of `trapHandler`; called by the process event thread's owner with its
/// lock held, so installs and restores never interleave.
enum SignalHandlers {
    /// Must run once, before the first `install`.
    static func prepare(wakeDescriptor: Int32) {
        trapWakeDescriptor = wakeDescriptor
        _ = savedActions  // initialise the lazy global now, not inside the handler
    }

    static func install(_ signal: Int32) {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = trapHandler
        // SA_RESTART: other threads' blocking calls are not failed with EINTR by our signals.
        // SA_NOCLDSTOP: a stopped or continued child is not a reason to wake up.
        action.sa_flags = Int32(SA_SIGINFO) | Int32(SA_RESTART) | (signal == SIGCHLD ? Int32(SA_NOCLDSTOP) : 0)
        sigemptyset(&action.sa_mask)
        sigaction(signal, &action, savedActions + Int(signal))
    }

    /// Puts back the disposition from before `install`, unless someone replaced ours since.
    static func restore(_ signal: Int32) {
        var current = sigaction()
        sigaction(signal, nil, &current)
        guard current.sa_flags & Int32(SA_SIGINFO) != 0,
              let installed = current.__sigaction_handler.sa_sigaction,
              unsafeBitCast(installed, to: Int.self) == unsafeBitCast(trapHandler as @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void, to: Int.self)
        else { return }
        sigaction(signal, savedActions + Int(signal), nil)
    }

    /// Lets the calling thread receive `signals`.
    static func unblockInCurrentThread(_ signals: Set<Int32>) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
