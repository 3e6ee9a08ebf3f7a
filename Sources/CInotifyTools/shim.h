#ifndef PODAGENT_CINOTIFYTOOLS_SHIM_H
#define PODAGENT_CINOTIFYTOOLS_SHIM_H

#include <inotifytools/inotifytools.h>
#include <sys/inotify.h>
#include <string.h>

// Compound macros and the flexible array member `name` do not import into Swift; expose them here.
static inline int podagent_in_all_events(void) { return IN_ALL_EVENTS; }
static inline int podagent_in_move(void) { return IN_MOVE; }
static inline int podagent_in_close(void) { return IN_CLOSE; }

/// Copies the event's name (possibly empty) into `buffer`, NUL-terminated; returns its length.
static inline size_t podagent_event_name(const struct inotify_event *event, char *buffer, size_t capacity) {
    if (event == NULL || event->len == 0 || capacity == 0) { if (capacity) buffer[0] = 0; return 0; }
    size_t n = strnlen(event->name, event->len);
    if (n >= capacity) n = capacity - 1;
    memcpy(buffer, event->name, n);
    buffer[n] = 0;
    return n;
}
#endif
