#ifndef PODAGENT_C_EXECUTOR_HOOK_H
#define PODAGENT_C_EXECUTOR_HOOK_H

/// The address of the Swift runtime's `swift_task_enqueueGlobal_hook` variable: the slot through
/// which a program replaces Swift concurrency's global executor.
///
/// Taken by the linker rather than by `dlsym`, because a `--static-swift-stdlib` build links the
/// runtime into the executable with the hook hidden, where `dlsym` cannot see it.
void *_Nullable *_Nonnull podagent_enqueue_global_hook_slot(void);

/// Runs a Swift concurrency job on this thread as the runtime's own global executor does: on the
/// *generic* executor, not isolated to any serial executor.
///
/// NIO's `EventLoop.enqueue(_:)` runs a job isolated to the loop's serial executor. As the global
/// executor's implementation that makes every call into a nonisolated `async` function a switch "off" that
/// executor — one more enqueue and turn of the loop, back onto the same thread — where the runtime would
/// simply continue on the generic executor.
void podagent_run_job_on_generic_executor(void *_Nonnull job);

#endif
