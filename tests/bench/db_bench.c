/* db_bench — pool acquire/release throughput under many threads, one-statement queries
 * through the pool, connect cost, and the argon2id verify rate that bounds sign-ins.
 * Usage: db_bench URL [seconds-per-case]. Built and run by tests/bench/db.sh. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera/auth.h"
#include "tessera/clock.h"
#include "tessera/config.h"
#include "tessera/db_pool.h"
#include "tessera/log.h"

struct job {
    struct db_pool *pool;
    const struct config *cfg;
    atomic_int *stop;
    int mode; /* 0 acquire/release, 1 SELECT 1 via db_query, 2 argon2 verify */
    const char *hash;
    unsigned long long ops, failures;
};

static const struct db_statement stmt_select = {"bench_select", "SELECT $1::int", 1};

static void *worker(void *arg)
{
    struct job *j = arg;
    const char *v[] = {"1"};
    while (!atomic_load(j->stop)) {
        if (j->mode == 0) {
            struct db_conn *c;
            if (db_pool_acquire(j->pool, &c) == DB_OK) {
                db_pool_release(j->pool, c);
                j->ops++;
            } else {
                j->failures++;
            }
        } else if (j->mode == 1) {
            PGresult *res = NULL;
            if (db_query(j->pool, &stmt_select, v, &res) == DB_OK)
                j->ops++;
            else
                j->failures++;
            PQclear(res);
        } else {
            if (auth_password_verify(j->hash, "correct horse battery"))
                j->ops++;
            else
                j->failures++;
        }
    }
    return NULL;
}

static void run_case(const char *name, struct db_pool *pool, int threads, int mode, const char *hash, double seconds)
{
    struct job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    atomic_int stop = 0;
    int64_t t0 = clock_monotonic_us();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){.pool = pool, .stop = &stop, .mode = mode, .hash = hash};
        pthread_create(&t[i], NULL, worker, &jobs[i]);
    }
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop, 1);
    unsigned long long ops = 0, failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ops += jobs[i].ops;
        failures += jobs[i].failures;
    }
    double elapsed = (double)(clock_monotonic_us() - t0) / 1e6;
    printf("%-44s %3d threads  %12.0f ops/s  (%llu ops, %llu failed, %.1f s)\n", name, threads,
           (double)ops / elapsed, ops, failures, elapsed);
    free(jobs);
    free(t);
}

static void connect_cost(const struct config *cfg, int n)
{
    char err[256];
    int64_t t0 = clock_monotonic_us();
    for (int i = 0; i < n; i++) {
        PGconn *pg = db_connect_direct(cfg, err, sizeof err);
        if (!pg) {
            fprintf(stderr, "connect: %s\n", err);
            exit(1);
        }
        PQfinish(pg);
    }
    double per = (double)(clock_monotonic_us() - t0) / n / 1000.0;
    printf("%-44s %3d serial     %12.2f ms per connect+close\n", "connect (PQconnectStartParams+poll)", 1, per);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: db_bench URL [seconds]\n");
        return 2;
    }
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    log_set_level(LOG_LEVEL_ERROR);
    struct config cfg;
    if (config_load(&cfg, NULL, NULL, stderr) < 0 ||
        config_set(&cfg, "database", "url", argv[1], "bench", 0, stderr) < 0 ||
        config_set(&cfg, "database", "acquire_timeout", "10s", "bench", 0, stderr) < 0)
        return 2;
    struct db_pool *pool = db_pool_create(&cfg);
    if (!pool)
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("pool_max %lld, %ld CPUs\n", (long long)cfg.database.pool_max, cpus);
    run_case("pool acquire+release (no statement)", pool, 64, 0, NULL, seconds);
    run_case("db_query SELECT $1 (prepared)", pool, 64, 1, NULL, seconds);
    db_pool_free(pool);
    config_set(&cfg, "database", "prepared_statements", "off", "bench", 0, stderr);
    pool = db_pool_create(&cfg);
    run_case("db_query SELECT $1 (PQexecParams)", pool, 64, 1, NULL, seconds);
    db_pool_free(pool);
    connect_cost(&cfg, 50);

    char hash[AUTH_PASSWORD_HASH_MAX];
    if (auth_password_hash("correct horse battery", hash, sizeof hash) < 0)
        return 1;
    int64_t t0 = clock_monotonic_us();
    for (int i = 0; i < 10; i++)
        auth_password_verify(hash, "correct horse battery");
    printf("%-44s %3d serial     %12.1f ms per verify\n", "argon2id t=2 m=19MiB p=1", 1,
           (double)(clock_monotonic_us() - t0) / 10 / 1000.0);
    run_case("argon2id verify (sign-in ceiling)", NULL, (int)cpus, 2, hash, seconds);
    config_free(&cfg);
    return 0;
}
