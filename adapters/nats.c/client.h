// Opening the client and answering init (client.c), and the ack handler the
// client calls for async publishes (adapter.c).
#ifndef JSB_CLIENT_H
#define JSB_CLIENT_H

#include <stddef.h>

#include <nats/nats.h>

#include "config.h"

// One natsConnection per init `connections` entry, one jsCtx on each; in async
// mode the context gets jsOptions.PublishAsync.MaxPending and jsb_on_ack.
// On error returns -1 with a message in err.
int start_client(const config *c, natsConnection ***conns_out, jsCtx ***jss_out, char *err, size_t errlen);
void write_init_ok(const config *c);
void write_init_error(const char *text);

void jsb_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure);

#endif
