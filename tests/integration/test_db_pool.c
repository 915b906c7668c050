/* db_pool against a real PostgreSQL: bounds, timeouts, broken connections, restart recovery,
 * idle close, prepared statements and the statement count. The pool is linked in directly. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "tessera/clock.h"
#include "tessera/config.h"
#include "tessera/db_pool.h"
#include "tessera/log.h"

static void pool_config(struct config *cfg, const char *url, const char *const *kv)
{
    cr_assert_eq(config_load(cfg, NULL, NULL, stderr), 0);
    cr_assert_eq(config_set(cfg, "database", "url", url, "test", 0, stderr), 0);
    for (int i = 0; kv && kv[i]; i += 2)
        cr_assert_eq(config_set(cfg, "database", kv[i], kv[i + 1], "test", 0, stderr), 0, "%s", kv[i]);
}

static const struct db_statement stmt_one = {"test_one", "SELECT $1::int + 1", 1};
static const struct db_statement stmt_sleep = {"test_sleep", "SELECT pg_sleep($1::float8)", 1};

/* Connections this database has from tessera pools (application_name defaults to tessera). */
static int backends_of(const char *url)
{
    PGconn *pg = PQconnectdb(url);
    cr_assert_eq(PQstatus(pg), CONNECTION_OK);
    PGresult *r = PQexec(pg, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                             " AND application_name = 'tessera'");
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(pg);
    return n;
}

static void admin_exec(const char *url, const char *sql)
{
    PGconn *pg = PQconnectdb(url);
    cr_assert_eq(PQstatus(pg), CONNECTION_OK);
    PGresult *r = PQexec(pg, sql);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK, "%s",
              PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
}

Test(pool, query_counts_statements_and_prepares_once_per_connection)
{
    char *url = test_db_create();
    cr_assert(url);
    struct config cfg;
    pool_config(&cfg, url, NULL);
    struct db_pool *pool = db_pool_create(&cfg);
    cr_assert(pool);
    for (int i = 0; i < 10; i++) {
        PGresult *res;
        const char *v[] = {"41"};
        cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK);
        cr_assert_str_eq(PQgetvalue(res, 0, 0), "42");
        PQclear(res);
    }
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    cr_assert_eq(db_pool_statements_sent(pool), 10);
    cr_assert_eq(s.prepares, 1, "one connection, one prepare");
    cr_assert_eq(s.open, 1);
    cr_assert_eq(s.idle, 1);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

Test(pool, prepared_off_uses_unnamed_statements)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"prepared_statements", "off", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    PGresult *res;
    const char *v[] = {"1"};
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK);
    PQclear(res);
    struct db_conn *c;
    cr_assert_eq(db_pool_acquire(pool, &c), DB_OK);
    res = PQexec(db_conn_pg(c), "SELECT count(*) FROM pg_prepared_statements");
    cr_assert_str_eq(PQgetvalue(res, 0, 0), "0", "nothing named on the server");
    PQclear(res);
    db_pool_release(pool, c);
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    cr_assert_eq(s.prepares, 0);
    cr_assert_eq(s.statements, 1, "unnamed statements are counted like prepared ones");
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

Test(pool, sql_error_is_db_error_and_the_connection_stays_usable)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    static const struct db_statement bad = {"test_bad", "SELECT 1 / $1::int", 1};
    PGresult *res;
    const char *zero[] = {"0"};
    cr_assert_eq(db_query(pool, &bad, zero, &res), DB_ERROR);
    cr_assert(res);
    cr_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22012");
    PQclear(res);
    const char *v[] = {"1"};
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK);
    PQclear(res);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

struct sleeper {
    struct db_pool *pool;
    enum db_status status;
    int64_t took_us;
};

static void *sleep_query(void *arg)
{
    struct sleeper *s = arg;
    const char *v[] = {"1.5"};
    PGresult *res = NULL;
    int64_t t0 = clock_monotonic_us();
    s->status = db_query(s->pool, &stmt_sleep, v, &res);
    s->took_us = clock_monotonic_us() - t0;
    PQclear(res);
    return NULL;
}

/* 21 long statements against max 20: twenty run, the 21st waits acquire_timeout, then BUSY. */
Test(pool, twenty_first_waits_then_busy, .timeout = 30)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "20", "acquire_timeout", "500ms", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    struct sleeper s[21];
    pthread_t t[21];
    for (int i = 0; i < 21; i++) {
        s[i] = (struct sleeper){.pool = pool};
        pthread_create(&t[i], NULL, sleep_query, &s[i]);
    }
    for (int i = 0; i < 21; i++)
        pthread_join(t[i], NULL);
    int ok = 0, busy = 0;
    for (int i = 0; i < 21; i++) {
        if (s[i].status == DB_OK)
            ok++;
        if (s[i].status == DB_BUSY) {
            busy++;
            /* The functional bound: it waited its acquire_timeout, not less, and gave up long
             * before the others finished (1.5 s). */
            cr_assert_geq(s[i].took_us, 480000, "busy after %lld us", (long long)s[i].took_us);
            cr_assert_lt(s[i].took_us, 1400000, "busy after %lld us", (long long)s[i].took_us);
        }
    }
    cr_assert_eq(ok, 20);
    cr_assert_eq(busy, 1);
    struct db_pool_stats st;
    db_pool_stats(pool, &st);
    cr_assert_eq(st.open, 20);
    cr_assert_eq(st.busy, 1);
    cr_assert_eq(backends_of(url), 20);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

/* One queued acquirer: takes its turn number when it gets a connection, then gives it back. */
struct turn_taker {
    struct db_pool *pool;
    atomic_int *next_turn;
    int turn;
};

static void *take_turn(void *arg)
{
    struct turn_taker *t = arg;
    struct db_conn *c = NULL;
    cr_assert_eq(db_pool_acquire(t->pool, &c), DB_OK);
    t->turn = atomic_fetch_add(t->next_turn, 1);
    db_pool_release(t->pool, c);
    return NULL;
}

static void wait_for_waiters(struct db_pool *pool, int n)
{
    struct db_pool_stats st;
    for (db_pool_stats(pool, &st); st.waiters < n; db_pool_stats(pool, &st))
        usleep(1000);
}

/* A connection given back goes to the oldest waiter, even when the thread giving it back asks
 * for one again at once (it used to win that race and jump the queue: the latency tail). */
Test(pool, waiters_are_served_first_come_first_served, .timeout = 30)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", "acquire_timeout", "20s", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    atomic_int next_turn = 1;
    struct db_conn *held = NULL;
    cr_assert_eq(db_pool_acquire(pool, &held), DB_OK);
    struct turn_taker w[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (struct turn_taker){.pool = pool, .next_turn = &next_turn};
        pthread_create(&t[i], NULL, take_turn, &w[i]);
        wait_for_waiters(pool, i + 1);
    }
    db_pool_release(pool, held);
    struct turn_taker me = {.pool = pool, .next_turn = &next_turn};
    take_turn(&me);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(w[0].turn, 1, "the first waiter got turn %d", w[0].turn);
    cr_assert_eq(w[1].turn, 2, "the second waiter got turn %d", w[1].turn);
    cr_assert_eq(me.turn, 3, "the releasing thread got turn %d", me.turn);
    struct db_pool_stats st;
    db_pool_stats(pool, &st);
    cr_assert_eq(st.open, 1);
    cr_assert_eq(st.waiters, 0);
    cr_assert_eq(st.in_use, 0);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

/* A listener that completes the TCP handshake and never says a word. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 64), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

Test(pool, silent_server_is_unavailable_within_connect_timeout, .timeout = 20)
{
    int port;
    int fd = silent_listener(&port);
    char url[128];
    snprintf(url, sizeof url, "postgresql://tessera@127.0.0.1:%d/x?sslmode=disable", port);
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"connect_timeout", "1s", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    PGresult *res;
    const char *v[] = {"1"};
    int64_t t0 = clock_monotonic_us();
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_UNAVAILABLE);
    int64_t took = clock_monotonic_us() - t0;
    cr_assert_null(res);
    cr_assert_geq(took, 900000, "gave up too early: %lld us", (long long)took);
    cr_assert_lt(took, 2000000, "connect_timeout + 1 s exceeded: %lld us", (long long)took);
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    cr_assert_eq(s.open, 0, "the failed slot is given back");
    cr_assert_eq(s.connect_failures, 1);
    db_pool_free(pool);
    config_free(&cfg);
    close(fd);
}

Test(pool, killed_idle_connection_is_never_handed_out)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    PGresult *res;
    const char *v[] = {"1"};
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK);
    PQclear(res);
    admin_exec(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = 'tessera'");
    usleep(100000); /* let the FATAL and the close reach our socket */
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK, "the dead one was dropped, a new one opened");
    PQclear(res);
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    cr_assert_eq(s.discarded, 1);
    cr_assert_eq(s.connects, 2);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

/* A server that stops answering mid-session (a frozen host, a partition: the kernel takes
 * ~15 min to give up on TCP) cannot enforce statement_timeout itself; the backend is frozen
 * with SIGSTOP to stand in for it. The request must end near the timeouts, not hang. */
Test(pool, frozen_server_ends_the_statement_near_statement_timeout, .timeout = 30)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", "statement_timeout", "1s", "connect_timeout", "1s",
                                           NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    PGresult *res;
    pid_t backend = test_db_freezable_backend(pool);
    cr_assert_eq(kill(backend, SIGSTOP), 0);
    const char *v[] = {"1"};
    int64_t t0 = clock_monotonic_us();
    enum db_status st = db_query(pool, &stmt_one, v, &res);
    int64_t took = clock_monotonic_us() - t0;
    kill(backend, SIGCONT);
    PQclear(res);
    cr_assert_eq(st, DB_UNAVAILABLE, "a server that does not answer is unavailable, got %d", st);
    cr_assert_lt(took, 4000000, "statement_timeout + connect_timeout + 2 s exceeded: %lld us", (long long)took);
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    cr_assert_eq(s.open, 0, "the connection that went silent is dropped, never reused");
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK, "a fresh connection works");
    PQclear(res);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

/* The same with a statement too big for the socket buffers: sending it must not block
 * past the deadline either (PQsend* on a blocking connection waits until all is written). */
Test(pool, frozen_server_does_not_hold_a_large_statement_being_sent, .timeout = 30)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", "statement_timeout", "1s", "connect_timeout", "1s",
                                           NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    static const struct db_statement stmt_len = {"test_len", "SELECT length($1::text)", 1};
    PGresult *res;
    pid_t backend = test_db_freezable_backend(pool);
    size_t big_len = 16u << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = '\0';
    const char *v[] = {big};
    cr_assert_eq(db_query(pool, &stmt_len, v, &res), DB_OK, "prepared while the server answers");
    PQclear(res);
    cr_assert_eq(kill(backend, SIGSTOP), 0);
    int64_t t0 = clock_monotonic_us();
    enum db_status st = db_query(pool, &stmt_len, v, &res);
    int64_t took = clock_monotonic_us() - t0;
    kill(backend, SIGCONT);
    PQclear(res);
    free(big);
    cr_assert_eq(st, DB_UNAVAILABLE, "got %d", st);
    cr_assert_lt(took, 4000000, "statement_timeout + connect_timeout + 2 s exceeded: %lld us", (long long)took);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

/* statement_timeout firing (a held row lock, an overloaded server) is the database being
 * busy, not the query being wrong: DB_BUSY (503 db_busy, Retry-After), not DB_ERROR (500). */
Test(pool, statement_timeout_is_busy_and_the_connection_stays_usable, .timeout = 20)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", "statement_timeout", "200ms", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    PGresult *res;
    const char *secs[] = {"5"};
    cr_assert_eq(db_query(pool, &stmt_sleep, secs, &res), DB_BUSY);
    cr_assert_null(res);
    const char *v[] = {"1"};
    cr_assert_eq(db_query(pool, &stmt_one, v, &res), DB_OK);
    PQclear(res);
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    cr_assert_eq(s.connects, 1, "the same connection served both");
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

Test(pool, release_rolls_back_an_open_transaction)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "1", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    struct db_conn *c;
    cr_assert_eq(db_pool_acquire(pool, &c), DB_OK);
    PGresult *res = PQexec(db_conn_pg(c), "BEGIN; CREATE TABLE leftover (x int)");
    PQclear(res);
    cr_assert_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_INTRANS);
    db_pool_release(pool, c);
    cr_assert_eq(db_pool_acquire(pool, &c), DB_OK);
    cr_assert_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_IDLE);
    res = PQexec(db_conn_pg(c), "SELECT to_regclass('leftover') IS NULL");
    cr_assert_str_eq(PQgetvalue(res, 0, 0), "t", "the transaction was rolled back");
    PQclear(res);
    db_pool_release(pool, c);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

Test(pool, idle_connections_close_after_idle_timeout, .timeout = 20)
{
    char *url = test_db_create();
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"idle_timeout", "300ms", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    struct db_conn *c[5];
    for (int i = 0; i < 5; i++)
        cr_assert_eq(db_pool_acquire(pool, &c[i]), DB_OK);
    for (int i = 0; i < 5; i++)
        db_pool_release(pool, c[i]);
    cr_assert_eq(backends_of(url), 5);
    struct db_pool_stats s;
    for (int waited = 0; waited < 5000; waited += 50) {
        db_pool_stats(pool, &s);
        if (s.open == 0)
            break;
        usleep(50000);
    }
    cr_assert_eq(s.open, 0);
    usleep(100000); /* the backends notice the Terminate message */
    cr_assert_eq(backends_of(url), 0);
    db_pool_free(pool);
    config_free(&cfg);
    free(url);
}

/* ------------------------------------------------------------------ restart */

struct hammer {
    struct db_pool *pool;
    atomic_int *phase; /* 0 before, 1 restarting, 2 after, 3 stop */
    int ok_after, failed_after, failed_during;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    const char *v[] = {"1"};
    int phase;
    while ((phase = atomic_load(h->phase)) != 3) {
        PGresult *res = NULL;
        enum db_status st = db_query(h->pool, &stmt_one, v, &res);
        PQclear(res);
        if (phase == 2) {
            if (st == DB_OK) h->ok_after++;
            else h->failed_after++;
        } else if (st != DB_OK) {
            h->failed_during++;
        }
        usleep(2000);
    }
    return NULL;
}

static int pg_sh(const char *pgdir, const char *verb, char *out, size_t size)
{
    char cmd[1024];
    char src[512];
    snprintf(cmd, sizeof cmd, "PGDIR=%s PG_FAST=1 sh %s %s", pgdir, test_source_path("scripts/pg.sh", src, sizeof src),
             verb);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = out ? fread(out, 1, size - 1, p) : 0;
    if (out) {
        out[n] = '\0';
        out[strcspn(out, "\n")] = '\0';
    } else {
        char sink[256];
        while (fread(sink, 1, sizeof sink, p) > 0)
            ;
    }
    return pclose(p);
}

/* A private cluster: restarting the shared one would break tests running beside this one. */
Test(pool, recovers_after_postgresql_restart_without_leaks, .timeout = 120)
{
    char pgdir[] = "/tmp/tessera-h4-restart-XXXXXX";
    cr_assert(mkdtemp(pgdir));
    char url[512];
    cr_assert_eq(pg_sh(pgdir, "start", url, sizeof url), 0, "private cluster start");
    struct config cfg;
    pool_config(&cfg, url, (const char *[]){"pool_max", "8", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    atomic_int phase = 0;
    struct hammer h[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        h[i] = (struct hammer){.pool = pool, .phase = &phase};
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    usleep(300000);
    atomic_store(&phase, 1);
    int restart_rc = pg_sh(pgdir, "restart", NULL, 0);
    atomic_store(&phase, 2);
    usleep(1000000);
    atomic_store(&phase, 3);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    int ok = 0, failed = 0;
    for (int i = 0; i < 6; i++) {
        ok += h[i].ok_after;
        failed += h[i].failed_after;
    }
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    int backends = backends_of(url);
    db_pool_free(pool);
    config_free(&cfg);
    pg_sh(pgdir, "destroy", NULL, 0);
    rmdir(pgdir);
    cr_assert_eq(restart_rc, 0, "pg.sh restart");
    cr_assert_gt(ok, 50, "requests after the restart succeed (%d ok)", ok);
    cr_assert_eq(failed, 0, "no request after the restart fails (%d failed)", failed);
    cr_assert_leq(s.open, 8);
    cr_assert_eq(backends, s.open, "no leaked connections: %d backends, pool has %d", backends, s.open);
    cr_assert_eq(s.in_use, 0);
}

/* ------------------------------------------------------------------ PgBouncer */

struct query_loop {
    struct db_pool *pool;
    int ok, failed;
};

static void *query_loop_main(void *arg)
{
    struct query_loop *q = arg;
    for (int i = 0; i < 50; i++) {
        PGresult *res = NULL;
        const char *v[] = {"1"};
        if (db_query(q->pool, &stmt_one, v, &res) == DB_OK) q->ok++;
        else q->failed++;
        PQclear(res);
    }
    return NULL;
}

/* Debian's PgBouncer 1.18 in transaction mode: prepared_statements = off must just work
 * (no named statements, no startup options, which 1.18 refuses). */
Test(pool, works_through_pgbouncer_transaction_mode, .timeout = 60)
{
    char *url = test_db_create();
    cr_assert(url);
    struct test_bouncer bnc;
    test_bouncer_start(&bnc, url, NULL);
    struct config cfg;
    pool_config(&cfg, bnc.url, (const char *[]){"prepared_statements", "off", "pool_max", "4", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    struct query_loop q[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        q[i] = (struct query_loop){.pool = pool};
        pthread_create(&t[i], NULL, query_loop_main, &q[i]);
    }
    int ok = 0, failed = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += q[i].ok;
        failed += q[i].failed;
    }
    unsigned long long sent = db_pool_statements_sent(pool);
    db_pool_free(pool);
    config_free(&cfg);
    test_bouncer_stop(&bnc);
    free(url);
    cr_assert_eq(failed, 0, "%d of 200 failed through PgBouncer", failed);
    cr_assert_eq(ok, 200);
    cr_assert_eq(sent, 200);
}

/* ------------------------------------------------------------------ restart, end to end */

struct http_loop {
    const char *url, *auth;
    atomic_int *phase;
    int ok_after, failed_after, during;
};

static void *http_loop_main(void *arg)
{
    struct http_loop *h = arg;
    int phase;
    while ((phase = atomic_load(h->phase)) != 3) {
        struct http_result r;
        long status = http_do("GET", h->url, (const char *[]){h->auth, NULL}, NULL, 0, &r) == 0 ? r.status : 0;
        http_result_free(&r);
        if (phase == 2) {
            if (status == 200) h->ok_after++;
            else h->failed_after++;
        } else if (status != 200) {
            h->during++;
        }
    }
    return NULL;
}

/* The same through a running `tessera serve`: GET /api/me in a loop across a restart. */
Test(pool, server_recovers_after_postgresql_restart, .timeout = 120)
{
    char pgdir[] = "/tmp/tessera-h4-restart2-XXXXXX";
    cr_assert(mkdtemp(pgdir));
    char url[512];
    cr_assert_eq(pg_sh(pgdir, "start", url, sizeof url), 0, "private cluster start");
    setenv("TESSERA_DATABASE_URL", url, 1);
    char *token = NULL;
    int rc_migrate = test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, NULL);
    int rc_user = test_run_tessera((const char *[]){"user", "add", "r@example.com", "--config", "/dev/null", NULL},
                                   "restart password\n", NULL, NULL);
    int rc_session =
        test_run_tessera((const char *[]){"session", "new", "r@example.com", "--config", "/dev/null", NULL}, NULL,
                         &token, NULL);
    unsetenv("TESSERA_DATABASE_URL");
    char ini[800];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\npool_max = 8\n", url);
    struct test_server ts;
    int rc_start = test_server_start(&ts, ini, NULL);
    int ok = 0, failed = 0, during = 0, backends = -1, restart_rc = -1;
    char open_metric[64] = "";
    if (rc_migrate == 0 && rc_user == 0 && rc_session == 0 && rc_start == 0) {
        token[strcspn(token, "\n")] = '\0';
        char me[128], auth[128];
        snprintf(me, sizeof me, "%s/api/me", ts.base_url);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        atomic_int phase = 0;
        struct http_loop h[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            h[i] = (struct http_loop){.url = me, .auth = auth, .phase = &phase};
            pthread_create(&t[i], NULL, http_loop_main, &h[i]);
        }
        usleep(300000);
        atomic_store(&phase, 1);
        restart_rc = pg_sh(pgdir, "restart", NULL, 0);
        atomic_store(&phase, 2);
        usleep(1000000);
        atomic_store(&phase, 3);
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            ok += h[i].ok_after;
            failed += h[i].failed_after;
            during += h[i].during;
        }
        backends = backends_of(url);
        char m[128];
        snprintf(m, sizeof m, "%s/metrics", ts.base_url);
        struct http_result r;
        if (http_get(m, NULL, &r) == 0) {
            const char *at = strstr(r.body, "tessera_db_pool_connections{state=\"open\"} ");
            if (at)
                snprintf(open_metric, sizeof open_metric, "%d", atoi(at + strlen("tessera_db_pool_connections{state=\"open\"} ")));
            http_result_free(&r);
        }
        test_server_stop(&ts);
    }
    pg_sh(pgdir, "destroy", NULL, 0);
    rmdir(pgdir);
    free(token);
    cr_assert_eq(rc_migrate + rc_user + rc_session, 0, "setup through the CLI");
    cr_assert_eq(rc_start, 0);
    cr_assert_eq(restart_rc, 0);
    fprintf(stderr, "restart: %d requests failed while PostgreSQL restarted, %d ok and %d failed after\n", during, ok,
            failed);
    cr_assert_gt(ok, 20, "requests after the restart succeed (%d ok)", ok);
    cr_assert_eq(failed, 0, "no request after the restart fails (%d failed)", failed);
    char backends_text[16];
    snprintf(backends_text, sizeof backends_text, "%d", backends);
    cr_assert_str_eq(backends_text, open_metric, "backends in pg_stat_activity = the pool's open connections");
}

/* ------------------------------------------------------------------ busy, end to end */

/* A fresh, migrated database with one user and a session: its URL, and the token (malloc'd). */
static char *db_with_a_session(const char *email, char **token)
{
    char *url = test_db_create();
    cr_assert(url);
    setenv("TESSERA_DATABASE_URL", url, 1);
    cr_assert_eq(test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, NULL), 0);
    cr_assert_eq(test_run_tessera((const char *[]){"user", "add", email, "--config", "/dev/null", NULL},
                                  "a test password\n", NULL, NULL), 0);
    cr_assert_eq(test_run_tessera((const char *[]){"session", "new", email, "--config", "/dev/null", NULL}, NULL,
                                  token, NULL), 0);
    unsetenv("TESSERA_DATABASE_URL");
    (*token)[strcspn(*token, "\n")] = '\0';
    return url;
}

struct one_request {
    const char *url, *auth;
    long status;
};

static void *one_request_main(void *arg)
{
    struct one_request *q = arg;
    struct http_result r;
    q->status = http_do("GET", q->url, (const char *[]){q->auth, NULL}, NULL, 0, &r) == 0 ? r.status : 0;
    http_result_free(&r);
    return NULL;
}

/* pool_max 1: a request stuck behind a table lock holds the only connection; the next one
 * waits acquire_timeout and gets 503 db_busy with Retry-After. */
Test(pool, http_request_gets_503_db_busy_after_acquire_timeout, .timeout = 60)
{
    char *token = NULL;
    char *url = db_with_a_session("b@example.com", &token);
    char ini[800];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\npool_max = 1\nacquire_timeout = 300ms\n", url);
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0);
    usleep(300000); /* let the GC's first pass (nothing to delete) give the connection back */
    PGconn *admin = PQconnectdb(url);
    PGresult *res = PQexec(admin, "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(admin));
    PQclear(res);
    char me[128], auth[128];
    snprintf(me, sizeof me, "%s/api/me", ts.base_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct one_request stuck = {.url = me, .auth = auth};
    pthread_t t;
    pthread_create(&t, NULL, one_request_main, &stuck);
    usleep(300000);
    struct http_result r;
    int64_t t0 = clock_monotonic_us();
    cr_assert_eq(http_do("GET", me, (const char *[]){auth, NULL}, NULL, 0, &r), 0);
    int64_t took = clock_monotonic_us() - t0;
    res = PQexec(admin, "ROLLBACK");
    PQclear(res);
    PQfinish(admin);
    pthread_join(t, NULL);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert(strstr(r.body, "\"db_busy\""), "%s", r.body);
    char ra[16];
    cr_assert(http_header_value(&r, "Retry-After", ra, sizeof ra));
    cr_assert_geq(took, 280000, "answered after %lld us, before acquire_timeout", (long long)took);
    cr_assert_lt(took, 1300000, "answered after %lld us", (long long)took);
    http_result_free(&r);
    cr_assert_eq(stuck.status, 200, "the blocked request completes once the lock goes");
    test_server_stop(&ts);
    free(token);
    free(url);
}

/* ------------------------------------------------------------------ one connection, many requests */

struct burst {
    const char *url, *auth;
    int ok, busy, other;
    long other_status;
};

static void *burst_main(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < 10; i++) {
        struct http_result r;
        long status = http_do("GET", b->url, (const char *[]){b->auth, NULL}, NULL, 0, &r) == 0 ? r.status : 0;
        if (status == 200)
            b->ok++;
        else if (status == 503 && strstr(r.body, "\"db_busy\""))
            b->busy++;
        else {
            b->other++;
            b->other_status = status;
        }
        http_result_free(&r);
    }
    return NULL;
}

/* DB_POOL_MAX=1 (the environment name deployers use) and 32 clients at once: the requests
 * queue for the one connection and every one is answered, 200 within acquire_timeout, never
 * a 500 or a hang; the pool never opens a second connection. */
Test(pool, pool_max_1_serves_many_concurrent_requests, .timeout = 120)
{
    char *token = NULL;
    char *url = db_with_a_session("m@example.com", &token);
    char ini[800];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\n[log]\naccess = off\n", url);
    setenv("DB_POOL_MAX", "1", 1);
    struct test_server ts;
    int started = test_server_start(&ts, ini, NULL);
    unsetenv("DB_POOL_MAX");
    cr_assert_eq(started, 0);
    char me[128], auth[128];
    snprintf(me, sizeof me, "%s/api/me", ts.base_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct burst b[32];
    pthread_t t[32];
    for (int i = 0; i < 32; i++) {
        b[i] = (struct burst){.url = me, .auth = auth};
        pthread_create(&t[i], NULL, burst_main, &b[i]);
    }
    int ok = 0, busy = 0, other = 0;
    long other_status = 0;
    for (int i = 0; i < 32; i++) {
        pthread_join(t[i], NULL);
        ok += b[i].ok;
        busy += b[i].busy;
        other += b[i].other;
        if (b[i].other)
            other_status = b[i].other_status;
    }
    int backends = backends_of(url);
    test_server_stop(&ts);
    free(token);
    free(url);
    fprintf(stderr, "pool_max 1: %d ok, %d db_busy, %d other of 320\n", ok, busy, other);
    cr_assert_eq(other, 0, "%d answers were neither 200 nor 503 db_busy (e.g. %ld)", other, other_status);
    cr_assert_eq(ok, 320, "%d ok, %d db_busy: one-millisecond statements should all fit in acquire_timeout", ok,
                 busy);
    cr_assert_leq(backends, 1, "pool_max 1 opened %d connections", backends);
}

/* ------------------------------------------------------------------ restart behind PgBouncer */

/* PostgreSQL restarting behind PgBouncer (transaction mode): tessera's connections to
 * PgBouncer stay up while PgBouncer's to the server die; requests must succeed again without
 * restarting tessera or PgBouncer. PgBouncer itself answers "server login has been failing"
 * (or, at its default server_login_retry of 15 s, holds queries that long) until it retries
 * the server, so the check starts one server_login_retry (1 s here) after the restart. */
Test(pool, recovers_after_postgresql_restart_behind_pgbouncer, .timeout = 120)
{
    if (access("/usr/sbin/pgbouncer", X_OK) != 0)
        cr_skip_test("pgbouncer is not installed");
    char pgdir[] = "/tmp/tessera-h3-pgbr-XXXXXX";
    cr_assert(mkdtemp(pgdir));
    char url[512];
    cr_assert_eq(pg_sh(pgdir, "start", url, sizeof url), 0, "private cluster start");
    struct test_bouncer bnc;
    test_bouncer_start(&bnc, url, "server_login_retry = 1\n");
    struct config cfg;
    pool_config(&cfg, bnc.url, (const char *[]){"prepared_statements", "off", "pool_max", "8", NULL});
    struct db_pool *pool = db_pool_create(&cfg);
    atomic_int phase = 0;
    struct hammer h[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        h[i] = (struct hammer){.pool = pool, .phase = &phase};
        pthread_create(&t[i], NULL, hammer_main, &h[i]);
    }
    usleep(300000);
    atomic_store(&phase, 1);
    int restart_rc = pg_sh(pgdir, "restart", NULL, 0);
    usleep(1500000); /* server_login_retry and a margin */
    atomic_store(&phase, 2);
    usleep(1000000);
    atomic_store(&phase, 3);
    int ok = 0, failed = 0, during = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ok += h[i].ok_after;
        failed += h[i].failed_after;
        during += h[i].failed_during;
    }
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    db_pool_free(pool);
    config_free(&cfg);
    test_bouncer_stop(&bnc);
    pg_sh(pgdir, "destroy", NULL, 0);
    rmdir(pgdir);
    fprintf(stderr, "restart behind PgBouncer: %d failed during, %d ok and %d failed after (discarded %llu)\n",
            during, ok, failed, s.discarded);
    cr_assert_eq(restart_rc, 0, "pg.sh restart");
    cr_assert_gt(ok, 50, "requests after the restart succeed (%d ok)", ok);
    cr_assert_eq(failed, 0, "no request after the restart fails (%d failed)", failed);
}
