// The init message (docs/adapters.md "init"), read into plain C fields.
#ifndef JSB_CONFIG_H
#define JSB_CONFIG_H

#include <stdint.h>
#include <stddef.h>

typedef struct {
    int nconn;
    char ***urls;   // urls[i][j]: URL j of connection i, primary first
    int *nurls;
    char *token;    // NULL when the init has null
    char *user;
    char *password;
    char *stream;
    char *subjects;
    int async;      // mode "async" (1) or "sync" (0)
    int64_t max_pending;
    int64_t ack_timeout_ms;
    int msg_id;
    int payload_size;
    unsigned char *payload; // payload_size bytes: 24 tag bytes (per message) + filler
} config;

// Parses the init line. On error returns -1 with a message in err naming the
// field and what it allows.
int config_parse(config *c, const char *line, size_t len, char *err, size_t errlen);
void config_free(config *c);

// Decodes n bytes of lowercase/uppercase hex from s into out; -1 when not hex.
int hex_decode(const char *s, size_t n, unsigned char *out);

#endif
