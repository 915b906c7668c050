/* http_server: what `tessera serve` checks before it listens. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* A fresh database migrated by serve itself (migrate_on_start = on); its URL. */
static char *migrated_database(void)
{
    char *url = test_db_create();
    char ini[1024];
    snprintf(ini, sizeof ini, "[log]\naccess = off\n[database]\nurl = %s\nmigrate_on_start = on\n", url);
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0, "migrating an empty database");
    cr_assert_eq(test_server_stop(&ts), 0);
    return url;
}

/* With database.migrate_on_start = off (the PgBouncer set-up) serve never looked at the
 * schema, and served a database migrated by a newer tessera as its own. migrate.h has the
 * read-only check for it (migrate_check_on_start); serve must run it and refuse to start. */
Test(http_server, migrate_on_start_off_refuses_a_newer_schema, .timeout = 60)
{
    char *url = migrated_database();
    char ini[1024];
    struct test_server ts;
    snprintf(ini, sizeof ini, "[log]\naccess = off\n[database]\nurl = %s\nmigrate_on_start = off\n", url);
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0, "its own schema is served");
    cr_assert_eq(test_server_stop(&ts), 0);
    free(test_db_scalar(url, "INSERT INTO tessera_migrations (name, sha256) VALUES ('9000_future.sql', 'x')"));
    int started = test_server_start(&ts, ini, NULL);
    cr_expect_eq(started, -1, "serve started on a database migrated by a newer tessera");
    test_server_stop(&ts);
    free(url);
}

/* Only a verdict refuses the start: a check that cannot be made (here a role without the
 * right to read tessera_migrations; a database that does not answer in time is the same) is
 * a warning, as an unreachable database is. */
Test(http_server, migrate_on_start_off_starts_when_the_schema_cannot_be_read, .timeout = 60)
{
    char *url = migrated_database();
    char ini[1024];
    struct test_server ts;
    /* A role of its own that may connect but not read tessera_migrations. */
    char role[64], sql[256], reader_url[600];
    snprintf(role, sizeof role, "no_reader_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN", role, role);
    free(test_db_scalar(url, sql));
    const char *user = strstr(url, "user=tessera");
    cr_assert(user, "%s", url);
    snprintf(reader_url, sizeof reader_url, "%.*suser=%s%s", (int)(user - url), url, role, user + strlen("user=tessera"));
    snprintf(ini, sizeof ini, "[log]\naccess = off\n[database]\nurl = %s\nmigrate_on_start = off\n", reader_url);
    cr_expect_eq(test_server_start(&ts, ini, NULL), 0, "serve refused to start over a check it could not make");
    char *err = test_server_stderr(&ts);
    cr_expect(err && strstr(err, "schema not checked"), "%s", err ? err : "");
    free(err);
    test_server_stop(&ts);
    snprintf(sql, sizeof sql, "DROP OWNED BY %s; DROP ROLE %s", role, role);
    free(test_db_scalar(url, sql));
    free(url);
}
