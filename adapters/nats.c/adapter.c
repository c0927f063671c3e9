// jsbench-nats.c: the nats.c (libnats 3.4.1) publisher behind jsbench's
// adapter contract (docs/adapters.md, protocol 1).
//
// It publishes the way a C application does: one natsConnection per init
// `connections` entry, one jsCtx on each; async mode calls js_PublishMsgAsync
// with the context's jsOptions.PublishAsync.AckHandler, sync mode js_Publish.
// It never retries, times out or reconnects on its own: what the client does
// is the measurement.
//
// Threads: main reads stdin and publishes (so publishes go out in input
// order); the library runs each connection's ack handler on that connection's
// reply-subscription thread; report.c's writer thread drains reports to stdout.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "client.h"
#include "config.h"
#include "json.h"
#include "report.h"

#define ADAPTER_NAME "jsbench-nats.c"
#define ERRTEXT_MAX 512

static config cfg;
static natsConnection **conns;
static jsCtx **jss;
// Acks or errors whose handler ran before js_PublishMsgAsync returned (under the report lock).
static uint64_t early_reports;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// ---------------------------------------------------------------- errors ---

// Where a failure surfaced: the class of an error depends on whether the
// message can have reached the server by then.
typedef enum { AT_ASYNC_CALL, AT_ASYNC_HANDLER, AT_SYNC } where_t;

typedef struct {
    char cls;          // 'd' or 'i'
    int code;          // JetStream err_code, 503, or 0
    const char *kind;  // [a-z0-9_]+
} errclass;

// Classifies a nats.c failure (reasons cite nats.c v3.4.1's src/js.c, pub.c).
static errclass classify(natsStatus s, jsErrCode jerr, const char *text, where_t at, int closed_before) {
    errclass e = {'i', 0, "error"};
    switch (s) {
    case NATS_ERR:
        if (jerr != 0) {
            // An error reply from the stream: nothing was stored, except that
            // 10158 "duplicate message id is in process" means the original may be.
            e.code = (int)jerr;
            e.kind = "api_error";
            e.cls = (jerr == 10158) ? 'i' : 'd';
        }
        return e; // NATS_ERR without err_code: an unparsable reply; may be stored
    case NATS_NO_RESPONDERS:
        e.cls = 'd';
        e.code = 503;
        e.kind = "no_responders";
        return e;
    case NATS_TIMEOUT:
        // js_PublishMsgAsync's only NATS_TIMEOUT before sending is the
        // MaxPending stall (_registerPubMsg); it never reached the connection.
        if (at == AT_ASYNC_CALL && text != NULL && strstr(text, "stalled") != NULL) {
            e.cls = 'd';
            e.kind = "stalled";
        } else {
            e.kind = "timeout";
        }
        return e;
    case NATS_CONNECTION_CLOSED:
        e.kind = "connection_closed";
        // natsConn_publish refuses a closed connection before writing; a sync
        // request may also end this way while waiting for its reply, after
        // sending, so only a connection already closed before the call is sure.
        if (at == AT_ASYNC_CALL || closed_before) e.cls = 'd';
        return e;
    case NATS_INSUFFICIENT_BUFFER: e.kind = "reconnect_buffer_full"; break;
    case NATS_MAX_PAYLOAD: e.kind = "max_payload"; break;
    case NATS_DRAINING: e.kind = "draining"; break;
    case NATS_NO_SERVER_SUPPORT: e.kind = "no_header_support"; break;
    case NATS_INVALID_SUBJECT: e.kind = "invalid_subject"; break;
    case NATS_INVALID_ARG: e.kind = "invalid_arg"; break;
    case NATS_CONNECTION_DISCONNECTED: e.kind = "disconnected"; return e;
    case NATS_IO_ERROR: e.kind = "io_error"; return e;
    default: return e;
    }
    // The statuses that break out of the switch come from natsConn_publish's
    // checks before it writes a byte, in the async call and the sync request alike.
    if (at != AT_ASYNC_HANDLER) e.cls = 'd';
    return e;
}

// Copies text for an `e` line: one line, valid UTF-8.
static void clean_text(char *out, size_t cap, const char *text) {
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p && n + 4 < cap) {
        if (*p == '\n' || *p == '\r') { out[n++] = ' '; p++; continue; }
        size_t l = utf8_valid_len(p);
        if (l == 0) { out[n++] = '?'; p++; continue; }
        memcpy(out + n, p, l);
        n += l;
        p += l;
    }
    out[n] = '\0';
}

static const char *last_error_text(natsStatus s) {
    const char *t = nats_GetLastError(NULL);
    return (t != NULL && t[0] != '\0') ? t : natsStatus_GetText(s);
}

// ----------------------------------------------------------------- async ---

// The application's ack handler (jsOptions.PublishAsync.AckHandler): runs on the
// connection's reply-subscription thread, once per publish, in reply order.
void jsb_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    (void)closure;
    char line[ERRTEXT_MAX + 128], text[ERRTEXT_MAX];
    int n;
    report_lock();
    // Read under the lock: with several connections, `a`/`e` lines then appear
    // in the order of their times, the completion order jsbench reads.
    int64_t t = now_ns();
    pending *p = pending_find(msg);
    if (p == NULL) {
        report_unlock();
        fprintf(stderr, ADAPTER_NAME ": ack handler called for a message this adapter does not know\n");
        natsMsg_Destroy(msg);
        return;
    }
    if (pa != NULL) {
        n = snprintf(line, sizeof(line), "a %" PRIu64 " %" PRId64 " %" PRIu64 " %d\n", p->id, t, pa->Sequence,
                     pa->Duplicate ? 1 : 0);
    } else {
        errclass e = classify(pae->Err, pae->ErrCode, pae->ErrText, AT_ASYNC_HANDLER, 0);
        clean_text(text, sizeof(text), pae->ErrText);
        n = snprintf(line, sizeof(line), "e %" PRIu64 " %" PRId64 " %c %d %s %s\n", p->id, t, e.cls, e.code, e.kind,
                     text);
    }
    if (p->returned) {
        report_put_locked(line, (size_t)n);
        pending_remove(msg);
    } else {
        // The publish call has not returned yet: its `s` line must come first.
        p->deferred = strdup(line);
        early_reports++;
    }
    report_unlock();
    // AckHandler contract: the application destroys the message.
    natsMsg_Destroy(msg);
}

static void publish_async(uint64_t id, int conn, const char *subj, const char *msgid) {
    natsMsg *msg = NULL;
    jsPubOptions o;
    natsStatus s = natsMsg_Create(&msg, subj, NULL, (const char *)cfg.payload, cfg.payload_size);
    if (s != NATS_OK) {
        fprintf(stderr, ADAPTER_NAME ": natsMsg_Create: %s\n", natsStatus_GetText(s));
        exit(1);
    }
    jsPubOptions_Init(&o);
    o.MsgId = msgid;
    o.MaxWait = cfg.ack_timeout_ms;
    const void *key = msg; // the pointer the library will hand to jsb_on_ack
    report_lock();
    if (pending_put(key, id) == NULL) {
        fprintf(stderr, ADAPTER_NAME ": out of memory\n");
        abort();
    }
    report_unlock();

    int64_t t0 = now_ns();
    s = js_PublishMsgAsync(jss[conn], &msg, &o);
    int64_t t1 = now_ns();

    char text[ERRTEXT_MAX];
    if (s != NATS_OK) {
        // The library did not take the message: no handler will run for it.
        const char *raw = last_error_text(s);
        errclass e = classify(s, 0, raw, AT_ASYNC_CALL, 0);
        clean_text(text, sizeof(text), raw);
        report_lock();
        pending_remove(key);
        report_printf_locked("s %" PRIu64 " %" PRId64 " %" PRId64 "\n", id, t0, t1);
        report_printf_locked("e %" PRIu64 " %" PRId64 " %c %d %s %s\n", id, t1, e.cls, e.code, e.kind, text);
        report_unlock();
        natsMsg_Destroy(msg);
        return;
    }
    report_lock();
    report_printf_locked("s %" PRIu64 " %" PRId64 " %" PRId64 "\n", id, t0, t1);
    pending *p = pending_find(key);
    if (p != NULL) {
        if (p->deferred != NULL) {
            report_put_locked(p->deferred, strlen(p->deferred));
            pending_remove(key);
        } else {
            p->returned = 1;
        }
    }
    report_unlock();
}

// ------------------------------------------------------------------ sync ---

static void publish_sync(uint64_t id, int conn, const char *subj, const char *msgid) {
    jsPubOptions o;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    char text[ERRTEXT_MAX];
    jsPubOptions_Init(&o);
    o.MsgId = msgid;
    o.MaxWait = cfg.ack_timeout_ms;
    int closed_before = natsConnection_IsClosed(conns[conn]);

    int64_t t0 = now_ns();
    natsStatus s = js_Publish(&pa, jss[conn], subj, cfg.payload, cfg.payload_size, &o, &jerr);
    int64_t t1 = now_ns();

    report_lock();
    report_printf_locked("s %" PRIu64 " %" PRId64 " %" PRId64 "\n", id, t0, t1);
    if (s == NATS_OK) {
        report_printf_locked("a %" PRIu64 " %" PRId64 " %" PRIu64 " %d\n", id, t1, pa->Sequence, pa->Duplicate ? 1 : 0);
    } else {
        const char *raw = last_error_text(s);
        errclass e = classify(s, jerr, raw, AT_SYNC, closed_before);
        clean_text(text, sizeof(text), raw);
        report_printf_locked("e %" PRIu64 " %" PRId64 " %c %d %s %s\n", id, t1, e.cls, e.code, e.kind, text);
    }
    report_unlock();
    jsPubAck_Destroy(pa);
}

// ----------------------------------------------------------------- input ---

static int parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (*s == '\0') return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static void bad_input(const char *what, const char *line) {
    // jsbench broke the contract: say so on stderr (jsbench quotes it) and stop.
    fprintf(stderr, ADAPTER_NAME ": %s: %.200s\n", what, line);
    exit(1);
}

// Splits line (modified in place) at single spaces into at most max fields.
static int split(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        p = strchr(p, ' ');
        if (p == NULL) break;
        *p++ = '\0';
    }
    return (p == NULL) ? n : max + 1;
}

static void handle_line(char *line) {
    char *f[7];
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", line);
    if (line[0] == 'c' && line[1] == ' ') {
        uint64_t n;
        if (parse_u64(line + 2, &n) != 0) bad_input("malformed clock probe", copy);
        int64_t t = now_ns();
        report_lock();
        report_printf_locked("c %" PRIu64 " %" PRId64 "\n", n, t);
        report_unlock();
        return;
    }
    if (line[0] == 'p' && line[1] == ' ') {
        uint64_t id, conn;
        if (split(line, f, 6) != 6) bad_input("a publish line needs 6 fields", copy);
        if (parse_u64(f[1], &id) != 0 || parse_u64(f[2], &conn) != 0) bad_input("malformed publish line", copy);
        if (conn >= (uint64_t)cfg.nconn) bad_input("publish on a connection index init did not open", copy);
        if (strlen(f[5]) != 48 || hex_decode(f[5], 24, cfg.payload) != 0) bad_input("tag is not 48 hex digits", copy);
        const char *msgid = (strcmp(f[4], "-") == 0) ? NULL : f[4];
        if (cfg.async) publish_async(id, (int)conn, f[3], msgid);
        else publish_sync(id, (int)conn, f[3], msgid);
        return;
    }
    // Later versions of protocol 1 may add lines; an unknown one is not ours to judge.
    fprintf(stderr, ADAPTER_NAME ": ignoring unknown line: %.200s\n", copy);
}

// Line reader over read(2): the init line may be megabytes (the filler).
typedef struct {
    char *buf;
    size_t len, cap, pos;
} reader;

// Returns the next line without its '\n' (NUL-terminated), or NULL at EOF.
static char *next_line(reader *r) {
    for (;;) {
        char *nl = (r->len > r->pos) ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl != NULL) {
            char *line = r->buf + r->pos;
            *nl = '\0';
            if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
            r->pos = (size_t)(nl - r->buf) + 1;
            return line;
        }
        if (r->pos > 0) { // keep the partial line at the front
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->cap - r->len < 65536) {
            r->cap = r->cap ? r->cap * 2 : 1 << 20;
            r->buf = realloc(r->buf, r->cap);
            if (r->buf == NULL) { perror(ADAPTER_NAME); exit(1); }
        }
        ssize_t n = read(0, r->buf + r->len, r->cap - r->len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0) perror(ADAPTER_NAME ": read stdin");
            if (r->len > 0) fprintf(stderr, ADAPTER_NAME ": ignoring an unterminated last line\n");
            return NULL;
        }
        r->len += (size_t)n;
    }
}

// ------------------------------------------------------------- lifecycle ---

// At EOF: let the client finish what it can in ≤ 2 s (the contract allows 5 s
// and does not require waiting), then close everything and exit 0.
static void shut_down(void) {
    if (cfg.async) {
        int64_t deadline = now_ns() + 2000000000LL;
        for (int i = 0; i < cfg.nconn; i++) {
            int64_t left_ms = (deadline - now_ns()) / 1000000;
            if (left_ms < 1) left_ms = 1;
            jsPubOptions o;
            jsPubOptions_Init(&o);
            o.MaxWait = left_ms;
            natsStatus s = js_PublishAsyncComplete(jss[i], &o);
            if (s != NATS_OK)
                fprintf(stderr, ADAPTER_NAME ": connection %d: js_PublishAsyncComplete: %s\n", i, last_error_text(s));
        }
    }
    for (int i = 0; i < cfg.nconn; i++) {
        jsCtx_Destroy(jss[i]);
        natsConnection_Destroy(conns[i]);
    }
    // Waits for the library's threads, so no ack handler runs after this.
    if (nats_CloseAndWait(1000) != NATS_OK)
        fprintf(stderr, ADAPTER_NAME ": nats_CloseAndWait timed out\n");
    report_lock();
    size_t left = pending_count();
    uint64_t early = early_reports;
    report_unlock();
    if (left > 0)
        fprintf(stderr, ADAPTER_NAME ": exiting with %zu async publishes the client never resolved\n", left);
    if (early > 0)
        fprintf(stderr, ADAPTER_NAME ": %" PRIu64 " ack handler calls ran before their js_PublishMsgAsync returned\n",
                early);
    report_stop();
}

int main(void) {
    reader r = {0};
    char err[1024];
    char *line = next_line(&r);
    if (line == NULL) {
        fprintf(stderr, ADAPTER_NAME ": stdin closed before the init message\n");
        return 1;
    }
    if (config_parse(&cfg, line, strlen(line), err, sizeof(err)) != 0 ||
        start_client(&cfg, &conns, &jss, err, sizeof(err)) != 0) {
        write_init_error(err);
        fprintf(stderr, ADAPTER_NAME ": %s\n", err);
        return 1;
    }
    write_init_ok(&cfg);
    report_start();
    while ((line = next_line(&r)) != NULL) {
        if (line[0] != '\0') handle_line(line);
    }
    shut_down();
    config_free(&cfg);
    free(r.buf);
    return 0;
}
