// The report buffer with its writer thread, and the pending table (an
// open-addressing hash on the natsMsg pointer with backward-shift deletion).
#include "report.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t writer;
static char *buf;          // lines appended, not yet taken by the writer
static size_t len, cap;
static int writer_waiting; // the writer sleeps on cond: signal it
static int stopping;

static void die_oom(void) {
    // Losing a report would corrupt the run; better to crash loudly.
    fputs("jsbench-nats.c: out of memory for reports\n", stderr);
    abort();
}

static void write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            // jsbench closed our stdout: nobody can read reports any more.
            perror("jsbench-nats.c: write stdout");
            _exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void *writer_main(void *arg) {
    (void)arg;
    char *mine = NULL;
    size_t mine_cap = 0;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (len == 0 && !stopping) {
            writer_waiting = 1;
            pthread_cond_wait(&cond, &mu);
            writer_waiting = 0;
        }
        if (len == 0 && stopping)
            break;
        // Swap buffers so producers keep appending while we write.
        char *full = buf;
        size_t full_len = len, full_cap = cap;
        buf = mine;
        cap = mine_cap;
        len = 0;
        pthread_mutex_unlock(&mu);
        write_all(full, full_len);
        mine = full;
        mine_cap = full_cap;
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    free(mine);
    return NULL;
}

void report_start(void) {
    if (pthread_create(&writer, NULL, writer_main, NULL) != 0) {
        perror("jsbench-nats.c: pthread_create");
        exit(1);
    }
}

void report_stop(void) {
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mu);
    pthread_join(writer, NULL);
}

void report_lock(void) { pthread_mutex_lock(&mu); }
void report_unlock(void) { pthread_mutex_unlock(&mu); }

static void reserve(size_t more) {
    if (len + more <= cap) return;
    size_t ncap = cap ? cap : 1 << 16;
    while (ncap < len + more) ncap *= 2;
    char *nb = realloc(buf, ncap);
    if (nb == NULL) die_oom();
    buf = nb;
    cap = ncap;
}

void report_put_locked(const char *line, size_t n) {
    reserve(n);
    memcpy(buf + len, line, n);
    len += n;
    if (writer_waiting)
        pthread_cond_signal(&cond);
}

void report_printf_locked(const char *fmt, ...) {
    va_list ap;
    reserve(256);
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= cap - len) {
        reserve((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(buf + len, cap - len, fmt, ap);
        va_end(ap);
    }
    len += (size_t)n;
    if (writer_waiting)
        pthread_cond_signal(&cond);
}

// ---- pending table ----

static pending *slots;
static size_t nslots, used; // nslots is a power of two

static size_t slot_of(const void *key) {
    uint64_t h = (uint64_t)(uintptr_t)key;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & (nslots - 1);
}

static int grow(void) {
    size_t old_n = nslots;
    pending *old = slots;
    size_t n = old_n ? old_n * 2 : 1024;
    pending *ns = calloc(n, sizeof(pending));
    if (ns == NULL) return -1;
    slots = ns;
    nslots = n;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].key == NULL) continue;
        size_t j = slot_of(old[i].key);
        while (slots[j].key != NULL) j = (j + 1) & (nslots - 1);
        slots[j] = old[i];
    }
    free(old);
    return 0;
}

pending *pending_put(const void *key, uint64_t id) {
    if ((used + 1) * 2 > nslots && grow() != 0) return NULL;
    size_t j = slot_of(key);
    while (slots[j].key != NULL && slots[j].key != key) j = (j + 1) & (nslots - 1);
    if (slots[j].key == NULL) used++;
    slots[j] = (pending){key, id, 0, NULL};
    return &slots[j];
}

pending *pending_find(const void *key) {
    if (nslots == 0) return NULL;
    size_t j = slot_of(key);
    while (slots[j].key != NULL) {
        if (slots[j].key == key) return &slots[j];
        j = (j + 1) & (nslots - 1);
    }
    return NULL;
}

void pending_remove(const void *key) {
    pending *p = pending_find(key);
    if (p == NULL) return;
    free(p->deferred);
    size_t i = (size_t)(p - slots);
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    for (;;) {
        size_t j = (i + 1) & (nslots - 1);
        for (;;) {
            if (slots[j].key == NULL) { slots[i].key = NULL; slots[i].deferred = NULL; used--; return; }
            size_t home = slot_of(slots[j].key);
            // Move j back to i unless its home lies cyclically in (i, j].
            int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
            if (!stays) break;
            j = (j + 1) & (nslots - 1);
        }
        slots[i] = slots[j];
        i = j;
    }
}

size_t pending_count(void) { return used; }
