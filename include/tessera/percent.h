/* percent — percent-decoding of URL parts. Pure. */
#ifndef TESSERA_PERCENT_H
#define TESSERA_PERCENT_H

#include <stdbool.h>
#include <stddef.h>

/* 0..15 for a hex digit, -1 otherwise. */
int percent_hex_value(int c);

/* The character at s (NUL-terminated) as a server that decodes leniently reads it: a valid
 * %XX escape decoded, anything else, a stray '%' included, as it is. *width: bytes read. */
int percent_char_at(const char *s, int *width);

enum percent_flags {
    PERCENT_PLUS_IS_SPACE = 1, /* form encoding (query values): '+' means a space */
    PERCENT_ALLOW_NUL = 2,     /* keep %00 in out; the caller checks the returned length */
};

/* Decodes [s, s + len) into out (NUL-terminated). Returns the decoded length, or -1 on an
 * invalid escape, an encoded NUL without PERCENT_ALLOW_NUL (it would cut a C string short),
 * or when out is too small. */
int percent_decode(const char *s, size_t len, unsigned flags, char *out, size_t size);
#endif
