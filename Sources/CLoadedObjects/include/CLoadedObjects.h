#ifndef PODAGENT_C_LOADED_OBJECTS_H
#define PODAGENT_C_LOADED_OBJECTS_H

#include <stdint.h>

/// Calls `visit` with the page range [start, end) of every segment of the loaded executable and
/// libraries that is mapped from the file and never written: `PT_LOAD` without `PF_W`, of an object
/// without text relocations; the vDSO (not a file) is left out.
///
/// It runs inside `dl_iterate_phdr`, which lists an object only once all its segments are mapped and
/// holds the loader's lock against unloading: no visited range can be unmapped or mapped over while
/// `visit` runs. `visit` must not load or unload objects (no `dlopen`, `dlclose`, `dl_iterate_phdr`).
/// Returns the number of ranges visited.
int podagent_each_readonly_segment(void (*_Nonnull visit)(void *_Nullable context, uintptr_t start, uintptr_t end),
                                   void *_Nullable context);

#endif
