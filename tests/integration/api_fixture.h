/* api_fixture — a fresh database, a tessera serving it (directly or through PgBouncer in
 * transaction mode with prepared_statements = off), users with session tokens, and small
 * HTTP/JSON helpers for the /api suites. */
#ifndef TESSERA_TEST_API_FIXTURE_H
#define TESSERA_TEST_API_FIXTURE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"

struct api_fixture {
    bool via_bouncer;
    char *db_url;               /* the test database, direct */
    char served_url[512];       /* what tessera connects to */
    struct test_bouncer bouncer; /* when via_bouncer */
    struct test_server srv;
    PGconn *pg;                 /* direct connection for seeding and checks */
};

/* Starts everything; extra_ini is appended to the INI (may be NULL). Asserts on failure. */
void api_fixture_start(struct api_fixture *f, bool via_bouncer, const char *extra_ini);
void api_fixture_stop(struct api_fixture *f);

/* `tessera user add` + `tessera session new`: the user's bearer token (64 hex) into token. */
void api_fixture_user(struct api_fixture *f, const char *email, char token[65]);

/* One request: Authorization: Bearer token when token is non-NULL; a JSON body when json is
 * non-NULL (Content-Type: application/json). extra_headers may be NULL. */
void api_call(struct api_fixture *f, const char *method, const char *path, const char *token,
              const char *json, const char *const extra_headers[], struct http_result *out);
/* The body parsed as JSON (asserts it parses); json_decref it. */
json_t *api_json(const struct http_result *r);
/* The error code of an error body, or "" (static storage per call is not used: copies). */
void api_error_code(const struct http_result *r, char *code, size_t size, char *field, size_t field_size);
/* Expects an error answer: status, error code, the field when given, and Cache-Control: no-store. */
void api_expect_error(struct api_fixture *f, const char *method, const char *path, const char *token,
                      const char *json, long status, const char *code, const char *field);
/* tessera_db_pool_statements_total from /metrics. */
unsigned long long api_statements(struct api_fixture *f);
/* Runs SQL on the direct connection; asserts success; returns the first value as long long. */
long long api_sql_int(struct api_fixture *f, const char *sql);

/* Runs the body twice: directly against PostgreSQL and through PgBouncer. */
#define API_TEST(suite, name)                                                      \
    static void name##_body(struct api_fixture *f);                                \
    Test(suite, name, .fini = api_fixture_fini) { api_fixture_run(name##_body, false); } \
    Test(suite##_pgbouncer, name, .fini = api_fixture_fini) { api_fixture_run(name##_body, true); } \
    static void name##_body(struct api_fixture *f)

void api_fixture_run(void (*body)(struct api_fixture *f), bool via_bouncer);
void api_fixture_run_with(void (*body)(struct api_fixture *f), bool via_bouncer, const char *extra_ini);
void api_fixture_fini(void);
#endif
