import ArgumentParser
import CExecutorHook
import CMalloc
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

// One malloc heap for all threads. glibc gives each thread that allocates an arena of its own, up to eight
// per core; podagent's threads (the event loop, the inotify reader, the threads that wait for children)
// allocate little and rarely at the same time, and each arena kept 16-336 KB resident (idle RSS -0.1 MB,
// bench/reload_bench.py). Before any thread exists.
podagent_malloc_single_arena()

// Swift concurrency's default executor on Linux (libdispatch) keeps a once-a-second timer alive; run
// concurrency on NIO's event loops instead so an idle podagent never wakes up. This must happen before
// anything is enqueued, hence plain top-level code and no `@main` async entry point.
//
// One event loop, not one per core: everything podagent does between a `..data` rename and a reload
// (reading and hashing a generation, the pipeline, the webhook's connection) then runs on one thread,
// without a wake-up of a second, sleeping thread in the middle. On a 2-core VM that was ~40 µs of a
// ~0.6 ms reload (bench/reload_bench.py), and it is one thread less in every pod. Nothing podagent runs
// on the loop blocks it for long: check commands and apps are waited for by their own threads.
NIOSingletons.groupLoopCountSuggestion = 1
installEventLoopsAsGlobalExecutor()

var command: any ParsableCommand
do {
    command = try PodAgentCommand.parseAsRoot()
} catch {
    PodAgentCommand.exit(withError: error)
}

if let parsed = command as? any AsyncParsableCommand {
    // Handed to exactly one task, and the main thread only waits: no concurrent access.
    nonisolated(unsafe) var asyncCommand = parsed
    // Block the main thread on a semaphore while the command runs on the executor.
    nonisolated(unsafe) var failure: (any Error)?
    nonisolated(unsafe) var done = sem_t()
    sem_init(&done, 0, 0)
    Task.detached {
        do {
            try await asyncCommand.run()
        } catch {
            failure = error
        }
        sem_post(&done)
    }
    while sem_wait(&done) != 0 && errno == EINTR {}
    if let failure { PodAgentCommand.exit(withError: failure) }
    PodAgentCommand.exit()
} else {
    do {
        try command.run()
    } catch {
        PodAgentCommand.exit(withError: error)
    }
}

/// Makes NIO's singleton event loops Swift concurrency's global executor.
///
/// NIO's own `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`
/// finds the runtime's hook with `dlsym`, which fails in a `--static-swift-stdlib` build (the hook is
/// hidden there) and would leave libdispatch's timer waking an idle podagent. This does the same with
/// the hook's address taken by the linker, which works in both kinds of build.
func installEventLoopsAsGlobalExecutor() {
    typealias EnqueueGlobalHook =
        @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void
    let hook: EnqueueGlobalHook = { job, _ in
        // `any()` is sticky: a job enqueued from an event loop stays on it, without a thread switch.
        // The job runs on the generic executor, as with the runtime's own global executor, not isolated
        // to the loop (`enqueue(_:)`): else every call of a nonisolated async function would go round the
        // loop once more (a reload's path has about ten of them).
        let address = UInt(bitPattern: unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
        MultiThreadedEventLoopGroup.singleton.any().execute {
            podagent_run_job_on_generic_executor(UnsafeMutableRawPointer(bitPattern: address)!)
        }
    }
    let slot = podagent_enqueue_global_hook_slot()
    precondition(slot.pointee == nil, "another global executor hook is already installed")
    slot.pointee = unsafeBitCast(hook, to: UnsafeMutableRawPointer.self)
}
