/* cursor — opaque, tamper-checked keyset cursors for the /api lists.
 *
 * A cursor names a position in one list: (timestamp in microseconds, uuid) of the last row
 * of the previous page, bound to a scope string that says which list it belongs to
 * ("conversations:archived=false", "messages:<conversation uuid>"). The text form is
 * base64url(version | micros | uuid | HMAC-SHA256(key, scope | version | micros | uuid)[0..16]).
 *
 * The MAC is an integrity check, not an authorization: every list query still filters by the
 * session's user, so a forged position could only move a user within their own rows. It makes
 * a damaged or foreign cursor a clean 400 instead of a silent wrong page.
 *
 * Everything here is pure (no I/O) and unit-tested. */
#ifndef TESSERA_CURSOR_H
#define TESSERA_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSOR_TEXT_MAX 64  /* 41 bytes -> 55 base64url chars, plus NUL */

struct cursor_key {
    unsigned char bytes[32];
};

struct cursor_position {
    int64_t micros;             /* microseconds since the Unix epoch */
    unsigned char id[16];       /* the row's uuid */
};

/* key = SHA-256("tessera-cursor-v1" NUL secret). See docs/API.md for where secret comes from. */
void cursor_key_derive(struct cursor_key *key, const char *secret);

/* Writes the cursor text (NUL-terminated, at most CURSOR_TEXT_MAX bytes) into out. */
void cursor_encode(const struct cursor_key *key, const char *scope, const struct cursor_position *pos,
                   char out[CURSOR_TEXT_MAX]);

/* False for anything that is not a cursor made by cursor_encode with this key and scope. */
bool cursor_decode(const struct cursor_key *key, const char *scope, const char *text,
                   struct cursor_position *pos);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either case) to 16 bytes; false otherwise. */
bool cursor_uuid_parse(const char *text, unsigned char out[16]);
/* 16 bytes to the canonical lowercase text form. */
void cursor_uuid_format(const unsigned char id[16], char out[37]);

/* HMAC-SHA256 (RFC 2104), exposed for the RFC 4231 test vectors. */
void cursor_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        unsigned char out[32]);
#endif
