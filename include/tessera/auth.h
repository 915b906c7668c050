/* auth — session tokens, passwords, and the /api/auth routes.
 *
 * A session token is 32 random bytes (getrandom) given to the client once, as 64 hex chars,
 * in the tessera_session cookie or as Authorization: Bearer. The database keeps only
 * SHA-256(token bytes) in sessions.token_hash; queries match it with decode($1, 'hex'). */
#ifndef TESSERA_AUTH_H
#define TESSERA_AUTH_H

#include <stdbool.h>

#include "tessera/config.h"
#include "tessera/http.h"

struct db_pool;

/* The request's session token hash as 64 lowercase hex chars, from the cookie or the bearer
 * header. *by_cookie tells which (CSRF checks apply to cookies only). False when absent or
 * malformed: the caller answers 401. */
bool auth_request_token_hash(const struct http_exchange *ex, char hash_hex[65], bool *by_cookie);

/* POST /api/auth/sign-in, POST /api/auth/sign-out, GET /api/me.
 * Returns the status sent, or 0 when `ex->path` is none of them. */
int auth_routes_handle(struct db_pool *pool, const struct config *cfg, struct http_exchange *ex);
#endif
