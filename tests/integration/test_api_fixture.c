/* api_fixture — shared set-up for the /api suites (no tests in this file). */
#include "api_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct api_fixture current; /* one per test process: Criterion forks each test */

void api_fixture_start(struct api_fixture *f, bool via_bouncer, const char *extra_ini)
{
    memset(f, 0, sizeof *f);
    f->via_bouncer = via_bouncer;
    f->db_url = test_db_create();
    cr_assert(f->db_url, "TESSERA_TEST_PG_URL must name the test cluster");
    snprintf(f->served_url, sizeof f->served_url, "%s", f->db_url);
    if (via_bouncer) {
        test_bouncer_start(&f->bouncer, f->db_url,
                           "max_client_conn = 500\ndefault_pool_size = 20\n"
                           "ignore_startup_parameters = extra_float_digits,options\n");
        snprintf(f->served_url, sizeof f->served_url, "%s", f->bouncer.url);
    }
    f->pg = PQconnectdb(f->db_url);
    cr_assert_eq(PQstatus(f->pg), CONNECTION_OK, "%s", PQerrorMessage(f->pg));
    char ini[4096];
    snprintf(ini, sizeof ini,
             "[database]\nurl = %s\nprepared_statements = %s\n%sgc_interval = 7d\n"
             "[log]\naccess = off\n%s",
             f->served_url, via_bouncer ? "off" : "on", via_bouncer ? "statement_timeout = 0\n" : "",
             extra_ini ? extra_ini : "");
    cr_assert_eq(test_server_start(&f->srv, ini, NULL), 0, "tessera did not start");
}

void api_fixture_stop(struct api_fixture *f)
{
    if (f->srv.pid > 0) {
        int code = test_server_stop(&f->srv);
        cr_expect_eq(code, 0, "tessera exited with %d (a sanitizer report or a crash)", code);
    }
    if (f->pg)
        PQfinish(f->pg);
    f->pg = NULL;
    test_bouncer_stop(&f->bouncer);
    free(f->db_url);
    f->db_url = NULL;
}

static void cleanup_current(void) { api_fixture_stop(&current); }
void api_fixture_fini(void) { cleanup_current(); }

void api_fixture_run_with(void (*body)(struct api_fixture *f), bool via_bouncer, const char *extra_ini)
{
    /* Runs even when an assertion ends the test early, so no server or pooler outlives it. */
    atexit(cleanup_current);
    api_fixture_start(&current, via_bouncer, extra_ini);
    body(&current);
}

void api_fixture_run(void (*body)(struct api_fixture *f), bool via_bouncer)
{
    api_fixture_run_with(body, via_bouncer, NULL);
}

void api_fixture_user(struct api_fixture *f, const char *email, char token[65])
{
    char env[600];
    snprintf(env, sizeof env, "%s", f->db_url);
    setenv("DATABASE_URL", env, 1);
    char *out = NULL, *err = NULL;
    const char *add[] = {"user", "add", email, "--name", "Test User", NULL};
    int rc = test_run_tessera(add, "correct horse battery staple\n", &out, &err);
    cr_assert_eq(rc, 0, "user add: %s", err ? err : "");
    free(out);
    free(err);
    const char *session[] = {"session", "new", email, NULL};
    rc = test_run_tessera(session, NULL, &out, &err);
    cr_assert_eq(rc, 0, "session new: %s", err ? err : "");
    size_t n = strspn(out, "0123456789abcdef");
    cr_assert_eq(n, 64, "session new printed: %s", out);
    memcpy(token, out, 64);
    token[64] = '\0';
    free(out);
    free(err);
}

void api_call(struct api_fixture *f, const char *method, const char *path, const char *token, const char *json,
              const char *const extra_headers[], struct http_result *out)
{
    char url[2048], auth[128];
    snprintf(url, sizeof url, "%s%s", f->srv.base_url, path);
    const char *headers[16];
    int n = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (json)
        headers[n++] = "Content-Type: application/json";
    for (int i = 0; extra_headers && extra_headers[i] && n < 14; i++)
        headers[n++] = extra_headers[i];
    headers[n] = NULL;
    int rc = http_do(method, url, headers, json, json ? strlen(json) : 0, out);
    cr_assert_eq(rc, 0, "%s %s: no answer", method, path);
}

json_t *api_json(const struct http_result *r)
{
    json_error_t err;
    json_t *v = json_loadb(r->body, r->body_len, 0, &err);
    cr_assert(v, "not JSON (%s): %.300s", err.text, r->body);
    return v;
}

void api_error_code(const struct http_result *r, char *code, size_t size, char *field, size_t field_size)
{
    json_t *v = api_json(r);
    json_t *e = json_object_get(v, "error");
    cr_assert(json_is_object(e), "not an error body: %.300s", r->body);
    snprintf(code, size, "%s", json_string_value(json_object_get(e, "code")));
    if (field)
        snprintf(field, field_size, "%s",
                 json_is_string(json_object_get(e, "field")) ? json_string_value(json_object_get(e, "field")) : "");
    json_decref(v);
}

unsigned long long api_statements(struct api_fixture *f)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", f->srv.base_url);
    struct http_result r;
    cr_assert_eq(http_get(url, NULL, &r), 0);
    const char *at = strstr(r.body, "\ntessera_db_pool_statements_total ");
    cr_assert(at, "no statements counter in /metrics");
    unsigned long long n = strtoull(at + strlen("\ntessera_db_pool_statements_total "), NULL, 10);
    http_result_free(&r);
    return n;
}

long long api_sql_int(struct api_fixture *f, const char *sql)
{
    PGresult *res = PQexec(f->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(f->pg));
    long long v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return v;
}

/* Expects an error answer: status, error code, the field when given, and no-store. */
void api_expect_error(struct api_fixture *f, const char *method, const char *path, const char *token,
                      const char *json, long status, const char *code, const char *field)
{
    struct http_result r;
    api_call(f, method, path, token, json, NULL, &r);
    cr_expect_eq(r.status, status, "%s %s: %ld %.200s", method, path, r.status, r.body);
    char got[64], got_field[64];
    api_error_code(&r, got, sizeof got, got_field, sizeof got_field);
    cr_expect_str_eq(got, code, "%s %s", method, path);
    if (field)
        cr_expect_str_eq(got_field, field, "%s %s", method, path);
    char cc[64];
    cr_expect(http_header_value(&r, "Cache-Control", cc, sizeof cc) && strcmp(cc, "no-store") == 0);
    http_result_free(&r);
}
