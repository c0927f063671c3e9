// Validates the init message field by field, with errors that name the field
// and what it allows, as jsbench quotes them when an init is refused.
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *s, size_t n, unsigned char *out) {
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

// A string field without embedded NUL; nullable fields accept null (-> NULL).
static int get_str(const jval *root, const char *key, int nullable, char **out, char *err, size_t errlen) {
    const jval *v = json_get(root, key);
    *out = NULL;
    if (v == NULL || (v->t == J_NULL && nullable)) {
        if (nullable) return 0;
        snprintf(err, errlen, "init: field `%s` is missing (a string is required)", key);
        return -1;
    }
    if (v->t != J_STR || strlen(v->s) != v->len) {
        snprintf(err, errlen, "init: field `%s` must be a string%s", key, nullable ? " or null" : "");
        return -1;
    }
    *out = strdup(v->s);
    return 0;
}

static int get_int(const jval *root, const char *key, int64_t min, int64_t max, int64_t *out, char *err, size_t errlen) {
    const jval *v = json_get(root, key);
    if (v == NULL || v->t != J_NUM || !v->is_int || v->n < (double)min || v->n > (double)max) {
        snprintf(err, errlen, "init: field `%s` must be an integer from %lld to %lld", key, (long long)min,
                 (long long)max);
        return -1;
    }
    *out = (int64_t)v->n;
    return 0;
}

static int get_connections(config *c, const jval *root, char *err, size_t errlen) {
    const jval *v = json_get(root, "connections");
    if (v == NULL || v->t != J_ARR || v->count == 0) {
        snprintf(err, errlen, "init: field `connections` must be a non-empty array of arrays of URL strings");
        return -1;
    }
    c->nconn = (int)v->count;
    c->urls = calloc(v->count, sizeof(char **));
    c->nurls = calloc(v->count, sizeof(int));
    for (size_t i = 0; i < v->count; i++) {
        const jval *e = v->items[i];
        if (e->t != J_ARR || e->count == 0) {
            snprintf(err, errlen, "init: `connections[%zu]` must be a non-empty array of URL strings", i);
            return -1;
        }
        c->urls[i] = calloc(e->count, sizeof(char *));
        c->nurls[i] = (int)e->count;
        for (size_t j = 0; j < e->count; j++) {
            if (e->items[j]->t != J_STR || e->items[j]->len == 0) {
                snprintf(err, errlen, "init: `connections[%zu][%zu]` must be a URL string", i, j);
                return -1;
            }
            c->urls[i][j] = strdup(e->items[j]->s);
        }
    }
    return 0;
}

static int get_payload(config *c, const jval *root, char *err, size_t errlen) {
    int64_t size;
    char *filler = NULL;
    if (get_int(root, "payload_size", 24, 64 * 1024 * 1024, &size, err, errlen) != 0) return -1;
    if (get_str(root, "filler", 0, &filler, err, errlen) != 0) return -1;
    size_t want = (size_t)(size - 24) * 2;
    c->payload_size = (int)size;
    c->payload = calloc((size_t)size, 1);
    if (strlen(filler) != want || hex_decode(filler, want / 2, c->payload + 24) != 0) {
        snprintf(err, errlen, "init: field `filler` must be %zu hex digits (payload_size - 24 bytes), got %zu characters",
                 want, strlen(filler));
        free(filler);
        return -1;
    }
    free(filler);
    return 0;
}

static int get_mode(config *c, const jval *root, char *err, size_t errlen) {
    char *mode = NULL;
    if (get_str(root, "mode", 0, &mode, err, errlen) != 0) return -1;
    int ok = 1;
    if (strcmp(mode, "async") == 0) c->async = 1;
    else if (strcmp(mode, "sync") == 0) c->async = 0;
    else ok = 0;
    if (!ok) snprintf(err, errlen, "init: field `mode` must be \"sync\" or \"async\"");
    free(mode);
    return ok ? 0 : -1;
}

static int check_header(const jval *root, char *err, size_t errlen) {
    const jval *t = json_get(root, "type");
    if (t == NULL || t->t != J_STR || strcmp(t->s, "init") != 0) {
        snprintf(err, errlen, "the first line must be the init message ({\"type\":\"init\",…})");
        return -1;
    }
    const jval *p = json_get(root, "protocol");
    if (p == NULL || p->t != J_NUM || p->n != 1.0) {
        snprintf(err, errlen, "init: protocol must be 1 (this adapter speaks protocol 1 only)");
        return -1;
    }
    return 0;
}

int config_parse(config *c, const char *line, size_t len, char *err, size_t errlen) {
    char jerr[160];
    memset(c, 0, sizeof(*c));
    jval *root = json_parse(line, len, jerr, sizeof(jerr));
    if (root == NULL) {
        snprintf(err, errlen, "init: not valid JSON: %s", jerr);
        return -1;
    }
    int rc = -1;
    const jval *mid;
    if (root->t != J_OBJ) {
        snprintf(err, errlen, "init: must be a JSON object");
        goto out;
    }
    if (check_header(root, err, errlen) != 0 || get_connections(c, root, err, errlen) != 0 ||
        get_str(root, "token", 1, &c->token, err, errlen) != 0 ||
        get_str(root, "user", 1, &c->user, err, errlen) != 0 ||
        get_str(root, "password", 1, &c->password, err, errlen) != 0 ||
        get_str(root, "stream", 0, &c->stream, err, errlen) != 0 ||
        get_str(root, "subjects", 0, &c->subjects, err, errlen) != 0 || get_mode(c, root, err, errlen) != 0 ||
        get_int(root, "max_pending", 1, INT64_MAX / 2, &c->max_pending, err, errlen) != 0 ||
        get_int(root, "ack_timeout_ms", 1, INT64_MAX / 2, &c->ack_timeout_ms, err, errlen) != 0 ||
        get_payload(c, root, err, errlen) != 0)
        goto out;
    mid = json_get(root, "msg_id");
    if (mid == NULL || mid->t != J_BOOL) {
        snprintf(err, errlen, "init: field `msg_id` must be true or false");
        goto out;
    }
    c->msg_id = mid->b;
    if (c->token != NULL && c->user != NULL) {
        snprintf(err, errlen, "init: at most one of `token` and `user` may be set");
        goto out;
    }
    rc = 0;
out:
    json_free(root);
    return rc;
}

void config_free(config *c) {
    for (int i = 0; i < c->nconn && c->urls != NULL; i++) {
        for (int j = 0; j < c->nurls[i] && c->urls[i] != NULL; j++) free(c->urls[i][j]);
        free(c->urls[i]);
    }
    free(c->urls);
    free(c->nurls);
    free(c->token);
    free(c->user);
    free(c->password);
    free(c->stream);
    free(c->subjects);
    free(c->payload);
    memset(c, 0, sizeof(*c));
}
