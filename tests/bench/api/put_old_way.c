/* put_old_way — bench only, never shipped: PUT /api/preferences/{key} done the way an API
 * without tessera's single statement does it, side by side with tessera's own PUT. Everything
 * but the SQL is tessera's own code (CivetWeb wiring, pool, token hashing, strict JSON
 * reading, replies), so wrk measures the round trips and the work they carry.
 *
 *   /two/api/preferences/{key}: the wording, "SELECT, then UPDATE or INSERT": two
 *     statements outside any transaction, with the session lookup folded into the SELECT.
 *     Two round trips, but not correct under concurrent PUTs: two first PUTs of one key both
 *     see no row and both INSERT (one fails on the unique index: 500), and a row deleted
 *     between the two statements makes the UPDATE touch nothing.
 *   /txn/api/preferences/{key}: what such an API must do to be correct, e.g. a Node service
 *     over node-postgres: its auth middleware looks the session up (one statement), then the
 *     handler runs BEGIN; SELECT ... FOR UPDATE; UPDATE or INSERT; COMMIT on one connection,
 *     retrying the transaction when a concurrent first PUT wins the INSERT. Five round trips.
 * Both check the same things as tessera's PUT (valid session, default not immutable, row not
 * locked) and answer the same JSON. Statements are prepared once per connection, as tessera's
 * are.
 *
 * usage: put_old_way CONFIG.ini PORT */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/api_request.h"
#include "tessera/auth.h"
#include "tessera/db_pool.h"
#include "tessera/preferences.h"
#include "tessera/server.h"

static struct db_pool *pool;

/* ------------------------------------------------------------------ two statements */

static const struct db_statement TWO_SELECT = {
    "bench_two_select",
    "SELECT s.user_id, p.id, coalesce(d.mutable, true) AND coalesce(p.mutable, true) FROM sessions s"
    " LEFT JOIN preferences p ON p.user_id = s.user_id AND p.key = $2"
    " LEFT JOIN preference_defaults d ON d.key = $2"
    " WHERE s.token_hash = " AUTH_TOKEN_HASH_PARAM " AND s.expires_at > now()",
    2,
};
static const struct db_statement TWO_UPDATE = {
    "bench_two_update",
    "UPDATE preferences SET value = $2::jsonb, updated_at = now() WHERE id = $1::uuid"
    " RETURNING json_build_object('key', key, 'value', value)::text",
    2,
};
static const struct db_statement TWO_INSERT = {
    "bench_two_insert",
    "INSERT INTO preferences (user_id, key, value) VALUES ($1::uuid, $2, $3::jsonb)"
    " RETURNING json_build_object('key', key, 'value', value)::text",
    3,
};

static int put_two_statements(struct http_exchange *ex, const char *hash, const char *key, const char *value)
{
    PGresult *res = NULL;
    const char *sel[] = {hash, key};
    int status;
    if (db_query(pool, &TWO_SELECT, sel, &res) != DB_OK) {
        status = reply_json_error(ex, 503, "db_unavailable", "database", NULL);
    } else if (PQntuples(res) == 0) {
        status = reply_json_error(ex, 401, "unauthorized", "sign in first", NULL);
    } else if (strcmp(PQgetvalue(res, 0, 2), "f") == 0) {
        status = reply_json_error(ex, 403, "immutable", "immutable", NULL);
    } else {
        PGresult *w = NULL;
        enum db_status st;
        if (!PQgetisnull(res, 0, 1)) {
            const char *up[] = {PQgetvalue(res, 0, 1), value};
            st = db_query(pool, &TWO_UPDATE, up, &w);
        } else {
            const char *ins[] = {PQgetvalue(res, 0, 0), key, value};
            st = db_query(pool, &TWO_INSERT, ins, &w);
        }
        status = st == DB_OK && PQntuples(w) == 1
                     ? reply_json(ex, 200, PQgetvalue(w, 0, 0), (size_t)PQgetlength(w, 0, 0))
                     : reply_json_error(ex, 500, "internal", "write failed", NULL);
        PQclear(w);
    }
    PQclear(res);
    return status;
}

/* ------------------------------------------------------------------ session + transaction */

static const struct db_statement TXN_SESSION = {
    "bench_txn_session",
    "SELECT user_id FROM sessions WHERE token_hash = " AUTH_TOKEN_HASH_PARAM " AND expires_at > now()",
    1,
};
/* The row, locked if it exists, and whether the default or the row forbids changes. */
static const struct db_statement TXN_LOCK = {
    "bench_txn_lock",
    "SELECT p.id, coalesce((SELECT mutable FROM preference_defaults WHERE key = $2), true)"
    "   AND coalesce(p.mutable, true)"
    " FROM (SELECT 1) one LEFT JOIN LATERAL"
    "   (SELECT id, mutable FROM preferences WHERE user_id = $1::uuid AND key = $2 FOR UPDATE) p ON true",
    2,
};
static const struct db_statement *const TXN_STATEMENTS[] = {&TXN_SESSION, &TXN_LOCK, &TWO_UPDATE, &TWO_INSERT};

static bool sqlstate_is(const PGresult *res, const char *state)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s && strcmp(s, state) == 0;
}

static PGresult *exec(PGconn *pg, const struct db_statement *stmt, const char *const *values)
{
    return PQexecPrepared(pg, stmt->name, stmt->n_params, values, NULL, NULL, 0);
}

static bool command(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* The session lookup runs first and outside the transaction, so a connection that has not
 * seen these statements yet fails there with 26000, harmlessly: prepare them all and retry. */
static PGresult *session_lookup(PGconn *pg, const char *hash)
{
    const char *values[] = {hash};
    PGresult *res = exec(pg, &TXN_SESSION, values);
    if (!sqlstate_is(res, "26000"))
        return res;
    PQclear(res);
    for (size_t i = 0; i < sizeof TXN_STATEMENTS / sizeof TXN_STATEMENTS[0]; i++) {
        const struct db_statement *s = TXN_STATEMENTS[i];
        PGresult *p = PQprepare(pg, s->name, s->sql, s->n_params, NULL);
        bool ok = PQresultStatus(p) == PGRES_COMMAND_OK || sqlstate_is(p, "42P05");
        PQclear(p);
        if (!ok)
            return NULL;
    }
    return exec(pg, &TXN_SESSION, values);
}

/* One attempt of the transaction. Returns the HTTP status, or 0 when a concurrent first PUT
 * inserted the row (23505) and the transaction should run again. */
static int txn_attempt(struct http_exchange *ex, PGconn *pg, const char *user_id, const char *key, const char *value)
{
    if (!command(pg, "BEGIN"))
        return reply_json_error(ex, 500, "internal", "begin failed", NULL);
    const char *lock_values[] = {user_id, key};
    PGresult *row = exec(pg, &TXN_LOCK, lock_values);
    if (PQresultStatus(row) != PGRES_TUPLES_OK || PQntuples(row) != 1) {
        PQclear(row);
        command(pg, "ROLLBACK");
        return reply_json_error(ex, 500, "internal", "select failed", NULL);
    }
    if (strcmp(PQgetvalue(row, 0, 1), "f") == 0) {
        PQclear(row);
        command(pg, "ROLLBACK");
        return reply_json_error(ex, 403, "immutable", "immutable", NULL);
    }
    PGresult *w;
    if (!PQgetisnull(row, 0, 0)) {
        const char *up[] = {PQgetvalue(row, 0, 0), value};
        w = exec(pg, &TWO_UPDATE, up);
    } else {
        const char *ins[] = {user_id, key, value};
        w = exec(pg, &TWO_INSERT, ins);
    }
    PQclear(row);
    if (sqlstate_is(w, "23505")) {
        PQclear(w);
        command(pg, "ROLLBACK");
        return 0;
    }
    int status;
    if (PQresultStatus(w) != PGRES_TUPLES_OK || PQntuples(w) != 1) {
        command(pg, "ROLLBACK");
        status = reply_json_error(ex, 500, "internal", "write failed", NULL);
    } else if (!command(pg, "COMMIT")) {
        status = reply_json_error(ex, 500, "internal", "commit failed", NULL);
    } else {
        status = reply_json(ex, 200, PQgetvalue(w, 0, 0), (size_t)PQgetlength(w, 0, 0));
    }
    PQclear(w);
    return status;
}

static int put_transaction(struct http_exchange *ex, const char *hash, const char *key, const char *value)
{
    struct db_conn *conn;
    if (db_pool_acquire(pool, &conn) != DB_OK)
        return reply_json_error(ex, 503, "db_unavailable", "database", NULL);
    PGconn *pg = db_conn_pg(conn);
    PGresult *session = session_lookup(pg, hash);
    int status;
    if (PQresultStatus(session) != PGRES_TUPLES_OK) {
        status = reply_json_error(ex, 500, "internal", "session lookup failed", NULL);
    } else if (PQntuples(session) == 0) {
        status = reply_json_error(ex, 401, "unauthorized", "sign in first", NULL);
    } else {
        status = 0;
        for (int attempt = 0; attempt < 3 && status == 0; attempt++)
            status = txn_attempt(ex, pg, PQgetvalue(session, 0, 0), key, value);
        if (status == 0)
            status = reply_json_error(ex, 500, "internal", "kept losing the insert race", NULL);
    }
    PQclear(session);
    db_pool_release(pool, conn);
    return status;
}

/* ------------------------------------------------------------------ HTTP */

static int put_old_way(struct http_exchange *ex, bool transaction, const char *key)
{
    char hash[65];
    bool by_cookie;
    if (!auth_request_token_hash(ex, hash, &by_cookie))
        return reply_json_error(ex, 401, "unauthorized", "sign in first", NULL);
    char *value = preferences_read_value(ex, 256 * 1024); /* the server's own body reader */
    if (!value)
        return ex->status;
    int status = transaction ? put_transaction(ex, hash, key, value) : put_two_statements(ex, hash, key, value);
    free(value);
    return status;
}

static int begin_request(struct mg_connection *conn)
{
    const struct mg_request_info *req = mg_get_request_info(conn);
    struct http_exchange ex = {
        .conn = conn, .req = req, .srv = req->user_data, .method = req->request_method,
        .path = req->local_uri_raw ? req->local_uri_raw : req->local_uri, .query = req->query_string,
    };
    static const char two[] = "/two/api/preferences/", txn[] = "/txn/api/preferences/";
    if (strcmp(ex.method, "PUT") == 0 && strncmp(ex.path, two, strlen(two)) == 0)
        return put_old_way(&ex, false, ex.path + strlen(two));
    if (strcmp(ex.method, "PUT") == 0 && strncmp(ex.path, txn, strlen(txn)) == 0)
        return put_old_way(&ex, true, ex.path + strlen(txn));
    return reply_json_error(&ex, 404, "not_found", "bench server: PUT /{two,txn}/api/preferences/{key} only", NULL);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG.ini PORT\n", argv[0]);
        return 2;
    }
    static struct tessera_server srv;
    if (config_load(&srv.cfg, argv[1], NULL, stderr) < 0)
        return 2;
    pool = db_pool_create(&srv.cfg);
    if (!pool)
        return 1;
    char listen[32], threads[16];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", argv[2]);
    snprintf(threads, sizeof threads, "%lld", (long long)srv.cfg.server.threads); /* as tessera */
    const char *options[] = {"listening_ports", listen, "num_threads", threads, "enable_keep_alive", "yes",
                             "tcp_nodelay", "1", "keep_alive_timeout_ms", "15000", NULL};
    struct mg_callbacks callbacks = {.begin_request = begin_request};
    mg_init_library(0);
    struct mg_context *ctx = mg_start(&callbacks, &srv, options);
    if (!ctx)
        return 1;
    printf("listening on http://%s\n", listen);
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    mg_stop(ctx);
    db_pool_free(pool);
    return 0;
}
