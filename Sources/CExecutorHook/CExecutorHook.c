#include "CExecutorHook.h"

#include <stdint.h>

// Defined by the Swift concurrency runtime (libswift_Concurrency.so, or the static runtime).
extern void *swift_task_enqueueGlobal_hook;

// The runtime's entry point for running a job on an executor:
// `SWIFT_CC(swift) void swift_job_run(Job *job, SerialExecutorRef executor)`. A SerialExecutorRef is two
// words, identity and implementation, which the Swift calling convention passes as two arguments.
__attribute__((swiftcall)) extern void swift_job_run(void *job, void *identity, uintptr_t implementation);

void *_Nullable *_Nonnull podagent_enqueue_global_hook_slot(void) {
    return &swift_task_enqueueGlobal_hook;
}

void podagent_run_job_on_generic_executor(void *_Nonnull job) {
    // SerialExecutorRef::generic() is {NULL, 0}.
    swift_job_run(job, (void *)0, 0);
}
