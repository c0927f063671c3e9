// A small JSON reader for the adapter's one init line, and a string escaper for
// its init_ok/error answers. Debian has no JSON library installed next to
// libnats-dev, and the init message is small and fixed, so a ~300-line parser
// keeps the build to gcc + libnats-dev.
#ifndef JSB_JSON_H
#define JSB_JSON_H

#include <stddef.h>
#include <stdio.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype t;
    int b;               // J_BOOL
    double n;            // J_NUM
    int is_int;          // J_NUM written without fraction or exponent
    char *s;             // J_STR, decoded UTF-8, NUL-terminated
    size_t len;          // J_STR byte length (may contain NUL via \u0000)
    struct jval **items; // J_ARR and J_OBJ values
    char **keys;         // J_OBJ keys
    size_t count;
} jval;

// Parses exactly one JSON value (surrounding whitespace allowed). On error
// returns NULL and writes a message naming the byte offset into err.
jval *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(jval *v);
// The value of key in an object, or NULL when absent or v is not an object.
const jval *json_get(const jval *v, const char *key);
// Length of the valid UTF-8 sequence starting at p (1-4), or 0 when invalid.
size_t utf8_valid_len(const unsigned char *p);
// Writes s as a JSON string literal (invalid UTF-8 becomes U+FFFD) (with quotes) to f.
void json_write_str(FILE *f, const char *s);

#endif
