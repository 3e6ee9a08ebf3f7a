#ifndef PODAGENT_C_LOADED_OBJECTS_H
#define PODAGENT_C_LOADED_OBJECTS_H

#include <stdint.h>

/// Calls `visit` with the page range [start, end) of every segment of the loaded executable and
/// libraries that is mapped from the file and never written: `PT_LOAD` without `PF_W`, less any page it
/// shares with a writable segment, of an object without text relocations; the vDSO (not a file) is
/// left out.
///
/// It runs inside `dl_iterate_phdr`, which lists an object once all its segments are mapped (perhaps
/// before `dlopen` has relocated it: its read-only segments are not written by that) and holds the lock
/// under which objects are removed before they are unmapped: no visited range can be unmapped or mapped
/// over while `visit` runs. `visit` must not call `dladdr`, `dlsym`, `dlopen` or `dlclose`: they take the
/// loader's other lock, which a `dlopen` in another thread holds while it waits for this one.
/// Returns the number of ranges visited.
int podagent_each_readonly_segment(void (*_Nonnull visit)(void *_Nullable context, uintptr_t start, uintptr_t end),
                                   void *_Nullable context);

#endif
