// Reports to jsbench (stdout) and the table of async publishes awaiting their
// ack handler, both guarded by ONE mutex: the handler and the publishing
// thread must agree, under the same lock, on whether the `s` line of an id is
// out yet (docs/adapters.md: `s` comes before `a`/`e` of the same id).
//
// Lines are appended to a buffer; a writer thread drains it to fd 1 as soon as
// it is non-empty, so no report waits for the next input or ack (the contract's
// "never hold a report back"), and bursts coalesce into few write(2) calls.
#ifndef JSB_REPORT_H
#define JSB_REPORT_H

#include <stdint.h>
#include <stddef.h>

void report_start(void);
// Writes out everything appended so far and stops the writer thread.
void report_stop(void);

void report_lock(void);
void report_unlock(void);
// Appends one whole line (with its '\n'); caller holds the lock.
void report_put_locked(const char *line, size_t len);
// printf-style, for one whole line; caller holds the lock.
void report_printf_locked(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// An async publish between its js_PublishMsgAsync call and its ack handler.
typedef struct pending {
    const void *key;  // the natsMsg pointer the library hands back to the handler
    uint64_t id;
    int returned;     // the `s` line is out: the handler may write directly
    char *deferred;   // a handler's line waiting for the `s` line (malloc'd)
} pending;

// All under the report lock. pending_put returns NULL when out of memory.
pending *pending_put(const void *key, uint64_t id);
pending *pending_find(const void *key);
void pending_remove(const void *key);
size_t pending_count(void);

#endif
