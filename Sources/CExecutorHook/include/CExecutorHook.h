#ifndef PODAGENT_C_EXECUTOR_HOOK_H
#define PODAGENT_C_EXECUTOR_HOOK_H

/// The address of the Swift runtime's `swift_task_enqueueGlobal_hook` variable: the slot through
/// which a program replaces Swift concurrency's global executor.
///
/// Taken by the linker rather than by `dlsym`, because a `--static-swift-stdlib` build links the
/// runtime into the executable with the hook hidden, where `dlsym` cannot see it.
void *_Nullable *_Nonnull podagent_enqueue_global_hook_slot(void);

#endif
