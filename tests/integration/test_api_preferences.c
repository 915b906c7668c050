/* /api/preferences against real PostgreSQL (and again through PgBouncer): defaults merged
 * with the user's values, immutable defaults, strict input, concurrent upserts. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_fixture.h"

static json_t *get_preferences(struct api_fixture *f, const char *token)
{
    struct http_result r;
    api_call(f, "GET", "/api/preferences", token, NULL, NULL, &r);
    cr_assert_eq(r.status, 200, "%.200s", r.body);
    json_t *v = api_json(&r);
    http_result_free(&r);
    return v;
}

static const char *pref_string(json_t *prefs, const char *key)
{
    json_t *v = json_object_get(prefs, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

API_TEST(api, preferences_merge_put_delete)
{
    char a[65], b[65];
    api_fixture_user(f, "a@example.test", a);
    api_fixture_user(f, "b@example.test", b);

    json_t *prefs = get_preferences(f, a);
    cr_expect_str_eq(pref_string(prefs, "theme"), "system");
    cr_expect_str_eq(pref_string(prefs, "plan"), "free");
    json_decref(prefs);

    struct http_result r;
    api_call(f, "PUT", "/api/preferences/theme", a, "{\"value\":\"dark\"}", NULL, &r);
    cr_assert_eq(r.status, 200, "%.200s", r.body);
    json_t *put = api_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(put, "key")), "theme");
    cr_expect_str_eq(json_string_value(json_object_get(put, "value")), "dark");
    json_decref(put);
    http_result_free(&r);

    api_call(f, "PUT", "/api/preferences/ui.sidebar-width_2", a, "{\"value\":{\"px\":[240,null,true]}}", NULL, &r);
    cr_assert_eq(r.status, 200, "%.200s", r.body);
    http_result_free(&r);
    api_call(f, "PUT", "/api/preferences/nothing", a, "{\"value\":null}", NULL, &r);
    cr_assert_eq(r.status, 200, "%.200s", r.body);
    http_result_free(&r);

    prefs = get_preferences(f, a);
    cr_expect_str_eq(pref_string(prefs, "theme"), "dark");
    cr_expect_str_eq(pref_string(prefs, "language"), "en");
    json_t *width = json_object_get(json_object_get(prefs, "ui.sidebar-width_2"), "px");
    cr_expect_eq(json_integer_value(json_array_get(width, 0)), 240);
    cr_expect(json_is_null(json_object_get(prefs, "nothing")) && json_object_get(prefs, "nothing"));
    json_decref(prefs);

    /* The other user still sees the defaults only. */
    prefs = get_preferences(f, b);
    cr_expect_str_eq(pref_string(prefs, "theme"), "system");
    cr_expect_null(json_object_get(prefs, "ui.sidebar-width_2"));
    json_decref(prefs);

    /* Immutable default: 403 for PUT and DELETE, and it wins even over a row put there. */
    api_expect_error(f, "PUT", "/api/preferences/plan", a, "{\"value\":\"pro\"}", 403, "immutable", NULL);
    api_expect_error(f, "DELETE", "/api/preferences/plan", a, NULL, 403, "immutable", NULL);
    api_sql_int(f, "INSERT INTO preferences (user_id, key, value) SELECT id, 'plan', '\"pro\"' FROM users"
                   " WHERE email = 'a@example.test'");
    prefs = get_preferences(f, a);
    cr_expect_str_eq(pref_string(prefs, "plan"), "free");
    json_decref(prefs);

    /* A user row locked by an operator is immutable too. */
    api_sql_int(f, "UPDATE preferences SET mutable = false WHERE key = 'nothing'");
    api_expect_error(f, "PUT", "/api/preferences/nothing", a, "{\"value\":1}", 403, "immutable", NULL);

    api_call(f, "DELETE", "/api/preferences/theme", a, NULL, NULL, &r);
    cr_expect_eq(r.status, 204);
    cr_expect_eq(r.body_len, 0);
    http_result_free(&r);
    api_call(f, "DELETE", "/api/preferences/never-set", a, NULL, NULL, &r);
    cr_expect_eq(r.status, 204);
    http_result_free(&r);
    prefs = get_preferences(f, a);
    cr_expect_str_eq(pref_string(prefs, "theme"), "system");
    json_decref(prefs);
}

API_TEST(api, preferences_strict_input)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    unsigned long long before = api_statements(f);
    /* Bad keys never reach the database. */
    api_expect_error(f, "PUT", "/api/preferences/Theme", a, "{\"value\":1}", 400, "invalid_key", "key");
    api_expect_error(f, "PUT", "/api/preferences/1theme", a, "{\"value\":1}", 400, "invalid_key", "key");
    api_expect_error(f, "PUT", "/api/preferences/th%20eme", a, "{\"value\":1}", 400, "invalid_key", "key");
    api_expect_error(f, "DELETE", "/api/preferences/a%2Fb", a, NULL, 400, "invalid_key", "key");
    char long_key[128] = "/api/preferences/";
    memset(long_key + strlen(long_key), 'k', 65);
    api_expect_error(f, "PUT", long_key, a, "{\"value\":1}", 400, "invalid_key", "key");
    long_key[strlen(long_key) - 1] = '\0'; /* 64 is allowed: checked below with a query */
    /* Bodies. */
    api_expect_error(f, "PUT", "/api/preferences/theme", a, "{\"value\":", 400, "invalid_json", NULL);
    api_expect_error(f, "PUT", "/api/preferences/theme", a, "[1]", 400, "invalid_json", NULL);
    api_expect_error(f, "PUT", "/api/preferences/theme", a, "{}", 400, "missing_field", "value");
    api_expect_error(f, "PUT", "/api/preferences/theme", a, "{\"value\":1,\"extra\":2}", 400, "unknown_field", "extra");
    api_expect_error(f, "PUT", "/api/preferences/theme", a, "{\"value\":1,\"value\":2}", 400, "invalid_json", NULL);
    size_t big = 16 * 1024 + 16;
    char *json = malloc(big + 32);
    snprintf(json, big + 32, "{\"value\":\"%0*d\"}", (int)(16 * 1024 - 1), 0); /* 16 KiB + 1 serialized */
    api_expect_error(f, "PUT", "/api/preferences/theme", a, json, 400, "invalid_field", "value");
    free(json);
    size_t huge = 300 * 1024;
    json = malloc(huge + 32);
    snprintf(json, huge + 32, "{\"value\":\"%0*d\"}", (int)huge, 0);
    api_expect_error(f, "PUT", "/api/preferences/theme", a, json, 413, "body_too_large", NULL);
    free(json);
    struct http_result r;
    const char *text_plain[] = {"Content-Type: text/plain", NULL};
    char url[128];
    snprintf(url, sizeof url, "%s/api/preferences/theme", f->srv.base_url);
    char auth[100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a);
    const char *h415[] = {auth, text_plain[0], NULL};
    http_do("PUT", url, h415, "{\"value\":1}", 11, &r);
    cr_expect_eq(r.status, 415);
    http_result_free(&r);
    /* No session at all: 401 without a query. */
    api_expect_error(f, "GET", "/api/preferences", NULL, NULL, 401, "unauthorized", NULL);
    api_expect_error(f, "PUT", "/api/preferences/theme", NULL, "{\"value\":1}", 401, "unauthorized", NULL);
    api_call(f, "POST", "/api/preferences", a, "{}", NULL, &r);
    cr_expect_eq(r.status, 405);
    http_result_free(&r);
    cr_expect_eq(api_statements(f), before, "rejected requests must not query");

    /* A well-formed token that matches no session: one query, 401. */
    api_expect_error(f, "GET", "/api/preferences", "00000000000000000000000000000000000000000000000000000000000000aa",
                 NULL, 401, "unauthorized", NULL);
    api_call(f, "PUT", long_key, a, "{\"value\":[]}", NULL, &r);
    cr_expect_eq(r.status, 200, "a 64-character key is valid: %.200s", r.body);
    http_result_free(&r);
    /* Expired session: 401. */
    api_sql_int(f, "UPDATE sessions SET expires_at = now() - interval '1 second'");
    api_expect_error(f, "GET", "/api/preferences", a, NULL, 401, "unauthorized", NULL);
}

struct put_worker {
    struct api_fixture *f;
    const char *token;
    int id;
    int failures;
};

static void *put_many(void *arg)
{
    struct put_worker *w = arg;
    for (int i = 0; i < 10; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"value\":\"w%d-%d\"}", w->id, i);
        struct http_result r;
        char url[256], auth[100];
        snprintf(url, sizeof url, "%s/api/preferences/theme", w->f->srv.base_url);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", w->token);
        const char *headers[] = {auth, "Content-Type: application/json", NULL};
        if (http_do("PUT", url, headers, body, strlen(body), &r) != 0 || r.status != 200)
            w->failures++;
        http_result_free(&r);
    }
    return NULL;
}

/* Values jansson cannot hold (integers beyond 64 bits, reals beyond a double) and strings
 * PostgreSQL's jsonb cannot hold (U+0000) are a 400 naming "value", before any query; a body
 * starting with a UTF-8 byte order mark is read like one without. */
API_TEST(api, preference_values_out_of_range_are_named)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    unsigned long long before = api_statements(f);
    const char *bodies[] = {"{\"value\": 123456789012345678901234567890}", "{\"value\":[-99999999999999999999]}",
                            "{\"value\":{\"x\":1e400}}", "{\"value\":\"a\\u0000\"}", "{\"value\":{\"k\":[\"\\u0000\"]}}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        api_expect_error(f, "PUT", "/api/preferences/big", a, bodies[i], 400, "invalid_field", "value");
    cr_expect_eq(api_statements(f), before, "rejected requests must not query");
    struct http_result r;
    api_call(f, "PUT", "/api/preferences/theme", a, "\xef\xbb\xbf{\"value\":\"dark\"}", NULL, &r);
    cr_expect_eq(r.status, 200, "%.200s", r.body);
    http_result_free(&r);
    api_call(f, "PUT", "/api/preferences/big", a, "{\"value\":9223372036854775807}", NULL, &r);
    cr_expect_eq(r.status, 200, "%.200s", r.body);
    cr_expect(r.body && strstr(r.body, "9223372036854775807"), "%.200s", r.body);
    http_result_free(&r);
}

/* A value nested 500 deep overran a worker thread's stack in jansson's recursive dump and
 * took the whole server down (every user's requests). Refused as 400 before any parsing;
 * the server keeps answering. */
API_TEST(api, deeply_nested_bodies_are_400_not_a_crash)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    static const struct {
        const char *method, *path, *prefix, *open, *close, *field;
    } cases[] = {
        {"PUT", "/api/preferences/deep", "{\"value\":", "[", "]", "value"},
        {"PUT", "/api/preferences/deep", "{\"value\":", "{\"k\":", "}", "value"},
        {"POST", "/api/conversations", "{\"title\":", "[", "]", "title"},
        {"POST", "/api/auth/sign-in", "{\"email\":\"a@example.test\",\"password\":", "[", "]", "password"},
    };
    static const int depths[] = {500, 2000, 5000};
    size_t size = 5000 * 8 + 256;
    char *body = malloc(size);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
            size_t n = (size_t)snprintf(body, size, "%s", cases[i].prefix);
            for (int k = 0; k < depths[d]; k++)
                n += (size_t)snprintf(body + n, size - n, "%s", cases[i].open);
            for (int k = 0; k < depths[d]; k++)
                n += (size_t)snprintf(body + n, size - n, "%s", cases[i].close);
            snprintf(body + n, size - n, "}");
            api_expect_error(f, cases[i].method, cases[i].path, a, body, 400, "invalid_field", cases[i].field);
        }
    }
    free(body);
    struct http_result r;
    api_call(f, "PUT", "/api/preferences/nested", a, "{\"value\":[[[{\"a\":[1]}]]]}", NULL, &r);
    cr_expect_eq(r.status, 200, "%.200s", r.body);
    http_result_free(&r);
}

API_TEST(api, preferences_concurrent_puts_one_row)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    enum { THREADS = 16 };
    pthread_t threads[THREADS];
    struct put_worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct put_worker){f, a, i, 0};
        cr_assert_eq(pthread_create(&threads[i], NULL, put_many, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        cr_expect_eq(workers[i].failures, 0, "worker %d had failed PUTs", i);
    }
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM preferences WHERE key = 'theme'"), 1);
    /* The surviving value is one that was written last by some worker (its i = 9). */
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM preferences WHERE key = 'theme' AND value::text LIKE '\"w%-9\"'"), 1);
    struct http_result r;
    api_call(f, "PUT", "/api/preferences/theme", a, "{\"value\":\"final\"}", NULL, &r);
    http_result_free(&r);
    json_t *prefs = get_preferences(f, a);
    cr_expect_str_eq(pref_string(prefs, "theme"), "final");
    json_decref(prefs);
    cr_expect_eq(api_sql_int(f, "SELECT count(*) FROM preferences WHERE key = 'theme'"), 1);
}

struct blocked_put {
    struct api_fixture *f;
    const char *token;
    long status;
};

static void *put_theme(void *arg)
{
    struct blocked_put *b = arg;
    struct http_result r;
    api_call(b->f, "PUT", "/api/preferences/theme", b->token, "{\"value\":\"after the lock\"}", NULL, &r);
    b->status = r.status;
    http_result_free(&r);
    return NULL;
}

/* With the pool's only connection held by a statement waiting on a row lock, the next
 * request cannot get a connection: 503 db_busy with Retry-After, not a hang. */
static void pool_exhausted_body(struct api_fixture *f)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    struct http_result r;
    api_call(f, "PUT", "/api/preferences/theme", a, "{\"value\":\"dark\"}", NULL, &r);
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    api_sql_int(f, "BEGIN");
    api_sql_int(f, "SELECT 1 FROM preferences WHERE key = 'theme' FOR UPDATE");
    struct blocked_put blocked = {f, a, 0};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, put_theme, &blocked), 0);
    /* Wait (bounded) until the PUT really waits on the lock. */
    PGconn *watch = PQconnectdb(f->db_url);
    for (int i = 0;; i++) {
        PGresult *res = PQexec(watch, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                      " AND datname = current_database()");
        bool waiting = atoi(PQgetvalue(res, 0, 0)) > 0;
        PQclear(res);
        if (waiting)
            break;
        cr_assert(i < 2000, "the PUT never waited on the row lock");
        usleep(5000);
    }
    PQfinish(watch);
    api_call(f, "GET", "/api/preferences", a, NULL, NULL, &r);
    cr_expect_eq(r.status, 503, "%.200s", r.body);
    cr_expect(strstr(r.body, "\"db_busy\""), "%s", r.body);
    char retry[16];
    cr_expect(http_header_value(&r, "Retry-After", retry, sizeof retry));
    http_result_free(&r);
    api_sql_int(f, "COMMIT");
    pthread_join(thread, NULL);
    cr_expect_eq(blocked.status, 200, "the blocked PUT finishes once the lock goes");
}

Test(api, pool_exhausted_is_503_db_busy, .fini = api_fixture_fini)
{
    api_fixture_run_with(pool_exhausted_body, false, "[database]\npool_max = 1\nacquire_timeout = 200ms\n");
}

/* A number comes back as the client wrote it: 0.1 and 1.1 are stored as 0.1 and 1.1, not as
 * their 17-digit expansions (0.10000000000000001), which a settings screen would show. Every
 * double still round-trips exactly. */
API_TEST(api, preferences_numbers_keep_their_short_form)
{
    char a[65];
    api_fixture_user(f, "a@example.test", a);
    const char *values[] = {"0.1", "1.1", "-2.5e-7", "0.30000000000000004", "[2.675, {\"x\": 1e-3}]"};
    const char *stored[] = {"0.1", "1.1", "-0.00000025", "0.30000000000000004", "[2.675, {\"x\": 0.001}]"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"value\":%s}", values[i]);
        struct http_result r;
        api_call(f, "PUT", "/api/preferences/num", a, body, NULL, &r);
        cr_assert_eq(r.status, 200, "%.200s", r.body);
        char sql[128];
        char *text = NULL;
        snprintf(sql, sizeof sql, "SELECT value::text FROM preferences WHERE key = 'num'");
        text = test_db_scalar(f->db_url, sql);
        cr_expect_str_eq(text, stored[i], "%s", values[i]);
        free(text);
        http_result_free(&r);
    }
}
