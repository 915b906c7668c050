/* http_server: what `tessera serve` checks before it listens. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

/* With database.migrate_on_start = off (the PgBouncer set-up) serve never looked at the
 * schema, and served a database migrated by a newer tessera as its own. migrate.h has the
 * read-only check for it (migrate_check_on_start); serve must run it and refuse to start. */
Test(http_server, migrate_on_start_off_refuses_a_newer_schema, .timeout = 60)
{
    char *url = test_db_create();
    char ini[1024];
    snprintf(ini, sizeof ini, "[log]\naccess = off\n[database]\nurl = %s\nmigrate_on_start = on\n", url);
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0, "migrating an empty database");
    cr_assert_eq(test_server_stop(&ts), 0);
    snprintf(ini, sizeof ini, "[log]\naccess = off\n[database]\nurl = %s\nmigrate_on_start = off\n", url);
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0, "its own schema is served");
    cr_assert_eq(test_server_stop(&ts), 0);
    free(test_db_scalar(url, "INSERT INTO tessera_migrations (name, sha256) VALUES ('9000_future.sql', 'x')"));
    int started = test_server_start(&ts, ini, NULL);
    cr_expect_eq(started, -1, "serve started on a database migrated by a newer tessera");
    test_server_stop(&ts);
    free(url);
}
