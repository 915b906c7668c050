/* utf8 — UTF-8 as RFC 3629 and PostgreSQL accept it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. Pure. */
#ifndef TESSERA_UTF8_H
#define TESSERA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid sequence at the start of s[0..n), or 0 when there is none. */
size_t utf8_sequence_length(const unsigned char *s, size_t n);
/* Whether all of s[0..n) is valid UTF-8. */
bool utf8_valid(const unsigned char *s, size_t n);
#endif
