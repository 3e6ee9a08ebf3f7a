#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The one thread that owns podagent's children and caught signals.
///
/// It blocks in `poll(2)` on a self-pipe (written by the signal handler and by `kick()`) and on the
/// read ends of captured stdout/stderr pipes; idle, it costs no CPU and no wake-ups. On SIGCHLD it
/// reaps:
/// - normally only the children podagent spawned, each with `waitpid(pid, WNOHANG)`, so it never
///   steals an exit status from other code in the process that waits for its own children;
/// - as PID 1 or a child subreaper, everything with `waitpid(-1, WNOHANG)`: orphans re-parented to
///   us are reaped silently, and statuses of our own children are delivered to whoever awaits them.
///
/// The lock is held across `posix_spawn` and registration, so a child can never be reaped (or
/// signalled) before it is registered, and `ChildProcess.send` signals only pids that are not yet
/// reaped — a pid we have not reaped cannot be reused by the kernel.
final class ProcessEventThread: Sendable {
    static let shared = ProcessEventThread()

    /// Which of a child's output streams a pipe carries.
    enum OutputStream: Sendable { case stdout, stderr }

    struct Capture {
        let child: ChildProcess
        let stream: OutputStream
    }

    struct State {
        var children: [Int32: ChildProcess] = [:]
        var captures: [Int32: Capture] = [:]
        var observers: [Int32: [UInt64: @Sendable (SignalArrival) -> Void]] = [:]
        var nextObserver: UInt64 = 0
        var trapped: Set<Int32> = []
        var reapsAllChildren: Bool
        var orphansReaped = 0
    }

    let state: Mutex<State>
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        let pipe: (read: Int32, write: Int32)
        do { pipe = try LinuxCalls.makePipe() } catch { fatalError("podagent cannot create its signal pipe: \(error)") }
        _ = fcntl(pipe.read, F_SETFL, O_NONBLOCK)
        _ = fcntl(pipe.write, F_SETFL, O_NONBLOCK)
        wakeRead = pipe.read
        wakeWrite = pipe.write
        // As PID 1 every orphan in the PID namespace becomes our child; nobody else will reap it.
        state = Mutex(State(reapsAllChildren: getpid() == 1))
        SignalHandlers.prepare(wakeDescriptor: pipe.write)
        state.withLock { state in
            SignalHandlers.install(SIGCHLD)
            state.trapped.insert(SIGCHLD)
        }
        startThread()
    }

    private func startThread() {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 512 * 1024)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, &attributes, { context in
            let owner = Unmanaged<ProcessEventThread>.fromOpaque(context!).takeRetainedValue()
            owner.run()
        }, context)
        guard result == 0 else { fatalError("podagent cannot start its process event thread: errno \(result)") }
        pthread_detach(thread)
    }

    /// Wakes the thread so it re-reads its state (new capture pipes, newly trapped signals) and
    /// makes a reaping pass.
    func kick() {
        var byte: UInt8 = 0
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: Signals

    func observe(_ signals: [Int32], _ callback: @escaping @Sendable (SignalArrival) -> Void) -> UInt64 {
        let token = state.withLock { state in
            state.nextObserver += 1
            for signal in Set(signals) {
                state.observers[signal, default: [:]][state.nextObserver] = callback
                if !state.trapped.contains(signal) {
                    SignalHandlers.install(signal)
                    state.trapped.insert(signal)
                }
            }
            return state.nextObserver
        }
        kick()  // the thread unblocks newly trapped signals for itself
        return token
    }

    func unobserve(_ token: UInt64) {
        state.withLock { state in
            for signal in Array(state.observers.keys) {
                state.observers[signal]?[token] = nil
                if state.observers[signal]?.isEmpty == true {
                    state.observers[signal] = nil
                    if signal != SIGCHLD {
                        SignalHandlers.restore(signal)
                        state.trapped.remove(signal)
                    }
                }
            }
        }
    }

    // MARK: The loop

    private func run() -> Never {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let (watched, trapped) = state.withLock { state in (Array(state.captures), state.trapped) }
            SignalHandlers.unblockInCurrentThread(trapped)
            var pollSet = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            for (fd, _) in watched {
                pollSet.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
            if poll(&pollSet, nfds_t(pollSet.count), -1) < 0 {
                continue  // EINTR: a handler ran on this thread and left its byte in the pipe
            }
            var arrived: [SignalArrival] = []
            var reapingDue = false
            if pollSet[0].revents != 0 {
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(wakeRead, $0.baseAddress, 256) }
                    if count <= 0 { break }
                    for byte in buffer[0..<count] {
                        let signal = Int32(byte & ~SignalArrival.kernelFlag)
                        if signal == 0 || signal == SIGCHLD {
                            reapingDue = true
                        } else {
                            arrived.append(SignalArrival(signal: signal, sentByKernel: byte & SignalArrival.kernelFlag != 0))
                        }
                    }
                }
            }
            for (index, (fd, capture)) in watched.enumerated() where pollSet[index + 1].revents != 0 {
                readCapture(fd, capture, &buffer)
            }
            if reapingDue { reap(&buffer) }
            for arrival in arrived {
                let callbacks = state.withLock { state in state.observers[arrival.signal].map { Array($0.values) } ?? [] }
                for callback in callbacks { callback(arrival) }
            }
        }
    }

    /// Reads what a capture pipe has; closes it at end of file.
    private func readCapture(_ fd: Int32, _ capture: Capture, _ buffer: inout [UInt8]) {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            capture.child.append(buffer[0..<count], to: capture.stream)
        } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
            let owned = state.withLock { state in state.captures.removeValue(forKey: fd) != nil }
            if owned { close(fd) }
        }
    }

    private func reap(_ buffer: inout [UInt8]) {
        let finished = state.withLock { state -> [(ChildProcess, ProcessExitStatus, [Int32: Capture])] in
            var finished: [(ChildProcess, ProcessExitStatus, [Int32: Capture])] = []
            func complete(_ pid: Int32, _ status: ProcessExitStatus) {
                guard let child = state.children.removeValue(forKey: pid) else {
                    state.orphansReaped += 1
                    return
                }
                let pipes = state.captures.filter { $0.value.child === child }
                for fd in pipes.keys { state.captures[fd] = nil }
                finished.append((child, status, pipes))
            }
            var raw: Int32 = 0
            if state.reapsAllChildren {
                while true {
                    let pid = waitpid(-1, &raw, WNOHANG)
                    if pid <= 0 { break }
                    complete(pid, ProcessExitStatus(waitStatus: raw))
                }
            } else {
                for pid in Array(state.children.keys) {
                    let result = waitpid(pid, &raw, WNOHANG)
                    if result == pid {
                        complete(pid, ProcessExitStatus(waitStatus: raw))
                    } else if result < 0 && errno == ECHILD {
                        // Someone else in this process waited for our child (waitpid(-1) elsewhere):
                        // the status is lost. Report a failure rather than hang the awaiting task.
                        complete(pid, .exited(255))
                    }
                }
            }
            return finished
        }
        for (child, status, pipes) in finished {
            // The child's own output is already in the pipe; take what is there without waiting for
            // end of file, which a background grandchild holding the pipe open could delay forever.
            for (fd, capture) in pipes {
                for _ in 0..<64 {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count <= 0 { break }
                    child.append(buffer[0..<count], to: capture.stream)
                }
                close(fd)
            }
            child.finish(status)
        }
    }
}
