/* auth — session tokens, passwords, and the /api/auth routes.
 *
 * A session token is 32 random bytes (getrandom) given to the client once, as 64 hex chars,
 * in the tessera_session cookie or as Authorization: Bearer. The database keeps only
 * SHA-256(token bytes) in sessions.token_hash; queries match it with AUTH_TOKEN_HASH_PARAM. */
#ifndef TESSERA_AUTH_H
#define TESSERA_AUTH_H

/* $1 is one or more token hashes in hex, comma-separated (a browser may send several
 * tessera_session cookies, see auth_request_token_hash); used as "token_hash = "
 * AUTH_TOKEN_HASH_PARAM. The list is decoded once per statement, as an initplan: a bare
 * decode($1, 'hex') in a prepared statement's generic plan is evaluated again for every row a
 * sequential scan reads, and the planner scans a sessions table of a few hundred rows
 * sequentially: with the bare form hex_decode was 3 % of all CPU in the PUT benchmark and
 * every authenticated statement ran 10-20 % slower (docs/PERFORMANCE.md, API). "= ANY" of
 * the array is still an index scan of sessions_token_hash_key. */
#define AUTH_TOKEN_HASH_PARAM "ANY (ARRAY(SELECT decode(h, 'hex') FROM unnest(string_to_array($1, ',')) h))"
/* Among several valid sessions of one request, the one listed first acts (ORDER BY this,
 * LIMIT 1): browsers list the cookie of the most specific path first. */
#define AUTH_TOKEN_HASH_ORDER(column) "position(encode(" column ", 'hex') in $1)"

/* The session's user_id for $1, at most one row: a SELECT for a CTE or a subquery. Nearly
 * every request names one token, so the first candidate alone is looked up by equality (an
 * initplan decodes it once, then an index scan); only when $1 lists more than one and the first
 * matched nothing does the second branch read the list for the first valid one in header order
 * (PostgreSQL's Limit stops before it otherwise, and a one-time filter skips it for one
 * candidate). The list form alone on every request, with its unnest, array, bitmap scan and
 * sort, cut the PUT statement's rate by 28 % (docs/PERFORMANCE.md, API, sixth session). The
 * filter is a subquery on purpose: a bare strpos($1, ',') lets each custom plan drop the
 * branch and come out cheaper than the generic plan, so PostgreSQL never settles on the
 * generic plan and plans every execution anew (2.7 times slower). */
#define AUTH_SESSION_USER_SELECT \
    "(SELECT user_id FROM sessions WHERE token_hash = (SELECT decode(split_part($1, ',', 1), 'hex'))" \
    " AND expires_at > now())" \
    " UNION ALL (SELECT user_id FROM sessions WHERE (SELECT strpos($1, ',')) > 0 AND token_hash = " AUTH_TOKEN_HASH_PARAM \
    " AND expires_at > now() ORDER BY " AUTH_TOKEN_HASH_ORDER("token_hash") " LIMIT 1) LIMIT 1"

/* At most this many tessera_session cookies of one request are tried; $1 fits them all. */
#define AUTH_TOKEN_CANDIDATES_MAX 8
#define AUTH_TOKEN_HASHES_SIZE (AUTH_TOKEN_CANDIDATES_MAX * 65)

#include <stdbool.h>
#include <stddef.h>

#include "tessera/config.h"
#include "tessera/http.h"

struct db_pool;

/* $1 of the session check: the hash (64 lowercase hex chars) of the bearer token, or, without
 * one, of every well-formed tessera_session cookie in header order, comma-separated (at most
 * AUTH_TOKEN_CANDIDATES_MAX). Browsers send one cookie per matching path and domain, a stale
 * one possibly first, so the statement tries them all at once (no extra round trip).
 * *by_cookie tells which (CSRF checks apply to cookies only). False when none: the caller
 * answers 401. */
bool auth_request_token_hash(const struct http_exchange *ex, char hashes_hex[AUTH_TOKEN_HASHES_SIZE],
                             bool *by_cookie);

/* Pure: the well-formed tessera_session values of a Cookie header (64 hex chars, lowercased),
 * in order, duplicates dropped, at most max. Returns how many. */
size_t auth_cookie_tokens(const char *cookie, char tokens[][65], size_t max);

/* Pure: the raw token (64 hex chars, lowercased) from the Authorization header value
 * ("Bearer <token>", preferred when present) or the Cookie header value (its first
 * well-formed tessera_session). Either may be NULL. False when absent or malformed. */
bool auth_token_parse(const char *cookie, const char *authorization, char token_hex[65], bool *by_cookie);
/* Pure: emails are compared trimmed and ASCII-lowercased, at sign-in and in the CLI alike. */
void auth_email_normalize(const char *in, char *out, size_t size);
/* SHA-256 of the token's 32 bytes, as stored in sessions.token_hash. False if malformed. */
bool auth_token_hash(const char *token_hex, char hash_hex[65]);
/* A fresh token (getrandom) and its hash. Returns 0, or -1 when no randomness is available. */
int auth_token_new(char token_hex[65], char hash_hex[65]);

/* Passwords: argon2id, t=2, m=19 MiB, p=1 (OWASP's first recommended set; about 30-45 ms
 * on the reference machine, see docs/PERFORMANCE.md). */
#define AUTH_PASSWORD_HASH_MAX 128
int auth_password_hash(const char *password, char *encoded, size_t size);
/* encoded NULL (no such user) still costs one verify against a dummy hash, so unknown email
 * and wrong password take about the same time; the answer is then false. */
bool auth_password_verify(const char *encoded, const char *password);

/* Bounds concurrent password verifications: one argon2id verify holds 19 MiB and about 30 ms
 * of a CPU, so an unbounded burst of sign-ins on 128 workers could take gigabytes.
 * slots <= 0 means the number of CPUs. */
struct auth_gate;
struct auth_gate *auth_gate_create(int slots);
void auth_gate_free(struct auth_gate *gate);
/* Takes a slot, waiting at most wait_ms; false when none came free in time. */
bool auth_gate_enter(struct auth_gate *gate, int wait_ms);
void auth_gate_leave(struct auth_gate *gate);

/* POST /api/auth/sign-in, POST /api/auth/sign-out, GET /api/me.
 * Sign-in waits at most AUTH_GATE_WAIT_MS for a verification slot, then answers 503 busy.
 * Returns the status sent, or 0 when `ex->path` is none of them. */
int auth_routes_handle(struct db_pool *pool, const struct config *cfg, struct auth_gate *gate,
                       struct http_exchange *ex);
#endif
