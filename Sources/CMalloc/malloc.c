#include "CMalloc.h"

#include <malloc.h>

int podagent_malloc_single_arena(void) {
    return mallopt(M_ARENA_MAX, 1);
}

int podagent_malloc_trim(void) {
    return malloc_trim(0);
}
