/* Session GC: start-up never waits for it, and it does delete every expired session. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tessera/config.h"
#include "tessera/db_pool.h"
#include "tessera/session_gc.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long long metric(const char *base_url, const char *name)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", base_url);
    struct http_result r;
    cr_assert_eq(http_get(url, NULL, &r), 0);
    long long v = -1;
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(r.body, key);
    if (at)
        v = atoll(at + strlen(key));
    http_result_free(&r);
    return v;
}

/* Stopped in .fini too, so a failed assertion leaves no server behind. */
static struct test_server ts;
static void stop_server(void)
{
    if (ts.pid > 0)
        test_server_stop(&ts);
}

Test(session_gc, startup_answers_at_once_while_500k_expired_sessions_go, .timeout = 200, .fini = stop_server)
{
    char *url = test_db_create();
    cr_assert(url);
    setenv("TESSERA_DATABASE_URL", url, 1);
    char *err = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, &err), 0,
                 "%s", err);
    free(err);
    cr_assert_eq(test_run_tessera((const char *[]){"user", "add", "gc@example.com", "--config", "/dev/null", NULL},
                                  "long enough password\n", NULL, &err),
                 0, "%s", err);
    free(err);
    /* Token hashes in insertion order keep the unique-index inserts sequential (fast seeding). */
    free(test_db_scalar(url, "INSERT INTO sessions (token_hash, user_id, expires_at)"
                     " SELECT decode(lpad(to_hex(i), 64, '0'), 'hex'), u.id, now() - interval '1 hour' * (1 + i % 100)"
                     " FROM generate_series(1, 500000) i, (SELECT id FROM users) u"));
    free(test_db_scalar(url, "ANALYZE sessions"));
    char *token = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"session", "new", "gc@example.com", "--config", "/dev/null", NULL},
                                  NULL, &token, &err),
                 0, "%s", err);
    free(err);
    token[strcspn(token, "\n")] = '\0';
    unsetenv("TESSERA_DATABASE_URL");

    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\ngc_batch = 5000\ngc_interval = 1s\n", url);
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0);
    /* Measured from the moment the harness saw the port announced (it polls every 10 ms). */
    double t0 = now_ms();
    char u[160], auth[128];
    struct http_result r;
    snprintf(u, sizeof u, "%s/healthz", ts.base_url);
    cr_assert_eq(http_get(u, NULL, &r), 0);
    double t_health = now_ms() - t0;
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    snprintf(u, sizeof u, "%s/api/me", ts.base_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    cr_assert_eq(http_get(u, (const char *[]){auth, NULL}, &r), 0);
    double t_me = now_ms() - t0;
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_result_free(&r);
    char *left = test_db_scalar(url, "SELECT count(*) FROM sessions WHERE expires_at < now()");
    long long expired_left = atoll(left);
    free(left);
    fprintf(stderr, "session_gc: /healthz %.1f ms, /api/me %.1f ms after the port opened; %lld expired left\n",
            t_health, t_me, expired_left);
    /* The functional requirement: both answer within 50 ms of the port opening while the GC
     * is still at work (it has not finished: expired rows remain). /api/me includes opening
     * the first pool connection. Measured 1-3 ms and 5-24 ms on this 2-CPU machine, but 66 ms
     * once when six engineers' test suites pushed the load average to 23; so the assertion
     * allows 4x the requirement (8x under sanitizers). A GC that blocked start-up would
     * take seconds (500k rows are ~100 batches), far beyond either bound. */
#if defined(__SANITIZE_ADDRESS__)
    const double bound_ms = 400.0;
#else
    const double bound_ms = 200.0;
#endif
    cr_assert_lt(t_health, bound_ms, "/healthz took %.1f ms", t_health);
    cr_assert_lt(t_me, bound_ms, "/api/me took %.1f ms", t_me);
    cr_assert_gt(expired_left, 0, "the GC should still be running during the check");

    /* Everything expired goes. gc_interval is 1 s here, so a batch that failed on a
     * momentarily overloaded machine is retried; failures are reported with the log. */
    /* deleted_total grows with every batch, runs_total once the pass has found nothing left:
     * wait for both, or the check below races the pass's last (empty) batch. */
    long long deleted = 0, runs = 0;
    for (int waited = 0; waited < 150000 && (deleted < 500000 || runs < 1); waited += 200) {
        usleep(200000);
        deleted = metric(ts.base_url, "tessera_session_gc_deleted_total");
        runs = metric(ts.base_url, "tessera_session_gc_runs_total");
    }
    char *log = test_server_stderr(&ts);
    size_t log_len = log ? strlen(log) : 0;
    const char *log_tail = log ? log + (log_len > 1500 ? log_len - 1500 : 0) : "";
    long long failures = metric(ts.base_url, "tessera_session_gc_failures_total");
    if (failures > 0)
        fprintf(stderr, "session_gc: %lld failed pass(es); server log:\n%s\n", failures, log_tail);
    cr_assert_eq(deleted, 500000, "server log:\n%s", log_tail);
    cr_assert_geq(runs, 1);
    free(log);
    char *remaining = test_db_scalar(url, "SELECT count(*) FROM sessions");
    cr_assert_str_eq(remaining, "1", "only the live session is left");
    free(remaining);
    cr_assert_eq(http_get(u, (const char *[]){auth, NULL}, &r), 0);
    cr_assert_eq(r.status, 200);
    http_result_free(&r);
    cr_assert_eq(test_server_stop(&ts), 0, "stops promptly and cleanly");
    free(token);
    free(url);
}

/* A frozen database (SIGSTOP on the backend stands in for a host cut off by the network)
 * must not hold the GC thread for as long as TCP would, nor with it the shutdown that joins
 * it: each GC statement waits at most statement_timeout + connect_timeout. */
Test(session_gc, stop_is_not_held_by_a_frozen_database, .timeout = 30)
{
    char *url = test_db_create();
    struct config cfg;
    cr_assert_eq(config_load(&cfg, NULL, NULL, stderr), 0);
    const char *kv[] = {"url", url, "pool_max", "1", "statement_timeout", "1s", "connect_timeout", "1s", NULL};
    for (int i = 0; kv[i]; i += 2)
        cr_assert_eq(config_set(&cfg, "database", kv[i], kv[i + 1], "test", 0, stderr), 0, "%s", kv[i]);
    struct db_pool *pool = db_pool_create(&cfg);
    pid_t backend = test_db_freezable_backend(pool);
    cr_assert_eq(kill(backend, SIGSTOP), 0);
    struct session_gc *gc = session_gc_start(&cfg, pool);
    usleep(300000); /* the GC is now waiting on the frozen connection */
    double t0 = now_ms();
    session_gc_stop(gc);
    double took = now_ms() - t0;
    kill(backend, SIGCONT);
    cr_assert_lt(took, 4000, "statement_timeout + connect_timeout + 2 s exceeded: %.0f ms", took);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

static int pg_sh(const char *pgdir, const char *verb, char *out, size_t size)
{
    char cmd[1024], src[512];
    snprintf(cmd, sizeof cmd, "PGDIR=%s PG_FAST=1 sh %s %s", pgdir,
             test_source_path("scripts/pg.sh", src, sizeof src), verb);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char sink[512];
    size_t n = fread(out ? out : sink, 1, (out ? size : sizeof sink) - 1, p);
    if (out) {
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
    }
    while (fread(sink, 1, sizeof sink, p) > 0)
        ;
    return pclose(p);
}

static char pgdir[] = "/tmp/tessera-h3-gcpg-XXXXXX";
static void stop_server_and_cluster(void)
{
    stop_server();
    pg_sh(pgdir, "destroy", NULL, 0);
    rmdir(pgdir);
}

static long long wait_deleted(const char *base_url, long long at_least)
{
    long long deleted = 0;
    for (int waited = 0; waited < 20000 && deleted < at_least; waited += 100) {
        usleep(100000);
        deleted = metric(base_url, "tessera_session_gc_deleted_total");
    }
    return deleted;
}

/* PostgreSQL restarting under the GC (its connection dies, possibly mid-batch) must not stop
 * it: the next pass, on a fresh connection, deletes what expired meanwhile. */
Test(session_gc, keeps_deleting_after_postgresql_restarts, .timeout = 120, .fini = stop_server_and_cluster)
{
    cr_assert(mkdtemp(pgdir));
    char url[512];
    cr_assert_eq(pg_sh(pgdir, "start", url, sizeof url), 0, "private cluster start");
    setenv("TESSERA_DATABASE_URL", url, 1);
    cr_assert_eq(test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, NULL), 0);
    cr_assert_eq(test_run_tessera((const char *[]){"user", "add", "gc@example.com", "--config", "/dev/null", NULL},
                                  "long enough password\n", NULL, NULL), 0);
    unsetenv("TESSERA_DATABASE_URL");
    const char *insert = "INSERT INTO sessions (token_hash, user_id, expires_at)"
                         " SELECT sha256((random()::text || i)::bytea), u.id, now() - interval '1 hour'"
                         " FROM generate_series(1, 1000) i, (SELECT id FROM users) u";
    free(test_db_scalar(url, insert));
    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\ngc_interval = 1s\ngc_batch = 100\n", url);
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0);
    cr_assert_eq(wait_deleted(ts.base_url, 1000), 1000, "the first pass");
    cr_assert_eq(pg_sh(pgdir, "restart", NULL, 0), 0, "pg.sh restart");
    free(test_db_scalar(url, insert));
    long long deleted = wait_deleted(ts.base_url, 2000);
    char *log = test_server_stderr(&ts);
    cr_assert_eq(deleted, 2000, "sessions that expired after the restart are deleted too; log:\n%s", log);
    free(log);
    char *left = test_db_scalar(url, "SELECT count(*) FROM sessions");
    cr_assert_str_eq(left, "0");
    free(left);
    cr_assert_eq(test_server_stop(&ts), 0);
}
