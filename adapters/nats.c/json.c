// Recursive-descent JSON parser (RFC 8259) into a small tree, and a string
// escaper. Only the init line goes through it, so clarity beats speed.
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    int depth;
} parser;

static jval *parse_value(parser *ps);

static void fail(parser *ps, const char *what) {
    if (ps->err[0] == '\0')
        snprintf(ps->err, ps->errlen, "%s at byte %ld", what, (long)(ps->p - ps->start));
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static jval *new_val(jtype t) {
    jval *v = calloc(1, sizeof(jval));
    if (v != NULL)
        v->t = t;
    return v;
}

static int hex4(parser *ps, unsigned *out) {
    unsigned v = 0;
    if (ps->end - ps->p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

// Appends code point cp as UTF-8.
static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// Decodes one \u escape (the backslash and 'u' already consumed), pairing
// surrogates as JSON requires.
static int parse_u_escape(parser *ps, unsigned *cp) {
    unsigned hi;
    if (hex4(ps, &hi) != 0)
        return -1;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return -1;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        unsigned lo;
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
            return -1;
        ps->p += 2;
        if (hex4(ps, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    }
    *cp = hi;
    return 0;
}

// Parses a string literal (opening quote at ps->p) into a new buffer.
static char *parse_string_raw(parser *ps, size_t *outlen) {
    ps->p++; // opening quote
    // The decoded form is never longer than the escaped one.
    const char *q = ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\') q++;
        q++;
    }
    char *o = malloc((size_t)(q - ps->p) + 1);
    size_t n = 0;
    if (o == NULL) { fail(ps, "out of memory"); return NULL; }
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) { fail(ps, "control character in string"); free(o); return NULL; }
        if (c != '\\') { o[n++] = (char)c; continue; }
        if (ps->p >= ps->end) break;
        char e = *ps->p++;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (parse_u_escape(ps, &cp) != 0) { fail(ps, "bad \\u escape"); free(o); return NULL; }
            n += put_utf8(o + n, cp);
            break;
        }
        default: fail(ps, "bad escape"); free(o); return NULL;
        }
    }
    if (ps->p >= ps->end) { fail(ps, "unterminated string"); free(o); return NULL; }
    ps->p++; // closing quote
    o[n] = '\0';
    *outlen = n;
    return o;
}

static jval *parse_number(parser *ps) {
    const char *s = ps->p;
    int is_int = 1;
    if (ps->p < ps->end && *ps->p == '-') ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') { fail(ps, "bad number"); return NULL; }
    if (*ps->p == '0') ps->p++;
    else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        is_int = 0; ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') { fail(ps, "bad number"); return NULL; }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        is_int = 0; ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') { fail(ps, "bad number"); return NULL; }
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    char tmp[64];
    size_t l = (size_t)(ps->p - s);
    if (l >= sizeof(tmp)) { fail(ps, "number too long"); return NULL; }
    memcpy(tmp, s, l);
    tmp[l] = '\0';
    jval *v = new_val(J_NUM);
    if (v == NULL) { fail(ps, "out of memory"); return NULL; }
    v->n = strtod(tmp, NULL);
    v->is_int = is_int;
    return v;
}

static int push(jval *c, jval *item, char *key) {
    jval **ni = realloc(c->items, (c->count + 1) * sizeof(jval *));
    if (ni == NULL) return -1;
    c->items = ni;
    if (c->t == J_OBJ) {
        char **nk = realloc(c->keys, (c->count + 1) * sizeof(char *));
        if (nk == NULL) return -1;
        c->keys = nk;
        c->keys[c->count] = key;
    }
    c->items[c->count++] = item;
    return 0;
}

// Parses an array or object (opening bracket at ps->p).
static jval *parse_container(parser *ps, int is_obj) {
    jval *c = new_val(is_obj ? J_OBJ : J_ARR);
    char close = is_obj ? '}' : ']';
    if (c == NULL) { fail(ps, "out of memory"); return NULL; }
    if (++ps->depth > 64) { fail(ps, "nested too deeply"); json_free(c); return NULL; }
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; ps->depth--; return c; }
    for (;;) {
        char *key = NULL;
        size_t kl;
        skip_ws(ps);
        if (is_obj) {
            if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "expected a key"); break; }
            if ((key = parse_string_raw(ps, &kl)) == NULL) break;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') { fail(ps, "expected ':'"); free(key); break; }
            ps->p++;
        }
        jval *item = parse_value(ps);
        if (item == NULL) { free(key); break; }
        if (push(c, item, key) != 0) { fail(ps, "out of memory"); free(key); json_free(item); break; }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == close) { ps->p++; ps->depth--; return c; }
        fail(ps, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    json_free(c);
    return NULL;
}

static int literal(parser *ps, const char *word) {
    size_t l = strlen(word);
    if ((size_t)(ps->end - ps->p) < l || memcmp(ps->p, word, l) != 0)
        return 0;
    ps->p += l;
    return 1;
}

static jval *parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) { fail(ps, "unexpected end"); return NULL; }
    switch (*ps->p) {
    case '{': return parse_container(ps, 1);
    case '[': return parse_container(ps, 0);
    case '"': {
        size_t l;
        char *s = parse_string_raw(ps, &l);
        if (s == NULL) return NULL;
        jval *v = new_val(J_STR);
        if (v == NULL) { free(s); fail(ps, "out of memory"); return NULL; }
        v->s = s;
        v->len = l;
        return v;
    }
    case 't': if (literal(ps, "true")) { jval *v = new_val(J_BOOL); if (v) v->b = 1; return v; } break;
    case 'f': if (literal(ps, "false")) return new_val(J_BOOL); break;
    case 'n': if (literal(ps, "null")) return new_val(J_NULL); break;
    default: return parse_number(ps);
    }
    fail(ps, "unexpected token");
    return NULL;
}

jval *json_parse(const char *text, size_t len, char *err, size_t errlen) {
    parser ps = {text, text + len, text, err, errlen, 0};
    err[0] = '\0';
    jval *v = parse_value(&ps);
    if (v == NULL) {
        fail(&ps, "invalid JSON");
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "trailing characters after the JSON value");
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(jval *v) {
    if (v == NULL) return;
    for (size_t i = 0; i < v->count; i++) {
        json_free(v->items[i]);
        if (v->keys != NULL) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->s);
    free(v);
}

const jval *json_get(const jval *v, const char *key) {
    if (v == NULL || v->t != J_OBJ) return NULL;
    // The last occurrence wins, as in most JSON readers.
    for (size_t i = v->count; i > 0; i--)
        if (strcmp(v->keys[i - 1], key) == 0) return v->items[i - 1];
    return NULL;
}

size_t utf8_valid_len(const unsigned char *p) {
    unsigned c = p[0];
    size_t n;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0; // also stops at the NUL terminator
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void json_write_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            size_t n = utf8_valid_len(p);
            if (n == 0) { fputs("\\ufffd", f); continue; }
            fwrite(p, 1, n, f);
            p += n - 1;
            continue;
        }
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7F) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}
