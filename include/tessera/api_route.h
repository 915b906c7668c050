/* api_route — what every database-backed /api route does the same way: find the session
 * token, apply the CSRF rule, run its ONE statement, and turn the statement's status column
 * into the HTTP answer.
 *
 * Statement convention: every route statement returns exactly one row whose first column is
 * the HTTP status decided inside PostgreSQL (401 no valid session, 404 not yours or missing,
 * 403 immutable, 2xx success) and whose second column is the response JSON (text) built by
 * PostgreSQL; list statements add (more boolean, last_micros bigint, last_id text). */
#ifndef TESSERA_API_ROUTE_H
#define TESSERA_API_ROUTE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "tessera/auth.h"
#include "tessera/config.h"
#include "tessera/cursor.h"
#include "tessera/db_pool.h"
#include "tessera/http.h"

/* What the route modules share; owned by struct api. */
struct api_context {
    const struct config *cfg;
    struct db_pool *pool;          /* NULL: no database configured -> 503 db_unavailable */
    struct cursor_key cursor_key;
};

/* The first CTE of every route statement: $1 is the session token hashes in hex (see
 * auth_request_token_hash), and `s` holds the user's id of the first valid session among
 * them, or no row — so authentication costs no round trip of its own. */
#define API_SESSION_CTE "WITH s AS (" AUTH_SESSION_USER_SELECT ")"

/* One authenticated request. */
struct api_call {
    const struct api_context *ctx;
    struct http_exchange *ex;
    char token_hash[AUTH_TOKEN_HASHES_SIZE]; /* $1 of every route statement */
    bool by_cookie;
};

/* GET and HEAD read; everything else changes state. */
bool api_method_is_read(const char *method);

/* Needs a token (else 401 sent) and, for state-changing methods authenticated by cookie, a
 * same-origin request (else 403 sent). False when an answer was sent. No database access. */
bool api_call_begin(struct api_call *call, const struct api_context *ctx, struct http_exchange *ex);

/* Runs the route's statement. Returns the result only for a 2xx status column; otherwise
 * answers (401/403/404 from the status column, 503 db_busy/db_unavailable, 500) and returns
 * NULL. not_found names the missing thing for the 404 message. Caller PQclear()s. */
PGresult *api_call_query(struct api_call *call, const struct db_statement *stmt, const char *const *values,
                         const char *not_found);

/* Sends the statement's JSON column with its status (204: no body). Returns the status. */
int api_reply_result(struct http_exchange *ex, PGresult *res);

/* {"items": <column 1>, "next": <cursor or null>} for list statements (see above). */
int api_reply_page(struct api_call *call, PGresult *res, const char *scope);

/* Parses an optional cursor query parameter into the two statement values (micros, uuid);
 * both stay NULL without one. Answers 400 invalid_cursor and returns false when bad. */
bool api_read_cursor(struct api_call *call, const char *scope, char micros[24], char id[37],
                     const char **micros_value, const char **id_value);

/* Parses the optional limit query parameter (1..max, default max) into out. Answers 400 and
 * returns false when it is not a whole number in range. */
bool api_read_limit(struct http_exchange *ex, long max, char out[16]);

/* 405 with Allow. */
int api_reply_method_not_allowed(struct http_exchange *ex, const char *allow);
/* 204 with Cache-Control: no-store. */
int api_reply_no_content(struct http_exchange *ex);
#endif
