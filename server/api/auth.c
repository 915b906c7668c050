/* auth — session tokens, password hashing, and POST /api/auth/sign-in, POST /api/auth/sign-out,
 * GET /api/me. Each route is one statement, except a successful sign-in: the password check
 * happens in tessera (argon2id), between the lookup and the session insert. */
#include "tessera/auth.h"

#include <argon2.h>
#include <civetweb.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "tessera/api.h"
#include "tessera/api_request.h"
#include "tessera/api_route.h"
#include "tessera/clock.h"
#include "tessera/cpu.h"
#include "tessera/db_pool.h"
#include "tessera/log.h"
#include "tessera/sha256.h"
#include "tessera/utf8.h"

#define TOKEN_BYTES 32
#define COOKIE_NAME "tessera_session"
#define ARGON2_T 2
#define ARGON2_M_KIB 19456
#define ARGON2_P 1
#define ARGON2_SALT_BYTES 16
#define ARGON2_HASH_BYTES 32

/* Same parameters as real hashes, so verifying against it costs the same time. The password
 * behind it is irrelevant: the result is ignored. */
static const char dummy_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$dGVzc2VyYS1kdW1teSEhAA$uipUuYHJhVAkv8r/2Qqfkl7Jy25j01+FpNgkvjweIik";

/* ------------------------------------------------------------------ tokens (pure) */

static bool copy_hex_token(const char *s, size_t len, char token_hex[65])
{
    if (len != 2 * TOKEN_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        token_hex[i] = (char)tolower((unsigned char)s[i]);
    }
    token_hex[len] = '\0';
    return true;
}

size_t auth_cookie_tokens(const char *cookie, char tokens[][65], size_t max)
{
    size_t name_len = strlen(COOKIE_NAME), count = 0;
    const char *p = cookie;
    while (p && *p && count < max) {
        p += strspn(p, " \t;");
        const char *end = p + strcspn(p, ";");
        if ((size_t)(end - p) > name_len && strncmp(p, COOKIE_NAME, name_len) == 0 && p[name_len] == '=') {
            const char *v = p + name_len + 1;
            size_t vlen = (size_t)(end - v);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            /* A malformed one (another format, another app's cookie) is skipped, not fatal. */
            if (copy_hex_token(v, vlen, tokens[count])) {
                bool seen = false;
                for (size_t i = 0; i < count && !seen; i++)
                    seen = strcmp(tokens[i], tokens[count]) == 0;
                count += !seen;
            }
        }
        p = end;
    }
    return count;
}

static bool token_from_cookie(const char *cookie, char token_hex[65])
{
    char tokens[1][65];
    if (auth_cookie_tokens(cookie, tokens, 1) == 0)
        return false;
    memcpy(token_hex, tokens[0], 65);
    return true;
}

bool auth_token_parse(const char *cookie, const char *authorization, char token_hex[65], bool *by_cookie)
{
    *by_cookie = false;
    token_hex[0] = '\0';
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *v = authorization + 7;
        v += strspn(v, " ");
        size_t len = strlen(v);
        while (len && v[len - 1] == ' ')
            len--;
        return copy_hex_token(v, len, token_hex);
    }
    if (cookie && token_from_cookie(cookie, token_hex)) {
        *by_cookie = true;
        return true;
    }
    return false;
}

void auth_email_normalize(const char *in, char *out, size_t size)
{
    size_t n = 0;
    while (*in == ' ' || *in == '\t')
        in++;
    for (; *in && n + 1 < size; in++)
        out[n++] = (char)tolower((unsigned char)*in);
    while (n && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
}

static int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

bool auth_token_hash(const char *token_hex, char hash_hex[65])
{
    char lower[65];
    if (!copy_hex_token(token_hex, strlen(token_hex), lower))
        return false;
    unsigned char bytes[TOKEN_BYTES];
    for (int i = 0; i < TOKEN_BYTES; i++)
        bytes[i] = (unsigned char)(hex_value(lower[2 * i]) << 4 | hex_value(lower[2 * i + 1]));
    sha256_hex(bytes, sizeof bytes, hash_hex);
    return true;
}

int auth_token_new(char token_hex[65], char hash_hex[65])
{
    unsigned char bytes[TOKEN_BYTES];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    for (int i = 0; i < TOKEN_BYTES; i++)
        snprintf(token_hex + 2 * i, 3, "%02x", bytes[i]);
    sha256_hex(bytes, sizeof bytes, hash_hex);
    return 0;
}

bool auth_request_token_hash(const struct http_exchange *ex, char hashes_hex[AUTH_TOKEN_HASHES_SIZE],
                             bool *by_cookie)
{
    char tokens[AUTH_TOKEN_CANDIDATES_MAX][65];
    size_t count = 0;
    hashes_hex[0] = '\0';
    *by_cookie = false;
    const char *authorization = http_header(ex, "Authorization");
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        if (!auth_token_parse(NULL, authorization, tokens[0], by_cookie))
            return false;
        count = 1;
    } else {
        count = auth_cookie_tokens(http_header(ex, "Cookie"), tokens, AUTH_TOKEN_CANDIDATES_MAX);
        *by_cookie = count > 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            hashes_hex[65 * i - 1] = ',';
        auth_token_hash(tokens[i], hashes_hex + 65 * i);
    }
    return count > 0;
}

/* ------------------------------------------------------------------ passwords */

int auth_password_hash(const char *password, char *encoded, size_t size)
{
    unsigned char salt[ARGON2_SALT_BYTES];
    if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt)
        return -1;
    int rc = argon2id_hash_encoded(ARGON2_T, ARGON2_M_KIB, ARGON2_P, password, strlen(password), salt, sizeof salt,
                                   ARGON2_HASH_BYTES, encoded, size);
    return rc == ARGON2_OK ? 0 : -1;
}

bool auth_password_verify(const char *encoded, const char *password)
{
    if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0) {
        (void)argon2id_verify(dummy_hash, password, strlen(password));
        return false;
    }
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

/* ------------------------------------------------------------------ replies */

static int reply_db_status(struct http_exchange *ex, enum db_status st)
{
    if (st == DB_ERROR)
        return reply_json_error(ex, 500, "internal", "the database query failed", NULL);
    if (st == DB_BUSY) /* 503s carry Retry-After: 1 (reply_json_error) */
        return reply_json_error(ex, 503, "db_busy", "the database is busy; retry shortly", NULL);
    return reply_json_error(ex, 503, "db_unavailable", "the database is unavailable", NULL);
}

static bool wants_secure_cookie(const struct config *cfg, const struct http_exchange *ex)
{
    if (cfg->api.secure_cookie == SECURE_COOKIE_ON)
        return true;
    if (cfg->api.secure_cookie == SECURE_COOKIE_OFF)
        return false;
    const char *proto = http_header(ex, "X-Forwarded-Proto");
    return (proto && strcasecmp(proto, "https") == 0) || (ex->req && ex->req->is_ssl);
}

/* token NULL clears the cookie. */
static void add_session_cookie(struct http_reply *r, const struct config *cfg, const struct http_exchange *ex,
                               const char *token)
{
    long long max_age = token ? (long long)(cfg->api.session_ttl_ms / 1000) : 0;
    reply_headerf(r, "Set-Cookie", COOKIE_NAME "=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%lld%s",
                  token ? token : "", max_age, wants_secure_cookie(cfg, ex) ? "; Secure" : "");
}

static int reply_json_body(struct http_exchange *ex, int status, const char *json, size_t len,
                           const struct config *cfg, const char *cookie_token, bool clear_cookie)
{
    struct http_reply r;
    reply_start(&r, ex, status);
    reply_header(&r, "Cache-Control", "no-store");
    if (cookie_token || clear_cookie)
        add_session_cookie(&r, cfg, ex, cookie_token);
    if (status == 204)
        reply_send(ex, &r, NULL, 0);
    else
        reply_send_dynamic(ex, &r, "application/json; charset=utf-8", json, len);
    return status;
}

static int reply_unauthorized(struct http_exchange *ex)
{
    return reply_json_error(ex, 401, "unauthorized", "sign in first", NULL);
}

/* ------------------------------------------------------------------ routes */

static const struct db_statement stmt_credential = {
    "auth_credential",
    "SELECT u.id, a.password FROM users u"
    " LEFT JOIN accounts a ON a.user_id = u.id AND a.provider_id = 'credential'"
    " WHERE u.email = $1 LIMIT 1",
    1,
};

static const struct db_statement stmt_session_insert = {
    "auth_session_insert",
    "WITH s AS (INSERT INTO sessions (token_hash, user_id, expires_at, ip_address, user_agent)"
    " VALUES (decode($1, 'hex'), $2, now() + $3::bigint * interval '1 millisecond', $4, $5)"
    " RETURNING user_id)"
    " SELECT json_build_object('user', json_build_object('id', u.id, 'email', u.email, 'name', u.name))"
    " FROM s JOIN users u ON u.id = s.user_id",
    5,
};

static const struct db_statement stmt_me = {
    "auth_me",
    "SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name)"
    " FROM (" AUTH_SESSION_USER_SELECT ") s JOIN users u ON u.id = s.user_id",
    1,
};

/* Every session the request names ends: signing out of a browser that holds a second valid
 * cookie (another path) must not leave it signed in through that one. */
static const struct db_statement stmt_sign_out = {
    "auth_sign_out",
    "DELETE FROM sessions WHERE token_hash = " AUTH_TOKEN_HASH_PARAM,
    1,
};

/* Login CSRF: a browser that says where the request comes from must say "here". Clients
 * that send neither Origin nor Sec-Fetch-Site (curl, scripts) are not browsers. */
static bool sign_in_origin_ok(const struct http_exchange *ex)
{
    const char *site = http_header(ex, "Sec-Fetch-Site");
    if (!http_header(ex, "Origin") && (!site || strcasecmp(site, "none") == 0))
        return true;
    return api_same_origin(ex);
}

/* sessions.user_agent is text in a UTF-8 database: a Latin-1 byte, or a cut through a
 * character, would fail the whole sign-in. Invalid bytes become '?'; the copy ends before
 * a character that does not fit whole. */
static void user_agent_copy(const char *ua, char *out, size_t size)
{
    const unsigned char *s = (const unsigned char *)ua;
    size_t left = strlen(ua), n = 0;
    while (left) {
        size_t len = utf8_sequence_length(s, left);
        if (n + (len ? len : 1) >= size)
            break;
        if (len) {
            memcpy(out + n, s, len);
            n += len;
        } else {
            out[n++] = '?';
            len = 1;
        }
        s += len;
        left -= len;
    }
    out[n] = '\0';
}

static int create_session(struct db_pool *pool, const struct config *cfg, struct http_exchange *ex,
                          const char *user_id)
{
    char token[65], hash[65], ttl[24], agent[512];
    if (auth_token_new(token, hash) < 0)
        return reply_json_error(ex, 500, "internal", "no randomness available", NULL);
    snprintf(ttl, sizeof ttl, "%lld", (long long)cfg->api.session_ttl_ms);
    const char *ua = http_header(ex, "User-Agent");
    user_agent_copy(ua ? ua : "", agent, sizeof agent);
    const char *values[5] = {hash, user_id, ttl, ex->req ? ex->req->remote_addr : NULL, ua ? agent : NULL};
    PGresult *res = NULL;
    enum db_status st = db_query(pool, &stmt_session_insert, values, &res);
    if (st != DB_OK || PQntuples(res) != 1) {
        PQclear(res);
        return reply_db_status(ex, st == DB_OK ? DB_ERROR : st);
    }
    const char *json = PQgetvalue(res, 0, 0);
    int status = reply_json_body(ex, 200, json, strlen(json), cfg, token, false);
    PQclear(res);
    return status;
}

struct auth_gate {
    sem_t slots;
};

struct auth_gate *auth_gate_create(int slots)
{
    if (slots <= 0)
        slots = cpu_count_usable();
    struct auth_gate *gate = malloc(sizeof *gate);
    if (!gate || sem_init(&gate->slots, 0, (unsigned)slots) != 0) {
        free(gate);
        return NULL;
    }
    return gate;
}

void auth_gate_free(struct auth_gate *gate)
{
    if (!gate)
        return;
    sem_destroy(&gate->slots);
    free(gate);
}

#define AUTH_GATE_WAIT_MS 2000

bool auth_gate_enter(struct auth_gate *gate, int wait_ms)
{
    struct timespec deadline = clock_deadline_after_us(CLOCK_REALTIME, (int64_t)wait_ms * 1000);
    while (sem_timedwait(&gate->slots, &deadline) != 0)
        if (errno != EINTR)
            return false;
    return true;
}

void auth_gate_leave(struct auth_gate *gate) { sem_post(&gate->slots); }

/* The password check (argon2id, ~23 ms of a CPU) runs in one of the gate's slots; nothing
 * else does: a client trickling its body, or a lookup waiting for a pool connection, holds
 * none. */
static int handle_sign_in(struct db_pool *pool, const struct config *cfg, struct auth_gate *gate,
                          struct http_exchange *ex)
{
    if (!sign_in_origin_ok(ex))
        return reply_json_error(ex, 403, "cross_origin", "cross-site sign-in refused", NULL);
    api_expect_continue(ex, cfg->api.max_body);
    static const struct api_field fields[] = {
        {"email", API_FIELD_STRING, true, 320},
        {"password", API_FIELD_STRING, true, 1024},
    };
    json_t *body = api_read_json_object(ex, (size_t)cfg->api.max_body, fields, 2);
    if (!body)
        return ex->status;
    char email[321];
    auth_email_normalize(json_string_value(json_object_get(body, "email")), email, sizeof email);
    const char *values[1] = {email};
    PGresult *res = NULL;
    enum db_status st = db_query(pool, &stmt_credential, values, &res);
    int status;
    if (st != DB_OK) {
        status = reply_db_status(ex, st);
    } else if (gate && !auth_gate_enter(gate, AUTH_GATE_WAIT_MS)) {
        status = reply_json_error(ex, 503, "busy", "too many sign-ins at once; retry shortly", NULL);
    } else {
        bool found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 1);
        bool ok = auth_password_verify(found ? PQgetvalue(res, 0, 1) : NULL,
                                       json_string_value(json_object_get(body, "password")));
        if (gate)
            auth_gate_leave(gate);
        if (ok)
            status = create_session(pool, cfg, ex, PQgetvalue(res, 0, 0));
        else
            status = reply_json_error(ex, 401, "invalid_credentials", "wrong email or password", NULL);
    }
    PQclear(res);
    json_decref(body);
    return status;
}

static int handle_sign_out(struct db_pool *pool, const struct config *cfg, struct auth_gate *gate,
                           struct http_exchange *ex)
{
    (void)gate;
    char hash[AUTH_TOKEN_HASHES_SIZE];
    bool by_cookie;
    if (!auth_request_token_hash(ex, hash, &by_cookie))
        return reply_unauthorized(ex);
    if (by_cookie && !api_same_origin(ex))
        return reply_json_error(ex, 403, "cross_origin", "state-changing requests must come from this origin", NULL);
    const char *values[1] = {hash};
    PGresult *res = NULL;
    enum db_status st = db_query(pool, &stmt_sign_out, values, &res);
    PQclear(res);
    if (st != DB_OK)
        return reply_db_status(ex, st);
    /* Signing out twice is not an error: the session is gone either way. */
    return reply_json_body(ex, 204, NULL, 0, cfg, NULL, by_cookie);
}

static int handle_me(struct db_pool *pool, const struct config *cfg, struct auth_gate *gate, struct http_exchange *ex)
{
    (void)gate;
    char hash[AUTH_TOKEN_HASHES_SIZE];
    bool by_cookie;
    if (!auth_request_token_hash(ex, hash, &by_cookie))
        return reply_unauthorized(ex);
    const char *values[1] = {hash};
    PGresult *res = NULL;
    enum db_status st = db_query(pool, &stmt_me, values, &res);
    if (st != DB_OK) {
        PQclear(res);
        return reply_db_status(ex, st);
    }
    int status;
    if (PQntuples(res) != 1) {
        status = reply_unauthorized(ex);
    } else {
        const char *json = PQgetvalue(res, 0, 0);
        status = reply_json_body(ex, 200, json, strlen(json), cfg, NULL, false);
    }
    PQclear(res);
    return status;
}

int auth_routes_handle(struct db_pool *pool, const struct config *cfg, struct auth_gate *gate,
                       struct http_exchange *ex)
{
    static const struct {
        const char *path, *method;
        int (*handle)(struct db_pool *, const struct config *, struct auth_gate *, struct http_exchange *);
    } routes[] = {
        {"/api/auth/sign-in", "POST", handle_sign_in},
        {"/api/auth/sign-out", "POST", handle_sign_out},
        {"/api/me", "GET", handle_me},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(ex->path, routes[i].path) != 0)
            continue;
        bool head_ok = strcmp(routes[i].method, "GET") == 0 && ex->head;
        if (strcmp(ex->method, routes[i].method) != 0 && !head_ok)
            return api_reply_method_not_allowed(ex, routes[i].method);
        if (!pool)
            return reply_db_status(ex, DB_UNAVAILABLE);
        return routes[i].handle(pool, cfg, gate, ex);
    }
    return 0;
}
