/* put_two_statements — bench only, never shipped: PUT /api/preferences/{key} done the old
 * way, a SELECT (session, existing row, immutability) and then an UPDATE or an INSERT, i.e.
 * two round trips. Everything else is tessera's own code (CivetWeb wiring, pool, token
 * hashing, strict JSON reading, replies), so wrk measures the round trip saved.
 *
 * usage: put_two_statements CONFIG.ini PORT */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/api_request.h"
#include "tessera/auth.h"
#include "tessera/db_pool.h"
#include "tessera/server.h"

static struct db_pool *pool;

static const struct db_statement SELECT_OLD = {
    "bench_put_select",
    "SELECT s.user_id, p.id, coalesce(d.mutable, true) FROM sessions s"
    " LEFT JOIN preferences p ON p.user_id = s.user_id AND p.key = $2"
    " LEFT JOIN preference_defaults d ON d.key = $2"
    " WHERE s.token_hash = decode($1, 'hex') AND s.expires_at > now()",
    2,
};
static const struct db_statement UPDATE_OLD = {
    "bench_put_update",
    "UPDATE preferences SET value = $2::jsonb, updated_at = now() WHERE id = $1::uuid"
    " RETURNING json_build_object('key', key, 'value', value)::text",
    2,
};
static const struct db_statement INSERT_OLD = {
    "bench_put_insert",
    "INSERT INTO preferences (user_id, key, value) VALUES ($1::uuid, $2, $3::jsonb)"
    " RETURNING json_build_object('key', key, 'value', value)::text",
    3,
};

static int put_old_way(struct http_exchange *ex, const char *key)
{
    char hash[65];
    bool by_cookie;
    if (!auth_request_token_hash(ex, hash, &by_cookie))
        return reply_json_error(ex, 401, "unauthorized", "sign in first", NULL);
    static const struct api_field fields[] = {{"value", API_FIELD_ANY, true, 16384}};
    json_t *body = api_read_json_object(ex, 256 * 1024, fields, 1);
    if (!body)
        return ex->status;
    char *value = json_dumps(json_object_get(body, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    PGresult *res = NULL;
    const char *sel[] = {hash, key};
    int status = 500;
    if (db_query(pool, &SELECT_OLD, sel, &res) != DB_OK) {
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
            st = db_query(pool, &UPDATE_OLD, up, &w);
        } else {
            const char *ins[] = {PQgetvalue(res, 0, 0), key, value};
            st = db_query(pool, &INSERT_OLD, ins, &w);
        }
        status = st == DB_OK ? reply_json(ex, 200, PQgetvalue(w, 0, 0), (size_t)PQgetlength(w, 0, 0))
                             : reply_json_error(ex, 500, "internal", "write failed", NULL);
        PQclear(w);
    }
    PQclear(res);
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
    const char *prefix = "/api/preferences/";
    if (strcmp(ex.method, "PUT") == 0 && strncmp(ex.path, prefix, strlen(prefix)) == 0)
        return put_old_way(&ex, ex.path + strlen(prefix));
    return reply_json_error(&ex, 404, "not_found", "bench server: PUT /api/preferences/{key} only", NULL);
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
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%s", argv[2]);
    const char *options[] = {"listening_ports", listen, "num_threads", "64", "enable_keep_alive", "yes",
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
