/* Lazy libraries (lazy_lib.h): a server that has not yet needed PostgreSQL or an image
 * codec must not have libpq, libavif or libswscale mapped, and the first request that needs
 * one must load it and work. Read from the running server's /proc/PID/maps. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

static bool mapped(pid_t pid, const char *library)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "r");
    cr_assert_not_null(maps, "cannot read %s", path);
    bool found = false;
    while (!found && fgets(line, sizeof line, maps))
        found = strstr(line, library) != NULL;
    fclose(maps);
    return found;
}

struct site {
    char dir[64];
    struct test_server ts;
};

static void site_start(struct site *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/tessera-lazy-XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    char cmd[1024], src[512], ini[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/www' && cp '%s' '%s/www/photo.jpg'", s->dir,
             test_source_path("tests/fixtures/images/orient-1.jpg", src, sizeof src), s->dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(ini, sizeof ini, "[static]\nroot = %s/www\n[images]\ncache_dir = %s/cache\nwidths = 16,640\navif_speed = 10\n",
             s->dir, s->dir);
    cr_assert_eq(test_server_start(&s->ts, ini, NULL), 0);
}

static void site_stop(struct site *s)
{
    cr_assert_eq(test_server_stop(&s->ts), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    cr_assert_eq(system(cmd), 0);
}

Test(lazy_libs, heavy_libraries_wait_for_their_first_use)
{
    struct site s;
    site_start(&s);
    struct http_result r;
    cr_assert_eq(http_get(s.ts.base_url, NULL, &r), 0);
    http_result_free(&r);
    cr_expect_not(mapped(s.ts.pid, "/libpq.so"), "libpq mapped although no database is configured");
    cr_expect_not(mapped(s.ts.pid, "/libavif.so"), "libavif mapped before any image request");
    cr_expect_not(mapped(s.ts.pid, "/libswscale.so"), "libswscale mapped before any image request");

    char url[200];
    snprintf(url, sizeof url, "%s/_image?url=/photo.jpg&w=16&q=75", s.ts.base_url);
    const char *accept_avif[] = {"Accept: image/avif,image/webp,*/*", NULL};
    cr_assert_eq(http_get(url, accept_avif, &r), 0);
    char type[64];
    cr_expect_eq(r.status, 200, "status %ld: %.*s", r.status, (int)r.body_len, r.body ? r.body : "");
    cr_expect_str_eq(http_header_value(&r, "Content-Type", type, sizeof type), "image/avif");
    http_result_free(&r);
    cr_expect(mapped(s.ts.pid, "/libavif.so"), "libavif not loaded by the first AVIF request");
    cr_expect(mapped(s.ts.pid, "/libswscale.so"), "libswscale not loaded by the first resize");
    cr_expect_not(mapped(s.ts.pid, "/libpq.so"), "an image request loaded libpq");
    site_stop(&s);
}

Test(lazy_libs, a_configured_database_loads_libpq)
{
    const char *admin = test_pg_url();
    if (!admin) cr_skip_test("no test PostgreSQL (TESSERA_TEST_PG_URL)");
    char *url = test_db_create();
    char ini[1024];
    snprintf(ini, sizeof ini, "[database]\nurl = %s\n", url);
    struct test_server ts;
    cr_assert_eq(test_server_start(&ts, ini, NULL), 0);
    struct http_result r;
    char health[128];
    snprintf(health, sizeof health, "%s/api/health", ts.base_url);
    cr_assert_eq(http_get(health, NULL, &r), 0);
    cr_expect_eq(r.status, 200, "health %ld: %.*s", r.status, (int)r.body_len, r.body ? r.body : "");
    http_result_free(&r);
    cr_expect(mapped(ts.pid, "/libpq.so"), "libpq not loaded although the API answered from the database");
    cr_expect_not(mapped(ts.pid, "/libavif.so"), "the database path loaded libavif");
    cr_assert_eq(test_server_stop(&ts), 0);
    free(url);
}
