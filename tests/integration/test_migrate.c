/* `tessera migrate` and migrations at serve start, against a real PostgreSQL. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tessera/config.h"
#include "tessera/migrate.h"

static int migrate(const char *url, const char *const extra[], char **out, char **err)
{
    setenv("TESSERA_DATABASE_URL", url, 1);
    const char *args[8] = {"migrate", "--config", "/dev/null"};
    int n = 3;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return test_run_tessera(args, NULL, out, err);
}

Test(migrate, fresh_then_rerun_is_a_no_op_and_status_lists_all)
{
    char *url = test_db_create();
    cr_assert(url);
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0, "stderr: %s", err);
    cr_assert(strstr(out, "applied 0000_init.sql"), "%s", out);
    cr_assert(strstr(out, "applied 0003_p8003_perf_indexes.sql"), "%s", out);
    cr_assert(strstr(out, "applied 0004_list_order_indexes.sql"), "%s", out);
    cr_assert(strstr(out, "applied 0005_list_pages.sql"), "%s", out);
    free(out);
    free(err);
    char *count = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations");
    cr_assert_str_eq(count, "5");
    free(count);
    char *defaults = test_db_scalar(url, "SELECT string_agg(key || '=' || value::text || ':' || mutable, ',' ORDER BY key)"
                                 " FROM preference_defaults");
    cr_assert_str_eq(defaults, "density=\"comfortable\":true,language=\"en\":true,plan=\"free\":false,"
                               "theme=\"system\":true");
    free(defaults);

    cr_assert_eq(migrate(url, NULL, &out, &err), 0);
    cr_assert(strstr(out, "up to date"), "%s", out);
    cr_assert_null(strstr(out, "applied 0"), "nothing applied twice: %s", out);
    free(out);
    free(err);
    cr_assert_eq(migrate(url, (const char *[]){"--status", NULL}, &out, &err), 0);
    cr_assert(strstr(out, "applied  0001_preference_defaults.sql"), "%s", out);
    cr_assert_null(strstr(out, "pending"), "%s", out);
    free(out);
    free(err);
    free(url);
}

Test(migrate, status_on_an_empty_database_lists_pending)
{
    char *url = test_db_create();
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--status", NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "pending  0000_init.sql"), "%s", out);
    free(out);
    free(err);
    char *users = test_db_scalar(url, "SELECT to_regclass('users') IS NULL");
    cr_assert_str_eq(users, "t", "--status applies nothing");
    free(users);
    free(url);
}

struct run {
    const char *url;
    int rc;
    char *out, *err;
};

static void *run_migrate(void *arg)
{
    struct run *r = arg;
    const char *args[] = {"migrate", "--config", "/dev/null", NULL};
    r->rc = test_run_tessera(args, NULL, &r->out, &r->err);
    return NULL;
}

Test(migrate, two_at_once_apply_each_file_once)
{
    char *url = test_db_create();
    setenv("TESSERA_DATABASE_URL", url, 1);
    struct run a = {.url = url}, b = {.url = url};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_migrate, &a);
    pthread_create(&tb, NULL, run_migrate, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.rc, 0, "first: %s", a.err);
    cr_assert_eq(b.rc, 0, "second: %s", b.err);
    int applied_a = strstr(a.out, "applied 0000_init.sql") != NULL;
    int applied_b = strstr(b.out, "applied 0000_init.sql") != NULL;
    cr_assert_eq(applied_a + applied_b, 1, "exactly one applied the files\nA: %s\nB: %s", a.out, b.out);
    char *count = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations");
    cr_assert_str_eq(count, "5");
    free(count);
    free(a.out); free(a.err); free(b.out); free(b.err);
    free(url);
}

Test(migrate, changed_applied_file_is_refused_by_migrate_and_serve)
{
    char *url = test_db_create();
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0);
    free(out);
    free(err);
    /* Same effect as editing the file after it was applied: the checksums disagree. */
    free(test_db_scalar(url, "UPDATE tessera_migrations SET sha256 = repeat('0', 64) WHERE name = '0001_preference_defaults.sql'"));
    cr_assert_eq(migrate(url, NULL, &out, &err), 1);
    cr_assert(strstr(err, "0001_preference_defaults.sql was changed after it was applied"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(migrate(url, (const char *[]){"--status", NULL}, &out, &err), 1, "status reports it too");
    free(out);
    free(err);

    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\n", url);
    struct test_server ts;
    unsetenv("TESSERA_DATABASE_URL");
    cr_assert_eq(test_server_start(&ts, ini, NULL), -1, "serve must refuse to start");
    free(url);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void copy_embedded_set(const char *dir, size_t count)
{
    const char *names[] = {"0000_init.sql", "0001_preference_defaults.sql", "0003_p8003_perf_indexes.sql",
                           "0004_list_order_indexes.sql", "0005_list_pages.sql"};
    for (size_t i = 0; i < count; i++) {
        char rel[128], src[512], cmd[1200];
        snprintf(rel, sizeof rel, "server/db/migrations/%s", names[i]);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", test_source_path(rel, src, sizeof src), dir);
        cr_assert_eq(system(cmd), 0);
    }
}

/* A scratch migrations directory (dir: a mkdtemp template) holding the first count shipped
 * files and one more, name, of the given text. */
static void scratch_set(char *dir, size_t count, const char *name, const char *text)
{
    cr_assert(mkdtemp(dir));
    copy_embedded_set(dir, count);
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, text);
}

/* `tessera migrate --dir dir` succeeds and says it applied name. */
static void migrate_dir_applies(const char *url, const char *dir, const char *name)
{
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 0, "%s", err);
    char applied[160];
    snprintf(applied, sizeof applied, "applied %s", name);
    cr_assert(strstr(out, applied), "%s", out);
    free(out);
    free(err);
}

static void scratch_remove(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(migrate, failing_file_is_rolled_back_and_named)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h4-mig-XXXXXX";
    scratch_set(dir, 5, "0006_broken.sql", "CREATE TABLE half_done (x int);\nINSERT INTO half_done VALUES (1 / 0);\n");
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 1);
    cr_assert(strstr(err, "0006_broken.sql"), "%s", err);
    cr_assert(strstr(err, "division by zero"), "the PostgreSQL message: %s", err);
    cr_assert(strstr(out, "applied 0005_list_pages.sql"), "earlier files still applied: %s", out);
    free(out);
    free(err);
    char *gone = test_db_scalar(url, "SELECT to_regclass('half_done') IS NULL");
    cr_assert_str_eq(gone, "t", "nothing of the failing file remains");
    free(gone);
    char *rec = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations WHERE name = '0006_broken.sql'");
    cr_assert_str_eq(rec, "0");
    free(rec);

    /* Fixed, it applies; a no-transaction file runs CREATE INDEX CONCURRENTLY statement by statement. */
    char path[300];
    snprintf(path, sizeof path, "%s/0006_broken.sql", dir);
    write_text(path, "CREATE TABLE half_done (x int);\n");
    snprintf(path, sizeof path, "%s/0007_concurrent.sql", dir);
    write_text(path, "-- tessera:no-transaction\n"
                     "CREATE INDEX CONCURRENTLY half_done_x_idx ON half_done (x);\n"
                     "-- a comment; with a semicolon\n"
                     "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n");
    migrate_dir_applies(url, dir, "0007_concurrent.sql");
    char *idx = test_db_scalar(url, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('half_done_x_idx', 'users_name_idx')");
    cr_assert_str_eq(idx, "2");
    free(idx);
    scratch_remove(dir);
    free(url);
}

Test(migrate, preference_duplicates_resolved_newest_wins)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h4-dup-XXXXXX";
    cr_assert(mkdtemp(dir));
    copy_embedded_set(dir, 2); /* the schema before P8003 */
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    /* The state P8003 found: several rows per (user, key). */
    free(test_db_scalar(url, "WITH u AS (INSERT INTO users (email) VALUES ('d@example.com') RETURNING id)"
                     " INSERT INTO preferences (user_id, key, value, updated_at) SELECT id, 'theme', v, t FROM u,"
                     " (VALUES ('\"light\"'::jsonb, now() - interval '2 days'), ('\"dark\"', now()),"
                     "         ('\"system\"', now() - interval '1 day')) AS x(v, t)"));
    copy_embedded_set(dir, 3);
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    char *v = test_db_scalar(url, "SELECT string_agg(value::text, ',') FROM preferences");
    cr_assert_str_eq(v, "\"dark\"", "one row left, the newest");
    free(v);
    scratch_remove(dir);
    free(url);
}

/* A file of comments only (a placeholder for a withdrawn number) is an empty query to
 * PostgreSQL, not a failure: it used to stop migrate and serve with an empty message. */
Test(migrate, comment_only_file_is_applied_and_recorded)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h5-mig-XXXXXX";
    scratch_set(dir, 5, "0006_withdrawn.sql", "-- withdrawn before release; the number stays taken\n");
    migrate_dir_applies(url, dir, "0006_withdrawn.sql");
    char *rec = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations WHERE name = '0006_withdrawn.sql'");
    cr_assert_str_eq(rec, "1");
    free(rec);
    scratch_remove(dir);
    free(url);
}

/* The lock holder releases after a while, from another thread (its connection is idle). */
static void *release_lock_later(void *arg)
{
    usleep(1500000);
    PQclear(PQexec(arg, "SELECT pg_advisory_unlock_all()"));
    return NULL;
}

/* An instance that finds the lock taken says so before it waits: a start-up that stands
 * still in silence (another instance's long migration) looked like a hang. */
Test(migrate, waiting_for_the_lock_is_reported, .timeout = 60)
{
    char *url = test_db_create();
    PGconn *holder = PQconnectdb(url);
    cr_assert_eq(PQstatus(holder), CONNECTION_OK);
    PGresult *r = PQexec(holder, "SELECT pg_advisory_lock(8387236823431344417)");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    r = PQexec(holder, "SELECT pg_backend_pid()");
    char holder_pid[32];
    snprintf(holder_pid, sizeof holder_pid, "pid %s", PQgetvalue(r, 0, 0));
    PQclear(r);
    pthread_t t;
    pthread_create(&t, NULL, release_lock_later, holder);
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0, "%s", err);
    pthread_join(t, NULL);
    cr_assert(strstr(err, "waiting"), "stderr: %s", err);
    /* Who holds it, and that an idle holder is a lock left behind, not a migration running:
     * "another instance" alone sent operators looking for an instance that did not exist. */
    cr_assert(strstr(err, holder_pid), "the holder is named (%s): %s", holder_pid, err);
    cr_assert(strstr(err, "idle"), "an idle holder is called so: %s", err);
    cr_assert(strstr(out, "applied 0000_init.sql"), "%s", out);
    free(out);
    free(err);
    PQfinish(holder);
    free(url);
}

/* ------------------------------------------------------------------ bounded start-up */

/* `tessera serve` with ini_text, run to its end: its exit status and stderr, and how long it
 * took. A serve that is still running after limit_ms (listening, or stuck) is killed and
 * reported as -1, so a hang fails the test instead of outliving it. */
struct serve_run {
    int status;
    double took_ms;
    char *err;
    pid_t pid;
    char dir[64];
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    char *text = calloc(1, 65537);
    size_t n = fread(text, 1, 65536, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void serve_spawn(struct serve_run *r, const char *ini_text)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/tessera-h3-serve-XXXXXX");
    cr_assert(mkdtemp(r->dir));
    char ini[128], err[128];
    snprintf(ini, sizeof ini, "%s/test.ini", r->dir);
    snprintf(err, sizeof err, "%s/stderr", r->dir);
    write_text(ini, ini_text);
    r->pid = test_spawn_tessera((const char *[]){"serve", "--config", ini, "--listen", "127.0.0.1:0", NULL}, err);
}

static void serve_wait(struct serve_run *r, double started_ms, double limit_ms)
{
    r->status = -1;
    for (;;) {
        int st;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (test_now_ms() - started_ms > limit_ms) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
            break;
        }
        usleep(20000);
    }
    r->took_ms = test_now_ms() - started_ms;
    char path[128];
    snprintf(path, sizeof path, "%s/stderr", r->dir);
    r->err = slurp(path);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    if (system(cmd) != 0) { /* a leftover temp dir is not a failure */ }
}

static PGconn *hold_migration_lock(const char *url)
{
    PGconn *holder = PQconnectdb(url);
    cr_assert_eq(PQstatus(holder), CONNECTION_OK);
    PGresult *r = PQexec(holder, "SELECT pg_advisory_lock(8387236823431344417)");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    return holder;
}

/* A migration lock that is never released (an instance stuck mid-migration, or a lock left on
 * a PgBouncer server connection) kept serve from listening and from exiting, for ever. It
 * must give up after a bound, say why, and exit 1 so that the service manager retries. */
Test(migrate, serve_gives_up_on_a_migration_lock_held_for_ever, .timeout = 60)
{
    char *url = test_db_create();
    PGconn *holder = hold_migration_lock(url);
    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\nstatement_timeout = 1s\nconnect_timeout = 1s\n", url);
    unsetenv("TESSERA_DATABASE_URL");
    struct serve_run r;
    double t0 = test_now_ms();
    serve_spawn(&r, ini);
    serve_wait(&r, t0, 20000);
    PQfinish(holder);
    cr_assert_eq(r.status, 1, "serve must exit 1, got %d after %.0f ms; stderr: %s", r.status, r.took_ms, r.err);
    cr_assert_lt(r.took_ms, 6000, "statement_timeout + connect_timeout (+ start-up) exceeded: %.0f ms", r.took_ms);
    cr_assert(strstr(r.err, "migration lock"), "the log says what it waited for: %s", r.err);
    free(r.err);
    free(url);
}

/* A database host that stops answering in the middle of start-up (a backend frozen with
 * SIGSTOP stands in for it) held serve for as long as TCP would: it must give up after
 * statement_timeout + connect_timeout and exit 1. */
Test(migrate, serve_gives_up_on_a_frozen_database_at_start, .timeout = 60)
{
    char *url = test_db_create();
    PGconn *holder = hold_migration_lock(url);
    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\nstatement_timeout = 1s\nconnect_timeout = 1s\n", url);
    unsetenv("TESSERA_DATABASE_URL");
    struct serve_run r;
    double t0 = test_now_ms();
    serve_spawn(&r, ini);
    pid_t backend = test_db_lock_waiter(url);
    cr_assert_eq(kill(backend, SIGSTOP), 0);
    PQfinish(holder); /* the lock is free now, but the frozen backend cannot say so */
    double t_frozen = test_now_ms();
    serve_wait(&r, t0, 20000);
    kill(backend, SIGCONT);
    cr_assert_eq(r.status, 1, "serve must exit 1, got %d after %.0f ms; stderr: %s", r.status, r.took_ms, r.err);
    cr_assert_lt(t0 + r.took_ms - t_frozen, 5000, "statement_timeout + connect_timeout + 3 s exceeded: %.0f ms",
                 t0 + r.took_ms - t_frozen);
    cr_assert(strstr(r.err, "no answer"), "the log says the database did not answer: %s", r.err);
    free(r.err);
    free(url);
}

/* A database migrated by a newer tessera holds files this binary does not know: running
 * against it would serve an API over a schema it was not written for. */
Test(migrate, database_newer_than_the_binary_is_refused)
{
    char *url = test_db_create();
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    free(test_db_scalar(url, "INSERT INTO tessera_migrations (name, sha256)"
                             " VALUES ('9000_future.sql', repeat('a', 64))"));
    cr_assert_eq(migrate(url, NULL, &out, &err), 1, "stdout: %s stderr: %s", out, err);
    cr_assert(strstr(err, "9000_future.sql"), "%s", err);
    cr_assert(strstr(err, "newer"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(migrate(url, (const char *[]){"--status", NULL}, &out, &err), 1, "status reports it too");
    cr_assert(strstr(out, "9000_future.sql"), "%s", out);
    free(out);
    free(err);
    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\n", url);
    unsetenv("TESSERA_DATABASE_URL");
    struct serve_run r;
    double t0 = test_now_ms();
    serve_spawn(&r, ini);
    serve_wait(&r, t0, 15000);
    cr_assert_eq(r.status, 1, "serve must refuse to start: %d, %s", r.status, r.err);
    cr_assert(strstr(r.err, "9000_future.sql"), "%s", r.err);
    free(r.err);
    free(url);
}

/* ------------------------------------------------------------------ through PgBouncer */

/* Debian's PgBouncer 1.18 in transaction mode, as the API suite runs it. */
static struct test_bouncer bnc;
static void stop_bouncer(void) { test_bouncer_stop(&bnc); }
#define BOUNCER_POOL(n) "default_pool_size = " #n "\nmax_client_conn = 100\n"

static char *advisory_locks(const char *url)
{
    return test_db_scalar(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                               " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
}

/* Behind PgBouncer in transaction mode (the API suite's set-up, migrate_on_start on) the
 * session-level lock stayed on whichever server connection took it, held for ever, and the
 * session SETs (client_min_messages, statement_timeout) stayed on the server connections
 * that ran them, for every later client to inherit. */
Test(migrate, through_pgbouncer_leaves_no_lock_or_setting_behind, .timeout = 60, .fini = stop_bouncer)
{
    char *url = test_db_create();
    test_bouncer_start(&bnc, url, BOUNCER_POOL(1));
    setenv("TESSERA_DATABASE_PREPARED_STATEMENTS", "off", 1);
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(bnc.url, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "applied 0005_list_pages.sql"), "%s", out);
    free(out);
    free(err);
    char *locks = advisory_locks(url);
    cr_assert_str_eq(locks, "0", "the migration lock is still held by a PgBouncer server connection");
    free(locks);
    char *level = test_db_scalar(bnc.url, "SHOW client_min_messages");
    cr_assert_str_eq(level, "notice", "a session SET leaked to the next client of the server connection");
    free(level);
    cr_assert_eq(migrate(bnc.url, NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "up to date"), "%s", out);
    free(out);
    free(err);
    unsetenv("TESSERA_DATABASE_PREPARED_STATEMENTS");
    free(url);
}

/* Two instances migrating at once through PgBouncer: each file applied once, neither stuck. */
Test(migrate, two_at_once_through_pgbouncer_apply_each_file_once, .timeout = 60, .fini = stop_bouncer)
{
    char *url = test_db_create();
    test_bouncer_start(&bnc, url, BOUNCER_POOL(2));
    setenv("TESSERA_DATABASE_URL", bnc.url, 1);
    setenv("TESSERA_DATABASE_PREPARED_STATEMENTS", "off", 1);
    struct run a = {.url = bnc.url}, b = {.url = bnc.url};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, run_migrate, &a);
    pthread_create(&tb, NULL, run_migrate, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    unsetenv("TESSERA_DATABASE_PREPARED_STATEMENTS");
    cr_assert_eq(a.rc, 0, "first: %s", a.err);
    cr_assert_eq(b.rc, 0, "second: %s", b.err);
    char *count = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations");
    cr_assert_str_eq(count, "5");
    free(count);
    char *locks = advisory_locks(url);
    cr_assert_str_eq(locks, "0");
    free(locks);
    free(a.out); free(a.err); free(b.out); free(b.err);
    free(url);
}

/* A no-transaction file cannot run under a transaction-level lock, and a session lock is
 * not safe behind a transaction pooler: refused with the reason, and nothing left held. */
Test(migrate, no_transaction_file_through_a_pooler_is_refused_clearly, .timeout = 60, .fini = stop_bouncer)
{
    char *url = test_db_create();
    test_bouncer_start(&bnc, url, BOUNCER_POOL(2));
    char dir[] = "/tmp/tessera-h3-mig-XXXXXX";
    scratch_set(dir, 5, "0006_concurrent.sql", "-- tessera:no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n");
    setenv("TESSERA_DATABASE_PREPARED_STATEMENTS", "off", 1);
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(bnc.url, (const char *[]){"--dir", dir, NULL}, &out, &err), 1, "%s", out);
    unsetenv("TESSERA_DATABASE_PREPARED_STATEMENTS");
    cr_assert(strstr(out, "applied 0005_list_pages.sql"), "the files before it are applied: %s", out);
    cr_assert(strstr(err, "0006_concurrent.sql"), "%s", err);
    cr_assert(strstr(err, "PgBouncer"), "the reason: %s", err);
    free(out);
    free(err);
    char *locks = advisory_locks(url);
    cr_assert_str_eq(locks, "0");
    free(locks);
    /* Directly against PostgreSQL it applies. */
    migrate_dir_applies(url, dir, "0006_concurrent.sql");
    scratch_remove(dir);
    free(url);
}

/* A no-transaction file that failed half-way runs again from its first statement. A failed
 * CREATE INDEX CONCURRENTLY leaves an INVALID index behind, which the re-run's IF NOT EXISTS
 * then kept: the file was recorded as applied over an index PostgreSQL never uses. */
Test(migrate, half_applied_no_transaction_file_is_not_recorded_over_an_invalid_index, .timeout = 60)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h3-inv-XXXXXX";
    scratch_set(dir, 5, "0006_concurrent.sql", "-- tessera:no-transaction\n"
                     "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\n"
                     "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_lower_name_idx ON users (lower(name));\n");
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    /* The same file against a database where the unique index cannot be built. */
    free(test_db_scalar(url, "DROP INDEX users_name_idx, users_lower_name_idx"));
    free(test_db_scalar(url, "DELETE FROM tessera_migrations WHERE name = '0006_concurrent.sql'"));
    free(test_db_scalar(url, "INSERT INTO users (email, name) VALUES ('a@example.com', 'Ann'), ('b@example.com', 'ann')"));
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 1, "%s", out);
    cr_assert(strstr(err, "0006_concurrent.sql"), "%s", err);
    cr_assert(strstr(err, "users_lower_name_idx"), "the invalid index left behind is named: %s", err);
    free(out);
    free(err);
    /* Duplicates resolved, run again: the INVALID leftover must not pass for the index. */
    free(test_db_scalar(url, "DELETE FROM users WHERE email = 'b@example.com'"));
    int rc = migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err);
    char *valid = test_db_scalar(url, "SELECT bool_and(indisvalid) FROM pg_index"
                                      " WHERE indexrelid = 'users_lower_name_idx'::regclass");
    char *recorded = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations WHERE name = '0006_concurrent.sql'");
    cr_assert(rc != 0 || strcmp(valid, "t") == 0, "recorded as applied over an INVALID index (rc %d, recorded %s): %s",
              rc, recorded, out);
    if (rc != 0) {
        cr_assert_str_eq(recorded, "0");
        cr_assert(strstr(err, "users_lower_name_idx") && strstr(err, "DROP INDEX"), "%s", err);
    }
    free(valid);
    free(recorded);
    free(out);
    free(err);
    scratch_remove(dir);
    free(url);
}

/* Only the indexes the file names count: an INVALID index of someone else's (an operator's
 * failed CREATE INDEX CONCURRENTLY) must not keep every later no-transaction file unrecorded. */
Test(migrate, an_unrelated_invalid_index_does_not_block_a_no_transaction_file, .timeout = 60)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-inv2-XXXXXX";
    scratch_set(dir, 5, "0006_concurrent.sql", "-- tessera:no-transaction\n"
                     "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\n");
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0, "%s", err); /* the shipped set */
    free(out);
    free(err);
    /* An operator's own failed index on a table of theirs. */
    free(test_db_scalar(url, "CREATE TABLE ops_notes (x int); INSERT INTO ops_notes VALUES (1), (1)"));
    PGconn *ops = PQconnectdb(url);
    PQclear(PQexec(ops, "CREATE UNIQUE INDEX CONCURRENTLY ops_notes_x_idx ON ops_notes (x)"));
    PQfinish(ops);
    char *invalid = test_db_scalar(url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid");
    cr_assert_str_eq(invalid, "1", "the operator's index is INVALID");
    free(invalid);
    migrate_dir_applies(url, dir, "0006_concurrent.sql");
    scratch_remove(dir);
    free(url);
}

/* A file written with its own BEGIN ... COMMIT (a common habit) committed the outer
 * transaction half-way, so its work was in but, after the runner's refusal, not recorded:
 * the next run failed on "already exists". It must be refused before anything runs. */
Test(migrate, file_with_its_own_begin_commit_is_refused_before_it_runs)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h3-txn-XXXXXX";
    scratch_set(dir, 5, "0006_wrapped.sql", "-- wrapped by habit\nBEGIN;\nCREATE TABLE wrapped (x int);\nCOMMIT;\n");
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 1, "%s", out);
    cr_assert(strstr(err, "0006_wrapped.sql"), "%s", err);
    cr_assert(strstr(err, "BEGIN"), "the statement is named: %s", err);
    free(out);
    free(err);
    char *gone = test_db_scalar(url, "SELECT to_regclass('wrapped') IS NULL");
    cr_assert_str_eq(gone, "t", "nothing of the file ran");
    free(gone);
    /* Without them it applies, once. */
    char path[300];
    snprintf(path, sizeof path, "%s/0006_wrapped.sql", dir);
    write_text(path, "-- wrapped by habit\nCREATE TABLE wrapped (x int);\n");
    migrate_dir_applies(url, dir, "0006_wrapped.sql");
    scratch_remove(dir);
    free(url);
}

/* `tessera migrate --dir DIR` against url, killed if it runs past limit_ms (status -1). */
static int migrate_bounded(const char *url, const char *dir, double limit_ms, char **err)
{
    char tmp[] = "/tmp/tessera-h3-run-XXXXXX";
    cr_assert(mkdtemp(tmp));
    char err_path[64];
    snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
    setenv("TESSERA_DATABASE_URL", url, 1);
    double t0 = test_now_ms();
    pid_t pid = test_spawn_tessera((const char *[]){"migrate", "--config", "/dev/null", "--dir", dir, NULL}, err_path);
    int status = -1;
    while (test_now_ms() - t0 < limit_ms) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        usleep(20000);
    }
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    *err = slurp(err_path);
    unlink(err_path);
    rmdir(tmp);
    return status;
}

/* COPY ... FROM stdin puts the connection in COPY mode, where waiting for "the last result"
 * spun for ever at full CPU. (Rows pasted after it, as pg_dump writes them, are a syntax error
 * before anything runs; a COPY of its own is not.) */
Test(migrate, copy_from_stdin_fails_at_once_instead_of_spinning, .timeout = 60)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h3-copy-XXXXXX";
    scratch_set(dir, 5, "0006_data.sql", "CREATE TABLE pasted (x int);\nCOPY pasted (x) FROM stdin;\n");
    char *err = NULL;
    int rc = migrate_bounded(url, dir, 10000, &err);
    cr_assert_eq(rc, 1, "migrate must fail at once, got %d; stderr: %s", rc, err);
    cr_assert(strstr(err, "0006_data.sql") && strstr(err, "COPY"), "%s", err);
    free(err);
    char *gone = test_db_scalar(url, "SELECT to_regclass('pasted') IS NULL");
    cr_assert_str_eq(gone, "t", "nothing of the file remains");
    free(gone);
    scratch_remove(dir);
    free(url);
}

/* ------------------------------------------------------------------ migrate_on_start = off */

static int check_on_start(const char *url)
{
    struct config cfg;
    cr_assert_eq(config_load(&cfg, NULL, NULL, stderr), 0);
    cr_assert_eq(config_set(&cfg, "database", "url", url, "test", 0, stderr), 0);
    cr_assert_eq(config_set(&cfg, "database", "connect_timeout", "1s", "test", 0, stderr), 0);
    int rc = migrate_check_on_start(&cfg);
    config_free(&cfg);
    return rc;
}

/* With migrate_on_start off (the PgBouncer set-up) serve never looked at the schema: a
 * database migrated by a newer tessera was served as if it were its own. The check reads
 * only; it refuses a newer or changed schema and only warns about pending files. */
Test(migrate, check_on_start_refuses_a_newer_or_changed_schema_and_warns_on_pending)
{
    char *url = test_db_create();
    cr_assert_eq(check_on_start(url), 0, "an empty database: everything pending, a warning");
    char *table = test_db_scalar(url, "SELECT to_regclass('tessera_migrations') IS NULL");
    cr_assert_str_eq(table, "t", "the check creates nothing");
    free(table);
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(check_on_start(url), 0);
    free(test_db_scalar(url, "INSERT INTO tessera_migrations (name, sha256) VALUES ('9000_future.sql', 'x')"));
    cr_assert_eq(check_on_start(url), -1, "a newer schema is refused");
    free(test_db_scalar(url, "DELETE FROM tessera_migrations WHERE name = '9000_future.sql'"));
    free(test_db_scalar(url, "UPDATE tessera_migrations SET sha256 = 'x' WHERE name = '0000_init.sql'"));
    cr_assert_eq(check_on_start(url), -1, "a changed file is refused");
    cr_assert_eq(check_on_start("postgresql:///x?host=/nonexistent&user=tessera"), 0,
                 "an unreachable database is a warning: serve starts as it would run through an outage");
    free(url);
}

/* PgBouncer 1.18 refuses the options startup parameter that carries statement_timeout when
 * prepared_statements is on; the error named the parameter but not the setting to change. */
Test(migrate, pgbouncer_refusing_options_names_the_setting, .timeout = 60, .fini = stop_bouncer)
{
    char *url = test_db_create();
    test_bouncer_start(&bnc, url, BOUNCER_POOL(1));
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(bnc.url, NULL, &out, &err), 1, "%s", out);
    cr_assert(strstr(err, "unsupported startup parameter"), "%s", err);
    cr_assert(strstr(err, "prepared_statements = off"), "the setting to change is named: %s", err);
    free(out);
    free(err);
    free(url);
}
