#include "CExecutorHook.h"

// Defined by the Swift concurrency runtime (libswift_Concurrency.so, or the static runtime).
extern void *swift_task_enqueueGlobal_hook;

void *_Nullable *_Nonnull podagent_enqueue_global_hook_slot(void) {
    return &swift_task_enqueueGlobal_hook;
}
