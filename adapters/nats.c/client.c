// Opens the client the way a C application does (one natsConnection per init
// `connections` entry, one jsCtx each) and answers init (init_ok or error).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "client.h"
#include "json.h"

#define ADAPTER_NAME "jsbench-nats.c"

// Connection events go to stderr only: jsbench quotes stderr when a run fails,
// and they show what the client did during a fault.
static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    fprintf(stderr, ADAPTER_NAME ": connection %d: disconnected\n", (int)(intptr_t)closure);
}

static void on_reconnected(natsConnection *nc, void *closure) {
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    fprintf(stderr, ADAPTER_NAME ": connection %d: reconnected to %s\n", (int)(intptr_t)closure, url);
}

static void on_closed(natsConnection *nc, void *closure) {
    (void)nc;
    fprintf(stderr, ADAPTER_NAME ": connection %d: closed\n", (int)(intptr_t)closure);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
    (void)nc;
    (void)sub;
    fprintf(stderr, ADAPTER_NAME ": connection %d: async error: %s\n", (int)(intptr_t)closure,
            natsStatus_GetText(err));
}

static int connect_one(const config *c, int i, natsConnection **nc, char *err, size_t errlen) {
    natsOptions *o = NULL;
    void *idx = (void *)(intptr_t)i;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetServers(o, (const char **)c->urls[i], c->nurls[i]);
    // Keep the listed order: entry 0 is the primary (jsbench routes faults by it).
    if (s == NATS_OK) s = natsOptions_SetNoRandomize(o, true);
    if (s == NATS_OK && c->token != NULL) s = natsOptions_SetToken(o, c->token);
    if (s == NATS_OK && c->user != NULL) s = natsOptions_SetUserInfo(o, c->user, c->password ? c->password : "");
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, on_disconnected, idx);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, on_reconnected, idx);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(o, on_closed, idx);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, on_error, idx);
    if (s == NATS_OK) s = natsConnection_Connect(nc, o);
    if (s != NATS_OK) {
        const char *t = nats_GetLastError(NULL);
        snprintf(err, errlen, "connect %s (connection %d): %s", c->urls[i][0], i,
                 (t != NULL && t[0]) ? t : natsStatus_GetText(s));
    }
    natsOptions_Destroy(o);
    return s == NATS_OK ? 0 : -1;
}

int start_client(const config *c, natsConnection ***conns_out, jsCtx ***jss_out, char *err, size_t errlen) {
    natsConnection **conns = calloc((size_t)c->nconn, sizeof(natsConnection *));
    jsCtx **jss = calloc((size_t)c->nconn, sizeof(jsCtx *));
    for (int i = 0; i < c->nconn; i++) {
        if (connect_one(c, i, &conns[i], err, errlen) != 0) return -1;
        jsOptions jo;
        jsOptions_Init(&jo);
        if (c->async) {
            // As an application sets them: the pending limit and one handler
            // for every ack and error. StallWait stays at its default (200 ms).
            jo.PublishAsync.MaxPending = c->max_pending;
            jo.PublishAsync.AckHandler = jsb_on_ack;
            jo.PublishAsync.AckHandlerClosure = (void *)(intptr_t)i;
        }
        natsStatus s = natsConnection_JetStream(&jss[i], conns[i], &jo);
        if (s != NATS_OK) {
            snprintf(err, errlen, "natsConnection_JetStream (connection %d): %s", i, natsStatus_GetText(s));
            return -1;
        }
    }
    *conns_out = conns;
    *jss_out = jss;
    return 0;
}

static void setting(FILE *f, const char *key, const char *val, int first) {
    if (!first) fputc(',', f);
    json_write_str(f, key);
    fputc(':', f);
    json_write_str(f, val);
}

void write_init_ok(const config *c) {
    char mp[256], at[320], conns[160];
    if (c->async)
        snprintf(mp, sizeof(mp),
                 "jsOptions.PublishAsync.MaxPending = %lld (StallWait default 200 ms, then js_PublishMsgAsync "
                 "fails: stalled with too many outstanding async published messages)",
                 (long long)c->max_pending);
    else
        snprintf(mp, sizeof(mp), "not used: sync mode publishes with js_Publish, one at a time");
    snprintf(at, sizeof(at),
             "jsPubOptions.MaxWait = %lld ms on every publish (%s)", (long long)c->ack_timeout_ms,
             c->async ? "async: the library's timer fails a publish with no reply with NATS_TIMEOUT through the ack "
                        "handler"
                      : "sync: js_Publish returns NATS_TIMEOUT");
    snprintf(conns, sizeof(conns), "%d natsConnection, one jsCtx each; natsOptions_SetNoRandomize(true)", c->nconn);
    FILE *f = stdout;
    fputs("{\"type\":\"init_ok\",\"client\":{\"name\":\"nats.c\",\"version\":", f);
    json_write_str(f, nats_GetVersion());
    fputs("},\"adapter\":{\"name\":\"" ADAPTER_NAME "\",\"version\":\"1\"},", f);
    fputs("\"features\":[\"sync\",\"async\",\"msg_id\"],\"settings\":{", f);
    setting(f, "publish", c->async ? "js_PublishMsgAsync with jsOptions.PublishAsync.AckHandler" : "js_Publish", 1);
    setting(f, "max_pending", mp, 0);
    setting(f, "ack_timeout", at, 0);
    setting(f, "msg_id", "jsPubOptions.MsgId (Nats-Msg-Id header)", 0);
    setting(f, "connections", conns, 0);
    setting(f, "reconnect",
            "client defaults: reconnect on, MaxReconnect 60, ReconnectWait 2 s (jitter 100 ms), "
            "ReconnectBufSize 8 MiB, connect Timeout 2 s, ping interval 2 min; no retry of publishes",
            0);
    fputs("}}\n", f);
    fflush(f);
}

void write_init_error(const char *text) {
    fputs("{\"type\":\"error\",\"text\":", stdout);
    json_write_str(stdout, text);
    fputs("}\n", stdout);
    fflush(stdout);
}
