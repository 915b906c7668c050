/* db_pool — a bounded pool of libpq connections.
 *
 * Connections open lazily (a request that finds none idle and the pool below max opens
 * one), idle ones sit on a LIFO stack so the hot few stay hot and the rest age out, and a
 * reaper thread closes those idle longer than idle_timeout. A connection is checked before
 * it is handed out and after every use, so a broken one is dropped, never reused: that is
 * also how the pool recovers from a PostgreSQL restart without any special code path.
 *
 * Waiting is first come, first served: a thread that finds no connection queues, and a
 * connection (or a slot to open one) coming back goes straight to the oldest waiter instead
 * of onto the idle stack. With a shared condition variable the woken thread had to win the
 * lock again, and on two busy CPUs it usually lost to a request arriving just then: that
 * barging gave some requests several turns of waiting, the tail of the latency (p99 20 ms
 * against a 3 ms median in bench-api at 8 connections). */
#include "tessera/db_pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera/clock.h"
#include "tessera/libpq_lazy.h"
#include "tessera/log.h"

#define WAIT_BUCKETS 12
static const double wait_bucket_bounds[WAIT_BUCKETS] = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                        0.025,  0.05,   0.1,   0.5,    1.0,   2.5};

/* What every connection is opened with: the URL plus tessera's own options. */
struct connect_params {
    const char *keys[5];
    const char *values[5];
    char options[512];
};

/* A thread queued in db_pool_acquire; lives on its stack. */
struct pool_waiter {
    pthread_cond_t wake;
    struct db_conn *conn;       /* handed over: a healthy connection, now in use */
    bool slot;                  /* handed over: a reserved slot to open a connection in */
    struct pool_waiter *next;
};

struct db_conn {
    PGconn *pg;
    struct db_conn *next;       /* idle stack link */
    int64_t idle_since_us;
    bool silent;                /* a result did not come in time: its state is unknown, drop it */
    const char **prepared;      /* statement names prepared on this connection */
    size_t n_prepared, cap_prepared;
};

struct db_pool {
    pthread_mutex_t lock;
    pthread_cond_t reaper_wake; /* shutdown */
    pthread_t reaper;
    bool reaper_started;
    bool stopping;

    char *url;
    struct connect_params params;
    int max;
    int64_t idle_timeout_us, connect_timeout_ms, acquire_timeout_us;
    int64_t answer_timeout_ms;  /* how long a statement's result may take; 0: no limit */
    bool use_prepared;

    struct db_conn *idle;       /* LIFO: most recently used first */
    int n_open, n_idle, n_in_use, n_waiters;
    struct pool_waiter *wait_head, *wait_tail; /* oldest first; never waiting while one is idle */

    /* Guarded by lock. */
    unsigned long long wait_buckets[WAIT_BUCKETS + 1];
    double wait_sum_s;
    unsigned long long wait_count;

    atomic_ullong connects, connect_failures, discarded, busy, statements, prepares;
    atomic_llong last_failure_log_us;
};

static int64_t now_us(void) { return clock_monotonic_us(); }


/* libpq prints notices (including the FATAL a server sends an idle session on shutdown)
 * to stderr by default; they belong in the log at debug level. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgresql: %.*s", (int)strcspn(message, "\n"), message);
}

/* ------------------------------------------------------------------ connecting */

/* The URL is parsed once so a bad one is a start-up error and so options it already
 * carries are kept: a later "options" keyword would replace them. */
static int connect_params_init(struct connect_params *p, const char *url, const struct config *cfg, char *err,
                               size_t err_size)
{
    int64_t statement_timeout_ms = cfg->database.statement_timeout_ms;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
        snprintf(err, err_size, "database.url: %s", perr ? perr : "cannot parse");
        PQfreemem(perr);
        return -1;
    }
    const char *existing = "";
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val)
            existing = o->val;
    /* plan_cache_mode stays PostgreSQL's auto: named statements settle on generic plans,
     * which saves the ~0.1 ms of planning a PUT's statement took on every call under
     * force_custom_plan (pgbench: 0.18-0.20 against 0.29-0.32 ms). The list pages pin their
     * plan in functions (migration 0005). */
    int n = snprintf(p->options, sizeof p->options, "%s", existing);
    if (statement_timeout_ms > 0 && n >= 0 && (size_t)n < sizeof p->options)
        n += snprintf(p->options + n, sizeof p->options - (size_t)n, "%s-c statement_timeout=%lld",
                      n > 0 ? " " : "", (long long)statement_timeout_ms);
    PQconninfoFree(opts);
    if (n < 0 || (size_t)n >= sizeof p->options) {
        snprintf(err, err_size, "database.url: options too long");
        return -1;
    }
    int k = 0;
    p->keys[k] = "dbname"; p->values[k++] = url; /* expanded: the URL itself */
    p->keys[k] = "fallback_application_name"; p->values[k++] = "tessera";
    /* prepared_statements = off means PgBouncer in transaction mode, and PgBouncer 1.18 refuses
     * the options startup parameter outright ("unsupported startup parameter: options").
     * Unnamed statements are planned with their values anyway; statement_timeout then belongs
     * on the server side (docs/DEPLOY.md). */
    if (p->options[0] && cfg->database.prepared_statements) {
        p->keys[k] = "options";
        p->values[k++] = p->options;
    }
    p->keys[k] = NULL;
    p->values[k] = NULL;
    return 0;
}

/* libpq's own connect_timeout is not applied by PQconnectPoll, rounds 1 s up to 2 and counts
 * per host, so the deadline here covers the whole attempt over every host of the URL. */
static PGconn *connect_with_deadline(const struct connect_params *p, int64_t timeout_ms, char *err,
                                     size_t err_size)
{
    int64_t deadline = now_us() + timeout_ms * 1000;
    PGconn *pg = PQconnectStartParams(p->keys, p->values, 1);
    if (!pg) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING; /* as the libpq docs prescribe */
    while (PQstatus(pg) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int64_t left_ms = (deadline - now_us()) / 1000;
        if (left_ms <= 0) {
            snprintf(err, err_size, "connection timed out after %lld ms", (long long)timeout_ms);
            PQfinish(pg);
            return NULL;
        }
        struct pollfd pfd = {.fd = PQsocket(pg), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int r = poll(&pfd, 1, left_ms > 1000 ? 1000 : (int)left_ms);
        if (r < 0 && errno != EINTR) {
            snprintf(err, err_size, "poll: %s", strerror(errno));
            PQfinish(pg);
            return NULL;
        }
        if (r > 0)
            st = PQconnectPoll(pg);
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(pg);
        /* PgBouncer's answer to the statement_timeout sent at connect names the parameter, not
         * the setting behind it. */
        bool options_refused = strstr(msg, "unsupported startup parameter: options") != NULL;
        snprintf(err, err_size, "%.*s%s", (int)strcspn(msg, "\n"), msg,
                 options_refused ? " (a pooler such as PgBouncer: set database.prepared_statements = off, which "
                                   "sends no startup options; docs/DEPLOY.md)"
                                 : "");
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, notice_to_log, NULL);
    return pg;
}

PGconn *db_connect_direct(const struct config *cfg, char *err, size_t err_size)
{
    struct connect_params p;
    if (!cfg->database.url[0]) {
        snprintf(err, err_size, "database.url is not set");
        return NULL;
    }
    if (connect_params_init(&p, cfg->database.url, cfg, err, err_size) < 0)
        return NULL;
    return connect_with_deadline(&p, cfg->database.connect_timeout_ms, err, err_size);
}

/* ------------------------------------------------------------------ connections */

static void conn_close(struct db_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c->prepared);
    free(c);
}

/* An idle connection should have nothing to say. If its socket is readable the server sent
 * something while we were not looking: usually the FATAL of a shutdown, then EOF. Reading
 * it tells a harmless notice apart from a dead session. */
static bool conn_is_healthy(struct db_conn *c)
{
    for (int round = 0; round < 2; round++) {
        if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            return false;
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
        int r = poll(&pfd, 1, 0);
        if (r == 0)
            return true;
        if (r < 0 || (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)))
            return false;
        if (!PQconsumeInput(c->pg))
            return false;
        PGnotify *n;
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n);
    }
    /* Still readable after draining: EOF or a stream of junk; either way not trustworthy. */
    return false;
}

static bool conn_has_prepared(const struct db_conn *c, const char *name)
{
    for (size_t i = 0; i < c->n_prepared; i++)
        if (c->prepared[i] == name || strcmp(c->prepared[i], name) == 0)
            return true;
    return false;
}

static void conn_remember_prepared(struct db_conn *c, const char *name)
{
    if (c->n_prepared == c->cap_prepared) {
        size_t cap = c->cap_prepared ? c->cap_prepared * 2 : 16;
        const char **grown = realloc(c->prepared, cap * sizeof *grown);
        if (!grown)
            return; /* it will simply be prepared again next time (42P05 is tolerated) */
        c->prepared = grown;
        c->cap_prepared = cap;
    }
    c->prepared[c->n_prepared++] = name;
}

static void conn_forget_prepared(struct db_conn *c, const char *name)
{
    for (size_t i = 0; i < c->n_prepared; i++)
        if (strcmp(c->prepared[i], name) == 0) {
            c->prepared[i] = c->prepared[--c->n_prepared];
            return;
        }
}

/* ------------------------------------------------------------------ the pool */

static void *reaper_main(void *arg);
static void grant_slots(struct db_pool *pool);
static PGresult *await_result(struct db_conn *c, int64_t timeout_ms);

struct db_pool *db_pool_create(const struct config *cfg)
{
    const char *why;
    if (!libpq_available(&why)) {
        log_error("db_pool: %s", why);
        return NULL;
    }
    struct db_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    char err[256];
    pool->url = strdup(cfg->database.url);
    if (!pool->url) {
        free(pool);
        return NULL;
    }
    if (connect_params_init(&pool->params, pool->url, cfg, err, sizeof err) < 0) {
        log_error("%s", err);
        free(pool->url);
        free(pool);
        return NULL;
    }
    pool->params.values[0] = pool->url;
    if (!cfg->database.prepared_statements && cfg->database.statement_timeout_ms > 0)
        log_info("db_pool: prepared_statements = off: statement_timeout is not sent at connect (PgBouncer "
                 "refuses startup options); set it on the database role or in PgBouncer's connect_query");
    pool->max = (int)cfg->database.pool_max;
    pool->idle_timeout_us = cfg->database.idle_timeout_ms * 1000;
    pool->connect_timeout_ms = cfg->database.connect_timeout_ms;
    pool->acquire_timeout_us = cfg->database.acquire_timeout_ms * 1000;
    pool->use_prepared = cfg->database.prepared_statements;
    /* PostgreSQL enforces statement_timeout itself, so a result normally comes well within it;
     * the extra connect_timeout is the network's share. Past that the server is not answering. */
    if (cfg->database.statement_timeout_ms > 0)
        pool->answer_timeout_ms = cfg->database.statement_timeout_ms + cfg->database.connect_timeout_ms;
    atomic_store(&pool->last_failure_log_us, INT64_MIN / 2);
    pthread_mutex_init(&pool->lock, NULL);
    cond_init_monotonic(&pool->reaper_wake);
    /* idle_timeout = 0 keeps idle connections open: no reaper needed. */
    if (pool->idle_timeout_us > 0) {
        if (pthread_create(&pool->reaper, NULL, reaper_main, pool) != 0) {
            log_error("db_pool: cannot start the idle reaper thread");
            db_pool_free(pool);
            return NULL;
        }
        pool->reaper_started = true;
    }
    return pool;
}

void db_pool_free(struct db_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->reaper_wake);
    pthread_mutex_unlock(&pool->lock);
    if (pool->reaper_started)
        pthread_join(pool->reaper, NULL);
    if (pool->n_in_use > 0)
        log_warn("db_pool: freed with %d connection(s) still in use", pool->n_in_use);
    while (pool->idle) {
        struct db_conn *c = pool->idle;
        pool->idle = c->next;
        conn_close(c);
    }
    pthread_cond_destroy(&pool->reaper_wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->url);
    free(pool);
}

/* Idle connections past idle_timeout are unlinked under the lock and closed outside it
 * (PQfinish sends a Terminate message: I/O never happens under the pool lock). */
static void *reaper_main(void *arg)
{
    struct db_pool *pool = arg;
    int64_t tick = pool->idle_timeout_us / 4;
    if (tick < 50000) tick = 50000;
    if (tick > 1000000) tick = 1000000;
    pthread_mutex_lock(&pool->lock);
    while (!pool->stopping) {
        struct timespec ts = clock_deadline_after_us(CLOCK_MONOTONIC, tick);
        pthread_cond_timedwait(&pool->reaper_wake, &pool->lock, &ts);
        struct db_conn *expired = NULL, **link = &pool->idle;
        int64_t cutoff = now_us() - pool->idle_timeout_us;
        while (*link) {
            struct db_conn *c = *link;
            if (c->idle_since_us <= cutoff) {
                *link = c->next;
                c->next = expired;
                expired = c;
                pool->n_idle--;
                pool->n_open--;
            } else {
                link = &c->next;
            }
        }
        if (expired)
            grant_slots(pool); /* cannot find waiters (none wait while one is idle); kept for safety */
        pthread_mutex_unlock(&pool->lock);
        while (expired) {
            struct db_conn *c = expired;
            expired = c->next;
            conn_close(c);
        }
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

static void record_wait(struct db_pool *pool, int64_t waited_us)
{
    double s = (double)waited_us / 1e6;
    int b = 0;
    while (b < WAIT_BUCKETS && s > wait_bucket_bounds[b])
        b++;
    pool->wait_buckets[b]++;
    pool->wait_sum_s += s;
    pool->wait_count++;
}

static struct db_conn *open_conn(struct db_pool *pool)
{
    char err[512];
    struct db_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pg = connect_with_deadline(&pool->params, pool->connect_timeout_ms, err, sizeof err);
    if (!c->pg) {
        atomic_fetch_add(&pool->connect_failures, 1);
        /* During an outage every request fails to connect: one line a second is enough. */
        long long now = now_us(), last = atomic_load(&pool->last_failure_log_us);
        if (now - last >= 1000000 && atomic_compare_exchange_strong(&pool->last_failure_log_us, &last, now))
            log_warn("db_pool: cannot connect: %s", err);
        free(c);
        return NULL;
    }
    /* Non-blocking, so that a statement larger than the socket buffers is written under the
     * same deadline as its result is awaited (await_result), not in one blocking send. */
    PQsetnonblocking(c->pg, 1);
    atomic_fetch_add(&pool->connects, 1);
    return c;
}

/* Called with the lock held; returns with it held. One of: a healthy idle connection, a
 * reserved slot to open a new one (*open_slot), or nothing yet. Unhealthy idle connections
 * met on the way are handed back in *bad for closing outside the lock. */
static struct db_conn *take_idle_or_slot(struct db_pool *pool, bool *open_slot, struct db_conn **bad)
{
    while (pool->idle) {
        struct db_conn *c = pool->idle;
        pool->idle = c->next;
        pool->n_idle--;
        /* The health check is a zero-timeout poll and, rarely, a read of bytes already
         * received: it does not wait on the network. */
        if (conn_is_healthy(c)) {
            pool->n_in_use++;
            return c;
        }
        pool->n_open--;
        atomic_fetch_add(&pool->discarded, 1);
        c->next = *bad;
        *bad = c;
    }
    if (pool->n_open < pool->max) {
        pool->n_open++;
        pool->n_in_use++;
        *open_slot = true;
    }
    return NULL;
}

/* ------------------------------------------------------------------ the wait queue */

/* All called with the lock held. */
static void waiter_push(struct db_pool *pool, struct pool_waiter *w)
{
    w->next = NULL;
    if (pool->wait_tail)
        pool->wait_tail->next = w;
    else
        pool->wait_head = w;
    pool->wait_tail = w;
    pool->n_waiters++;
}

static struct pool_waiter *waiter_pop(struct db_pool *pool)
{
    struct pool_waiter *w = pool->wait_head;
    if (w) {
        pool->wait_head = w->next;
        if (!pool->wait_head)
            pool->wait_tail = NULL;
        pool->n_waiters--;
    }
    return w;
}

/* A waiter that timed out leaves the queue (it is still in it: nobody handed it anything). */
static void waiter_remove(struct db_pool *pool, struct pool_waiter *w)
{
    struct pool_waiter *prev = NULL;
    for (struct pool_waiter *it = pool->wait_head; it; prev = it, it = it->next) {
        if (it != w)
            continue;
        if (prev)
            prev->next = w->next;
        else
            pool->wait_head = w->next;
        if (pool->wait_tail == w)
            pool->wait_tail = prev;
        pool->n_waiters--;
        return;
    }
}

/* Free slots (below max) go to the oldest waiters, who open their own connections. */
static void grant_slots(struct db_pool *pool)
{
    while (pool->wait_head && pool->n_open < pool->max) {
        struct pool_waiter *w = waiter_pop(pool);
        pool->n_open++;
        pool->n_in_use++;
        w->slot = true;
        pthread_cond_signal(&w->wake);
    }
}

/* Queues the caller and sleeps until something is handed over or the deadline passes. */
static void wait_turn(struct db_pool *pool, const struct timespec *deadline, struct db_conn **got, bool *open_slot)
{
    struct pool_waiter w = {.conn = NULL, .slot = false};
    cond_init_monotonic(&w.wake);
    waiter_push(pool, &w);
    int rc = 0;
    while (!w.conn && !w.slot && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w.wake, &pool->lock, deadline);
    if (!w.conn && !w.slot)
        waiter_remove(pool, &w);
    pthread_cond_destroy(&w.wake);
    *got = w.conn;
    *open_slot = w.slot;
}

enum db_status db_pool_acquire(struct db_pool *pool, struct db_conn **out)
{
    *out = NULL;
    int64_t start = now_us();
    struct timespec deadline = clock_deadline_after_us(CLOCK_MONOTONIC, pool->acquire_timeout_us);
    struct db_conn *got = NULL, *bad = NULL;
    bool open_slot = false;
    pthread_mutex_lock(&pool->lock);
    /* Someone already queued means nothing is idle: join the queue behind them. */
    if (!pool->wait_head)
        got = take_idle_or_slot(pool, &open_slot, &bad);
    if (!got && !open_slot)
        wait_turn(pool, &deadline, &got, &open_slot);
    if (got || open_slot)
        record_wait(pool, now_us() - start);
    pthread_mutex_unlock(&pool->lock);
    while (bad) {
        struct db_conn *c = bad;
        bad = c->next;
        conn_close(c);
    }
    if (got) {
        *out = got;
        return DB_OK;
    }
    if (!open_slot) {
        atomic_fetch_add(&pool->busy, 1);
        return DB_BUSY;
    }
    got = open_conn(pool);
    if (!got) {
        pthread_mutex_lock(&pool->lock);
        pool->n_open--;
        pool->n_in_use--;
        grant_slots(pool); /* the slot is free again: the next waiter tries */
        pthread_mutex_unlock(&pool->lock);
        return DB_UNAVAILABLE;
    }
    *out = got;
    return DB_OK;
}

PGconn *db_conn_pg(struct db_conn *conn) { return conn ? conn->pg : NULL; }

/* A connection goes back only if it is sound and outside any transaction; one left in a
 * transaction is rolled back (a failed ROLLBACK drops it), one mid-query is dropped. */
static bool conn_reusable(struct db_pool *pool, struct db_conn *c)
{
    if (c->silent || PQstatus(c->pg) != CONNECTION_OK)
        return false;
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_IDLE)
        return true;
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
        return false;
    PGresult *res = PQsendQuery(c->pg, "ROLLBACK") ? await_result(c, pool->connect_timeout_ms) : NULL;
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
}

void db_pool_release(struct db_pool *pool, struct db_conn *c)
{
    if (!c)
        return;
    bool keep = conn_reusable(pool, c);
    pthread_mutex_lock(&pool->lock);
    pool->n_in_use--;
    if (keep) {
        struct pool_waiter *w = waiter_pop(pool);
        if (w) { /* straight to the oldest waiter, still in use */
            pool->n_in_use++;
            w->conn = c;
            pthread_cond_signal(&w->wake);
        } else {
            c->idle_since_us = now_us();
            c->next = pool->idle;
            pool->idle = c;
            pool->n_idle++;
        }
    } else {
        pool->n_open--;
        atomic_fetch_add(&pool->discarded, 1);
        grant_slots(pool);
    }
    pthread_mutex_unlock(&pool->lock);
    if (!keep)
        conn_close(c);
}

/* ------------------------------------------------------------------ statements */

/* libpq's blocking calls wait for ever on a server that stopped answering (a frozen host, a
 * partition: the kernel gives up on TCP after ~15 min), and statement_timeout cannot help,
 * since the server is the one enforcing it. So the rest of the statement is written and its
 * result awaited here, up to timeout_ms (0: no limit). NULL when the connection fails or
 * time runs out; then *silent is set. */
static PGresult *await_pg(PGconn *pg, int64_t timeout_ms, bool *silent)
{
    int64_t deadline = now_us() + timeout_ms * 1000;
    PGresult *last = NULL;
    int unsent = 1; /* until PQflush says all of the statement is written */
    for (;;) {
        while (unsent || PQisBusy(pg)) {
            if (unsent && (unsent = PQflush(pg)) < 0)
                break;
            if (!unsent && !PQisBusy(pg))
                break;
            int64_t left_ms = timeout_ms > 0 ? (deadline - now_us() + 999) / 1000 : -1;
            struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN | (unsent ? POLLOUT : 0)};
            int r = left_ms == 0 ? 0 : poll(&pfd, 1, left_ms > 1000 || left_ms < 0 ? 1000 : (int)left_ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 && (timeout_ms <= 0 || now_us() < deadline))
                continue;
            /* Anything but "writable" (data, EOF, an error) is for PQconsumeInput to read. */
            if (r <= 0 || ((pfd.revents & ~POLLOUT) && !PQconsumeInput(pg))) {
                *silent = r == 0;
                PQclear(last);
                return NULL;
            }
        }
        if (unsent < 0) {
            PQclear(last);
            return NULL;
        }
        PGresult *res = PQgetResult(pg);
        if (!res)
            return last;
        /* One statement: one result, the last says how it ended. Several (the simple protocol):
         * they run until one fails, so the last is still the one that matters. */
        PQclear(last);
        last = res;
        /* COPY FROM STDIN / TO STDOUT waits for data nobody sends here, and PQgetResult would
         * hand out its result again and again: returned as it is, the connection to be dropped. */
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            return res;
    }
}

static PGresult *await_result(struct db_conn *c, int64_t timeout_ms)
{
    return await_pg(c->pg, timeout_ms, &c->silent);
}

PGresult *db_pg_exec(PGconn *pg, const char *sql, int n_params, const char *const *values, int64_t timeout_ms,
                     bool *timed_out)
{
    *timed_out = false;
    int sent = n_params == 0 && !values ? PQsendQuery(pg, sql)
                                        : PQsendQueryParams(pg, sql, n_params, NULL, values, NULL, NULL, 0);
    return sent ? await_pg(pg, timeout_ms, timed_out) : NULL;
}

PGresult *db_conn_exec(struct db_conn *c, const char *sql, int n_params, const char *const *values,
                       int64_t timeout_ms)
{
    if (!PQsendQueryParams(c->pg, sql, n_params, NULL, values, NULL, NULL, 0))
        return NULL;
    return await_result(c, timeout_ms);
}

bool db_conn_timed_out(const struct db_conn *c) { return c && c->silent; }

static bool has_sqlstate(const PGresult *res, const char *state)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s && strcmp(s, state) == 0;
}

/* Prepares lazily, once per connection; a new connection after a reconnect starts with an
 * empty list, so re-preparing needs no bookkeeping. False when preparing failed, with the
 * failed result (NULL if none came) in *failed. */
static bool ensure_prepared(struct db_pool *pool, struct db_conn *c, const struct db_statement *stmt,
                            PGresult **failed)
{
    *failed = NULL;
    if (conn_has_prepared(c, stmt->name))
        return true;
    PGresult *res = PQsendPrepare(c->pg, stmt->name, stmt->sql, stmt->n_params, NULL)
                        ? await_result(c, pool->answer_timeout_ms)
                        : NULL;
    atomic_fetch_add(&pool->prepares, 1);
    if (res && (PQresultStatus(res) == PGRES_COMMAND_OK || has_sqlstate(res, "42P05" /* duplicate */))) {
        PQclear(res);
        conn_remember_prepared(c, stmt->name);
        return true;
    }
    *failed = res;
    return false;
}

static PGresult *run_statement(struct db_pool *pool, struct db_conn *c, const struct db_statement *stmt,
                               const char *const *values)
{
    if (!pool->use_prepared) {
        atomic_fetch_add(&pool->statements, 1);
        return db_conn_exec(c, stmt->sql, stmt->n_params, values, pool->answer_timeout_ms);
    }
    for (int attempt = 0;; attempt++) {
        PGresult *failed;
        if (!ensure_prepared(pool, c, stmt, &failed))
            return failed;
        atomic_fetch_add(&pool->statements, 1);
        PGresult *res = PQsendQueryPrepared(c->pg, stmt->name, stmt->n_params, values, NULL, NULL, 0)
                            ? await_result(c, pool->answer_timeout_ms)
                            : NULL;
        /* 26000: the server no longer knows the name (e.g. DISCARD ALL by a pooler). The
         * statement did not run, so preparing again and retrying once is safe. */
        if (attempt == 0 && has_sqlstate(res, "26000") && PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
            PQclear(res);
            conn_forget_prepared(c, stmt->name);
            continue;
        }
        return res;
    }
}

enum db_status db_query(struct db_pool *pool, const struct db_statement *stmt, const char *const *values,
                        PGresult **result)
{
    *result = NULL;
    struct db_conn *c;
    enum db_status st = db_pool_acquire(pool, &c);
    if (st != DB_OK)
        return st;
    PGresult *res = run_statement(pool, c, stmt, values);
    ExecStatusType rs = PQresultStatus(res);
    if (res && (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK)) {
        st = DB_OK;
    } else if (c->silent) {
        log_warn("db_pool: no answer to %s within %lld ms; the connection is dropped", stmt->name,
                 (long long)pool->answer_timeout_ms);
        PQclear(res);
        res = NULL;
        st = DB_UNAVAILABLE;
    } else if (has_sqlstate(res, "57014") || has_sqlstate(res, "55P03")) {
        /* Cancelled by statement_timeout (or an operator), or a lock not available: the
         * database is busy, the query is not wrong; the client may well retry. */
        log_warn("db_pool: %s: %.*s", stmt->name, (int)strcspn(PQresultErrorMessage(res), "\n"),
                 PQresultErrorMessage(res));
        PQclear(res);
        res = NULL;
        st = DB_BUSY;
    } else if (PQstatus(c->pg) != CONNECTION_OK) {
        /* The connection died under the statement (restart, network): not the query's fault. */
        log_warn("db_pool: connection lost during %s: %.*s", stmt->name,
                 (int)strcspn(PQerrorMessage(c->pg), "\n"), PQerrorMessage(c->pg));
        PQclear(res);
        res = NULL;
        st = DB_UNAVAILABLE;
    } else {
        log_debug("db_pool: %s failed: %s", stmt->name, res ? PQresultErrorMessage(res) : "out of memory");
        st = DB_ERROR;
    }
    *result = res;
    db_pool_release(pool, c);
    return st;
}

unsigned long long db_pool_statements_sent(struct db_pool *pool)
{
    return pool ? atomic_load(&pool->statements) : 0;
}

void db_pool_stats(struct db_pool *pool, struct db_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&pool->lock);
    out->open = pool->n_open;
    out->idle = pool->n_idle;
    out->in_use = pool->n_in_use;
    out->waiters = pool->n_waiters;
    pthread_mutex_unlock(&pool->lock);
    out->connects = atomic_load(&pool->connects);
    out->connect_failures = atomic_load(&pool->connect_failures);
    out->discarded = atomic_load(&pool->discarded);
    out->busy = atomic_load(&pool->busy);
    out->statements = atomic_load(&pool->statements);
    out->prepares = atomic_load(&pool->prepares);
}

void db_pool_metrics(struct db_pool *pool, struct strbuf *out)
{
    struct db_pool_stats s;
    db_pool_stats(pool, &s);
    unsigned long long buckets[WAIT_BUCKETS + 1], count;
    double sum;
    pthread_mutex_lock(&pool->lock);
    memcpy(buckets, pool->wait_buckets, sizeof buckets);
    count = pool->wait_count;
    sum = pool->wait_sum_s;
    pthread_mutex_unlock(&pool->lock);
    strbuf_printf(out,
                  "# TYPE tessera_db_pool_connections gauge\n"
                  "tessera_db_pool_connections{state=\"open\"} %d\n"
                  "tessera_db_pool_connections{state=\"idle\"} %d\n"
                  "tessera_db_pool_connections{state=\"in_use\"} %d\n"
                  "# TYPE tessera_db_pool_waiters gauge\ntessera_db_pool_waiters %d\n",
                  s.open, s.idle, s.in_use, s.waiters);
    strbuf_puts(out, "# TYPE tessera_db_pool_acquire_wait_seconds histogram\n");
    unsigned long long cumulative = 0;
    for (int b = 0; b < WAIT_BUCKETS; b++) {
        cumulative += buckets[b];
        strbuf_printf(out, "tessera_db_pool_acquire_wait_seconds_bucket{le=\"%g\"} %llu\n", wait_bucket_bounds[b],
                      cumulative);
    }
    strbuf_printf(out,
                  "tessera_db_pool_acquire_wait_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "tessera_db_pool_acquire_wait_seconds_sum %.6f\n"
                  "tessera_db_pool_acquire_wait_seconds_count %llu\n",
                  count, sum, count);
    strbuf_printf(out,
                  "# TYPE tessera_db_pool_connects_total counter\ntessera_db_pool_connects_total %llu\n"
                  "# TYPE tessera_db_pool_connect_failures_total counter\ntessera_db_pool_connect_failures_total %llu\n"
                  "# TYPE tessera_db_pool_discarded_total counter\ntessera_db_pool_discarded_total %llu\n"
                  "# TYPE tessera_db_pool_busy_total counter\ntessera_db_pool_busy_total %llu\n"
                  "# TYPE tessera_db_pool_statements_total counter\ntessera_db_pool_statements_total %llu\n"
                  "# TYPE tessera_db_pool_prepares_total counter\ntessera_db_pool_prepares_total %llu\n",
                  s.connects, s.connect_failures, s.discarded, s.busy, s.statements, s.prepares);
}

int64_t db_statement_bound_ms(const struct config *cfg)
{
    return cfg->database.statement_timeout_ms > 0 ? cfg->database.statement_timeout_ms : 10000;
}

int64_t db_answer_deadline_ms(const struct config *cfg)
{
    return db_statement_bound_ms(cfg) + cfg->database.connect_timeout_ms;
}
