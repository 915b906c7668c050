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
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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
    "SELECT s.user_id, p.id, coalesce(d.mutable, true) AND coalesce(p.mutable, true)"
    " FROM (" AUTH_SESSION_USER_SELECT ") s"
    " LEFT JOIN preferences p ON p.user_id = s.user_id AND p.key = $2"
    " LEFT JOIN preference_defaults d ON d.key = $2",
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

/* The two statements alone: the HTTP status they decide; *written is the UPDATE's or INSERT's
 * result when they ran (the caller clears it, whatever the status). */
static int two_statements(const char *hash, const char *key, const char *value, PGresult **written)
{
    PGresult *res = NULL;
    const char *sel[] = {hash, key};
    int status;
    *written = NULL;
    if (db_query(pool, &TWO_SELECT, sel, &res) != DB_OK) {
        status = 503;
    } else if (PQntuples(res) == 0) {
        status = 401;
    } else if (strcmp(PQgetvalue(res, 0, 2), "f") == 0) {
        status = 403;
    } else {
        enum db_status st;
        if (!PQgetisnull(res, 0, 1)) {
            const char *up[] = {PQgetvalue(res, 0, 1), value};
            st = db_query(pool, &TWO_UPDATE, up, written);
        } else {
            const char *ins[] = {PQgetvalue(res, 0, 0), key, value};
            st = db_query(pool, &TWO_INSERT, ins, written);
        }
        status = st == DB_OK && PQntuples(*written) == 1 ? 200 : 500;
    }
    PQclear(res);
    return status;
}

static int put_two_statements(struct http_exchange *ex, const char *hash, const char *key, const char *value)
{
    PGresult *w;
    int status = two_statements(hash, key, value, &w);
    switch (status) {
    case 200: status = reply_json(ex, 200, PQgetvalue(w, 0, 0), (size_t)PQgetlength(w, 0, 0)); break;
    case 401: status = reply_json_error(ex, 401, "unauthorized", "sign in first", NULL); break;
    case 403: status = reply_json_error(ex, 403, "immutable", "immutable", NULL); break;
    case 503: status = reply_json_error(ex, 503, "db_unavailable", "database", NULL); break;
    default: status = reply_json_error(ex, 500, "internal", "write failed", NULL); break;
    }
    PQclear(w);
    return status;
}

/* ------------------------------------------------------------------ session + transaction */

static const struct db_statement TXN_SESSION = {
    "bench_txn_session",
    AUTH_SESSION_USER_SELECT,
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
    char hash[AUTH_TOKEN_HASHES_SIZE];
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

/* ------------------------------------------------------------------ without HTTP */

/* --statements: the same PUT without HTTP, tessera's one statement against the two, driven
 * straight through the pool. It shows the ratio the database alone allows; HTTP, loopback TCP
 * and wrk only add work that both sides pay alike. */
struct driver {
    char (*hashes)[65];
    size_t n_hashes;
    bool two;
    atomic_bool *stop;
    unsigned long long first, done, failed;
};

static void *drive(void *arg)
{
    struct driver *d = arg;
    char value[32];
    for (unsigned long long i = d->first; !atomic_load(d->stop); i++) {
        const char *hash = d->hashes[i % d->n_hashes];
        snprintf(value, sizeof value, "\"t%llu\"", i);
        PGresult *res = NULL;
        int status;
        if (d->two) {
            status = two_statements(hash, "theme", value, &res);
        } else {
            const char *values[] = {hash, "theme", value};
            status = db_query(pool, &PREFERENCES_PUT_STATEMENT, values, &res) == DB_OK && PQntuples(res) == 1
                         ? atoi(PQgetvalue(res, 0, 0))
                         : 500;
        }
        PQclear(res);
        if (status == 200)
            d->done++;
        else
            d->failed++;
    }
    return NULL;
}

/* PUTs per second of one variant, THREADS threads for SECONDS. */
static double drive_for(bool two, char (*hashes)[65], size_t n_hashes, int threads, int seconds)
{
    atomic_bool stop = false;
    struct driver d[64];
    pthread_t t[64];
    for (int i = 0; i < threads; i++) {
        d[i] = (struct driver){hashes, n_hashes, two, &stop, (unsigned long long)i * 7919, 0, 0};
        pthread_create(&t[i], NULL, drive, &d[i]);
    }
    sleep((unsigned)seconds);
    atomic_store(&stop, true);
    unsigned long long done = 0, failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        done += d[i].done;
        failed += d[i].failed;
    }
    if (failed)
        fprintf(stderr, "put_old_way: %llu PUTs failed\n", failed);
    return (double)done / seconds;
}

static int statements_only(const char *tokens_path, int seconds, int threads, long long pool_max)
{
    static char hashes[1024][65];
    size_t n = 0;
    char line[256];
    FILE *f = fopen(tokens_path, "r");
    if (!f) {
        perror(tokens_path);
        return 1;
    }
    while (n < 1024 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (auth_token_hash(line, hashes[n]))
            n++;
    }
    fclose(f);
    if (n == 0 || threads < 1 || threads > 64 || seconds < 1) {
        fprintf(stderr, "put_old_way: no tokens, or threads not 1-64, or seconds < 1\n");
        return 2;
    }
    drive_for(false, hashes, n, threads, 1); /* warm-up: connections and prepared statements */
    drive_for(true, hashes, n, threads, 1);
    /* one, two, two, one: drift in the machine's load favours neither */
    double one = drive_for(false, hashes, n, threads, seconds);
    double two = drive_for(true, hashes, n, threads, seconds);
    two += drive_for(true, hashes, n, threads, seconds);
    one += drive_for(false, hashes, n, threads, seconds);
    printf("statements only (%d threads, pool_max %lld): one statement %.0f PUT/s, two statements %.0f PUT/s:"
           " %.2fx\n", threads, pool_max, one / 2, two / 2, one / two);
    return 0;
}

int main(int argc, char **argv)
{
    bool only_statements = argc == 6 && strcmp(argv[1], "--statements") == 0;
    if (argc != 3 && !only_statements) {
        fprintf(stderr, "usage: %s CONFIG.ini PORT\n"
                        "       %s --statements CONFIG.ini TOKENS SECONDS THREADS\n", argv[0], argv[0]);
        return 2;
    }
    static struct tessera_server srv;
    if (config_load(&srv.cfg, argv[only_statements ? 2 : 1], NULL, stderr) < 0)
        return 2;
    pool = db_pool_create(&srv.cfg);
    if (!pool)
        return 1;
    if (only_statements) {
        int rc = statements_only(argv[3], atoi(argv[4]), atoi(argv[5]), (long long)srv.cfg.database.pool_max);
        db_pool_free(pool);
        return rc;
    }
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
