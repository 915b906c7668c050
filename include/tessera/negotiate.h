/* negotiate — pure Accept-Encoding negotiation (RFC 9110 12.5.3). No I/O. */
#ifndef TESSERA_NEGOTIATE_H
#define TESSERA_NEGOTIATE_H

enum encoding {
    ENCODING_IDENTITY = 0,
    ENCODING_GZIP = 1,
    ENCODING_BR = 2,
    ENCODING_NONE = -1, /* nothing acceptable: 406 */
};

#define ENCODING_SET(e) (1u << (e))

/* available: a set of ENCODING_SET bits for compressed representations on offer
 * (identity is always on offer). order: server preference among tied q-values, e.g.
 * {ENCODING_BR, ENCODING_GZIP}, n entries. header may be NULL (absent). */
enum encoding negotiate_encoding(const char *accept_encoding, unsigned available,
                                 const enum encoding *order, int n_order);

/* Parses a configured preference list such as compression.encodings ("br,gzip") into
 * order (at most max entries, duplicates and unknown words dropped). Returns the count.
 * negotiate_encoding only offers codings that are in order AND available; order == NULL
 * means the default {br, gzip}. */
int negotiate_parse_order(const char *list, enum encoding *order, int max);

/* "br", "gzip" or "identity". */
const char *encoding_name(enum encoding e);
#endif
