/* preferences — GET /api/preferences, PUT and DELETE /api/preferences/{key}.
 * Each request is one statement: session check, immutability check and work together. */
#ifndef TESSERA_PREFERENCES_H
#define TESSERA_PREFERENCES_H

#include "tessera/api_route.h"

#define PREFERENCES_VALUE_MAX 16384   /* serialized JSON bytes of one value */

/* Answers the request and returns its status, or returns 0 when the path is not
 * /api/preferences or below it. */
int preferences_handle(const struct api_context *ctx, struct http_exchange *ex);
#endif
