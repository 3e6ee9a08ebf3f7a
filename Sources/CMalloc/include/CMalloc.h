#ifndef PODAGENT_C_MALLOC_H
#define PODAGENT_C_MALLOC_H

/// glibc's malloc controls (malloc.h, which the Swift Glibc module does not import).

/// `mallopt(M_ARENA_MAX, 1)`: every thread allocates from the main heap instead of an arena of its own
/// (glibc makes up to eight per core, each with at least 132 KB mapped and partly touched). Takes effect
/// for threads that have not allocated yet: call it first thing in `main`. Returns 1 on success.
int podagent_malloc_single_arena(void);

/// `malloc_trim(0)`: gives back to the kernel the free pages inside the heap, not only at its top as
/// `free` does. Returns 1 when some were given back.
int podagent_malloc_trim(void);

#endif
