/* db_pool — a bounded pool of libpq connections, opened lazily, closed when idle.
 *
 * Most callers use db_query(): acquire, one statement (one round trip), release.
 * Connects use PQconnectStartParams + PQconnectPoll with tessera's own deadline. */
#ifndef TESSERA_DB_POOL_H
#define TESSERA_DB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "tessera/config.h"
#include "tessera/strbuf.h"

struct db_pool;
struct db_conn;

enum db_status {
    DB_OK = 0,
    DB_BUSY = 1,        /* no connection free within acquire_timeout, or the statement was
                         * cancelled by statement_timeout: 503 db_busy */
    DB_UNAVAILABLE = 2, /* cannot connect within connect_timeout: 503 db_unavailable */
    DB_ERROR = 3,       /* the statement failed; see the PGresult / log */
};

/* A statement known at compile time. With prepared_statements on it is prepared once per
 * connection under `name` (and PostgreSQL switches it to a generic plan after five runs when
 * that plan is no dearer); off (PgBouncer transaction mode) it is sent with PQexecParams.
 * A statement whose best plan depends on its rows keeps that plan in a database function
 * (the list pages: migration 0005), not in a per-call planning mode. */
struct db_statement {
    const char *name;
    const char *sql;
    int n_params;
};

/* Opens no connection yet (lazy). NULL on error (logged). */
struct db_pool *db_pool_create(const struct config *cfg);
void db_pool_free(struct db_pool *pool);
void db_pool_metrics(struct db_pool *pool, struct strbuf *out);

/* One statement, one round trip. values: n_params text values (NULL = SQL NULL).
 * On DB_OK *result is set (caller PQclear()s it) — PGRES_TUPLES_OK or PGRES_COMMAND_OK.
 * On DB_ERROR *result holds the failed result when there is one (caller clears), else NULL. */
enum db_status db_query(struct db_pool *pool, const struct db_statement *stmt,
                        const char *const *values, PGresult **result);

/* For work that needs the connection itself (migrations, GC, tests). */
enum db_status db_pool_acquire(struct db_pool *pool, struct db_conn **conn);
PGconn *db_conn_pg(struct db_conn *conn);
/* PQexecParams with a deadline: waits at most timeout_ms (0: no limit) for the result, since a
 * server that stopped answering would otherwise hold the caller for as long as TCP does.
 * NULL when no result came (lost connection, or time ran out: db_conn_timed_out); either way
 * db_pool_release then drops the connection. */
PGresult *db_conn_exec(struct db_conn *conn, const char *sql, int n_params, const char *const *values,
                       int64_t timeout_ms);
bool db_conn_timed_out(const struct db_conn *conn);
/* The same on a connection of one's own (migrations): n_params 0 and values NULL send sql with
 * the simple protocol, so it may hold several statements (the last result is returned). NULL
 * when no result came; *timed_out then says whether time ran out (else the connection failed). */
PGresult *db_pg_exec(PGconn *pg, const char *sql, int n_params, const char *const *values, int64_t timeout_ms,
                     bool *timed_out);
/* The bound for work of one's own outside the pool (the session GC, migrations, the CLI):
 * database.statement_timeout, or 10 s when that is 0, so that nothing runs unbounded. The
 * deadline to await such a statement adds connect_timeout, the network's share. */
int64_t db_statement_bound_ms(const struct config *cfg);
int64_t db_answer_deadline_ms(const struct config *cfg);
/* Returns the connection; a broken one, or one not idle in a transaction, is discarded. */
void db_pool_release(struct db_pool *pool, struct db_conn *conn);

/* Statements sent so far (tests assert N API requests send N statements). */
unsigned long long db_pool_statements_sent(struct db_pool *pool);

/* A snapshot of the pool's gauges and counters (tests, benchmarks). */
struct db_pool_stats {
    int open, idle, in_use, waiters;
    unsigned long long connects, connect_failures, discarded, busy, statements, prepares;
};
void db_pool_stats(struct db_pool *pool, struct db_pool_stats *out);

/* One connection outside any pool (migrations, CLI), made like the pool's: same URL and
 * statement_timeout, bounded by database.connect_timeout across all hosts. NULL on failure,
 * with the reason in err. The caller PQfinish()es it. */
PGconn *db_connect_direct(const struct config *cfg, char *err, size_t err_size);
#endif
