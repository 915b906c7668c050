/* conversations — /api/conversations and their messages, one statement per request.
 *
 * Lists are keyset-paginated (never OFFSET): conversations newest first by
 * (updated_at DESC, id DESC), messages oldest first by (created_at ASC, id ASC); the cursor
 * carries the last row's (timestamp, id). Another user's conversation is 404, exactly like a
 * missing one, because every statement filters by the session's user. */
#ifndef TESSERA_CONVERSATIONS_H
#define TESSERA_CONVERSATIONS_H

#include "tessera/api_route.h"

#define CONVERSATIONS_LIMIT_MAX 200
#define MESSAGES_LIMIT_MAX 500
#define CONVERSATIONS_TITLE_MAX 1024    /* UTF-8 bytes */
#define MESSAGES_CONTENT_MAX 65536      /* UTF-8 bytes */

/* Answers the request and returns its status, or returns 0 when the path is not
 * /api/conversations or below it. */
int conversations_handle(const struct api_context *ctx, struct http_exchange *ex);
#endif
