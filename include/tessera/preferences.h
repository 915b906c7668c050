/* preferences — GET /api/preferences, PUT and DELETE /api/preferences/{key}.
 * Each request is one statement: session check, immutability check and work together. */
#ifndef TESSERA_PREFERENCES_H
#define TESSERA_PREFERENCES_H

#include "tessera/api_route.h"

#define PREFERENCES_VALUE_MAX 16384   /* serialized JSON bytes of one value */

/* The PUT's one statement: $1 the session token's hash in hex, $2 the key, $3 the value as
 * JSON text; one row of (HTTP status, body). Public so that the API benchmark can also run it
 * without HTTP (tests/bench/api/put_old_way.c --statements). */
extern const struct db_statement PREFERENCES_PUT_STATEMENT;

/* Answers the request and returns its status, or returns 0 when the path is not
 * /api/preferences or below it. */
int preferences_handle(const struct api_context *ctx, struct http_exchange *ex);

/* The body of a PUT, {"value": <any JSON>}, read strictly (at most max_body bytes; the value
 * at most PREFERENCES_VALUE_MAX bytes serialized) and returned as compact JSON text
 * (malloc'd). NULL when it was refused: the error reply is sent and ex->status holds it. */
char *preferences_read_value(struct http_exchange *ex, size_t max_body);
#endif
