/* `tessera migrate` and migrations at serve start, against a real PostgreSQL. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

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

Test(migrate, failing_file_is_rolled_back_and_named)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h4-mig-XXXXXX";
    cr_assert(mkdtemp(dir));
    copy_embedded_set(dir, 5);
    char path[300];
    snprintf(path, sizeof path, "%s/0006_broken.sql", dir);
    write_text(path, "CREATE TABLE half_done (x int);\nINSERT INTO half_done VALUES (1 / 0);\n");
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
    write_text(path, "CREATE TABLE half_done (x int);\n");
    snprintf(path, sizeof path, "%s/0007_concurrent.sql", dir);
    write_text(path, "-- tessera:no-transaction\n"
                     "CREATE INDEX CONCURRENTLY half_done_x_idx ON half_done (x);\n"
                     "-- a comment; with a semicolon\n"
                     "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n");
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "applied 0007_concurrent.sql"), "%s", out);
    free(out);
    free(err);
    char *idx = test_db_scalar(url, "SELECT count(*) FROM pg_indexes WHERE indexname IN ('half_done_x_idx', 'users_name_idx')");
    cr_assert_str_eq(idx, "2");
    free(idx);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
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
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(url);
}

/* A file of comments only (a placeholder for a withdrawn number) is an empty query to
 * PostgreSQL, not a failure: it used to stop migrate and serve with an empty message. */
Test(migrate, comment_only_file_is_applied_and_recorded)
{
    char *url = test_db_create();
    char dir[] = "/tmp/tessera-h5-mig-XXXXXX";
    cr_assert(mkdtemp(dir));
    copy_embedded_set(dir, 5);
    char path[300];
    snprintf(path, sizeof path, "%s/0006_withdrawn.sql", dir);
    write_text(path, "-- withdrawn before release; the number stays taken\n");
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, (const char *[]){"--dir", dir, NULL}, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "applied 0006_withdrawn.sql"), "%s", out);
    free(out);
    free(err);
    char *rec = test_db_scalar(url, "SELECT count(*) FROM tessera_migrations WHERE name = '0006_withdrawn.sql'");
    cr_assert_str_eq(rec, "1");
    free(rec);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
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
    pthread_t t;
    pthread_create(&t, NULL, release_lock_later, holder);
    char *out = NULL, *err = NULL;
    cr_assert_eq(migrate(url, NULL, &out, &err), 0, "%s", err);
    pthread_join(t, NULL);
    cr_assert(strstr(err, "waiting"), "stderr: %s", err);
    cr_assert(strstr(out, "applied 0000_init.sql"), "%s", out);
    free(out);
    free(err);
    PQfinish(holder);
    free(url);
}
