import ArgumentParser
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

// Swift concurrency's default executor on Linux (libdispatch) keeps a once-a-second timer alive; run
// concurrency on NIO's event loops instead so an idle podagent never wakes up. This must happen before
// anything is enqueued, hence plain top-level code and no `@main` async entry point.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

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
